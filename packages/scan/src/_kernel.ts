/**
 * The scan kernel as WebAssembly text (assembled at load time by wabt, index.ts; no binary is kept).
 *
 * matvec(mat, rows, width, vec, out): for each of `rows` rows at byte address `mat` (row-major, `width`
 * int32 each, `width` a multiple of 16), out[i] = Σ_k mat[i·width + k] · vec[k] mod 2^32 — four i32x4
 * accumulators (16 products per iteration, i32x4.mul wraps like Math.imul), summed lane by lane at the
 * end of the row. All addresses are byte offsets in the module's one memory (up to 4 GiB).
 */
export const KERNEL_WAT = `
(module
  (memory (export "memory") 1 65536)
  (func (export "matvec") (param $mat i32) (param $rows i32) (param $width i32) (param $vec i32) (param $out i32)
    (local $r i32) (local $k i32) (local $rowBytes i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $rowBytes (i32.shl (local.get $width) (i32.const 2)))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $a0 (v128.const i64x2 0 0))
        (local.set $a1 (v128.const i64x2 0 0))
        (local.set $a2 (v128.const i64x2 0 0))
        (local.set $a3 (v128.const i64x2 0 0))
        (local.set $k (i32.const 0))
        (loop $inner
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul
            (v128.load (i32.add (local.get $mat) (local.get $k)))
            (v128.load (i32.add (local.get $vec) (local.get $k))))))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul
            (v128.load offset=16 (i32.add (local.get $mat) (local.get $k)))
            (v128.load offset=16 (i32.add (local.get $vec) (local.get $k))))))
          (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul
            (v128.load offset=32 (i32.add (local.get $mat) (local.get $k)))
            (v128.load offset=32 (i32.add (local.get $vec) (local.get $k))))))
          (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul
            (v128.load offset=48 (i32.add (local.get $mat) (local.get $k)))
            (v128.load offset=48 (i32.add (local.get $vec) (local.get $k))))))
          (local.set $k (i32.add (local.get $k) (i32.const 64)))
          (br_if $inner (i32.lt_u (local.get $k) (local.get $rowBytes))))
        (local.set $a0 (i32x4.add (i32x4.add (local.get $a0) (local.get $a1)) (i32x4.add (local.get $a2) (local.get $a3))))
        (i32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2)))
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $a0)) (i32x4.extract_lane 1 (local.get $a0)))
            (i32.add (i32x4.extract_lane 2 (local.get $a0)) (i32x4.extract_lane 3 (local.get $a0)))))
        (local.set $mat (i32.add (local.get $mat) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))
)
`;
