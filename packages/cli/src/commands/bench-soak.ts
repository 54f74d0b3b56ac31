/**
 * `privface bench soak --minutes M --rps R` (issue 16): the whole stack on loopback at a fixed
 * arrival rate (open loop) with the mix 80 % verify, 10 % enrol, 5 % deregister, 5 % invalid or
 * malicious; one JSON line {"suite":"soak","minutes","rps_target","rps_achieved","errors",
 * "wrong_decisions","p99_ms","rss_mb_start","rss_mb_end",…} (@privface/devstack `runSoakBench`).
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("soak")
    .description("the whole stack at a fixed rate with a realistic mix: errors, wrong decisions, p99, memory")
    .requiredOption("--minutes <m>", "how long to drive the stack (fractions allowed)")
    .requiredOption("--rps <r>", "requests started per second (open loop)")
    .option("--persons <n>", "persons enrolled before the run", "64")
    .option("--devices <n>", "simulated devices", "8")
    .option("--pool <n>", "bundles of correlated randomness per party before the run", "4096")
    .action(async (o: { minutes: string; rps: string; persons: string; devices: string; pool: string }) => {
      const { runSoakBench } = await import("@privface/devstack/bench");
      const r = await runSoakBench({
        minutes: Number(o.minutes),
        rps: Number(o.rps),
        persons: Number(o.persons),
        devices: Number(o.devices),
        pool: Number(o.pool),
        log: (l) => process.stderr.write(`${l}\n`),
      });
      process.stdout.write(JSON.stringify(r) + "\n");
    });
}
