/**
 * `privface bench dedup [--n 10000] [--dim 512] [--queries 5] [--kernel wasm] [--parties threads]` — 1:N
 * deduplication in MPC (issue 15) with both parties and the helper in this one process (P0 and P1 each in
 * its own thread at the same time, or `--parties sequential`: one after the other): ms and CPU ms per query, the
 * same gallery's Float32Array cosine scan in the same run, bytes between the parties and from the
 * helper per query, bytes a party keeps per template, gallery boot time, and whether every MPC match
 * set equalled the plaintext one. Prints one JSON line.
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("dedup")
    .description("1:N MPC deduplication: ms per query vs a plaintext scan, bytes, boot time, exactness")
    .option("--n <n>", "gallery size", "10000")
    .option("--dim <d>", "feature dimension (1..1024)", "512")
    .option("--queries <q>", "queries to average over", "5")
    .option("--kernel <k>", "scan kernel: wasm (WebAssembly SIMD) or js", "wasm")
    .option("--parties <p>", "threads (P0 and P1 at once, a thread each) or sequential (one after the other, one thread)", "threads")
    .action(async (opts: { n: string; dim: string; queries: string; kernel: string; parties: string }) => {
      const { benchDedup } = await import("@privface/devstack/bench");
      const n = Number(opts.n), dim = Number(opts.dim), queries = Number(opts.queries);
      if (!Number.isInteger(n) || n < 1) throw new RangeError("--n must be a positive integer");
      if (!Number.isInteger(dim) || dim < 1 || dim > 1024) throw new RangeError("--dim must be an integer in [1, 1024]");
      if (!Number.isInteger(queries) || queries < 1) throw new RangeError("--queries must be a positive integer");
      if (opts.kernel !== "wasm" && opts.kernel !== "js") throw new RangeError("--kernel must be wasm or js");
      if (opts.parties !== "threads" && opts.parties !== "sequential") throw new RangeError("--parties must be threads or sequential");
      process.stdout.write(JSON.stringify(await benchDedup({ n, dim, queries, kernel: opts.kernel, parties: opts.parties })) + "\n");
    });
}
