/**
 * The WebAssembly SIMD kernel gives bit-identical results to the plain-JS twin (`matvecJs` of
 * @privface/mpc) on random matrices and vectors, including the edge values of int8 (−128, 127) and of
 * int32 (−2^31, 2^31 − 1, −1, 0), for widths and row counts that exercise every loop boundary, and is
 * assembled from WAT text (its bytes start with the WebAssembly magic and use SIMD).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { jsRowStore, paddedWidth, seededRng, ShardedRows, type RowStore } from "@privface/mpc";
import { kernelBytes, wasmRowStore } from "../src/index.ts";

const EDGES = [-128, 127, 0, -1, 1, -(2 ** 31), 2 ** 31 - 1];

function fillRandom(a: Int32Array, rng: (n: number) => Uint8Array, edgeShare: number): void {
  const r = new Int32Array(rng(4 * a.length).buffer);
  const pick = new Uint8Array(rng(a.length));
  for (let i = 0; i < a.length; i++) {
    if (pick[i] < edgeShare * 256) a[i] = EDGES[pick[i] % EDGES.length];
    else if (pick[i] & 1) a[i] = (r[i] << 24) >> 24; // an int8
    else a[i] = r[i];
  }
}

test("the kernel module is assembled from WAT (WebAssembly magic, SIMD opcode prefix 0xfd)", async () => {
  const b = await kernelBytes();
  assert.deepEqual([...b.subarray(0, 4)], [0, 0x61, 0x73, 0x6d]);
  assert.ok(b.includes(0xfd));
});

test("WebAssembly SIMD kernel = plain-JS twin, bit for bit (random int8/int32 with edge values)", async () => {
  const wasm = await wasmRowStore();
  const rng = seededRng("scan-kernel");
  for (const [rows, n, edge] of [[1, 1, 1], [3, 16, 0.5], [33, 17, 0.2], [257, 1024, 0.1], [1000, 64, 0], [50, 2048, 0.9]] as const) {
    const width = paddedWidth(n);
    const a: RowStore = wasm(rows, width), b: RowStore = jsRowStore(rows, width);
    fillRandom(a.matrix, rng, edge);
    b.matrix.set(a.matrix);
    const vec = new Int32Array(width);
    fillRandom(vec, rng, edge);
    for (const used of [rows, Math.max(0, rows - 1), 0]) {
      const oa = new Int32Array(rows), ob = new Int32Array(rows);
      a.matvec(vec, used, oa);
      b.matvec(vec, used, ob);
      assert.deepEqual(oa, ob, `rows ${rows} (used ${used}), width ${width}`);
    }
  }
  // all −128 against all 127 (and all −2^31 squared): the wrapping cases
  const s = wasm(2, 16), j = jsRowStore(2, 16);
  for (const st of [s, j]) { st.matrix.fill(-128, 0, 16); st.matrix.fill(-(2 ** 31), 16); }
  const v = new Int32Array(16).fill(127), out = [new Int32Array(2), new Int32Array(2)];
  s.matvec(v, 2, out[0]);
  j.matvec(v, 2, out[1]);
  assert.deepEqual(out[0], out[1]);
  assert.equal(out[0][0], -128 * 127 * 16);
});

test("sharded rows over WebAssembly stores scan like one JS store", async () => {
  const wasm = await wasmRowStore();
  const rng = seededRng("scan-sharded");
  const width = 32, total = 300;
  const sharded = new ShardedRows(width, 64, wasm), flat = jsRowStore(total, width);
  for (let j = 0; j < total; j++) {
    const row = sharded.row(j);
    fillRandom(row, rng, 0.1);
    flat.matrix.set(row, j * width);
  }
  const vec = new Int32Array(width);
  fillRandom(vec, rng, 0.1);
  const o1 = new Int32Array(total), o2 = new Int32Array(total);
  sharded.matvec(vec, total, o1);
  flat.matvec(vec, total, o2);
  assert.deepEqual(o1, o2);
  assert.equal(sharded.shards.length, 5);
});

test("bad arguments: width not a multiple of 16, too many rows", async () => {
  const wasm = await wasmRowStore();
  assert.throws(() => wasm(4, 20), RangeError);
  const s = wasm(4, 16);
  assert.throws(() => s.matvec(new Int32Array(16), 5, new Int32Array(5)), RangeError);
  assert.throws(() => s.matvec(new Int32Array(15), 4, new Int32Array(4)), RangeError);
});
