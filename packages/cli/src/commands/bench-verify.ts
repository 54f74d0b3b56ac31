/**
 * `privface bench verify` — 1:1 verification at the parties (no gateway): starts helper, P1 and P0 as
 * processes on loopback (temporary home, SQLite), fills the pools, enrols templates, then drives
 * verifications with `--concurrency` in flight. One verification = the P0 and the P1 request of the
 * same session, sent concurrently as the gateway does; latency is until both answered. The sealed
 * shares (the device's work) are made before the clock starts; the authorisations are signed at call
 * time, as the gateway signs them (those of one event-loop turn share one signature), and timed.
 * Prints one JSON line:
 * {"suite":"verify-parties","requests":N,"errors":E,"p50_ms":..,"p99_ms":..,"rps":..}
 * Wrong decisions (a genuine probe that does not match) count as errors.
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
    .action(async (o: { requests: string; concurrency: string; templates: string; warmup: string; cpuProf?: string; nodeArgs?: string; keep?: boolean }) => {
      const { mkdtempSync, rmSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const { join, resolve } = await import("node:path");
      const { ensureRuntime } = await import("@privface/party/runtime");
      const { freePorts, spawnServer } = await import("@privface/party/stack");
      const { createPartyClient } = await import("@privface/party/client");
      const sim = await import("@privface/party/sim");
      const { readKeyPairFile, readPublicKeyFile } = await import("@privface/crypto/node");
      const { readTlsMaterial } = await import("@privface/pki");
      const { MODEL } = await import("@privface/device");

      const N = Number(o.requests), C = Number(o.concurrency), T = Number(o.templates), W = Number(o.warmup);
      for (const [k, v] of Object.entries({ requests: N, concurrency: C, templates: T, warmup: W })) {
        if (!Number.isInteger(v) || v < (k === "warmup" ? 0 : 1)) throw new Error(`--${k}: expected a positive integer`);
      }
      const err = (s: string) => process.stderr.write(`bench verify: ${s}\n`);
      const home = mkdtempSync(join(tmpdir(), "privface-bench-verify-"));
      await ensureRuntime(home);
      const [helper, p0, p1] = await freePorts(3);
      const target = N + W + 64;
      const env: Record<string, string> = {};
      for (const p of ["P0", "P1"]) {
        env[`PRIVFACE_${p}_POOL_TARGET`] = String(target);
        env[`PRIVFACE_${p}_POOL_LOW`] = String(Math.min(256, target - 1));
        env[`PRIVFACE_${p}_POOL_BATCH`] = "256";
      }
      const extra = o.nodeArgs ? o.nodeArgs.split(/\s+/).filter(Boolean) : [];
      const profArgs = (name: string) => [...extra, ...(o.cpuProf ? ["--cpu-prof", "--cpu-prof-dir", resolve(o.cpuProf, name)] : [])];
      const opts = { home, ports: { helper, p0, p1 }, env, onLog: (s: string, l: string) => (/failed|error/.test(l) ? err(`[${s}] ${l}`) : undefined) };
      const servers = await Promise.all([spawnServer("helper", opts), spawnServer("p1", opts, profArgs("p1")), spawnServer("p0", opts, profArgs("p0"))]);
      const tls = readTlsMaterial(join(home, "pki"), "gateway-client");
      const client = { P0: createPartyClient({ url: `https://127.0.0.1:${p0}`, tls }), P1: createPartyClient({ url: `https://127.0.0.1:${p1}`, tls }) };
      try {
        const keys = {
          gateway: await readKeyPairFile(join(home, "keys", "gateway-signing.json")),
          P0: readPublicKeyFile(join(home, "keys", "p0-seal.json")),
          P1: readPublicKeyFile(join(home, "keys", "p1-seal.json")),
        };
        // pools: wait until P0 holds enough items for the whole run (the helper deals in batches)
        const t0 = Date.now();
        for (;;) {
          const h = await client.P0.health().catch(() => null);
          if (h && h.pool.level >= N + W && h.peer === "up") break;
          if (Date.now() - t0 > 600_000) throw new Error(`pool did not fill (level ${h?.pool.level})`);
          await new Promise((r) => setTimeout(r, 250));
        }
        err(`pools filled with ${N + W} items in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        const templates: { templateId: string; x: Int8Array }[] = [];
        for (let i = 0; i < T; i++) {
          const x = sim.randomFace(MODEL.dim);
          const templateId = sim.newId(), session = sim.newId();
          const b = await sim.enrolBodies(keys, { session, templateId, modelVersion: MODEL.version, x });
          await Promise.all([client.P0.enrol(b.P0), client.P1.enrol(b.P1)]);
          const f = await sim.finishBodies(keys, "commit", { session, templateId, modelVersion: MODEL.version });
          await Promise.all([client.P0.commit(f.P0), client.P1.commit(f.P1)]);
          templates.push({ templateId, x });
        }
        const makeBodies = async (n: number) => {
          const out = [];
          for (let i = 0; i < n; i++) {
            const t = templates[i % T];
            out.push(await sim.sealedBodies(keys, "verify", { session: sim.newId(), templateId: t.templateId, modelVersion: MODEL.version, x: sim.sameFace(t.x) }));
          }
          return out;
        };
        const run = async (bodies: Awaited<ReturnType<typeof makeBodies>>) => {
          const lat: number[] = [];
          let errors = 0;
          let next = 0;
          const worker = async () => {
            for (let i = next++; i < bodies.length; i = next++) {
              const s = performance.now();
              try {
                // signed now, as the gateway does: authorisations of one event-loop turn share a signature
                const [a0, a1] = await Promise.all([sim.authoriseBody(keys, "verify", "P0", bodies[i].P0), sim.authoriseBody(keys, "verify", "P1", bodies[i].P1)]);
                const [a, b] = await Promise.all([client.P0.verify({ ...bodies[i].P0, authorisation: a0 }), client.P1.verify({ ...bodies[i].P1, authorisation: a1 })]);
                if ((a.resultShare.valid ^ b.resultShare.valid) !== 1 || (a.resultShare.match ^ b.resultShare.match) !== 1) errors++;
              } catch (e) {
                errors++;
                if (errors <= 3) err(`error: ${(e as Error).message}`);
              }
              lat.push(performance.now() - s);
            }
          };
          const start = performance.now();
          // watchdog: a run that makes no progress for 60 s fails with the parties' pool levels instead of hanging
          let seen = 0;
          let progressAt = performance.now();
          let watchdog: NodeJS.Timeout | undefined;
          const stalled = new Promise<never>((_, reject) => {
            watchdog = setInterval(() => {
              if (lat.length !== seen) return void ((seen = lat.length), (progressAt = performance.now()));
              if (performance.now() - progressAt < 60_000) return;
              clearInterval(watchdog);
              void Promise.all([client.P0.health().catch(() => null), client.P1.health().catch(() => null)]).then(([a, b]) =>
                reject(new Error(`no progress for 60 s after ${lat.length} of ${bodies.length} verifications (pool P0 ${a?.pool.level}, P1 ${b?.pool.level})`)),
              );
            }, 5_000);
          });
          try {
            await Promise.race([Promise.all(Array.from({ length: C }, worker)), stalled]);
          } finally {
            clearInterval(watchdog);
          }
          return { lat, errors, seconds: (performance.now() - start) / 1000 };
        };
        if (W > 0) {
          const w = await run(await makeBodies(W));
          if (w.errors > 0) err(`warm-up: ${w.errors} errors`);
        }
        const bodies = await makeBodies(N);
        const { readFileSync } = await import("node:fs");
        const cpu = (pid: number | undefined) => {
          try {
            const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
            return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, ms (USER_HZ = 100)
          } catch {
            return NaN;
          }
        };
        const before = servers.map((s) => cpu(s.proc.pid));
        const self0 = process.cpuUsage();
        const r = await run(bodies);
        const selfUs = process.cpuUsage(self0);
        const per = servers.map((s, i) => `${s.name} ${((cpu(s.proc.pid) - before[i]) / N).toFixed(2)}`).join(", ");
        err(`CPU ms per verification: ${per}, bench client ${((selfUs.user + selfUs.system) / 1000 / N).toFixed(2)}`);
        r.lat.sort((a, b) => a - b);
        const q = (p: number) => Number(r.lat[Math.min(r.lat.length - 1, Math.floor(p * r.lat.length))].toFixed(2));
        process.stdout.write(
          JSON.stringify({ suite: "verify-parties", requests: N, errors: r.errors, p50_ms: q(0.5), p99_ms: q(0.99), rps: Math.round(N / r.seconds), concurrency: C }) + "\n",
        );
      } finally {
        client.P0.close();
        client.P1.close();
        for (const s of servers.reverse()) await s.stop("SIGTERM");
        if (!o.keep) rmSync(home, { recursive: true, force: true });
        else err(`home kept at ${home}`);
      }
    });
}
