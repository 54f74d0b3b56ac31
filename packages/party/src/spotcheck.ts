/**
 * The spot-check of every dealt pool batch at intake (decision 010 §6; @privface/mpc spotcheck.ts for
 * the checks and the detection figures), over the parties' own link — never through the helper or the
 * gateway, and off the verification path (it runs in P0's refill job).
 *
 * The helper delivers P1's halves of a batch to P1, then P0's halves to P0. Before P0 adds anything to
 * its pool (P0 names the item of every session, so P1's copies of unchecked items are never used):
 *   1. P0 → P1 `POST /v1/peer/spotcheck { step: "open", ids, coin }` (P0's fresh coin). P1 draws its
 *      own coin, computes the sample, marks the sampled items used in its pool (they can never serve a
 *      session) and answers `{ coin, openings }` (its material for each sampled item).
 *   2. P0 computes the same sample, checks every sampled item against its own halves, and sends
 *      `{ step: "verdict", ids, openings, ok }` (its own openings and verdict). P1 checks the same
 *      items itself and answers `{ ok, failures }`.
 *   3. Both passed: P0 adds the batch without the sampled items. Otherwise the batch is dropped at both
 *      (P1 marks every item of it used), the failure is raised as an alert (log `helper_cheat_detected`
 *      at error level, metric `privface_party_spotchecks_total{outcome="failed"}`, audit `spotcheck`
 *      `failed` code SPOTCHECK_FAILED), and refills from the helper stop: P0's refill job no longer asks it and P1 refuses its
 *      deliveries (HELPER_UNAVAILABLE) until the party is restarted by an operator.
 */
import { silentLog, type Log } from "@privface/config";
import { PartyError, type PartyName } from "@privface/contracts";
import {
  bundleIdOf, checkOpenedPair, decodeBundle, decodeOpening, DEFAULT_SPOTCHECK_FRACTION, encodeOpening, openItem,
  spotCheckCoin, spotCheckSample, type OpenedMaterial, type Rng,
} from "@privface/mpc";
import type { PartyAuditSink } from "./service.ts";
import type { PartyStore, PoolItem } from "./store/index.ts";

export const SPOTCHECK_SESSION = "spotcheck-sample";
export const DROPPED_SESSION = "spotcheck-dropped";
const MAX_BATCH = 1024;
const ID = /^[0-9a-f]{32}$/;

export interface SpotCheckDeps {
  party: PartyName;
  poolSeed: Uint8Array;
  store: Pick<PartyStore, "markUsed">;
  audit: PartyAuditSink;
  /** the alert metric (privface_party_spotchecks_total) */
  count: (outcome: "passed" | "failed") => void;
  fraction?: number;
  rng?: Rng;
  log?: Log;
}

export interface OpenRequest {
  step: "open";
  ids: string[];
  coin: string;
}
export interface OpenAnswer {
  coin: string;
  openings: string[];
}
export interface VerdictRequest {
  step: "verdict";
  ids: string[];
  openings: string[];
  ok: boolean;
}
export interface VerdictAnswer {
  ok: boolean;
  failures: string[];
}

/** P0's result for one batch: the items to add (sampled ones left out) or a failure. */
export interface IntakeResult {
  ok: boolean;
  keep: PoolItem[];
  sampled: number;
  failures: string[];
}

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
const unb64 = (s: unknown, what: string): Uint8Array => {
  if (typeof s !== "string") throw new PartyError("INVALID_INPUT", `${what}: expected base64`);
  return new Uint8Array(Buffer.from(s, "base64"));
};

function checkIds(ids: unknown): string[] {
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_BATCH || !ids.every((i) => typeof i === "string" && ID.test(i))) throw new PartyError("INVALID_INPUT", `ids: expected 1..${MAX_BATCH} item ids`);
  if (new Set(ids).size !== ids.length) throw new PartyError("INVALID_INPUT", "ids: duplicates");
  return ids as string[];
}

function material(party: PartyName, seed: Uint8Array, bytes: Uint8Array): OpenedMaterial {
  return openItem(party, seed, decodeBundle(bytes));
}

function checkAll(mine: OpenedMaterial[], theirs: Uint8Array[], mineIsP0: boolean): string[] {
  const failures = new Set<string>();
  if (theirs.length !== mine.length) return ["openings_missing"];
  mine.forEach((m, i) => {
    let other: OpenedMaterial;
    try {
      other = decodeOpening(theirs[i]);
    } catch {
      failures.add("opening_malformed");
      return;
    }
    const r = mineIsP0 ? checkOpenedPair(m, other) : checkOpenedPair(other, m);
    for (const f of r.failures) failures.add(f);
  });
  return [...failures];
}

/** Both sides: the alert when a batch fails. */
async function alert(deps: SpotCheckDeps, ids: readonly string[], failures: readonly string[]): Promise<void> {
  deps.count("failed");
  (deps.log ?? silentLog).error({ event: "helper_cheat_detected", batch: ids.length, first: ids[0], failures: failures.join(",") });
  // audit fields are short tokens (no lists): the failed checks are in the log line above
  await deps.audit.append({ op: "spotcheck", session: null, templateId: null, requester: "helper", purpose: null, outcome: "failed", code: "SPOTCHECK_FAILED" }).catch(() => (deps.log ?? silentLog).error({ event: "audit_failed", op: "spotcheck" }));
}

/**
 * P0: spot-checks a batch of P0's halves with P1 (`peer` posts to P1's `/v1/peer/spotcheck`).
 * Never throws for a cheating helper (that is `ok: false`); throws when P1 cannot be asked.
 */
export async function spotCheckIntake(deps: SpotCheckDeps, items: readonly Uint8Array[], peer: (body: OpenRequest | VerdictRequest) => Promise<unknown>): Promise<IntakeResult> {
  const fraction = deps.fraction ?? DEFAULT_SPOTCHECK_FRACTION;
  const ids = items.map((b) => bundleIdOf(b));
  const coin0 = spotCheckCoin(deps.rng);
  const a = (await peer({ step: "open", ids, coin: b64(coin0) })) as OpenAnswer;
  let sample: number[];
  let theirs: Uint8Array[];
  try {
    sample = spotCheckSample(ids, coin0, unb64(a?.coin, "coin"), fraction);
    theirs = (Array.isArray(a?.openings) ? a.openings : []).map((o) => unb64(o, "opening"));
  } catch (e) {
    throw new Error(`P1's spot-check answer: ${(e as Error).message}`);
  }
  const mine: OpenedMaterial[] = [];
  const failures: string[] = [];
  for (const i of sample) {
    try {
      mine.push(material(deps.party, deps.poolSeed, items[i]));
    } catch {
      failures.push("bundle_malformed");
    }
  }
  const myOpenings = mine.map((m) => b64(encodeOpening(m)));
  if (failures.length === 0) failures.push(...checkAll(mine, theirs, true));
  const v = (await peer({ step: "verdict", ids, openings: myOpenings, ok: failures.length === 0 })) as VerdictAnswer;
  if (v?.ok !== true) for (const f of Array.isArray(v?.failures) ? v.failures : ["peer_refused"]) if (!failures.includes(`P1:${f}`)) failures.push(`P1:${f}`);
  if (failures.length > 0) {
    await alert(deps, ids, failures);
    return { ok: false, keep: [], sampled: sample.length, failures };
  }
  deps.count("passed");
  const skip = new Set(sample);
  return { ok: true, keep: items.flatMap((bytes, i) => (skip.has(i) ? [] : [{ id: ids[i], bytes }])), sampled: sample.length, failures: [] };
}

/**
 * P1: answers P0's two spot-check steps; `blocked()` once a batch failed. The `open` step of a batch
 * being checked, asked again with the same coin (P0 retries when a connection reset lost the answer),
 * gets the same answer; another coin for it is refused.
 */
export function createSpotCheckResponder(deps: SpotCheckDeps): { handle(body: unknown): Promise<OpenAnswer | VerdictAnswer>; blocked(): boolean } {
  const fraction = deps.fraction ?? DEFAULT_SPOTCHECK_FRACTION;
  // batches between the two steps: key = the ids joined; P1's sampled materials (opened, not yet checked)
  const pending = new Map<string, { mine: OpenedMaterial[]; at: number; coin0: string; answer: OpenAnswer }>();
  let blocked = false;

  async function dropBatch(ids: readonly string[]): Promise<void> {
    for (const id of ids) await deps.store.markUsed(id, DROPPED_SESSION).catch(() => undefined);
  }

  async function open(b: Record<string, unknown>): Promise<OpenAnswer> {
    const ids = checkIds(b.ids);
    const coin0 = unb64(b.coin, "coin");
    if (coin0.length !== 32) throw new PartyError("INVALID_INPUT", "coin: expected 32 bytes");
    const key = ids.join(",");
    const open = pending.get(key);
    // the same step again (P0 retries when a connection reset lost the answer): the same answer
    if (open && open.coin0 === b64(coin0)) return open.answer;
    if (open) throw new PartyError("INVALID_INPUT", "this batch is being checked already");
    const coin1 = spotCheckCoin(deps.rng);
    const sample = spotCheckSample(ids, coin0, coin1, fraction);
    const mine: OpenedMaterial[] = [];
    const openings: string[] = [];
    for (const i of sample) {
      // used now, in the same step that reveals it: a sampled item can never serve a session
      const item = await deps.store.markUsed(ids[i], SPOTCHECK_SESSION).catch(() => {
        throw new PartyError("INVALID_INPUT", "a sampled item is not an unused item of P1's pool");
      });
      let m: OpenedMaterial;
      try {
        m = material(deps.party, deps.poolSeed, item.bytes);
      } catch {
        throw new PartyError("INVALID_INPUT", "a sampled item of P1's pool does not decode");
      }
      openings.push(b64(encodeOpening(m)));
      mine.push(m);
    }
    for (const [k, v] of pending) if (Date.now() - v.at > 600_000) pending.delete(k);
    const answer = { coin: b64(coin1), openings };
    pending.set(key, { mine, at: Date.now(), coin0: b64(coin0), answer });
    return answer;
  }

  async function verdict(b: Record<string, unknown>): Promise<VerdictAnswer> {
    const ids = checkIds(b.ids);
    const key = ids.join(",");
    const p = pending.get(key);
    if (!p) throw new PartyError("INVALID_INPUT", "no spot-check of this batch is open");
    pending.delete(key);
    const theirs = (Array.isArray(b.openings) ? b.openings : []).map((o) => unb64(o, "opening"));
    const failures = checkAll(p.mine, theirs, false);
    if (b.ok !== true) failures.push("P0_failed");
    if (failures.length > 0) {
      blocked = true;
      await dropBatch(ids);
      await alert(deps, ids, failures);
      return { ok: false, failures };
    }
    deps.count("passed");
    return { ok: true, failures: [] };
  }

  return {
    async handle(body) {
      if (deps.party !== "P1") throw new PartyError("NOT_FOUND", "P1 answers spot-checks");
      if (!body || typeof body !== "object" || Array.isArray(body)) throw new PartyError("INVALID_INPUT", "body: expected an object");
      const b = body as Record<string, unknown>;
      if (b.step === "open") return open(b);
      if (b.step === "verdict") return verdict(b);
      throw new PartyError("INVALID_INPUT", "step: expected open or verdict");
    },
    blocked: () => blocked,
  };
}
