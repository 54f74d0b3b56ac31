/**
 * `privface bench dedup [--n 10000] [--dim 512] [--queries 5] [--kernel wasm] [--parties threads]` — 1:N
 * deduplication in MPC (issue 15) with both parties and the helper in this one process (P0 and P1 each in
 * its own thread at the same time, or `--parties sequential`: one after the other): ms and CPU ms per query, the
 * same gallery's Float32Array cosine scan in the same run, bytes between the parties and from the
 * helper per query, bytes a party keeps per template, gallery boot time, and whether every MPC match
 * set equalled the plaintext one. Prints one JSON line.
 * With `--shards S` instead: the Party API search through the real processes (helper, both parties on
 * PostgreSQL `--db`, NATS JetStream at 127.0.0.1:4222, S shards × `--workers` worker processes per
 * party; S = 0: unsharded, one process per party), ms per search p50 / p99 (suite "dedup-shards").
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
    .option("--shards <s>", "the search through the real processes: S gallery shards over NATS JetStream (0: unsharded), d = the model's")
    .option("--workers <r>", "with --shards: worker processes per shard and party", "1")
    .option("--db <url>", "with --shards: the parties' PostgreSQL (a schema each, dropped at the end)", "postgres://postgres@127.0.0.1:5432/test")
    .action(async (opts: { n: string; dim: string; queries: string; kernel: string; parties: string; shards?: string; workers: string; db: string }) => {
      const { benchDedup, benchDedupShards } = await import("@privface/devstack/bench");
      const n = Number(opts.n), dim = Number(opts.dim), queries = Number(opts.queries);
      if (opts.shards !== undefined) {
        const shards = Number(opts.shards), workersPerShard = Number(opts.workers);
        if (!Number.isInteger(shards) || shards < 0 || shards > 64) throw new RangeError("--shards must be an integer in [0, 64]");
        if (!Number.isInteger(workersPerShard) || workersPerShard < 1 || workersPerShard > 8) throw new RangeError("--workers must be an integer in [1, 8]");
        if (!Number.isInteger(n) || n < 1) throw new RangeError("--n must be a positive integer");
        if (!Number.isInteger(queries) || queries < 1) throw new RangeError("--queries must be a positive integer");
        process.stdout.write(JSON.stringify(await benchDedupShards({ n, shards, workersPerShard, queries, db: opts.db })) + "\n");
        return;
      }
      if (!Number.isInteger(n) || n < 1) throw new RangeError("--n must be a positive integer");
      if (!Number.isInteger(dim) || dim < 1 || dim > 1024) throw new RangeError("--dim must be an integer in [1, 1024]");
      if (!Number.isInteger(queries) || queries < 1) throw new RangeError("--queries must be a positive integer");
      if (opts.kernel !== "wasm" && opts.kernel !== "js") throw new RangeError("--kernel must be wasm or js");
      if (opts.parties !== "threads" && opts.parties !== "sequential") throw new RangeError("--parties must be threads or sequential");
      process.stdout.write(JSON.stringify(await benchDedup({ n, dim, queries, kernel: opts.kernel, parties: opts.parties })) + "\n");
    });
}
