/**
 * All parties in one process: `simulateVerify`, `simulateEnrol` (and `simulateBudget`, the failure-budget run) deal a bundle (unless given), run
 * P0's and P1's step functions, pass every message through the wire encoding (unless `wire: false`),
 * count the bytes each party sends, check that both parties ran the same number of rounds, and
 * reconstruct the XOR-shared result (which in production only the requester does). `simulateDedup` runs
 * one 1:N query over galleries kept by `simulateGalleryAdd`/`simulateGalleryRemove` (dedup.ts).
 */
import { budgetStart, budgetStep, openBudget, type BudgetMaterial, type BudgetMessage, type BudgetOutput, type BudgetState, type CounterState } from "./budget.ts";
import { decodeBudgetMessage, encodeBudgetMessage } from "./budget-wire.ts";
import { newItemId, type Bundle, type Seeds } from "./bundle.ts";
import { deal } from "./deal.ts";
import type { CompareMsg, Message, PartyName, Protocol } from "./messages.ts";
import { openBundle } from "./open.ts";
import type { Params } from "./params.ts";
import {
  enrolStart, enrolStep, verifyOnCompareMany, verifyStart, verifyStep,
  type EnrolOutput, type EnrolState, type VerifyCompared, type VerifyOutput, type VerifyState,
} from "./protocol.ts";
import { secureRng, type Rng } from "./rng.ts";
import { decodeMessage, encodeMessage } from "./wire.ts";
import { encodeBundle } from "./bundle-wire.ts";
import {
  dealDedup, dedupOnAnd, dedupOnEps, dedupOnZ, dedupPrepare, dedupReveal, dedupStart, galleryAdd, galleryOpenShare, galleryRemove, helperGalleryAdd,
  helperGalleryRemove, maskShares, openDedup, dedupAnyStart, dedupAnyOnAnd, type DedupAnying,
  type DedupAndMsg, type DedupBundle, type DedupComparing, type DedupPrepared, type DedupEpsMsg, type DedupMsg, type DedupState, type DedupZMsg, type HelperGallery, type PartyGallery,
} from "./dedup.ts";

export interface SimulateCommon {
  readonly params: Params;
  readonly seeds: Seeds;
  /** dealt with `rng` when absent */
  readonly bundles?: { readonly P0: Bundle; readonly P1: Bundle };
  readonly rng?: Rng;
  readonly session?: string;
  /** pass messages through encodeMessage/decodeMessage (default true) */
  readonly wire?: boolean;
  /** sees every message (as received, after the wire) — for privacy tests */
  readonly observe?: (msg: Message) => void;
}

export interface SimulateVerifyOptions extends SimulateCommon {
  /** byte shares of the probe (P0's usually from expandSeedShare) */
  readonly probe: { readonly P0: Uint8Array; readonly P1: Uint8Array };
  /** Z_2^32 shares of the enrolled template */
  readonly template: { readonly P0: Uint32Array; readonly P1: Uint32Array };
}

export interface SimulateEnrolOptions extends SimulateCommon {
  readonly share: { readonly P0: Uint8Array; readonly P1: Uint8Array };
}

export interface Traffic {
  readonly rounds: number;
  /** bytes each party sent (wire encoding) */
  readonly sent: { P0: number; P1: number };
}

const ROLES = ["P0", "P1"] as const;

function transfer(msg: Message, protocol: Protocol, d: number, wire: boolean, sent: { P0: number; P1: number }, observe?: (m: Message) => void): Message {
  let out = msg;
  if (wire) {
    const bytes = encodeMessage(msg);
    sent[msg.from] += bytes.length;
    out = decodeMessage(bytes, { protocol, session: msg.session, step: msg.step, seq: msg.seq, from: msg.from, d });
  }
  observe?.(out);
  return out;
}

/** Session and material of one simulated run (its bundle dealt with `o.rng` when not given; each run opens its own material). */
function setup(o: SimulateCommon, kind: Protocol) {
  const rng = o.rng ?? secureRng;
  const bundles = o.bundles ?? deal(o.params, newItemId(rng), o.seeds, { rng, kind });
  return {
    session: o.session ?? `sim-${newItemId(rng)}`,
    material: (role: PartyName) => openBundle(role, o.seeds[role], bundles[role]),
  };
}

type StepResult<S, Out> = { state: S; send?: Message; output?: Out };
/** One party's step for every run still going, in run order (the runs may share work, e.g. one DCF batch). */
type Steps<S, Out> = (states: S[], msgs: Message[]) => StepResult<S, Out>[];

interface Run<S, Out> {
  readonly o: SimulateCommon;
  readonly st: Record<PartyName, S>;
  readonly out: Record<PartyName, Message | undefined>;
  readonly sent: { P0: number; P1: number };
  rounds: number;
  readonly result: Partial<Record<PartyName, Out>>;
}

/**
 * Runs every party of every run round by round, in lock step, until all give an output; every message
 * passes `transfer`. Parties are visited by index (P0, then P1), never by arrival.
 */
function exchange<S, Out>(
  list: readonly SimulateCommon[],
  kind: Protocol,
  start: (i: number, role: PartyName) => { state: S; send: Message },
  steps: Steps<S, Out>,
): { P0: Out; P1: Out; traffic: Traffic }[] {
  const runs = list.map((o, i): Run<S, Out> => {
    const st = {} as Record<PartyName, S>;
    const out: Record<PartyName, Message | undefined> = { P0: undefined, P1: undefined };
    for (const role of ROLES) {
      const r = start(i, role);
      st[role] = r.state;
      out[role] = r.send;
    }
    return { o, st, out, sent: { P0: 0, P1: 0 }, rounds: 0, result: {} };
  });
  let active = runs.filter((r) => r.out.P0 && r.out.P1);
  while (active.length > 0) {
    const inbox = active.map((r) => {
      r.rounds++;
      const wire = r.o.wire ?? true;
      const d = r.o.params.d;
      return { P0: transfer(r.out.P1!, kind, d, wire, r.sent, r.o.observe), P1: transfer(r.out.P0!, kind, d, wire, r.sent, r.o.observe) };
    });
    for (const role of ROLES) {
      const res = steps(active.map((r) => r.st[role]), inbox.map((m) => m[role]));
      res.forEach((x, i) => {
        const r = active[i];
        r.st[role] = x.state;
        r.out[role] = x.send;
        if (x.output) r.result[role] = x.output;
      });
    }
    active = active.filter((r) => r.out.P0 && r.out.P1);
  }
  return runs.map((r) => {
    const { P0, P1 } = r.result;
    if (r.out.P0 || r.out.P1 || !P0 || !P1) throw new Error(`simulate ${kind}: parties disagree on the number of rounds`);
    return { P0, P1, traffic: { rounds: r.rounds, sent: r.sent } };
  });
}

/** Each run on its own: one step call per run. */
function oneByOne<S, Out>(step: (state: S, msg: Message) => StepResult<S, Out>): Steps<S, Out> {
  return (states, msgs) => states.map((s, i) => step(s, msgs[i]));
}

/** Verify steps; round 3 of all runs as one `verifyOnCompareMany` batch when they are all there. */
const verifySteps: Steps<VerifyState, VerifyOutput> = (states, msgs) => {
  if (states.every((s) => s.phase === "verify:compared")) return verifyOnCompareMany(states as VerifyCompared[], msgs as CompareMsg[]);
  return states.map((s, i) => verifyStep(s, msgs[i]));
};

function verifyRuns(list: readonly SimulateVerifyOptions[], steps: Steps<VerifyState, VerifyOutput>): ReturnType<typeof simulateVerify>[] {
  const setups = list.map((o) => setup(o, "verify"));
  const start = (i: number, role: PartyName) => {
    const o = list[i];
    return verifyStart({ role, session: setups[i].session, params: o.params, probeShare: o.probe[role], templateShare: o.template[role], material: setups[i].material(role) });
  };
  return exchange<VerifyState, VerifyOutput>(list, "verify", start, steps).map((r) => ({ ...r, valid: (r.P0.valid ^ r.P1.valid) as 0 | 1, match: (r.P0.match ^ r.P1.match) as 0 | 1 }));
}

export function simulateVerify(o: SimulateVerifyOptions): { P0: VerifyOutput; P1: VerifyOutput; valid: 0 | 1; match: 0 | 1; traffic: Traffic } {
  return verifyRuns([o], oneByOne(verifyStep))[0];
}

/**
 * Many verifications in lock step, round by round: each party evaluates the DCF keys of all sessions
 * in one batch (`verifyOnCompareMany`). Same results as calling `simulateVerify` on each.
 */
export function simulateVerifyMany(list: readonly SimulateVerifyOptions[]): ReturnType<typeof simulateVerify>[] {
  return verifyRuns(list, verifySteps);
}

export function simulateEnrol(o: SimulateEnrolOptions): { P0: EnrolOutput; P1: EnrolOutput; valid: 0 | 1; traffic: Traffic } {
  const s = setup(o, "enrol");
  const start = (_i: number, role: PartyName) => enrolStart({ role, session: s.session, params: o.params, share: o.share[role], material: s.material(role) });
  const [r] = exchange<EnrolState, EnrolOutput>([o], "enrol", start, oneByOne(enrolStep));
  return { ...r, valid: (r.P0.valid ^ r.P1.valid) as 0 | 1 };
}

export interface SimulateBudgetOptions {
  readonly seeds: Seeds;
  /** the verification's "verify" bundles (their budget sections); else one is dealt for `params` with `rng` */
  readonly bundles?: { readonly P0: Bundle; readonly P1: Bundle };
  /** the parties' budget materials (openBudget with the verification's material); else opened from `bundles` */
  readonly materials?: { readonly P0: BudgetMaterial; readonly P1: BudgetMaterial };
  readonly params?: Params;
  readonly rng?: Rng;
  readonly session?: string;
  /** pass messages through encodeBudgetMessage/decodeBudgetMessage (default true) */
  readonly wire?: boolean;
  readonly observe?: (msg: BudgetMessage) => void;
  readonly budget: number;
  readonly day: number;
  /** the verification's XOR shares of match */
  readonly matchShares: { readonly P0: 0 | 1; readonly P1: 0 | 1 };
  readonly counter: { readonly P0: CounterState; readonly P1: CounterState };
  readonly verifications: { readonly P0: number; readonly P1: number };
}

/**
 * One budget run with both parties in this process (messages through the wire unless `wire: false`).
 * `count` is the reconstructed counter after the run (in production nobody reconstructs it).
 */
export function simulateBudget(o: SimulateBudgetOptions): { P0: BudgetOutput; P1: BudgetOutput; exhausted: 0 | 1; count: number; traffic: Traffic } {
  const rng = o.rng ?? secureRng;
  let bundles = o.bundles;
  if (!bundles && !o.materials) {
    if (!o.params) throw new RangeError("params: needed to deal a bundle when none is given");
    bundles = deal(o.params, newItemId(rng), o.seeds, { rng, kind: "verify" });
  }
  const session = o.session ?? `sim-${newItemId(rng)}-b`;
  const wire = o.wire ?? true;
  const sent = { P0: 0, P1: 0 };
  const st = {} as Record<PartyName, BudgetState>;
  const out: Record<PartyName, BudgetMessage | undefined> = { P0: undefined, P1: undefined };
  const result: Partial<Record<PartyName, BudgetOutput>> = {};
  for (const role of ROLES) {
    const r = budgetStart({
      role, session, budget: o.budget, day: o.day, matchShare: o.matchShares[role], counter: o.counter[role],
      verifications: o.verifications[role], material: o.materials?.[role] ?? openBudget(role, o.seeds[role], bundles![role]),
    });
    st[role] = r.state;
    out[role] = r.send;
  }
  let rounds = 0;
  const pass = (m: BudgetMessage): BudgetMessage => {
    let x = m;
    if (wire) {
      const bytes = encodeBudgetMessage(m);
      sent[m.from] += bytes.length;
      x = decodeBudgetMessage(bytes, { session, step: m.step, from: m.from });
    }
    o.observe?.(x);
    return x;
  };
  while (out.P0 && out.P1) {
    rounds++;
    const inbox = { P0: pass(out.P1), P1: pass(out.P0) };
    for (const role of ROLES) {
      const r = budgetStep(st[role], inbox[role]);
      st[role] = r.state;
      out[role] = r.send;
      if (r.output) result[role] = r.output;
    }
  }
  const { P0, P1 } = result;
  if (out.P0 || out.P1 || !P0 || !P1) throw new Error("simulate budget: parties disagree on the number of rounds");
  if (P0.exhausted !== P1.exhausted) throw new Error("simulate budget: parties disagree on the result");
  return { P0, P1, exhausted: P0.exhausted, count: (P0.counter.share + P1.counter.share) % 2 ** 16, traffic: { rounds, sent } };
}

// ---------------------------------------------------------------- 1:N deduplication (dedup.ts)

export interface DedupWorld {
  readonly params: Params;
  readonly seeds: Seeds;
  readonly galleries: { readonly P0: PartyGallery; readonly P1: PartyGallery };
  readonly helper: HelperGallery;
}

/**
 * Adds templates (the parties' stored Z_2^32 shares) to the next slots of both galleries and the
 * helper's, in order (the masks of a run of slots come from one stream per party). Returns the first slot.
 */
export function simulateGalleryAdd(w: DedupWorld, templates: readonly { readonly P0: Uint32Array; readonly P1: Uint32Array }[]): number {
  const first = w.galleries.P0.count, n = templates.length, d = w.params.d;
  if (n === 0) return first;
  helperGalleryAdd(w.helper, w.seeds, first, n);
  const masks = { P0: maskShares(w.seeds.P0, "P0", w.helper.epoch, first, n, d), P1: maskShares(w.seeds.P1, "P1", w.helper.epoch, first, n, d) };
  templates.forEach((t, j) => {
    const m0 = masks.P0.subarray(j * d, (j + 1) * d), m1 = masks.P1.subarray(j * d, (j + 1) * d);
    const open = { P0: galleryOpenShare(t.P0, m0), P1: galleryOpenShare(t.P1, m1) };
    galleryAdd(w.galleries.P0, first + j, m0, open.P0, open.P1);
    galleryAdd(w.galleries.P1, first + j, m1, open.P1, open.P0);
  });
  masks.P0.fill(0);
  masks.P1.fill(0);
  return first;
}

/** Deletes a slot at both parties and the helper. */
export function simulateGalleryRemove(w: DedupWorld, slot: number): void {
  galleryRemove(w.galleries.P0, slot);
  galleryRemove(w.galleries.P1, slot);
  helperGalleryRemove(w.helper, slot);
}

export interface DedupRun {
  /** the reconstructed match set (what the requester learns when it asks for the set) */
  readonly matches: number[];
  /** the reconstructed "any match" bit (dedupAny*: what the requester learns when it asks only that) */
  readonly duplicate: 0 | 1;
  /** the probe's validity (enrolment validation's output, reconstructed) */
  readonly valid: 0 | 1;
  /** rounds and bytes each party sent: validation (wire bytes) + the dedup query (message bodies) */
  readonly traffic: Traffic;
  /** bytes the helper sends per query: the validation's enrol bundles + P1's dedup corrections */
  readonly helperBytes: number;
  /**
   * milliseconds: the parties' online work (validation, the query), their offline preparation (opening
   * the material, `dedupPrepare`) and the helper's dealing (the query's and the validation's bundles)
   */
  readonly ms: { readonly parties: number; readonly prepare: number; readonly deal: number };
  /** the same by `cpuClock` (when given) */
  readonly cpuMs?: { readonly parties: number; readonly prepare: number; readonly deal: number };
}

/**
 * One dedup query with both parties in this process: enrolment validation of the probe (protocol.ts,
 * messages through the wire), the helper deals the query, each party opens its material, then the
 * query's rounds; returns the reconstructed match set.
 */
export interface SimulateDedupOptions {
  readonly rng?: Rng;
  /** a CPU clock in ms (e.g. from process.cpuUsage) for `DedupRun.cpuMs` */
  readonly cpuClock?: () => number;
  /** sees every dedup message (also the "any" tree's) as the peer receives it, P0's before P1's — for privacy tests */
  readonly observe?: (msg: DedupMsg) => void;
}

export function simulateDedup(w: DedupWorld, probe: { readonly P0: Uint8Array; readonly P1: Uint8Array }, o: SimulateDedupOptions = {}): DedupRun {
  const rng = o.rng ?? secureRng, cpuClock = o.cpuClock;
  const c = [cpuClock?.() ?? 0];
  const t0 = performance.now();
  const id = newItemId(rng);
  const dealt = dealDedup(w.helper, w.seeds, id, rng);
  const enrolBundles = deal(w.params, newItemId(rng), w.seeds, { rng, kind: "enrol" });
  const t1 = performance.now();
  c.push(cpuClock?.() ?? 0);
  const prepared = { P0: prepare(w, "P0", dealt.P0), P1: prepare(w, "P1", dealt.P1) };
  const t2 = performance.now();
  c.push(cpuClock?.() ?? 0);
  const v = simulateEnrol({ params: w.params, seeds: w.seeds, rng, share: probe, bundles: enrolBundles });
  const st: Partial<Record<PartyName, DedupState>> = {};
  const out: Partial<Record<PartyName, DedupMsg>> = {};
  for (const role of ROLES) {
    const r = dedupStart(prepared[role], v[role].templateShare, v[role].valid);
    st[role] = r.state;
    out[role] = r.send;
  }
  const sent = { P0: v.traffic.sent.P0, P1: v.traffic.sent.P1 };
  let rounds = v.traffic.rounds;
  const match: Partial<Record<PartyName, Uint32Array>> = {};
  while (out.P0 && out.P1) {
    rounds++;
    const inbox = { P0: out.P1, P1: out.P0 };
    for (const role of ROLES) {
      sent[role] += bodyBytes(out[role]!);
      o.observe?.(out[role]!);
      const s = st[role]!, m = inbox[role];
      const r = s.phase === "dedup:opened" ? dedupOnEps(s, m as DedupEpsMsg)
        : s.phase === "dedup:masked" ? dedupOnZ(s, m as DedupZMsg)
        : dedupOnAnd(s as DedupComparing, m as DedupAndMsg);
      st[role] = r.state;
      if ("send" in r) out[role] = r.send;
      else {
        out[role] = undefined;
        match[role] = r.match;
      }
    }
  }
  if (out.P0 || out.P1 || !match.P0 || !match.P1) throw new Error("simulate dedup: parties disagree on the number of rounds");
  const mats = { P0: prepared.P0.mat, P1: prepared.P1.mat };
  const any = { P0: dedupAnyStart("P0", mats.P0, match.P0), P1: dedupAnyStart("P1", mats.P1, match.P1) };
  let dup: Partial<Record<PartyName, 0 | 1>> = {};
  for (;;) {
    rounds++;
    for (const role of ROLES) {
      sent[role] += any[role].send.de.byteLength;
      o.observe?.(any[role].send);
    }
    const r = { P0: dedupAnyOnAnd(any.P0.state, any.P1.send), P1: dedupAnyOnAnd(any.P1.state, any.P0.send) };
    if ("duplicate" in r.P0 && "duplicate" in r.P1) {
      dup = { P0: r.P0.duplicate, P1: r.P1.duplicate };
      break;
    }
    if ("duplicate" in r.P0 || "duplicate" in r.P1) throw new Error("simulate dedup: parties disagree on the number of rounds");
    any.P0 = r.P0 as { state: DedupAnying; send: DedupAndMsg };
    any.P1 = r.P1 as { state: DedupAnying; send: DedupAndMsg };
  }
  const t3 = performance.now();
  c.push(cpuClock?.() ?? 0);
  const helperBytes = encodeBundle(enrolBundles.P0).length + encodeBundle(enrolBundles.P1).length + 4 * (dealt.P1.corrections?.length ?? 0);
  return {
    matches: dedupReveal(match.P0, match.P1, w.galleries.P0.count), duplicate: (dup.P0! ^ dup.P1!) as 0 | 1, valid: v.valid,
    traffic: { rounds, sent }, helperBytes, ms: { parties: t3 - t2, prepare: t2 - t1, deal: t1 - t0 },
    cpuMs: cpuClock ? { parties: c[3] - c[2], prepare: c[2] - c[1], deal: c[1] - c[0] } : undefined,
  };
}

function prepare(w: DedupWorld, role: PartyName, bundle: DedupBundle): DedupPrepared {
  return dedupPrepare({ role, gallery: w.galleries[role], material: openDedup(role, w.seeds[role], w.params, bundle) });
}

function bodyBytes(m: DedupMsg): number {
  return "eps" in m ? m.eps.byteLength : "z" in m ? m.z.byteLength : m.de.byteLength;
}
