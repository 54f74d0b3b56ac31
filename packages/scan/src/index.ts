/**
 * @privface/scan — the 1:N scan kernel in WebAssembly SIMD (int32 matrix × int32 vector mod 2^32), the
 * fast implementation of @privface/mpc's `RowStore` (dedup-store.ts, whose `matvecJs` is its plain-JS
 * twin: bit-identical results, test/kernel.test.ts). The module is assembled from the WAT text in
 * `_kernel.ts` by wabt when first loaded (no prebuilt binary in the repository or the package), then
 * instantiated once per store: each store owns one WebAssembly memory holding its matrix, the vector
 * and the output, so a store is at most 4 GiB (galleries shard over several, `ShardedRows`).
 * Works wherever WebAssembly SIMD does (Node ≥ 16.4, current browsers).
 */
import wabt from "wabt";
import { checkMatvec, paddedWidth, type RowStore, type RowStoreFactory } from "@privface/mpc";
import { KERNEL_WAT } from "./_kernel.ts";

let compiled: Promise<WebAssembly.Module> | undefined;

/** The kernel's module bytes, assembled from WAT (exported for tests and inspection). */
export async function kernelBytes(): Promise<Uint8Array<ArrayBuffer>> {
  const w = await wabt();
  const mod = w.parseWat("scan-kernel.wat", KERNEL_WAT, { simd: true });
  try {
    mod.validate();
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

/** The compiled kernel module (assembled and compiled once per process). */
export function kernelModule(): Promise<WebAssembly.Module> {
  compiled ??= kernelBytes().then((b) => WebAssembly.compile(b));
  return compiled;
}

interface KernelExports {
  memory: WebAssembly.Memory;
  matvec(mat: number, rows: number, width: number, vec: number, out: number): void;
}

const PAGE = 65536;
const MAX_BYTES = 2 ** 32;

/**
 * A `RowStoreFactory` backed by the WebAssembly kernel (await once, then synchronous).
 * @example const make = await wasmRowStore(); const rows = new ShardedRows(1024, 100_000, make);
 */
export async function wasmRowStore(): Promise<RowStoreFactory> {
  const module = await kernelModule();
  return (capacity, width) => {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity: expected a positive integer, got ${capacity}`);
    if (paddedWidth(width) !== width) throw new RangeError(`width: expected a multiple of 16, got ${width}`);
    const matBytes = capacity * width * 4;
    const vecAt = matBytes, outAt = vecAt + width * 4;
    const total = outAt + capacity * 4;
    if (total > MAX_BYTES) throw new RangeError(`capacity: ${capacity} rows of ${width} need ${total} bytes, more than one WebAssembly memory (4 GiB)`);
    const instance = new WebAssembly.Instance(module, {});
    const k = instance.exports as unknown as KernelExports;
    k.memory.grow(Math.ceil(total / PAGE) - k.memory.buffer.byteLength / PAGE);
    const buf = k.memory.buffer;
    const matrix = new Int32Array(buf, 0, capacity * width);
    const vecView = new Int32Array(buf, vecAt, width);
    const outView = new Int32Array(buf, outAt, capacity);
    const store: RowStore = {
      capacity, width, matrix,
      matvec(vec, rows, out) {
        checkMatvec(store, vec, rows, out);
        vecView.set(vec);
        k.matvec(0, rows, width, vecAt, outAt);
        out.set(outView.subarray(0, rows));
      },
    };
    return store;
  };
}
