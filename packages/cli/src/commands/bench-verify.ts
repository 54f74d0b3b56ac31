/**
 * `privface bench verify` — 1:1 verification at the parties (no gateway): starts helper, P1 and P0 as
 * processes on loopback (temporary home, SQLite), fills the pools, enrols templates, then drives
 * verifications with `--concurrency` in flight. One verification = the P0 and the P1 request of the
 * same session, sent concurrently as the gateway does; latency is until both answered. The sealed
 * shares (the device's work) are made before the clock starts; the authorisations are signed at call
 * time, as the gateway signs them (those of one event-loop turn share one signature), and timed.
 * Prints one JSON line:
 * {"suite":"verify-parties","requests":N,"errors":E,"p50_ms":..,"p99_ms":..,"rps":..,"cpu_ms_per_request":{..}}
 * Wrong decisions (a genuine probe that does not match) count as errors. The driver is
 * @privface/devstack's `runVerifyBench`. `--wan [rtt_ms]` (default 20: 10 ms each way, 1 ms jitter,
 * 0.5 % loss) runs the P0–P1 link and the caller's links through delay relays and prints
 * {"suite":"verify-wan","rtt_ms":..,"jitter_ms":..,"loss":..,"rounds":..,"p50_ms":..,"p99_ms":..,"rps":..,"errors":0,…}.
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("verify")
    .description("1:1 verification at the parties over mutual TLS (helper + P0 + P1 on loopback, SQLite)")
    .option("-n, --requests <n>", "verifications to run", "3000")
    .option("-c, --concurrency <n>", "verifications in flight", "32")
    .option("-t, --templates <n>", "templates to enrol", "16")
    .option("--warmup <n>", "verifications before the clock starts", "200")
    .option("--cpu-prof <dir>", "write V8 CPU profiles of P0 and P1 to this directory")
    .option("--node-args <args>", "extra Node/V8 flags for the P0 and P1 processes (space-separated)")
    .option("--keep", "keep the temporary home")
    .option("--db <url>", "a postgres:// URL: helper, P0 and P1 each in a schema of their own there, dropped at the end (default: SQLite files)")
    .option("--wan [rtt_ms]", "shape the P0–P1 link and the caller's links like a WAN: round-trip time in ms (default 20)")
    .option("--jitter <ms>", "with --wan: uniform extra one-way delay up to this", "1")
    .option("--loss <p>", "with --wan: probability a chunk arrives late by a retransmission timeout (200 ms)", "0.005")
    .action(async (o: { requests: string; concurrency: string; templates: string; warmup: string; cpuProf?: string; nodeArgs?: string; keep?: boolean; wan?: true | string; jitter: string; loss: string; db?: string }) => {
      const { runVerifyBench } = await import("@privface/devstack/bench");
      const r = await runVerifyBench({
        requests: Number(o.requests),
        concurrency: Number(o.concurrency),
        templates: Number(o.templates),
        warmup: Number(o.warmup),
        cpuProfDir: o.cpuProf,
        nodeArgs: o.nodeArgs ? o.nodeArgs.split(/\s+/).filter(Boolean) : undefined,
        keep: o.keep,
        db: o.db,
        wan: o.wan === undefined ? undefined : { rttMs: o.wan === true ? 20 : Number(o.wan), jitterMs: Number(o.jitter), loss: Number(o.loss) },
        log: (l) => process.stderr.write(`bench verify: ${l}\n`),
      });
      process.stdout.write(JSON.stringify(r) + "\n");
    });
}
