/**
 * The two-party step functions of 1:1 verification (4 rounds) and enrolment validation (3 rounds).
 * Pure: (state, received message) → { state, send } — no I/O, no clock, no randomness (all randomness
 * is in the helper's bundle). The `phase` tag makes out-of-order calls fail to compile, and at run time
 * (ProtocolError WRONG_PHASE); messages are checked for protocol, session, step, sequence and sender.
 *
 * Computation (docs/protocol.md has the derivation and the security argument):
 *  1 lift     m_i = x_i + 128·[P0] + r_i mod 256 → m = b' + r mod 256 public (b' = x + 128 offset binary).
 *  2 open     τ_i = T_i[m]; c = τ0 ⊕ τ1 = γ ⊕ ρ with γ = [m < r] (strict); for both branches j ∈ {0,1}:
 *             ⟦s^(j)⟧ = m − 128 − ⟦r⟧ + 256·(j + (1 − 2j)·⟦ρ⟧), open ε^(j) = s^(j) − a^(j); verify also opens
 *             δ = y − b. Then s = s^(c) = x as a signed integer in [−128, 127].
 *  3 compare  ⟦score⟧ = Σ ε δ + ε⟦b⟧ + ⟦a⟧δ + ⟦z⟧, ⟦norm⟧ = Σ ε² + 2ε⟦a⟧ + ⟦q⟧ (with ε = ε^(c), a = a^(c)),
 *             open ẑ = v + r_out mod 2^26 for v = score + 2^24 and v = norm; each party evaluates its DCF
 *             keys: [v ∈ [A, B)] = [ẑ < s] ⊕ [ẑ < e] ⊕ [s > e] (s = r_out + A, e = r_out + B mod 2^26).
 *             scoreOk = [score ≥ threshold], valid = [normLo ≤ norm ≤ normHi] (all non-strict).
 *  4 and      (verify) match = valid ∧ scoreOk with a bit Beaver triple.
 * Outputs are XOR shares addressed to the requester; nothing about the decision reaches the parties.
 */
import { dcfEval } from "./dcf.ts";
import { COMPARE_MOD, SCORE_OFFSET, type Material } from "./bundle.ts";
import { ProtocolError } from "./errors.ts";
import { MESSAGE_VERSION, type AndMsg, type CompareMsg, type LiftMsg, type Message, type OpenMsg, type PartyName, type Protocol } from "./messages.ts";
import { checkBundleParams } from "./open.ts";
import { checkParams, type Params } from "./params.ts";
import { claimMaterial } from "./single-use.ts";
import { checkSession } from "./wire.ts";

const MASK = COMPARE_MOD - 1;

interface Common {
  readonly role: PartyName;
  readonly session: string;
  readonly params: Params;
  readonly mat: Material;
}

export interface VerifyInput {
  readonly role: PartyName;
  readonly session: string;
  readonly params: Params;
  /** d bytes: the party's byte share of the probe (P0: expandSeedShare(seed0, ctx, d)) */
  readonly probeShare: Uint8Array;
  /** d ring elements: the party's stored template share (from enrolment) */
  readonly templateShare: Uint32Array;
  /** openBundle(role, seed, bundle) of a "verify" bundle, never started before (ITEM_REUSED) */
  readonly material: Material;
}

export interface EnrolInput {
  readonly role: PartyName;
  readonly session: string;
  readonly params: Params;
  /** d bytes: the party's byte share of the template (P0: expandSeedShare(seed0, ctx, d)) */
  readonly share: Uint8Array;
  /** openBundle(role, seed, bundle) of an "enrol" bundle, never started before (ITEM_REUSED) */
  readonly material: Material;
}

/** A party's output of a verification: XOR shares of the two result bits. */
export interface VerifyOutput {
  readonly valid: 0 | 1;
  readonly match: 0 | 1;
}

/** A party's output of an enrolment: XOR share of `valid` and the share of the template to store. */
export interface EnrolOutput {
  readonly valid: 0 | 1;
  readonly templateShare: Uint32Array;
}

export interface VerifyLifted extends Common { readonly phase: "verify:lifted"; readonly y: Uint32Array; readonly m: Uint8Array }
export interface VerifyOpened extends Common { readonly phase: "verify:opened"; readonly open: OpenMsg }
export interface VerifyCompared extends Common { readonly phase: "verify:compared"; readonly z: CompareMsg }
export interface VerifyAnded extends Common { readonly phase: "verify:anded"; readonly valid: 0 | 1; readonly and: AndMsg }
export interface VerifyDone { readonly phase: "verify:done"; readonly output: VerifyOutput }
export type VerifyState = VerifyLifted | VerifyOpened | VerifyCompared | VerifyAnded | VerifyDone;

export interface EnrolLifted extends Common { readonly phase: "enrol:lifted"; readonly m: Uint8Array }
export interface EnrolOpened extends Common { readonly phase: "enrol:opened"; readonly open: OpenMsg }
export interface EnrolCompared extends Common { readonly phase: "enrol:compared"; readonly z: CompareMsg; readonly y: Uint32Array }
export interface EnrolDone { readonly phase: "enrol:done"; readonly output: EnrolOutput }
export type EnrolState = EnrolLifted | EnrolOpened | EnrolCompared | EnrolDone;

function peerOf(role: PartyName): PartyName {
  return role === "P0" ? "P1" : "P0";
}

// Messages are built as plain object literals (no object spread: V8's spread-with-extra-properties
// path costs microseconds, more than a whole round's arithmetic at d = 128).

function checkMsg(st: Common, protocol: Protocol, msg: Message, step: number): void {
  if (msg === null || typeof msg !== "object") throw new TypeError("msg: expected a message object");
  if (msg.v !== MESSAGE_VERSION) throw new ProtocolError("BAD_VERSION", `expected version ${MESSAGE_VERSION}, got ${String(msg.v)}`);
  if (msg.protocol !== protocol) throw new ProtocolError("WRONG_PROTOCOL", `expected ${protocol}, got ${msg.protocol}`);
  if (msg.session !== st.session) throw new ProtocolError("WRONG_SESSION", "message bound to another session");
  if (msg.step !== step) throw new ProtocolError("WRONG_STEP", `expected step ${step}, got ${msg.step}`);
  if (msg.seq !== step - 1) throw new ProtocolError("WRONG_SEQUENCE", `expected sequence ${step - 1}, got ${msg.seq}`);
  if (msg.from !== peerOf(st.role)) throw new ProtocolError("WRONG_SENDER", `expected a message from ${peerOf(st.role)}, got ${msg.from}`);
}

function checkLen(name: string, got: number, want: number): void {
  if (got !== want) throw new ProtocolError("LENGTH_MISMATCH", `${name}: expected ${want}, got ${got}`);
}

function checkPhase(state: { phase: string } | null | undefined, phase: string): void {
  if (!state || state.phase !== phase) throw new ProtocolError("WRONG_PHASE", `expected state ${phase}, got ${state?.phase}`);
}

function start(protocol: Protocol, role: PartyName, session: string, params: Params, share: Uint8Array, mat: Material): { common: Common; send: LiftMsg } {
  if (role !== "P0" && role !== "P1") throw new RangeError(`role: expected "P0" or "P1", got ${String(role)}`);
  checkSession(session);
  checkParams(params);
  if (!(share instanceof Uint8Array)) throw new TypeError("share: expected a Uint8Array of byte shares");
  checkLen("share length", share.length, params.d);
  checkBundleParams(mat, params, protocol, role);
  claimMaterial(mat);
  const off = role === "P0" ? 128 : 0;
  const m = new Uint8Array(params.d);
  for (let k = 0; k < m.length; k++) m[k] = share[k] + off + mat.r[k];
  const common: Common = { role, session, params, mat };
  const send: LiftMsg = { v: MESSAGE_VERSION, protocol, session, step: 1, seq: 0, from: role, bundleId: mat.id, m };
  return { common, send };
}

/** Int32 view of a ring vector (same bytes), so the hot loops stay in int32 arithmetic. */
function i32(v: Uint32Array): Int32Array {
  return new Int32Array(v.buffer, v.byteOffset, v.length);
}

/** Round 2 of both protocols: table bits, both branches' ε, (verify) δ. */
function lift(st: Common, protocol: Protocol, own: Uint8Array, msg: LiftMsg, y: Uint32Array | null): OpenMsg {
  checkMsg(st, protocol, msg, 1);
  if (msg.bundleId !== st.mat.id) throw new ProtocolError("BUNDLE_MISMATCH", "peer uses another bundle");
  const d = st.params.d;
  if (!(msg.m instanceof Uint8Array)) throw new TypeError("msg.m: expected a Uint8Array");
  checkLen("m length", msg.m.length, d);
  const P0 = st.role === "P0";
  const off = P0 ? -128 : 0;
  const add256 = P0 ? 256 : 0;
  const mMask = P0 ? 255 : 0;
  const { r, rho, table, a0, a1, b } = st.mat;
  const pm = msg.m;
  const tau = new Uint8Array(Math.ceil(d / 8));
  // ε^(0) ‖ ε^(1) ‖ δ in one buffer
  const buf = new ArrayBuffer(4 * d * (y ? 3 : 2));
  const e = new Int32Array(buf);
  // per coordinate: m public, τ_i = T_i[m];  ⟦s^(0)⟧ = (m − 128)·[P0] − ⟦r⟧ + 256⟦ρ⟧,
  // ⟦s^(1)⟧ = (m − 128 + 256)·[P0] − ⟦r⟧ − 256⟦ρ⟧;  ε^(j) share = ⟦s^(j)⟧ − ⟦a^(j)⟧
  for (let k = 0; k < d; k++) {
    const m = (own[k] + pm[k]) & 255;
    tau[k >>> 3] |= ((table[32 * k + (m >>> 3)] >>> (m & 7)) & 1) << (k & 7);
    const base = (off + (m & mMask) - r[k]) | 0;
    const rr = rho[k] << 8;
    e[k] = (base + rr - a0[k]) | 0;
    e[d + k] = (base + add256 - rr - a1[k]) | 0;
  }
  if (y) {
    const yi = i32(y);
    for (let k = 0; k < d; k++) e[2 * d + k] = (yi[k] - b[k]) | 0;
  }
  const eps0 = new Uint32Array(buf, 0, d);
  const eps1 = new Uint32Array(buf, 4 * d, d);
  const delta = new Uint32Array(buf, 8 * d, y ? d : 0);
  return { v: MESSAGE_VERSION, protocol, session: st.session, step: 2, seq: 1, from: st.role, tau, eps0, eps1, delta };
}

function checkOpen(st: Common, protocol: Protocol, msg: OpenMsg): void {
  checkMsg(st, protocol, msg, 2);
  const d = st.params.d;
  checkLen("tau length", msg.tau?.length, Math.ceil(d / 8));
  checkLen("eps0 length", msg.eps0?.length, d);
  checkLen("eps1 length", msg.eps1?.length, d);
  checkLen("delta length", msg.delta?.length, protocol === "verify" ? d : 0);
}

function checkCompare(st: Common, protocol: Protocol, msg: CompareMsg): void {
  checkMsg(st, protocol, msg, 3);
  for (const k of ["zScore", "zNorm"] as const) {
    const v = msg[k];
    if (!Number.isInteger(v) || v < 0 || v >= COMPARE_MOD) throw new ProtocolError("LENGTH_MISMATCH", `${k}: expected an integer in [0, 2^26)`);
  }
}

function wipe(mat: Material): void {
  for (const a of [mat.r, mat.rho, mat.table, mat.a0, mat.a1, mat.q0, mat.q1, mat.b, mat.z0, mat.z1, mat.rOut, mat.roots]) a.fill(0);
}

// ---------------------------------------------------------------- verify

/** Step 0 (send round 1). Claims the material: a material starts one run only (single-use.ts). */
export function verifyStart(input: VerifyInput): { state: VerifyLifted; send: LiftMsg } {
  if (!(input.templateShare instanceof Uint32Array)) throw new TypeError("templateShare: expected a Uint32Array");
  checkLen("templateShare length", input.templateShare.length, input.params?.d);
  const { common, send } = start("verify", input.role, input.session, input.params, input.probeShare, input.material);
  const { role, session, params, mat } = common;
  return { state: { role, session, params, mat, phase: "verify:lifted", y: input.templateShare, m: send.m }, send };
}

/** Receives round 1, sends round 2. */
export function verifyOnLift(state: VerifyLifted, msg: LiftMsg): { state: VerifyOpened; send: OpenMsg } {
  checkPhase(state, "verify:lifted");
  const send = lift(state, "verify", state.m, msg, state.y);
  const { role, session, params, mat } = state;
  return { state: { role, session, params, mat, phase: "verify:opened", open: send }, send };
}

/** Receives round 2, sends round 3 (masked score and norm). */
export function verifyOnOpen(state: VerifyOpened, msg: OpenMsg): { state: VerifyCompared; send: CompareMsg } {
  checkPhase(state, "verify:opened");
  checkOpen(state, "verify", msg);
  const d = state.params.d;
  const P0 = state.role === "P0";
  const { a0, a1, b, z0, z1, q0, q1, rOut } = state.mat;
  const own = state.open;
  const oe0 = i32(own.eps0), oe1 = i32(own.eps1), od = i32(own.delta);
  const pe0 = i32(msg.eps0), pe1 = i32(msg.eps1), pd = i32(msg.delta);
  const ot = own.tau, pt = msg.tau;
  let score = 0, norm = 0;
  for (let k = 0; k < d; k++) {
    const c = ((ot[k >>> 3] ^ pt[k >>> 3]) >>> (k & 7)) & 1;
    const eps = c ? (oe1[k] + pe1[k]) | 0 : (oe0[k] + pe0[k]) | 0;
    const a = c ? a1[k] : a0[k];
    const delta = (od[k] + pd[k]) | 0;
    score = (score + Math.imul(eps, b[k]) + Math.imul(a, delta) + (c ? z1[k] : z0[k])) | 0;
    norm = (norm + (Math.imul(eps, a) << 1) + (c ? q1[k] : q0[k])) | 0;
    if (P0) {
      score = (score + Math.imul(eps, delta)) | 0;
      norm = (norm + Math.imul(eps, eps)) | 0;
    }
  }
  const zScore = (score + (P0 ? SCORE_OFFSET : 0) + rOut[0]) & MASK;
  const zNorm = (norm + rOut[1]) & MASK;
  const send: CompareMsg = { v: MESSAGE_VERSION, protocol: "verify", session: state.session, step: 3, seq: 2, from: state.role, zScore, zNorm };
  const { role, session, params, mat } = state;
  return { state: { role, session, params, mat, phase: "verify:compared", z: send }, send };
}

/** Receives round 3, evaluates the DCF keys, sends round 4 (masked AND inputs). */
export function verifyOnCompare(state: VerifyCompared, msg: CompareMsg): { state: VerifyAnded; send: AndMsg } {
  return verifyOnCompareMany([state], [msg])[0];
}

/**
 * `verifyOnCompare` for many sessions of the same party at once: the DCF evaluations of all sessions
 * share one AES call per tree level (batched throughput). Results are per session, in order.
 */
export function verifyOnCompareMany(states: readonly VerifyCompared[], msgs: readonly CompareMsg[]): { state: VerifyAnded; send: AndMsg }[] {
  if (states.length !== msgs.length) throw new RangeError(`msgs: expected ${states.length} messages, got ${msgs.length}`);
  if (states.length === 0) return [];
  const role = states[0]?.role;
  const roots = new Uint8Array(64 * states.length);
  const cws = [];
  const keyIndex: number[] = [];
  const xs: number[] = [];
  for (let i = 0; i < states.length; i++) {
    const state = states[i], msg = msgs[i];
    checkPhase(state, "verify:compared");
    if (state.role !== role) throw new ProtocolError("WRONG_ROLE", "a batch mixes the two parties' states");
    checkCompare(state, "verify", msg);
    const zs = (state.z.zScore + msg.zScore) & MASK;
    const zn = (state.z.zNorm + msg.zNorm) & MASK;
    roots.set(state.mat.roots, 64 * i);
    for (const cw of state.mat.cws) cws.push(cw);
    keyIndex.push(4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3);
    xs.push(zs, zs, zn, zn);
  }
  const o = dcfEval(role === "P0" ? 0 : 1, roots, cws, keyIndex, xs);
  roots.fill(0);
  return states.map((state, i) => {
    const { mat } = state;
    const scoreOk = (o[4 * i] ^ o[4 * i + 1] ^ (mat.wrap & 1)) as 0 | 1;
    const valid = (o[4 * i + 2] ^ o[4 * i + 3] ^ ((mat.wrap >>> 1) & 1)) as 0 | 1;
    const bits = (valid ^ (mat.and & 1)) | ((scoreOk ^ ((mat.and >>> 1) & 1)) << 1);
    const send: AndMsg = { v: MESSAGE_VERSION, protocol: "verify", session: state.session, step: 4, seq: 3, from: state.role, bits };
    const { session, params } = state;
    return { state: { role: state.role, session, params, mat, phase: "verify:anded" as const, valid, and: send }, send };
  });
}

/** Receives round 4 and returns the party's XOR shares of (valid, match). Wipes the material. */
export function verifyOnAnd(state: VerifyAnded, msg: AndMsg): { state: VerifyDone; output: VerifyOutput } {
  checkPhase(state, "verify:anded");
  checkMsg(state, "verify", msg, 4);
  if (!Number.isInteger(msg.bits) || msg.bits < 0 || msg.bits > 3) throw new ProtocolError("LENGTH_MISMATCH", "bits: expected 0..3");
  const and = state.mat.and;
  const dd = (state.and.bits ^ msg.bits) & 1;
  const ee = ((state.and.bits ^ msg.bits) >>> 1) & 1;
  const match = (((and >>> 2) & 1) ^ (dd & (and >>> 1) & 1) ^ (ee & and & 1) ^ (state.role === "P0" ? dd & ee : 0)) as 0 | 1;
  wipe(state.mat);
  const output: VerifyOutput = { valid: state.valid, match };
  return { state: { phase: "verify:done", output }, output };
}

/**
 * Ends a verification that will not finish (the failure budget, riding in rounds 1–3, found it
 * exhausted before round 4): wipes its material, as `verifyOnAnd` does. Do not step the state again.
 */
export function verifyDiscard(state: VerifyState): void {
  if (state && "mat" in state) wipe(state.mat);
}

/** Dispatches on the state's phase (for servers that drive steps generically). */
export function verifyStep(state: VerifyState, msg: Message): { state: VerifyState; send?: Message; output?: VerifyOutput } {
  switch (state?.phase) {
    case "verify:lifted": return verifyOnLift(state, msg as LiftMsg);
    case "verify:opened": return verifyOnOpen(state, msg as OpenMsg);
    case "verify:compared": return verifyOnCompare(state, msg as CompareMsg);
    case "verify:anded": return verifyOnAnd(state, msg as AndMsg);
    default: throw new ProtocolError("WRONG_PHASE", `no verify step after phase ${state?.phase}`);
  }
}

// ---------------------------------------------------------------- enrol

/** Step 0 of enrolment validation (send round 1). Claims the material, as `verifyStart`. */
export function enrolStart(input: EnrolInput): { state: EnrolLifted; send: LiftMsg } {
  const { common, send } = start("enrol", input.role, input.session, input.params, input.share, input.material);
  const { role, session, params, mat } = common;
  return { state: { role, session, params, mat, phase: "enrol:lifted", m: send.m }, send };
}

export function enrolOnLift(state: EnrolLifted, msg: LiftMsg): { state: EnrolOpened; send: OpenMsg } {
  checkPhase(state, "enrol:lifted");
  const send = lift(state, "enrol", state.m, msg, null);
  const { role, session, params, mat } = state;
  return { state: { role, session, params, mat, phase: "enrol:opened", open: send }, send };
}

export function enrolOnOpen(state: EnrolOpened, msg: OpenMsg): { state: EnrolCompared; send: CompareMsg } {
  checkPhase(state, "enrol:opened");
  checkOpen(state, "enrol", msg);
  const d = state.params.d;
  const P0 = state.role === "P0";
  const { a0, a1, q0, q1, rOut } = state.mat;
  const own = state.open;
  const oe0 = i32(own.eps0), oe1 = i32(own.eps1), pe0 = i32(msg.eps0), pe1 = i32(msg.eps1);
  const y = new Uint32Array(d);
  let norm = 0;
  for (let k = 0; k < d; k++) {
    const c = ((own.tau[k >>> 3] ^ msg.tau[k >>> 3]) >>> (k & 7)) & 1;
    const eps = c ? (oe1[k] + pe1[k]) | 0 : (oe0[k] + pe0[k]) | 0;
    const a = c ? a1[k] : a0[k];
    y[k] = P0 ? a + eps : a; // the lifted value s = ε + a, shared as (a0 + ε, a1)
    norm = (norm + (Math.imul(eps, a) << 1) + (c ? q1[k] : q0[k]) + (P0 ? Math.imul(eps, eps) : 0)) | 0;
  }
  const send: CompareMsg = { v: MESSAGE_VERSION, protocol: "enrol", session: state.session, step: 3, seq: 2, from: state.role, zScore: 0, zNorm: (norm + rOut[1]) & MASK };
  const { role, session, params, mat } = state;
  return { state: { role, session, params, mat, phase: "enrol:compared", z: send, y }, send };
}

/** Receives round 3 and returns the XOR share of `valid` and the template share to store. */
export function enrolOnCompare(state: EnrolCompared, msg: CompareMsg): { state: EnrolDone; output: EnrolOutput } {
  checkPhase(state, "enrol:compared");
  checkCompare(state, "enrol", msg);
  const zn = (state.z.zNorm + msg.zNorm) & MASK;
  const { mat } = state;
  const o = dcfEval(state.role === "P0" ? 0 : 1, mat.roots, mat.cws, [0, 1], [zn, zn]);
  const valid = (o[0] ^ o[1] ^ ((mat.wrap >>> 1) & 1)) as 0 | 1;
  wipe(mat);
  const output: EnrolOutput = { valid, templateShare: state.y };
  return { state: { phase: "enrol:done", output }, output };
}

export function enrolStep(state: EnrolState, msg: Message): { state: EnrolState; send?: Message; output?: EnrolOutput } {
  switch (state?.phase) {
    case "enrol:lifted": return enrolOnLift(state, msg as LiftMsg);
    case "enrol:opened": return enrolOnOpen(state, msg as OpenMsg);
    case "enrol:compared": return enrolOnCompare(state, msg as CompareMsg);
    default: throw new ProtocolError("WRONG_PHASE", `no enrol step after phase ${state?.phase}`);
  }
}
