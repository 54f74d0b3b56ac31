/**
 * `privface bench e2e`: the whole stack on loopback, verifications (and enrolments) through the
 * gateway from simulated POS devices with precomputed probes; one JSON line per suite:
 * {"suite":"e2e-enrol",…} and {"suite":"e2e-verify","requests":N,"errors":E,"p50_ms":…,"p99_ms":…,"rps":…}.
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("e2e")
    .description("end to end through the gateway on loopback: e2e-enrol and e2e-verify (p50, p99, rps)")
    .option("--requests <n>", "verifications to measure", "5000")
    .option("--persons <n>", "persons to enrol (measured as e2e-enrol)", "200")
    .option("--concurrency <n>", "simulated devices in parallel", "16")
    .option("--warmup <n>", "verifications before measuring", "500")
    .option("--enrol-warmup <n>", "enrolments of extra persons before measuring e2e-enrol", "32")
    .option("--gateway <url>", "use a running stack instead (needs its home for the CA and the admin token)")
    .option("--home <dir>", "runtime home of the running stack, with --gateway")
    .option("--db <url>", "a postgres:// URL: every server in a schema of its own there, dropped at the end (default: SQLite files)")
    .option("--cpu-prof <dir>", "write V8 CPU profiles of every server process (gateway/, p0/, p1/, helper/) and of the simulated devices (client/) to this directory")
    .action(async (o: { requests: string; persons: string; concurrency: string; warmup: string; enrolWarmup: string; gateway?: string; home?: string; cpuProf?: string; db?: string }) => {
      const { runE2eBench } = await import("@privface/devstack/bench");
      let gateway;
      if (o.gateway) {
        const { existsSync, readFileSync } = await import("node:fs");
        const { homeFromEnv, runtimeLayout } = await import("@privface/config");
        const L = runtimeLayout(o.home ?? homeFromEnv());
        const ca = existsSync(L.ca) ? readFileSync(L.ca) : undefined;
        const ops = JSON.parse(readFileSync(L.gatewayOperators, "utf8")) as { role: string; token: string }[];
        gateway = { url: o.gateway, ca, token: ops.find((x) => x.role === "admin")!.token, approverToken: ops.find((x) => x.role === "operator")!.token };
      }
      const results = await runE2eBench({
        requests: Number(o.requests),
        persons: Number(o.persons),
        concurrency: Number(o.concurrency),
        warmup: Number(o.warmup),
        enrolWarmup: Number(o.enrolWarmup),
        gateway,
        db: o.db,
        cpuProfDir: o.cpuProf ? (await import("node:path")).resolve(o.cpuProf) : undefined,
        log: (l) => process.stderr.write(`${l}\n`),
      });
      for (const r of results) process.stdout.write(JSON.stringify(r) + "\n");
    });
}
