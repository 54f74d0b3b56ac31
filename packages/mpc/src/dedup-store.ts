/**
 * Row storage for the 1:N scan (dedup.ts): a matrix of int32 rows, `width` elements each (a multiple
 * of 16, zero-padded), and the one operation the scan needs:
 *   out[i] = Σ_k row_i[k] · vec[k]  mod 2^32   (i < rows; products and sums wrap, as Math.imul and `| 0`).
 * `jsRowStore` is the plain-JS implementation and the twin of the WebAssembly SIMD kernel of
 * @privface/scan (`wasmRowStore`), which must give bit-identical results. `ShardedRows` spreads a
 * gallery over fixed-size stores (a WebAssembly memory holds at most 4 GiB).
 */

/** One fixed-capacity matrix of int32 rows. */
export interface RowStore {
  /** rows it can hold */
  readonly capacity: number;
  /** int32 elements per row (a multiple of 16) */
  readonly width: number;
  /** the matrix, row-major (`capacity × width` int32) — a view, writes go to the store */
  readonly matrix: Int32Array;
  /** out[i] = ⟨row_i, vec⟩ mod 2^32 for i < rows (vec: `width` int32, out: at least `rows`) */
  matvec(vec: Int32Array, rows: number, out: Int32Array): void;
}

/** Makes a store of `capacity` rows of `width` int32 (all zero). */
export type RowStoreFactory = (capacity: number, width: number) => RowStore;

/** `width` rounded up to a multiple of 16 (the kernels' unit: four 4-lane vectors). */
export function paddedWidth(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n: expected a positive integer, got ${n}`);
  return Math.ceil(n / 16) * 16;
}

function checkMatvec(store: RowStore, vec: Int32Array, rows: number, out: Int32Array): void {
  if (!(vec instanceof Int32Array) || vec.length !== store.width) throw new RangeError(`vec: expected an Int32Array of ${store.width}`);
  if (!Number.isInteger(rows) || rows < 0 || rows > store.capacity) throw new RangeError(`rows: expected an integer in [0, ${store.capacity}], got ${rows}`);
  if (!(out instanceof Int32Array) || out.length < rows) throw new RangeError(`out: expected an Int32Array of at least ${rows}`);
}

/** The plain-JS matrix–vector product mod 2^32 (the reference of every kernel). */
export function matvecJs(matrix: Int32Array, width: number, vec: Int32Array, rows: number, out: Int32Array): void {
  for (let i = 0, p = 0; i < rows; i++, p += width) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let k = 0; k < width; k += 4) {
      s0 = (s0 + Math.imul(matrix[p + k], vec[k])) | 0;
      s1 = (s1 + Math.imul(matrix[p + k + 1], vec[k + 1])) | 0;
      s2 = (s2 + Math.imul(matrix[p + k + 2], vec[k + 2])) | 0;
      s3 = (s3 + Math.imul(matrix[p + k + 3], vec[k + 3])) | 0;
    }
    out[i] = (s0 + s1 + s2 + s3) | 0;
  }
}

/** A store in an ordinary Int32Array, scanned by `matvecJs`. */
export const jsRowStore: RowStoreFactory = (capacity, width) => {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity: expected a positive integer, got ${capacity}`);
  if (paddedWidth(width) !== width) throw new RangeError(`width: expected a multiple of 16, got ${width}`);
  const matrix = new Int32Array(capacity * width);
  const store: RowStore = {
    capacity, width, matrix,
    matvec(vec, rows, out) {
      checkMatvec(store, vec, rows, out);
      matvecJs(matrix, width, vec, rows, out);
    },
  };
  return store;
};

export { checkMatvec };

/** A growing list of rows over fixed-size shards (row j lives in shard ⌊j / shardRows⌋). */
export class ShardedRows {
  readonly shards: RowStore[] = [];
  constructor(readonly width: number, readonly shardRows: number, private readonly make: RowStoreFactory) {
    if (paddedWidth(width) !== width) throw new RangeError(`width: expected a multiple of 16, got ${width}`);
    if (!Number.isInteger(shardRows) || shardRows < 1) throw new RangeError(`shardRows: expected a positive integer, got ${shardRows}`);
  }

  /** The row `j` as a writable view, allocating shards up to it. */
  row(j: number): Int32Array {
    if (!Number.isInteger(j) || j < 0) throw new RangeError(`j: expected a non-negative integer, got ${j}`);
    const s = Math.floor(j / this.shardRows);
    while (this.shards.length <= s) this.shards.push(this.make(this.shardRows, this.width));
    const off = (j - s * this.shardRows) * this.width;
    return this.shards[s].matrix.subarray(off, off + this.width);
  }

  /** out[j] = ⟨row_j, vec⟩ mod 2^32 for j < rows (rows ≤ allocated rows). */
  matvec(vec: Int32Array, rows: number, out: Int32Array): void {
    if (rows > this.shards.length * this.shardRows) throw new RangeError(`rows: only ${this.shards.length * this.shardRows} allocated, got ${rows}`);
    for (let s = 0; s * this.shardRows < rows; s++) {
      const n = Math.min(this.shardRows, rows - s * this.shardRows);
      this.shards[s].matvec(vec, n, out.subarray(s * this.shardRows, s * this.shardRows + n));
    }
  }
}
