/**
 * The daily failure budget, counted inside MPC (decision 010 §4; docs/protocol.md section 12). After a
 * verification P0 and P1 hold XOR shares m_0 ⊕ m_1 = match. Per (template, day) each party keeps an
 * additive share mod N = 2^16 of the failure counter C. One budget run (3 rounds) rides in rounds 1–3
 * of the template's NEXT verification (same frames, that verification's bundle and session; party
 * session.ts) and counts the decision of the previous one, whose match share each party kept:
 *
 *  1 convert  f = 1 − match as XOR shares (P0 flips its share). With a helper-dealt daBit (a random bit
 *             β shared both as XOR bits β_0 ⊕ β_1 and additively ⟦β⟧ mod N) each party opens
 *             c_i = f_i ⊕ β_i; c = f ⊕ β is uniform. Then ⟦f⟧ = c·[P0] + (1 − 2c)·⟦β⟧ (= c ⊕ β).
 *             The message also carries the public bookkeeping (bundle id, day, budget, runs applied,
 *             verifications answered), which both parties reconcile identically (`reconcile`).
 *             ⟦C'⟧ = ⟦C_base⟧ + ⟦f⟧·convert + lost·[P0].
 *  2 compare  open ẑ = C' − B + r_out mod N (r_out helper-dealt, uniform); each party evaluates its two
 *             DCF keys (n = 16): exhausted = [C' − B mod N ∈ [0, N/2)] = [ẑ < s] ⊕ [ẑ < e] ⊕ [s > e] with
 *             s = r_out, e = r_out + N/2 mod N, i.e. C' ≥ B whenever C' < B + N/2.
 *  3 reveal   open the XOR shares of `exhausted` to both parties (before the verification's round 4:
 *             when it is 1 neither party sends round 4, so the verification is never answered).
 *
 * Each party learns c (uniform), ẑ (uniform), the public bookkeeping and `exhausted`: nothing about any
 * single decision. Pure: (state, message) → { state, send }; no I/O, no clock, no randomness.
 *
 * Correlated randomness: a "verify" bundle carries a budget section (dealt with it, single use with it).
 * Its seed-derived values are the last bytes of the verify bundle's own streams (bundle.ts: one
 * expansion per party and bundle): P0 takes β_0, ⟦β⟧_0, ⟦r_out⟧_0, its wrap share and its two DCF roots;
 * P1 takes β_1 and its roots, and receives the corrections ⟦β⟧_1, ⟦r_out⟧_1, wrap_1 (9 bytes) and both
 * parties the DCF correction words.
 */
import { BUDGET_P0_STREAM, BUDGET_P1_STREAM, checkSeed, p0Material, p1Own, type Bundle, type Material } from "./bundle.ts";
import { dcfCwBytes, dcfEval, dcfGen, type DcfCw } from "./dcf.ts";
import { ProtocolError } from "./errors.ts";
import type { PartyName } from "./messages.ts";
import type { Rng } from "./rng.ts";
import { claimMaterial } from "./single-use.ts";
import { checkSession } from "./wire.ts";

/** Bits of the counter ring (and of the budget comparison's DCF domain). */
export const BUDGET_BITS = 16;
export const BUDGET_MOD = 2 ** BUDGET_BITS;
const MASK = BUDGET_MOD - 1;
const HALF = BUDGET_MOD / 2;
/** Largest budget: the comparison is exact while the counter stays below budget + 2^15 (see `reconcile`). */
export const MAX_BUDGET = 2 ** 14;
/** Bytes of P1's budget corrections: ⟦β⟧_1 u32le, ⟦r_out⟧_1 u32le, wrap_1 u8. */
export const BUDGET_CORRECTION_BYTES = 9;
/** Bytes of the budget section's DCF correction words (2 keys). */
export const BUDGET_CW_BYTES = 2 * dcfCwBytes(BUDGET_BITS);

/** The budget section of a verify bundle as it travels (bundle.ts `Bundle.budget`). */
export interface BudgetSection {
  /** DCF correction words [s, e] */
  readonly cws: readonly DcfCw[];
  /** P1 only: BUDGET_CORRECTION_BYTES bytes */
  readonly corrections?: Uint8Array;
}

/** A party's material for one budget run (`openBudget`). */
export interface BudgetMaterial {
  readonly role: PartyName;
  readonly id: string;
  /** XOR share of the daBit β */
  readonly bx: 0 | 1;
  /** additive share of β mod N */
  readonly ba: number;
  /** additive share of the comparison mask r_out mod N */
  readonly rOut: number;
  /** share of [s > e] */
  readonly wrap: 0 | 1;
  /** 2 × 16 bytes of DCF root seeds */
  readonly roots: Uint8Array;
  readonly cws: readonly DcfCw[];
}

/**
 * A party's counter for one (template, day). `runs` is public and equal at both parties when they are
 * in step; `prev*` is the state before the last run, kept so that a run one party applied and the other
 * did not (a crash or a lost message) can be rolled back. A new day starts at `freshCounter()`.
 */
export interface CounterState {
  /** budget runs applied (= verifications accounted for) */
  readonly runs: number;
  /** this party's additive share of the failure count, in [0, 2^16) */
  readonly share: number;
  readonly prevRuns: number;
  readonly prevShare: number;
}

export function freshCounter(): CounterState {
  return { runs: 0, share: 0, prevRuns: 0, prevShare: 0 };
}

/** P0's stream tail: β_0 (1), ⟦β⟧_0 (4), ⟦r_out⟧_0 (4), wrap_0 (1), roots (32). */
function p0Stream(b: Uint8Array) {
  if (!(b instanceof Uint8Array) || b.length !== BUDGET_P0_STREAM) throw new ProtocolError("BAD_BUNDLE", "no budget stream");
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  return { bx: (b[0] & 1) as 0 | 1, ba: dv.getUint32(1, true) & MASK, rOut: dv.getUint32(5, true) & MASK, wrap: (b[9] & 1) as 0 | 1, roots: b.slice(10, 42) };
}

/** P1's stream tail: β_1 (1), roots (32). */
function p1Stream(b: Uint8Array) {
  if (!(b instanceof Uint8Array) || b.length !== BUDGET_P1_STREAM) throw new ProtocolError("BAD_BUNDLE", "no budget stream");
  return { bx: (b[0] & 1) as 0 | 1, roots: b.slice(1, 33) };
}

/**
 * The helper's side: the budget section of both halves of one verify bundle, from the tails of the
 * parties' streams (`p0Material(...).budgetStream`, `p1Own(...).budgetStream`; called by `deal`).
 */
export function dealBudget(tail0: Uint8Array, tail1: Uint8Array, rng: Rng): { P0: BudgetSection; P1: BudgetSection } {
  const s0 = p0Stream(tail0);
  const s1 = p1Stream(tail1);
  const beta = s0.bx ^ s1.bx;
  const hr = rng(4);
  const rOut = new DataView(hr.buffer, hr.byteOffset, 4).getUint32(0, true) & MASK;
  hr.fill(0);
  const s = rOut;
  const e = (rOut + HALF) & MASK;
  const wrap = s > e ? 1 : 0;
  const corr = new Uint8Array(BUDGET_CORRECTION_BYTES);
  const dv = new DataView(corr.buffer);
  dv.setUint32(0, (beta - s0.ba) & MASK, true);
  dv.setUint32(4, (rOut - s0.rOut) & MASK, true);
  corr[8] = wrap ^ s0.wrap;
  const cws = dcfGen(BUDGET_BITS, [s, e], s0.roots, s1.roots);
  return { P0: { cws }, P1: { cws, corrections: corr } };
}

/**
 * A party's budget material for the verify bundle `bundle` (its own copies: the bundle's bytes may be
 * wiped after the verification). Pass `material` = openBundle(role, seed, bundle) when you have it: its
 * stream already holds the budget values (else the stream is expanded again).
 * @throws ProtocolError WRONG_ROLE, BAD_BUNDLE.
 */
export function openBudget(role: PartyName, seed: Uint8Array, bundle: Bundle, material?: Material): BudgetMaterial {
  if (bundle.role !== role) throw new ProtocolError("WRONG_ROLE", `bundle for ${bundle.role}, opened by ${role}`);
  const sec = bundle.budget;
  if (bundle.kind !== "verify" || !sec || sec.cws.length !== 2 || sec.cws.some((c) => c.n !== BUDGET_BITS)) throw new ProtocolError("BAD_BUNDLE", "no budget section");
  if (material && (material.id !== bundle.id || material.role !== role || material.kind !== "verify")) throw new ProtocolError("BUNDLE_MISMATCH", "material of another bundle");
  checkSeed("seed", seed);
  // copies: the caller may wipe the bundle's bytes (the correction words may be views into them)
  const cws = sec.cws.map((c) => ({ n: c.n, scw: c.scw.slice(), bits: c.bits.slice(), leaf: c.leaf.slice() }));
  const tail = material?.budgetStream ?? (role === "P0" ? p0Material(seed, "verify", bundle.id, bundle.params, []).budgetStream : p1Own(seed, "verify", bundle.id, bundle.params).budgetStream);
  if (role === "P0") return { role, id: bundle.id, ...p0Stream(tail!), cws };
  const corr = sec.corrections;
  if (!corr || corr.length !== BUDGET_CORRECTION_BYTES) throw new ProtocolError("BAD_BUNDLE", "P1 budget section without corrections");
  const dv = new DataView(corr.buffer, corr.byteOffset, corr.length);
  const own = p1Stream(tail!);
  return { role, id: bundle.id, bx: own.bx, roots: own.roots, ba: dv.getUint32(0, true) & MASK, rOut: dv.getUint32(4, true) & MASK, wrap: (corr[8] & 1) as 0 | 1, cws };
}

// ---------------------------------------------------------------- messages

export const BUDGET_MESSAGE_VERSION = 1 as const;

interface BudgetHeader {
  readonly v: typeof BUDGET_MESSAGE_VERSION;
  readonly protocol: "budget";
  readonly session: string;
  readonly step: number;
  readonly seq: number;
  readonly from: PartyName;
}

/** Round 1: the opened bit c_i = f_i ⊕ β_i and the public bookkeeping both parties reconcile. */
export interface BudgetConvMsg extends BudgetHeader {
  readonly step: 1;
  readonly bundleId: string;
  /** day number (e.g. days since 1970-01-01 UTC): both parties must count the same day */
  readonly day: number;
  readonly budget: number;
  readonly runs: number;
  readonly prevRuns: number;
  /** verifications of this template this day the sender answered before this one (the share of the last one is the input) */
  readonly verifications: number;
  readonly c: 0 | 1;
}
/** Round 2: share of ẑ = C' − B + r_out mod 2^16. */
export interface BudgetCompareMsg extends BudgetHeader {
  readonly step: 2;
  readonly z: number;
}
/** Round 3: XOR share of `exhausted`. */
export interface BudgetRevealMsg extends BudgetHeader {
  readonly step: 3;
  readonly bit: 0 | 1;
}
export type BudgetMessage = BudgetConvMsg | BudgetCompareMsg | BudgetRevealMsg;
export const budgetRounds = 3;

// ---------------------------------------------------------------- reconciliation (public)

export interface Reconciled {
  /** the runs both parties agree were applied to the base share */
  readonly base: number;
  /** verifications answered but not counted from shares (counted as failures: fail closed) */
  readonly lost: number;
  /** true when both parties hold the match share of the last answered verification: it is counted from the shares */
  readonly convert: boolean;
  /** runs after this one (= verifications answered, all of them accounted for) */
  readonly runs: number;
}

/**
 * What both parties agree on from their public bookkeeping (pure; both sides compute the same result).
 * base = min(runs_0, runs_1): a party ahead by one run rolls back to its previous share (it applied a run
 * the peer never did). n = max(verifications): the verifications answered so far, all of which this run
 * accounts for. The last one (n) is counted from the match shares only when both parties answered it
 * (`convert`: each then holds its share); every other verification answered but not accounted for
 * (lost = n − base − convert, capped at the budget) counts as a failure: fail closed. @throws
 * ProtocolError COUNTER_MISMATCH when the two states cannot be brought in step (the caller then refuses
 * the template for the day: fail closed).
 */
export function reconcile(a: { runs: number; prevRuns: number; verifications: number }, b: { runs: number; prevRuns: number; verifications: number }, budget: number): Reconciled {
  const base = Math.min(a.runs, b.runs);
  for (const x of [a, b]) if (x.runs !== base && x.prevRuns !== base) throw new ProtocolError("COUNTER_MISMATCH", `counter states ${a.runs}/${a.prevRuns} and ${b.runs}/${b.prevRuns} cannot be reconciled`);
  const n = Math.max(a.verifications, b.verifications);
  if (n < base) throw new ProtocolError("COUNTER_MISMATCH", `${n} verifications, but ${base} runs already applied`);
  const convert = n > base && a.verifications === n && b.verifications === n;
  return { base, lost: Math.min(n - base - (convert ? 1 : 0), budget), convert, runs: n };
}

// ---------------------------------------------------------------- step functions

export interface BudgetInput {
  readonly role: PartyName;
  /** the budget run's own session id (e.g. the verification's session id + "-b") */
  readonly session: string;
  /** the daily failure budget B, 1..MAX_BUDGET (both parties must use the same) */
  readonly budget: number;
  readonly day: number;
  /** this party's XOR share of `match` from the last verification it answered (VerifyOutput.match; 0 if none) */
  readonly matchShare: 0 | 1;
  /** this party's stored counter for (template, day) */
  readonly counter: CounterState;
  /** verifications of this template this day this party answered (the last one's share is `matchShare`) */
  readonly verifications: number;
  /** openBudget(...) of the bundle of the verification the run rides in, never started before (ITEM_REUSED) */
  readonly material: BudgetMaterial;
}

export interface BudgetOutput {
  /** 1 when the failures counted today reached the budget (public to both parties) */
  readonly exhausted: 0 | 1;
  /** the counter to store (the same as `BudgetCompared.counter`) */
  readonly counter: CounterState;
}

interface BCommon {
  readonly role: PartyName;
  readonly session: string;
  readonly budget: number;
  readonly day: number;
  readonly mat: BudgetMaterial;
}
export interface BudgetConverting extends BCommon { readonly phase: "budget:converting"; readonly counter: CounterState; readonly verifications: number; readonly c: 0 | 1 }
export interface BudgetCompared extends BCommon { readonly phase: "budget:compared"; readonly counter: CounterState; readonly z: number }
export interface BudgetRevealing extends BCommon { readonly phase: "budget:revealing"; readonly counter: CounterState; readonly bit: 0 | 1 }
export interface BudgetDone { readonly phase: "budget:done"; readonly output: BudgetOutput }
export type BudgetState = BudgetConverting | BudgetCompared | BudgetRevealing | BudgetDone;

const peerOf = (r: PartyName): PartyName => (r === "P0" ? "P1" : "P0");

function checkPhase(state: { phase: string } | null | undefined, phase: string): void {
  if (!state || state.phase !== phase) throw new ProtocolError("WRONG_PHASE", `expected state ${phase}, got ${state?.phase}`);
}

function checkMsg(st: BCommon, msg: BudgetMessage, step: number): void {
  if (msg === null || typeof msg !== "object") throw new TypeError("msg: expected a message object");
  if (msg.v !== BUDGET_MESSAGE_VERSION) throw new ProtocolError("BAD_VERSION", `expected version ${BUDGET_MESSAGE_VERSION}, got ${String(msg.v)}`);
  if (msg.protocol !== "budget") throw new ProtocolError("WRONG_PROTOCOL", `expected budget, got ${String(msg.protocol)}`);
  if (msg.session !== st.session) throw new ProtocolError("WRONG_SESSION", "message bound to another session");
  if (msg.step !== step) throw new ProtocolError("WRONG_STEP", `expected step ${step}, got ${msg.step}`);
  if (msg.seq !== step - 1) throw new ProtocolError("WRONG_SEQUENCE", `expected sequence ${step - 1}, got ${msg.seq}`);
  if (msg.from !== peerOf(st.role)) throw new ProtocolError("WRONG_SENDER", `expected a message from ${peerOf(st.role)}, got ${msg.from}`);
}

const isU32 = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffffffff;

function checkCounter(c: CounterState): void {
  if (!c || typeof c !== "object") throw new TypeError("counter: expected a CounterState");
  for (const k of ["runs", "prevRuns"] as const) if (!isU32(c[k])) throw new RangeError(`counter.${k}: expected a u32`);
  for (const k of ["share", "prevShare"] as const) if (!Number.isInteger(c[k]) || c[k] < 0 || c[k] > MASK) throw new RangeError(`counter.${k}: expected an integer in [0, 2^16)`);
  if (c.prevRuns > c.runs) throw new RangeError("counter.prevRuns: expected ≤ runs");
}

/** Step 0 (send round 1). Claims the material: it starts one run only. */
export function budgetStart(input: BudgetInput): { state: BudgetConverting; send: BudgetConvMsg } {
  const { role, session, budget, day, matchShare, counter, verifications, material: mat } = input;
  if (role !== "P0" && role !== "P1") throw new RangeError(`role: expected "P0" or "P1", got ${String(role)}`);
  checkSession(session);
  if (!Number.isInteger(budget) || budget < 1 || budget > MAX_BUDGET) throw new RangeError(`budget: expected an integer in [1, ${MAX_BUDGET}], got ${budget}`);
  if (!isU32(day)) throw new RangeError("day: expected a u32");
  if (matchShare !== 0 && matchShare !== 1) throw new RangeError("matchShare: expected 0 or 1");
  checkCounter(counter);
  if (!isU32(verifications)) throw new RangeError("verifications: expected a u32");
  if (!mat || typeof mat !== "object" || !(mat.roots instanceof Uint8Array)) throw new TypeError("material: expected a BudgetMaterial");
  if (mat.role !== role) throw new ProtocolError("WRONG_ROLE", `material for ${mat.role}, used by ${role}`);
  claimMaterial(mat);
  const f = (matchShare ^ (role === "P0" ? 1 : 0)) as 0 | 1;
  const c = (f ^ mat.bx) as 0 | 1;
  const send: BudgetConvMsg = {
    v: BUDGET_MESSAGE_VERSION, protocol: "budget", session, step: 1, seq: 0, from: role,
    bundleId: mat.id, day, budget, runs: counter.runs, prevRuns: counter.prevRuns, verifications, c,
  };
  return { state: { phase: "budget:converting", role, session, budget, day, mat, counter, verifications, c }, send };
}

/**
 * Receives round 1, sends round 2. `counter` is the new counter state: the party stores it durably with
 * its next answer (a party that stored it while the peer did not is rolled back by the next run).
 */
export function budgetOnConvert(state: BudgetConverting, msg: BudgetConvMsg): { state: BudgetCompared; send: BudgetCompareMsg; counter: CounterState } {
  checkPhase(state, "budget:converting");
  checkMsg(state, msg, 1);
  if (msg.bundleId !== state.mat.id) throw new ProtocolError("BUNDLE_MISMATCH", "peer uses another bundle");
  if (msg.budget !== state.budget || msg.day !== state.day) throw new ProtocolError("PARAMS_MISMATCH", "the parties count another day or budget");
  if (!isU32(msg.runs) || !isU32(msg.prevRuns) || !isU32(msg.verifications) || (msg.c !== 0 && msg.c !== 1)) throw new ProtocolError("LENGTH_MISMATCH", "round 1: bad field");
  const own = state.counter;
  const mine = { runs: own.runs, prevRuns: own.prevRuns, verifications: state.verifications };
  const theirs = { runs: msg.runs, prevRuns: msg.prevRuns, verifications: msg.verifications };
  const r = state.role === "P0" ? reconcile(mine, theirs, state.budget) : reconcile(theirs, mine, state.budget);
  const P0 = state.role === "P0";
  const baseShare = own.runs === r.base ? own.share : own.prevShare;
  const c = state.c ^ msg.c;
  const m = state.mat;
  // ⟦f⟧ = c·[P0] + (1 − 2c)·⟦β⟧ when both hold the last decision's share, plus the lost verifications (public) at P0
  const f = r.convert ? ((P0 ? c : 0) + (c ? -m.ba : m.ba)) & MASK : 0;
  const share = (baseShare + f + (P0 ? r.lost : 0)) & MASK;
  const counter: CounterState = { runs: r.runs, share, prevRuns: r.base, prevShare: baseShare };
  const z = (share - (P0 ? state.budget : 0) + m.rOut) & MASK;
  const send: BudgetCompareMsg = { v: BUDGET_MESSAGE_VERSION, protocol: "budget", session: state.session, step: 2, seq: 1, from: state.role, z };
  const { role, session, budget, day } = state;
  return { state: { phase: "budget:compared", role, session, budget, day, mat: m, counter, z }, send, counter };
}

/** Receives round 2, evaluates the two DCF keys, sends round 3 (the share of `exhausted`). */
export function budgetOnCompare(state: BudgetCompared, msg: BudgetCompareMsg): { state: BudgetRevealing; send: BudgetRevealMsg } {
  checkPhase(state, "budget:compared");
  checkMsg(state, msg, 2);
  if (!Number.isInteger(msg.z) || msg.z < 0 || msg.z > MASK) throw new ProtocolError("LENGTH_MISMATCH", "z: expected an integer in [0, 2^16)");
  const zh = (state.z + msg.z) & MASK;
  const m = state.mat;
  const o = dcfEval(state.role === "P0" ? 0 : 1, m.roots, m.cws, [0, 1], [zh, zh]);
  const bit = (o[0] ^ o[1] ^ m.wrap) as 0 | 1;
  m.roots.fill(0);
  const send: BudgetRevealMsg = { v: BUDGET_MESSAGE_VERSION, protocol: "budget", session: state.session, step: 3, seq: 2, from: state.role, bit };
  const { role, session, budget, day, counter } = state;
  return { state: { phase: "budget:revealing", role, session, budget, day, mat: m, counter, bit }, send };
}

/** Receives round 3: `exhausted`, known to both parties. */
export function budgetOnReveal(state: BudgetRevealing, msg: BudgetRevealMsg): { state: BudgetDone; output: BudgetOutput } {
  checkPhase(state, "budget:revealing");
  checkMsg(state, msg, 3);
  if (msg.bit !== 0 && msg.bit !== 1) throw new ProtocolError("LENGTH_MISMATCH", "bit: expected 0 or 1");
  const output: BudgetOutput = { exhausted: (state.bit ^ msg.bit) as 0 | 1, counter: state.counter };
  return { state: { phase: "budget:done", output }, output };
}

export function budgetStep(state: BudgetState, msg: BudgetMessage): { state: BudgetState; send?: BudgetMessage; output?: BudgetOutput; counter?: CounterState } {
  switch (state?.phase) {
    case "budget:converting": return budgetOnConvert(state, msg as BudgetConvMsg);
    case "budget:compared": return budgetOnCompare(state, msg as BudgetCompareMsg);
    case "budget:revealing": return budgetOnReveal(state, msg as BudgetRevealMsg);
    default: throw new ProtocolError("WRONG_PHASE", `no budget step after phase ${state?.phase}`);
  }
}

// ---------------------------------------------------------------- plaintext twin

/**
 * Plaintext twin of one budget run: the counter after it (failures counted today) and `exhausted`.
 * `count` is the reconstructed counter before the run (after any roll-back), `lost` the reconciled lost
 * verifications (0 when both parties are in step).
 */
export function budgetPlain(count: number, match: 0 | 1, budget: number, lost = 0): { count: number; exhausted: 0 | 1 } {
  const next = count + (1 - match) + lost;
  return { count: next, exhausted: next >= budget ? 1 : 0 };
}
