/**
 * `privface bench verify` — 1:1 verification at the parties (no gateway): starts helper, P1 and P0 as
 * processes on loopback (temporary home, SQLite), fills the pools, enrols templates, then drives
 * verifications with `concurrency` in flight. One verification = the P0 and the P1 request of the
 * same session, sent concurrently as the gateway does; latency is until both answered. The sealed
 * shares (the device's work) are made before the clock starts; the authorisations are signed at call
 * time, as the gateway signs them (those of one event-loop turn share one signature), and timed.
 * Result: {"suite":"verify-parties","requests":N,"errors":E,"p50_ms":..,"p99_ms":..,"rps":..}.
 * Wrong decisions (a genuine probe that does not match) count as errors.
 *
 * With `wan` (issue 16) the link between P0 and P1 and the caller's link to each party run through
 * delay relays (delay-relay.ts: `rttMs / 2` each way, jitter, loss as late retransmissions), as
 * between two data centres joined by a dedicated line; the suite is then "verify-wan" and the line
 * names the round-trip time and the protocol's online rounds between the parties.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runtimeLayout } from "@privface/config";
import { MODEL } from "@privface/contracts";
import { readKeyPairFile, readPublicKeyFile } from "@privface/crypto/node";
import { verifyRounds } from "@privface/mpc";
import { startDelayRelay, type DelayRelay } from "../delay-relay.ts";
import { benchDatabase } from "./_postgres.ts";
import { cpuMs } from "./_stack.ts";
import * as sim from "../gateway-sim.ts";
import { freePorts, startStack } from "../stack.ts";

export interface VerifyBenchOptions {
  requests: number;
  concurrency: number;
  templates: number;
  warmup: number;
  /** write V8 CPU profiles of P0 and P1 here */
  cpuProfDir?: string;
  /** extra node flags for P0 and P1 */
  nodeArgs?: string[];
  /** keep the temporary home */
  keep?: boolean;
  /** shape the P0–P1 link and the caller's links to the parties like a WAN */
  wan?: { rttMs: number; jitterMs?: number; loss?: number };
  /** a postgres:// URL: helper, P0 and P1 each in a schema of their own there (dropped at the end); default SQLite */
  db?: string;
  log?: (line: string) => void;
}

export interface VerifyBenchResult {
  suite: "verify-parties" | "verify-wan";
  db: "sqlite" | "postgres";
  /** with `wan`: the round-trip time of every shaped link, its jitter and loss, and the online rounds between the parties */
  rtt_ms?: number;
  jitter_ms?: number;
  loss?: number;
  rounds?: number;
  requests: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  rps: number;
  concurrency: number;
  cpu_ms_per_request: Record<string, number>;
}

export async function runVerifyBench(o: VerifyBenchOptions): Promise<VerifyBenchResult> {
  const { requests: N, concurrency: C, templates: T, warmup: W } = o;
  for (const [k, v] of Object.entries({ requests: N, concurrency: C, templates: T, warmup: W })) {
    if (!Number.isInteger(v) || v < (k === "warmup" ? 0 : 1)) throw new RangeError(`${k}: expected a positive integer`);
  }
  const say = o.log ?? (() => {});
  const home = mkdtempSync(join(tmpdir(), "privface-bench-verify-"));
  const target = N + W + 64;
  const env: Record<string, string> = {};
  for (const p of ["P0", "P1"]) {
    env[`PRIVFACE_${p}_POOL_TARGET`] = String(target);
    env[`PRIVFACE_${p}_POOL_LOW`] = String(Math.min(256, target - 1));
    env[`PRIVFACE_${p}_POOL_BATCH`] = "256";
    // a benchmark verifies each of a few templates many times a minute: above the per-template budgets (the check itself still runs)
    env[`PRIVFACE_${p}_VERIFY_PER_MIN`] = "100000";
    env[`PRIVFACE_${p}_VERIFY_PER_DAY`] = "10000000";
  }
  const pg = o.db ? benchDatabase(o.db, ["HELPER", "P0", "P1"]) : undefined;
  Object.assign(env, pg?.env);
  const args = (name: string) => [...(o.nodeArgs ?? []), ...(o.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", resolve(o.cpuProfDir, name)] : [])];
  // WAN: relays in front of each party for the other party and for this caller (ports known before the parties start)
  const relays: DelayRelay[] = [];
  let ports: { helper: number; p0: number; p1: number; gateway: number } | undefined;
  let callerUrl: Partial<Record<"P0" | "P1", string>> = {};
  if (o.wan) {
    const [helper, p0, p1, gateway] = await freePorts(4);
    ports = { helper, p0, p1, gateway };
    const shape = { delayMs: o.wan.rttMs / 2, jitterMs: o.wan.jitterMs, loss: o.wan.loss };
    const relay = async (target: number) => {
      const r = await startDelayRelay(target, shape);
      relays.push(r);
      return `https://127.0.0.1:${r.port}`;
    };
    env.PRIVFACE_P0_PEER_URL = await relay(p1);
    env.PRIVFACE_P1_PEER_URL = await relay(p0);
    callerUrl = { P0: await relay(p0), P1: await relay(p1) };
  }
  const stack = await startStack({
    home,
    ports,
    gateway: "none",
    env,
    nodeArgs: { p0: args("p0"), p1: args("p1") },
    // start-up is not measured: on a loaded machine a server can take more than the default 30 s
    readyTimeoutMs: 180_000,
    onLog: (s, l) => (/failed|error/.test(l) ? say(`[${s}] ${l}`) : undefined),
  }).catch(async (e) => {
    for (const r of relays) await r.close();
    await pg?.drop();
    throw e;
  });
  const client = { P0: stack.partyClient("P0", callerUrl.P0), P1: stack.partyClient("P1", callerUrl.P1) };
  try {
    const L = runtimeLayout(home);
    const keys = { gateway: await readKeyPairFile(L.gatewaySigningKey), P0: readPublicKeyFile(L.sealPub("p0")), P1: readPublicKeyFile(L.sealPub("p1")), device: await sim.newSimDevice(), nonce: sim.batchedNonces(client) };
    // the simulated terminal, registered at both parties as the gateway forwards it (the dev stack's policy is `auto`)
    await Promise.all([client.P0.registerDevice(sim.simRegistration(keys.device)), client.P1.registerDevice(sim.simRegistration(keys.device))]);
    // pools: wait until P0 holds enough items for the whole run (the helper deals in batches)
    const t0 = Date.now();
    await stack.waitPool(N + W, 600_000);
    say(`pools filled with ${N + W} items in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
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
            if (errors <= 3) say(`error: ${(e as Error).message}`);
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
      if (w.errors > 0) say(`warm-up: ${w.errors} errors`);
    }
    const bodies = await makeBodies(N);
    // the bodies' item nonces reserved N items (decision 012), which leave P0's pool level: let the refill
    // they started finish before the clock starts, back to what the pool holds without reservations
    await stack.waitPool(N + 64, 60_000).catch(() => say("P0's pool not refilled before the clock: its refill runs in the timed window"));
    const pids = { p0: stack.pids.p0, p1: stack.pids.p1, helper: stack.pids.helper };
    const cpuAt = (pid: number | undefined) => (pid === undefined ? undefined : cpuMs(pid)) ?? NaN;
    const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuAt(pid)]));
    const self0 = process.cpuUsage();
    const r = await run(bodies);
    const selfUs = process.cpuUsage(self0);
    const cpu: Record<string, number> = {};
    for (const [k, pid] of Object.entries(pids)) cpu[k] = Math.round(((cpuAt(pid) - before[k]) / N) * 100) / 100;
    cpu.client = Math.round(((selfUs.user + selfUs.system) / 1000 / N) * 100) / 100;
    r.lat.sort((a, b) => a - b);
    const q = (p: number) => Number(r.lat[Math.min(r.lat.length - 1, Math.floor(p * r.lat.length))].toFixed(2));
    const wan = o.wan ? { rtt_ms: o.wan.rttMs, jitter_ms: o.wan.jitterMs ?? 0, loss: o.wan.loss ?? 0, rounds: verifyRounds } : {};
    return { suite: o.wan ? "verify-wan" : "verify-parties", ...wan, db: o.db ? "postgres" : "sqlite", requests: N, errors: r.errors, p50_ms: q(0.5), p99_ms: q(0.99), rps: Math.round(N / r.seconds), concurrency: C, cpu_ms_per_request: cpu };
  } finally {
    await stack.stop();
    for (const r of relays) await r.close();
    await pg?.drop();
    if (!o.keep) rmSync(home, { recursive: true, force: true });
    else say(`home kept at ${home}`);
  }
}
