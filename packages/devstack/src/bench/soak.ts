/**
 * `privface bench soak` (issue 16): the whole stack (helper, P0, P1 and the gateway as processes,
 * SQLite, a temporary home: `startBenchStack`, as `bench e2e`) driven from simulated POS devices at a
 * FIXED arrival rate for a fixed time. Open loop: request i starts at t0 + i/rps whether or not the
 * earlier ones have finished; a start more than LATE_MS behind its schedule is counted as late.
 *
 * The mix, over each cycle of 20 starts (`CYCLE`): 16 verifications of an enrolled person (80 %),
 * 2 enrolments of new persons (registered and consenting first, 10 %), 1 deregistration (a fresh
 * verification on the same device, then the deletion, 5 %), 1 invalid or malicious request (5 %),
 * in turn the kinds of `INVALID`, each with the answer it must get. Every answer is compared with the
 * expected one (`judge`): an acceptance that was not expected, a genuine person rejected, or a
 * refusal with another code is a WRONG DECISION; no answer, a 5xx, a 429 or any other refusal is an
 * ERROR (counted by code). The gateway's and the parties' rate limits and failure budgets are lifted
 * (env below): the soak measures the system, not the limiter.
 *
 * Prints one JSON line: {"suite":"soak","minutes","rps_target","rps_achieved","errors","wrong_decisions",
 * "p99_ms","rss_mb_start","rss_mb_end",…} with the mix counts, late starts, errors by code, wrong
 * decisions by case, latency per operation and each server's resident memory (VmRSS) before and after.
 */
import { MODEL } from "@privface/contracts";
import { craftedProbe } from "../attacks/attacks.ts";
import { deregister, faceOp, resend, simDevice, type Outcome, type SimDevice } from "../device-sim.ts";
import type { FetchLike } from "../gateway-client.ts";
import { syntheticFace } from "./e2e.ts";
import { benchMerchant, benchPerson, quantile, r2, rssMb, startBenchStack } from "./_stack.ts";

export interface SoakOptions {
  minutes: number;
  rps: number;
  /** persons enrolled before the run: the population the verifications draw from (default 64) */
  persons?: number;
  /** simulated devices (default 8); operations go to them in turn */
  devices?: number;
  /** bundles of correlated randomness per party before the run starts (default 4096) */
  pool?: number;
  log?: (line: string) => void;
}

export type SoakOp = "verify" | "enrol" | "deregister" | "invalid";

/** One cycle of 20 starts: 16 verify, 2 enrol, 1 deregister, 1 invalid, spread over the cycle. */
export const CYCLE: readonly SoakOp[] = (() => {
  const c: SoakOp[] = Array(20).fill("verify");
  c[4] = "enrol";
  c[14] = "enrol";
  c[9] = "deregister";
  c[19] = "invalid";
  return c;
})();

/** A start more than this many ms behind its schedule is late. */
export const LATE_MS = 10;

type Expect = { decision: "accept" | "reject" | "refused"; reason: string };

/** The invalid or malicious requests, in turn, and the answer each must get. */
export const INVALID = [
  /** the last accepted verification, sent again byte for byte */
  { kind: "replay", expect: { decision: "refused", reason: "REPLAYED_REQUEST" } },
  /** a fresh verification whose device signature was altered on the way */
  { kind: "bad_signature", expect: { decision: "refused", reason: "SIGNATURE_INVALID" } },
  /** every coordinate at the int8 maximum, far outside the valid norm (the scenario catalogue's malicious probe) */
  { kind: "out_of_range_probe", expect: { decision: "reject", reason: "INVALID_PROBE" } },
  /** a valid-norm vector with no face in it (the attack suite's `craftedProbe`, issue 12 item 3) */
  { kind: "crafted_probe", expect: { decision: "reject", reason: "NO_MATCH" } },
] as const satisfies readonly { kind: string; expect: Expect }[];

export interface SoakResult {
  suite: "soak";
  minutes: number;
  rps_target: number;
  rps_achieved: number;
  errors: number;
  wrong_decisions: number;
  p99_ms: number;
  rss_mb_start: number;
  rss_mb_end: number;
  requests: number;
  mix: Record<SoakOp, number>;
  invalid: Record<(typeof INVALID)[number]["kind"], number>;
  late_starts: number;
  max_start_lag_ms: number;
  p50_ms: number;
  by_op: Record<SoakOp, { p50_ms: number; p99_ms: number }>;
  errors_by_code: Record<string, number>;
  /** the gateway's failed party calls by code (behind its MPC_UNAVAILABLE answers) */
  party_errors_by_code: Record<string, number>;
  wrong_by_case: Record<string, number>;
  rss_mb_by_server: Record<string, { start: number | undefined; end: number | undefined }>;
  persons_start: number;
  persons_end: number;
}

/** Correct, a wrong decision, or an error (with its code), for an answer and the answer expected. */
export function judge(expect: Expect, got: { decision: string; reason: string; status: number }): "ok" | "wrong" | "error" {
  if (got.decision === expect.decision && got.reason === expect.reason) return "ok";
  if (got.decision === "accept") return "wrong";
  if (got.status === 0 || got.status === 429 || got.status >= 500) return "error";
  if (expect.decision !== "refused" && got.decision === "reject") return "wrong";
  if (expect.decision === "refused" && got.decision === "refused") return "wrong";
  return "error";
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Flips one character of a request body's `signature` (base64url): still well-formed, no longer valid. */
function alterSignature(body: string): string {
  const b = JSON.parse(body);
  b.signature = (b.signature[0] === "A" ? "B" : "A") + b.signature.slice(1);
  return JSON.stringify(b);
}

export async function runSoakBench(o: SoakOptions): Promise<SoakResult> {
  const say = o.log ?? (() => {});
  if (!(o.minutes > 0) || !(o.rps > 0)) throw new RangeError("runSoakBench: minutes and rps must be positive");
  const nDevices = o.devices ?? 8;
  const env: Record<string, string> = {
    PRIVFACE_GATEWAY_PERSON_LOCK_AFTER: "1000",
    PRIVFACE_GATEWAY_PERSON_DAILY_FAILURES: "100000",
    PRIVFACE_GATEWAY_DEVICE_LOCK_AFTER: "100000",
    PRIVFACE_GATEWAY_DEVICE_DAILY_FAILURES: "1000000",
    PRIVFACE_P0_FAILURE_BUDGET: "16384",
    PRIVFACE_P1_FAILURE_BUDGET: "16384",
  };
  // why the gateway answered MPC_UNAVAILABLE: its "party-error" log lines (party and code)
  const partyErrors: Record<string, number> = {};
  const onLog = (server: string, line: string) => {
    if (server !== "gateway" || !line.includes('"party-error"')) return;
    const k = String(JSON.parse(line).code);
    partyErrors[k] = (partyErrors[k] ?? 0) + 1;
  };
  const s = await startBenchStack({ prefix: "privface-bench-soak-", pool: o.pool ?? 4096, maxSockets: 64, env, onLog, say });
  try {
    const { merchantId, devices } = await benchMerchant(s, nDevices);
    // one SDK object per operation: `last` (the body sent) is then this operation's own
    const view = (d: SimDevice, fetch: FetchLike = s.client.fetch) => simDevice({ ...s.client, fetch }, d.deviceId, d.key, d.authKey, d.trust);
    type Person = { id: string; face: { enrol: Float32Array; again: Float32Array } };
    let nPersons = 0;
    const newPerson = async (d: SimDevice): Promise<Person> => {
      const i = nPersons++;
      return { id: await benchPerson(s.admin, merchantId, d, i), face: syntheticFace(i) };
    };
    // the enrolled persons with no operation in flight; an operation takes one at random and gives it back
    const idle: Person[] = [];
    let seed = 0x2545f491;
    const take = (): Person => {
      if (idle.length === 0) throw Object.assign(new Error("no enrolled person free"), { code: "NO_IDLE_PERSON" });
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      const i = (seed >>> 0) % idle.length;
      const p = idle[i];
      idle[i] = idle[idle.length - 1];
      idle.pop();
      return p;
    };

    const persons = o.persons ?? 64;
    say(`enrolling ${persons} persons …`);
    for (let i = 0; i < persons; i += nDevices) {
      await Promise.all(
        devices.slice(0, Math.min(nDevices, persons - i)).map(async (d) => {
          const p = await newPerson(d);
          const e = await faceOp(view(d), p.id, "enrol", p.face.enrol);
          if (e.reason !== "ENROLLED") throw new Error(`enrolment before the run: ${e.status} ${e.reason}`);
          idle.push(p);
        }),
      );
    }

    let lastAccepted: unknown;
    let nInvalid = 0;
    /** Runs one operation; gives each answer with what it should have been. */
    const run = async (op: SoakOp, d: SimDevice): Promise<{ expect: Expect; got: Outcome; kind?: string }[]> => {
      if (op === "enrol") {
        const p = await newPerson(d);
        const got = await faceOp(view(d), p.id, "enrol", p.face.enrol);
        if (got.reason === "ENROLLED") idle.push(p);
        return [{ expect: { decision: "accept", reason: "ENROLLED" }, got }];
      }
      // the invalid kinds in turn; a replay before any verification was accepted is skipped for the next kind
      let kind: (typeof INVALID)[number] = INVALID[0];
      if (op === "invalid") {
        kind = INVALID[nInvalid++ % INVALID.length];
        if (kind.kind === "replay" && lastAccepted) return [{ kind: kind.kind, expect: kind.expect, got: await resend(s.client, "/v1/verifications", lastAccepted) }];
        if (kind.kind === "replay") kind = INVALID[nInvalid++ % INVALID.length];
      }
      const p = take();
      let gone = false;
      try {
        if (op === "verify") {
          const v = view(d);
          const got = await faceOp(v, p.id, "verify", p.face.again);
          if (got.reason === "MATCH") lastAccepted = got.sent;
          return [{ expect: { decision: "accept", reason: "MATCH" }, got }];
        }
        if (op === "deregister") {
          const v = view(d);
          const verified = await faceOp(v, p.id, "verify", p.face.again);
          if (verified.reason !== "MATCH") return [{ expect: { decision: "accept", reason: "MATCH" }, got: verified }];
          const got = await deregister(v, p.id);
          gone = got.reason === "DELETED";
          return [{ expect: { decision: "accept", reason: "DELETED" }, got }];
        }
        const probe =
          kind.kind === "bad_signature"
            ? { d: view(d, (url, init) => s.client.fetch(url, init.method === "POST" && new URL(url).pathname === "/v1/verifications" ? { ...init, body: alterSignature(init.body!) } : init)), x: p.face.again }
            : { d: view(d), x: kind.kind === "out_of_range_probe" ? new Int8Array(MODEL.dim).fill(127) : craftedProbe() };
        return [{ kind: kind.kind, expect: kind.expect, got: await faceOp(probe.d, p.id, "verify", probe.x) }];
      } finally {
        if (!gone) idle.push(p);
      }
    };

    const n = Math.max(1, Math.round(o.minutes * 60 * o.rps));
    const mix: Record<SoakOp, number> = { verify: 0, enrol: 0, deregister: 0, invalid: 0 };
    const invalid = Object.fromEntries(INVALID.map((k) => [k.kind, 0])) as SoakResult["invalid"];
    const lat: Record<SoakOp, number[]> = { verify: [], enrol: [], deregister: [], invalid: [] };
    const errorsByCode: Record<string, number> = {};
    const wrongByCase: Record<string, number> = {};
    let errors = 0;
    let wrong = 0;
    let late = 0;
    let maxLag = 0;
    let lastEnd = 0;
    const bump = (m: Record<string, number>, k: string) => void (m[k] = (m[k] ?? 0) + 1);
    const servers = Object.entries(s.pids).filter(([k]) => k !== "client") as [string, number][];
    const rssStart = Object.fromEntries(servers.map(([k, pid]) => [k, rssMb(pid)]));
    const personsStart = idle.length;

    say(`soak: ${n} requests at ${o.rps}/s (${o.minutes} min) …`);
    const running: Promise<void>[] = [];
    const t0 = performance.now() + 50;
    for (let i = 0; i < n; i++) {
      const at = t0 + (i * 1000) / o.rps;
      const wait = at - performance.now();
      if (wait > 0) await sleep(wait);
      const started = performance.now();
      const lag = started - at;
      if (lag > LATE_MS) late++;
      maxLag = Math.max(maxLag, lag);
      const op = CYCLE[i % CYCLE.length];
      mix[op]++;
      running.push(
        run(op, devices[i % devices.length]).then(
          (answers) => {
            for (const a of answers) {
              if (a.kind) bump(invalid, a.kind);
              const j = judge(a.expect, a.got);
              if (j === "error") errors++, bump(errorsByCode, a.got.reason || `HTTP_${a.got.status}`);
              if (j === "wrong") wrong++, bump(wrongByCase, `${a.kind ?? op}: expected ${a.expect.decision}/${a.expect.reason}, got ${a.got.decision}/${a.got.reason}`);
            }
          },
          (e: Error & { code?: string }) => {
            errors++;
            bump(errorsByCode, e.code ?? e.message.slice(0, 60));
          },
        ).finally(() => {
          lastEnd = performance.now();
          lat[op].push(lastEnd - started);
        }),
      );
    }
    await Promise.all(running);
    const rssEnd = Object.fromEntries(servers.map(([k, pid]) => [k, rssMb(pid)]));
    const sum = (m: Record<string, number | undefined>) => r2(Object.values(m).reduce<number>((a, b) => a + (b ?? 0), 0));
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const all = sorted(Object.values(lat).flat());
    return {
      suite: "soak",
      minutes: o.minutes,
      rps_target: o.rps,
      rps_achieved: r2(n / ((lastEnd - t0) / 1000)),
      errors,
      wrong_decisions: wrong,
      p99_ms: r2(quantile(all, 0.99)),
      rss_mb_start: sum(rssStart),
      rss_mb_end: sum(rssEnd),
      requests: n,
      mix,
      invalid,
      late_starts: late,
      max_start_lag_ms: r2(maxLag),
      p50_ms: r2(quantile(all, 0.5)),
      by_op: Object.fromEntries(Object.entries(lat).map(([k, v]) => [k, { p50_ms: r2(quantile(sorted(v), 0.5)), p99_ms: r2(quantile(sorted(v), 0.99)) }])) as SoakResult["by_op"],
      errors_by_code: errorsByCode,
      party_errors_by_code: partyErrors,
      wrong_by_case: wrongByCase,
      rss_mb_by_server: Object.fromEntries(servers.map(([k]) => [k, { start: rssStart[k], end: rssEnd[k] }])),
      persons_start: personsStart,
      persons_end: idle.length,
    };
  } finally {
    await s.stop();
  }
}
