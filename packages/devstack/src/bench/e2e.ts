/**
 * `privface bench e2e`: the whole system on loopback (helper, P0, P1 and the gateway as separate
 * processes, HTTPS to the gateway, mutual TLS behind it), driven from simulated POS devices in this
 * process with precomputed probe embeddings (the face model is not timed).
 *
 * One measured request = what a device sees: POST /v1/challenges, then build the sealed, signed body
 * (share, seal to P0 and P1, sign), then POST /v1/enrolments or /v1/verifications, until the decision
 * arrives. `concurrency` devices run in parallel over keep-alive connections. Reports one JSON line
 * per suite: {"suite":"e2e-enrol"|"e2e-verify","requests","errors","p50_ms","p99_ms","rps",…};
 * `post_p50_ms` / `post_p99_ms` time the final POST alone (gateway + parties, without the challenge
 * round trip and the device's sealing).
 */
import { join } from "node:path";
import { faceOp, syntheticFaces } from "../device-sim.ts";
import { createGatewayClient, type GatewayClient } from "../gateway-client.ts";
import { benchMerchant, benchPerson, cpuMs, dbStatsOf, quantile, r2, startBenchStack } from "./_stack.ts";

export interface E2eBenchOptions {
  /** verifications to measure */
  requests?: number;
  /** persons to enrol (each enrolment is measured for e2e-enrol) */
  persons?: number;
  /** simulated devices working in parallel */
  concurrency?: number;
  /** verifications before measuring (warm-up) */
  warmup?: number;
  /** enrolments of extra persons before the measured ones (warm-up: connections, JIT) */
  enrolWarmup?: number;
  /** use a running stack instead: its gateway URL, CA file contents and admin token */
  gateway?: { url: string; ca?: Buffer; token: string; approverToken: string };
  /** write V8 CPU profiles here: each server process's (gateway/, p0/, p1/, helper/, at its exit) and this process's during e2e-verify (client/) */
  cpuProfDir?: string;
  /** a postgres:// URL: every server in a schema of its own there, dropped at the end (default SQLite) */
  db?: string;
  log?: (line: string) => void;
}

export interface SuiteResult {
  suite: string;
  requests: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  rps: number;
  [k: string]: unknown;
}

async function drive(
  n: number,
  concurrency: number,
  one: (i: number) => Promise<boolean | { ok: boolean; postMs?: number; /** why it failed */ code?: string }>,
): Promise<{ lat: number[]; post: number[]; errors: number; seconds: number; codes: Record<string, number> }> {
  const lat: number[] = [];
  const post: number[] = [];
  let errors = 0;
  let next = 0;
  const codes: Record<string, number> = {};
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        let ok = false;
        try {
          const r = await one(i);
          if (typeof r === "boolean") ok = r;
          else {
            ok = r.ok;
            if (r.postMs !== undefined) post.push(r.postMs);
            if (!ok && r.code) codes[r.code] = (codes[r.code] ?? 0) + 1;
          }
        } catch (e) {
          codes[(e as Error).message.slice(0, 40)] = (codes[(e as Error).message.slice(0, 40)] ?? 0) + 1;
        }
        lat.push(performance.now() - s);
        if (!ok) errors++;
      }
    }),
  );
  return { lat: lat.sort((a, b) => a - b), post: post.sort((a, b) => a - b), errors, seconds: (performance.now() - t0) / 1000, codes };
}

function summarise(suite: string, r: Awaited<ReturnType<typeof drive>>, extra: Record<string, unknown>): SuiteResult {
  return {
    suite,
    requests: r.lat.length,
    errors: r.errors,
    p50_ms: r2(quantile(r.lat, 0.5)),
    p99_ms: r2(quantile(r.lat, 0.99)),
    rps: Math.round(r.lat.length / r.seconds),
    ...(r.post.length ? { post_p50_ms: r2(quantile(r.post, 0.5)), post_p99_ms: r2(quantile(r.post, 0.99)) } : {}),
    ...(Object.keys(r.codes).length ? { error_codes: r.codes } : {}),
    ...extra,
  };
}

/** A distinct synthetic face per index (xorshift Gaussian-ish vector) and a second capture of it. */
export function syntheticFace(i: number, d = 512): { enrol: Float32Array; again: Float32Array } {
  const f = syntheticFaces(0x9e3779b9 ^ Math.imul(i + 1, 0x85ebca6b), d);
  const enrol = f.face();
  return { enrol, again: f.recapture(enrol) };
}

function cpuSnapshot(pids: Record<string, number>): Record<string, number | undefined> {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
}

type DbSnapshot = Record<string, Record<string, number> | undefined>;
/** Every server's database work so far (none for a stack this bench did not start). */
async function dbSnapshot(home: string | undefined, pids: Record<string, number>): Promise<DbSnapshot> {
  if (!home) return {};
  await new Promise((r) => setTimeout(r, 300)); // the servers write their counts every 200 ms
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, dbStatsOf(home, pid)]));
}

/** Commits, writes and statements per request at each server, between two snapshots. */
function dbPerRequest(before: DbSnapshot, after: DbSnapshot, n: number): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [k, a] of Object.entries(before)) {
    const b = after[k];
    if (a && b) out[k] = Object.fromEntries(Object.keys(a).map((f) => [f, r2((b[f] - a[f]) / n)]));
  }
  return out;
}

function cpuPerRequest(before: Record<string, number | undefined>, after: Record<string, number | undefined>, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(before)) {
    const a = before[k];
    const b = after[k];
    if (a !== undefined && b !== undefined) out[k] = r2((b - a) / n);
  }
  return out;
}

/** Profiles this process (the simulated devices) with the inspector; the returned function stops and writes the profile. */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const { Session } = await import("node:inspector/promises");
  const { mkdirSync, writeFileSync } = await import("node:fs");
  const { dirname } = await import("node:path");
  const s = new Session();
  s.connect();
  await s.post("Profiler.enable");
  await s.post("Profiler.start");
  return async (file) => {
    const { profile } = await s.post("Profiler.stop");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(profile));
    s.disconnect();
  };
}

export async function runE2eBench(o: E2eBenchOptions = {}): Promise<SuiteResult[]> {
  const requests = o.requests ?? 5000;
  const persons = o.persons ?? 200;
  const concurrency = o.concurrency ?? 16;
  const say = o.log ?? (() => {});
  let home: string | undefined;
  let stop = async () => {};
  let admin: GatewayClient;
  let approver: GatewayClient;
  let client: GatewayClient;
  let pids: Record<string, number> = {};
  if (o.gateway) {
    admin = createGatewayClient({ url: o.gateway.url, ca: o.gateway.ca, token: o.gateway.token });
    approver = createGatewayClient({ url: o.gateway.url, ca: o.gateway.ca, token: o.gateway.approverToken });
    client = createGatewayClient({ url: o.gateway.url, ca: o.gateway.ca, maxSockets: concurrency });
    stop = async () => {
      admin.close();
      approver.close();
      client.close();
    };
  } else {
    const pool = Math.max(4096, Math.min(65_536, 2 * (requests + (o.warmup ?? 500))));
    const prof = (n: string) => ["--cpu-prof", `--cpu-prof-dir=${join(o.cpuProfDir!, n)}`];
    const nodeArgs = o.cpuProfDir ? { gateway: prof("gateway"), p0: prof("p0"), p1: prof("p1"), helper: prof("helper") } : undefined;
    const s = await startBenchStack({ prefix: "privface-bench-e2e-", pool, maxSockets: concurrency, nodeArgs, say, db: o.db });
    ({ home, admin, approver, client, stop } = s);
    pids = s.pids as Record<string, number>;
  }
  try {
    const { merchantId, devices } = await benchMerchant({ admin, approver, client, home }, concurrency);
    const ids: string[] = [];
    const faces: { enrol: Float32Array; again: Float32Array }[] = [];
    const enrolWarm = o.enrolWarmup ?? 32;
    for (let i = 0; i < persons + enrolWarm; i++) {
      ids.push(await benchPerson(admin, merchantId, devices[0], i));
      faces.push(syntheticFace(i));
    }
    if (enrolWarm > 0) {
      say(`warm-up: ${enrolWarm} enrolments …`);
      await drive(enrolWarm, concurrency, async (i) => (await faceOp(devices[i % devices.length], ids[persons + i], "enrol", faces[persons + i].enrol)).ok);
    }
    say(`e2e-enrol: ${persons} enrolments, ${concurrency} devices …`);
    const db0 = await dbSnapshot(home, pids);
    const cpu0 = cpuSnapshot(pids);
    const enrol = await drive(persons, concurrency, async (i) => {
      const r = await faceOp(devices[i % devices.length], ids[i], "enrol", faces[i].enrol);
      return { ok: r.ok && r.decision === "accept", postMs: r.postMs, code: r.ok ? r.reason : `${r.status} ${r.reason}` };
    });
    const enrolCpu = cpuPerRequest(cpu0, cpuSnapshot(pids), persons);
    const enrolDb = dbPerRequest(db0, await dbSnapshot(home, pids), persons);
    const enrolled = persons - enrol.errors;
    const warm = o.warmup ?? 500;
    say(`warm-up: ${warm} verifications …`);
    await drive(warm, concurrency, async (i) => (await faceOp(devices[i % devices.length], ids[i % persons], "verify", faces[i % persons].again)).ok);
    say(`e2e-verify: ${requests} verifications, ${concurrency} devices …`);
    let rejects = 0;
    const prof = o.cpuProfDir ? await startProfile() : undefined;
    const db1 = await dbSnapshot(home, pids);
    const cpu1 = cpuSnapshot(pids);
    const verify = await drive(requests, concurrency, async (i) => {
      const p = i % persons;
      const r = await faceOp(devices[i % devices.length], ids[p], "verify", faces[p].again);
      if (r.ok && r.decision !== "accept") rejects++;
      return { ok: r.ok && r.decision === "accept", postMs: r.postMs, code: r.ok ? r.reason : `${r.status} ${r.reason}` };
    });
    const verifyCpu = cpuPerRequest(cpu1, cpuSnapshot(pids), requests);
    const verifyDb = dbPerRequest(db1, await dbSnapshot(home, pids), requests);
    if (prof) await prof(join(o.cpuProfDir!, "client", "e2e-verify.cpuprofile"));
    return [
      summarise("e2e-enrol", enrol, { db: o.db ? "postgres" : "sqlite", concurrency, enrolled, cpu_ms_per_request: enrolCpu, db_per_request: enrolDb }),
      summarise("e2e-verify", verify, { db: o.db ? "postgres" : "sqlite", concurrency, persons, false_rejects: rejects, cpu_ms_per_request: verifyCpu, db_per_request: verifyDb }),
    ];
  } finally {
    await stop();
  }
}
