/**
 * `privface bench mpc [--dim 512] [--count 2000] [--passes 3]` — the 1:1 verification protocol with
 * all parties in one process on one core: rounds, bytes between the parties, helper bytes and dealing
 * time per verification, single-verification latency (median), batched throughput (best pass), and
 * whether every decision equalled the plaintext twin. Prints one JSON line.
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("mpc")
    .description("1:1 MPC verification: rounds, bytes, helper cost, latency, throughput, exactness")
    .option("--dim <d>", "feature dimension (1..1024)", "512")
    .option("--count <n>", "verifications per pass", "2000")
    .option("--passes <n>", "passes (all but the last measure throughput; the last measures latency)", "3")
    .action(async (opts: { dim: string; count: string; passes: string }) => {
      const { benchMpc } = await import("@privface/devstack/bench");
      const dim = Number(opts.dim), count = Number(opts.count), passes = Number(opts.passes);
      if (!Number.isInteger(dim) || dim < 1 || dim > 1024) throw new RangeError("--dim must be an integer in [1, 1024]");
      if (!Number.isInteger(count) || count < 1) throw new RangeError("--count must be a positive integer");
      if (!Number.isInteger(passes) || passes < 2) throw new RangeError("--passes must be an integer ≥ 2");
      process.stdout.write(JSON.stringify(benchMpc({ dim, count, passes })) + "\n");
    });
}
