/**
 * Spot-check of dealt correlated randomness (decision 010 §6, issue 12 item 8): P0 and P1 catch a
 * helper that deals inconsistent bundles — above all one that shifts the comparison thresholds so that
 * every probe matches — without trusting it.
 *
 * After both parties hold a batch (the helper's part is over), they toss a joint coin: each contributes
 * 32 fresh random bytes (`spotCheckCoin`) and the sample is a function of both coins and the batch ids
 * (`spotCheckSample`), so the helper, which dealt before either coin existed, cannot know which items
 * will be opened. For each sampled item each party sends the other its whole material for that item
 * (`encodeOpening` = its half, expanded; it says nothing about the long-term seed, which is a PRF key),
 * and each party checks every correlation of the reconstructed item (`checkOpenedPair`):
 *   masks      r = r0 + r1 ∈ [0, 256), ρ ∈ {0, 1}, r_out ∈ [0, 2^26);
 *   tables     T0 ⊕ T1 = table(c ↦ [c < r] ⊕ ρ);
 *   squares    q^(j) = (a^(j))², products (verify) z^(j) = a^(j)·b, AND triple c = a ∧ b;
 *   DCF keys   both parties hold the same correction words, they are exactly Gen^< for the thresholds
 *              s = r_out + A, e = r_out + B (mod 2^26) of the public intervals [A, B), the wrap bit is
 *              [s > e], and the reconstructed interval test evaluated at the declared interval ends
 *              A − 1, A, B − 1, B answers 0, 1, 1, 0 — a helper that shifts a threshold is caught.
 *   budget     (verify) the daBit β = β_0 ⊕ β_1 = ⟦β⟧ mod 2^16, the same budget correction words at both
 *              parties, exactly Gen^< for s = r_out, e = r_out + 2^15, wrap = [s > e], and the
 *              reconstructed test [v ∈ [0, 2^15)] right at v = −1, 0, 2^15 − 1, 2^15.
 * Passing every check means the item is exactly an honest dealing for some helper randomness (r, ρ,
 * r_out): every byte the helper chose is constrained. Sampled items are discarded (their material is
 * now known to both parties); a failure condemns the whole batch.
 *
 * Detection: a batch of n items of which m are bad, k = `spotCheckCount(n, s)` sampled without
 * replacement, is missed with probability C(n − m, k) / C(n, k) ≤ (1 − k/n)^m (`spotCheckMissProbability`).
 * Pure and I/O free like the rest of the package.
 */
import { BUDGET_BITS, BUDGET_MOD, openBudget, type BudgetMaterial } from "./budget.ts";
import { COMPARE_BITS, COMPARE_MOD, checkId, intervals, keyCount, type Bundle, type BundleKind, type Material } from "./bundle.ts";
import { dcfCwBytes, dcfEval, dcfGen, decodeDcfCw, encodeDcfCw, type DcfCw } from "./dcf.ts";
import { ProtocolError } from "./errors.ts";
import type { PartyName } from "./messages.ts";
import { openBundle } from "./open.ts";
import { checkParams, sameParams, type Params } from "./params.ts";
import { expand } from "./prg.ts";
import { secureRng, type Rng } from "./rng.ts";

/** Default fraction of every batch that is opened and discarded. */
export const DEFAULT_SPOTCHECK_FRACTION = 1 / 16;
/** Bytes of one party's coin. */
export const SPOTCHECK_COIN_BYTES = 32;

const SAMPLE_LABEL = "privface/mpc/spotcheck/v1";

/** What a failed check names (stable). */
export type SpotCheckFailure =
  | "header" // kind, id, parameters or roles of the two halves disagree
  | "dcf_keys" // the two parties got different correction words
  | "mask_r" // r not in [0, 256)
  | "mask_rho" // ρ not a bit
  | "table" // T0 ⊕ T1 is not the comparison table of (r, ρ)
  | "square" // q^(j) ≠ (a^(j))²
  | "product" // z^(j) ≠ a^(j)·b
  | "mask_out" // r_out not in [0, 2^26)
  | "wrap" // wrap bit ≠ [s > e]
  | "dcf_threshold" // the DCF keys do not compare against s and e, or the interval test is wrong at its ends
  | "and_triple" // c ≠ a ∧ b
  | "budget_missing" // a verify item without its budget section
  | "budget_keys" // different budget correction words at the two parties
  | "budget_dabit" // ⟦β⟧ ≠ β_0 ⊕ β_1
  | "budget_wrap" // budget wrap bit ≠ [s > e]
  | "budget_threshold"; // the budget DCF keys do not test [C − B ∈ [0, 2^15)]

/** A party's opened material for one item: the run's material and (verify) the budget run's. */
export type OpenedMaterial = Material & { readonly budget?: BudgetMaterial };

/**
 * A party's whole material for one item of its pool (what it checks and what it reveals when the item
 * is sampled): `openBundle` plus, for a verify bundle, `openBudget`.
 */
export function openItem(role: PartyName, seed: Uint8Array, bundle: Bundle): OpenedMaterial {
  const m = openBundle(role, seed, bundle);
  return bundle.kind === "verify" ? Object.assign({}, m, { budget: openBudget(role, seed, bundle, m) }) : m;
}

export interface SpotCheckResult {
  readonly ok: boolean;
  /** distinct failed checks, in check order */
  readonly failures: readonly SpotCheckFailure[];
}

/** One party's fresh contribution to the joint coin (32 random bytes). */
export function spotCheckCoin(rng: Rng = secureRng): Uint8Array {
  const c = rng(SPOTCHECK_COIN_BYTES);
  if (!(c instanceof Uint8Array) || c.length !== SPOTCHECK_COIN_BYTES) throw new RangeError("rng: returned the wrong number of bytes");
  return c;
}

/** How many items of a batch of `n` are opened: ⌈s·n⌉, at least 1 and at most n (0 for an empty batch). */
export function spotCheckCount(n: number, fraction: number = DEFAULT_SPOTCHECK_FRACTION): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n: expected a non-negative integer, got ${n}`);
  if (typeof fraction !== "number" || !(fraction > 0) || fraction > 1) throw new RangeError(`fraction: expected a number in (0, 1], got ${fraction}`);
  if (n === 0) return 0;
  return Math.min(n, Math.max(1, Math.ceil(fraction * n - 1e-9)));
}

function checkCoin(name: string, c: Uint8Array): void {
  if (!(c instanceof Uint8Array) || c.length !== SPOTCHECK_COIN_BYTES) throw new RangeError(`${name}: expected ${SPOTCHECK_COIN_BYTES} bytes`);
}

/**
 * The sampled positions (ascending) of a batch, from both coins and the batch's ids in batch order:
 * k = spotCheckCount(n, fraction) distinct positions, uniform (partial Fisher–Yates on an AES-CTR
 * stream keyed by coin0 ⊕ coin1 and bound to the ids, with rejection sampling: no modulo bias).
 * Either honest coin alone makes the sample uniform and unpredictable to the helper.
 * @throws RangeError for bad coins, ids, duplicate ids or fraction.
 * @example const idx = spotCheckSample(ids, coinP0, coinP1);
 */
export function spotCheckSample(ids: readonly string[], coin0: Uint8Array, coin1: Uint8Array, fraction: number = DEFAULT_SPOTCHECK_FRACTION): number[] {
  checkCoin("coin0", coin0);
  checkCoin("coin1", coin1);
  if (!Array.isArray(ids)) throw new TypeError("ids: expected an array of item ids");
  const n = ids.length;
  const k = spotCheckCount(n, fraction);
  const ctx = new Uint8Array(16 * n + 8);
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    checkId(id);
    if (seen.has(id)) throw new RangeError(`ids: ${id} appears twice`);
    seen.add(id);
    for (let j = 0; j < 16; j++) ctx[16 * i + j] = parseInt(id.slice(2 * j, 2 * j + 2), 16);
  });
  const dv = new DataView(ctx.buffer);
  dv.setUint32(16 * n, n);
  dv.setUint32(16 * n + 4, k);
  const key = new Uint8Array(SPOTCHECK_COIN_BYTES);
  for (let i = 0; i < key.length; i++) key[i] = coin0[i] ^ coin1[i];
  let words = 4 * k + 64;
  let stream = expand(key, SAMPLE_LABEL, ctx, 4 * words);
  let pos = 0;
  const draw = (bound: number): number => {
    // uniform in [0, bound): reject the top 2^32 mod bound values
    const limit = 2 ** 32 - (2 ** 32 % bound);
    for (;;) {
      if (pos === words) {
        words *= 2;
        stream = expand(key, SAMPLE_LABEL, ctx, 4 * words); // CTR: a longer stream extends the same prefix
      }
      const v = new DataView(stream.buffer, stream.byteOffset).getUint32(4 * pos++, true);
      if (v < limit) return v % bound;
    }
  };
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + draw(n - i);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  key.fill(0);
  return perm.slice(0, k).sort((a, b) => a - b);
}

/**
 * Probability that a batch of n items with m bad ones passes when k items are opened:
 * C(n − m, k) / C(n, k) (hypergeometric, sampling without replacement) — at most (1 − k/n)^m.
 */
export function spotCheckMissProbability(n: number, m: number, k: number): number {
  for (const [name, v] of [["n", n], ["m", m], ["k", k]] as const) if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name}: expected a non-negative integer, got ${v}`);
  if (m > n || k > n) throw new RangeError("m and k must not exceed n");
  let p = 1;
  for (let i = 0; i < k; i++) {
    if (n - m - i <= 0) return 0;
    p *= (n - m - i) / (n - i);
  }
  return p;
}

// ---------------------------------------------------------------- openings on the wire

/**
 * One party's opened half of one item:
 *   "PFO" | v=1 | kind u8 | role u8 | K u8 | 0 | id (16 B) | d u16be | threshold i32be | normLo u32be |
 *   normHi u32be | 0 0 | r, ρ, a0, a1, q0, q1, [b, z0, z1] (d × u32le each) | r_out (2 × u32le) |
 *   table (32d) | roots (16K) | wrap u8 | and u8 | K × DCF correction word
 */
const OPENING_HEADER = 3 + 5 + 16 + 2 + 12 + 2;

function ringFields(kind: BundleKind): (keyof Material)[] {
  return kind === "verify" ? ["r", "rho", "a0", "a1", "q0", "q1", "b", "z0", "z1"] : ["r", "rho", "a0", "a1", "q0", "q1"];
}

/** Budget part of a verify opening: β u8 | ⟦β⟧ u32le | ⟦r_out⟧ u32le | wrap u8 | roots (32) | 2 × budget DCF correction word. */
const BUDGET_OPENING = 1 + 4 + 4 + 1 + 32 + 2 * dcfCwBytes(BUDGET_BITS);

/** Encoded size of an opening. */
export function openingBytes(kind: BundleKind, d: number): number {
  const K = keyCount(kind);
  return OPENING_HEADER + 4 * d * ringFields(kind).length + 8 + 32 * d + 16 * K + 2 + K * dcfCwBytes(COMPARE_BITS) + (kind === "verify" ? BUDGET_OPENING : 0);
}

/**
 * The bytes of a party's material for one item, to send to the other party when the item is sampled.
 * Call it on a freshly opened material (openBundle) that never ran: a run wipes the material.
 */
export function encodeOpening(m: OpenedMaterial): Uint8Array {
  const d = m.params.d;
  const K = keyCount(m.kind);
  if (m.cws.length !== K) throw new ProtocolError("BAD_BUNDLE", `expected ${K} DCF keys`);
  if (m.kind === "verify" && (!m.budget || m.budget.cws.length !== 2)) throw new ProtocolError("BAD_BUNDLE", "a verify opening needs the budget material (openItem)");
  const out = new Uint8Array(new ArrayBuffer(openingBytes(m.kind, d)));
  out.set([0x50, 0x46, 0x4f, 1, m.kind === "verify" ? 1 : 2, m.role === "P0" ? 0 : 1, K, 0]);
  for (let i = 0; i < 16; i++) out[8 + i] = parseInt(m.id.slice(2 * i, 2 * i + 2), 16);
  const dv = new DataView(out.buffer);
  dv.setUint16(24, d);
  dv.setInt32(26, m.params.threshold);
  dv.setUint32(30, m.params.normLo);
  dv.setUint32(34, m.params.normHi);
  let o = OPENING_HEADER;
  const i32 = new Int32Array(out.buffer, 0, out.length >>> 2);
  for (const f of ringFields(m.kind)) {
    i32.set(m[f] as Int32Array, o / 4);
    o += 4 * d;
  }
  i32.set(m.rOut, o / 4);
  o += 8;
  out.set(m.table, o);
  o += 32 * d;
  out.set(m.roots, o);
  o += 16 * K;
  out[o++] = m.wrap;
  out[o++] = m.and;
  for (const cw of m.cws) o = encodeDcfCw(cw, out, o);
  if (m.kind === "verify") {
    const b = m.budget!;
    out[o] = b.bx;
    dv.setUint32(o + 1, b.ba, true);
    dv.setUint32(o + 5, b.rOut, true);
    out[o + 9] = b.wrap;
    out.set(b.roots, o + 10);
    o += 42;
    for (const cw of b.cws) o = encodeDcfCw(cw, out, o);
  }
  return out;
}

/**
 * The material an opening carries (copies, aligned).
 * @throws ProtocolError BAD_MAGIC, BAD_VERSION, BAD_BUNDLE, LENGTH_MISMATCH.
 */
export function decodeOpening(bytes: Uint8Array): OpenedMaterial {
  if (!(bytes instanceof Uint8Array) || bytes.length < OPENING_HEADER || bytes[0] !== 0x50 || bytes[1] !== 0x46 || bytes[2] !== 0x4f) throw new ProtocolError("BAD_MAGIC", "not a spot-check opening");
  if (bytes[3] !== 1) throw new ProtocolError("BAD_VERSION", `opening version ${bytes[3]}`);
  const kind: BundleKind | undefined = bytes[4] === 1 ? "verify" : bytes[4] === 2 ? "enrol" : undefined;
  const role: PartyName | undefined = bytes[5] === 0 ? "P0" : bytes[5] === 1 ? "P1" : undefined;
  if (!kind || !role || bytes[6] !== keyCount(kind) || bytes[7] !== 0 || bytes[38] !== 0 || bytes[39] !== 0) throw new ProtocolError("BAD_BUNDLE", "bad opening header");
  const buf = new Uint8Array(new ArrayBuffer(bytes.length));
  buf.set(bytes);
  const dv = new DataView(buf.buffer);
  const params: Params = { d: dv.getUint16(24), threshold: dv.getInt32(26), normLo: dv.getUint32(30), normHi: dv.getUint32(34) };
  try {
    checkParams(params);
  } catch (e) {
    throw new ProtocolError("BAD_BUNDLE", (e as Error).message);
  }
  const d = params.d;
  if (buf.length !== openingBytes(kind, d)) throw new ProtocolError("LENGTH_MISMATCH", `opening: expected ${openingBytes(kind, d)} bytes, got ${buf.length}`);
  let id = "";
  for (let i = 8; i < 24; i++) id += buf[i].toString(16).padStart(2, "0");
  let o = OPENING_HEADER;
  const ring: Record<string, Int32Array> = {};
  for (const f of ["r", "rho", "a0", "a1", "q0", "q1", "b", "z0", "z1"]) {
    const n = ringFields(kind).includes(f as keyof Material) ? d : 0;
    ring[f] = new Int32Array(buf.buffer, o, n);
    o += 4 * n;
  }
  const rOut = new Int32Array(buf.buffer, o, 2);
  o += 8;
  const K = keyCount(kind);
  const table = buf.subarray(o, o + 32 * d);
  o += 32 * d;
  const roots = buf.subarray(o, o + 16 * K);
  o += 16 * K;
  const wrap = buf[o++];
  const and = buf[o++];
  const cws: DcfCw[] = [];
  for (let k = 0; k < K; k++) {
    cws.push(decodeDcfCw(COMPARE_BITS, buf, o));
    o += dcfCwBytes(COMPARE_BITS);
  }
  let budget: BudgetMaterial | undefined;
  if (kind === "verify") {
    const bx = buf[o], ba = dv.getUint32(o + 1, true), bro = dv.getUint32(o + 5, true), bw = buf[o + 9];
    if (bx > 1 || bw > 1 || ba >= BUDGET_MOD || bro >= BUDGET_MOD) throw new ProtocolError("BAD_BUNDLE", "bad budget opening");
    const broots = buf.slice(o + 10, o + 42);
    o += 42;
    const bcws = [decodeDcfCw(BUDGET_BITS, buf, o), decodeDcfCw(BUDGET_BITS, buf, o + dcfCwBytes(BUDGET_BITS))];
    budget = { role, id, bx: bx as 0 | 1, ba, rOut: bro, wrap: bw as 0 | 1, roots: broots, cws: bcws };
  }
  const m: Material = {
    kind, role, id, params: Object.freeze(params), r: ring.r, rho: ring.rho, table, a0: ring.a0, a1: ring.a1, q0: ring.q0, q1: ring.q1,
    b: ring.b, z0: ring.z0, z1: ring.z1, rOut, roots, wrap, and, cws,
  };
  return budget ? Object.assign(m, { budget }) : m;
}

// ---------------------------------------------------------------- the check

function sameCw(a: DcfCw, b: DcfCw): boolean {
  if (a.n !== b.n || a.scw.length !== b.scw.length || a.bits.length !== b.bits.length || a.leaf.length !== b.leaf.length) return false;
  for (let i = 0; i < a.scw.length; i++) if (a.scw[i] !== b.scw[i]) return false;
  for (let i = 0; i < a.bits.length; i++) if (a.bits[i] !== b.bits[i]) return false;
  for (let i = 0; i < a.leaf.length; i++) if (a.leaf[i] !== b.leaf[i]) return false;
  return true;
}

/**
 * Checks every correlation of one item from both parties' materials (m0 P0's, m1 P1's, e.g. one's own
 * `openBundle` and the other's `decodeOpening`). Pure; never throws on inconsistent content (it reports
 * it), only on arguments that are not materials.
 * @example if (!checkOpenedPair(mine, decodeOpening(theirs)).ok) dropBatch();
 */
export function checkOpenedPair(m0: OpenedMaterial, m1: OpenedMaterial): SpotCheckResult {
  if (!m0 || !m1 || typeof m0 !== "object" || typeof m1 !== "object") throw new TypeError("expected two materials");
  const failures = new Set<SpotCheckFailure>();
  const done = (): SpotCheckResult => ({ ok: failures.size === 0, failures: [...failures] });
  if (m0.role !== "P0" || m1.role !== "P1" || m0.kind !== m1.kind || m0.id !== m1.id || !sameParams(m0.params, m1.params)) {
    failures.add("header");
    return done();
  }
  const kind = m0.kind;
  const v = kind === "verify";
  const params = m0.params;
  const d = params.d;
  const K = keyCount(kind);
  const lens: [{ readonly length: number } | undefined, number][] = [
    [m0.r, d], [m1.r, d], [m0.rho, d], [m1.rho, d], [m0.a0, d], [m1.a0, d], [m0.a1, d], [m1.a1, d], [m0.q0, d], [m1.q0, d], [m0.q1, d], [m1.q1, d],
    [m0.b, v ? d : 0], [m1.b, v ? d : 0], [m0.z0, v ? d : 0], [m1.z0, v ? d : 0], [m0.z1, v ? d : 0], [m1.z1, v ? d : 0],
    [m0.rOut, 2], [m1.rOut, 2], [m0.table, 32 * d], [m1.table, 32 * d], [m0.roots, 16 * K], [m1.roots, 16 * K], [m0.cws, K], [m1.cws, K],
  ];
  if (lens.some(([a, n]) => !a || a.length !== n)) {
    failures.add("header");
    return done();
  }
  for (let k = 0; k < K; k++) if (!sameCw(m0.cws[k], m1.cws[k])) failures.add("dcf_keys");

  for (let k = 0; k < d; k++) {
    const r = (m0.r[k] + m1.r[k]) >>> 0;
    const rho = (m0.rho[k] + m1.rho[k]) >>> 0;
    if (r > 255) failures.add("mask_r");
    if (rho > 1) failures.add("mask_rho");
    // table bits: byte j holds c ∈ [8j, 8j + 8); expected [c < r] ⊕ ρ
    const fill = rho & 1 ? 0xff : 0;
    for (let j = 0; j < 32; j++) {
      let cnt = r - 8 * j;
      cnt = cnt < 0 ? 0 : cnt > 8 ? 8 : cnt;
      if ((m0.table[32 * k + j] ^ m1.table[32 * k + j]) !== (((1 << cnt) - 1) ^ fill)) {
        failures.add("table");
        break;
      }
    }
    const a0 = (m0.a0[k] + m1.a0[k]) | 0;
    const a1 = (m0.a1[k] + m1.a1[k]) | 0;
    if (((m0.q0[k] + m1.q0[k]) | 0) !== Math.imul(a0, a0) || ((m0.q1[k] + m1.q1[k]) | 0) !== Math.imul(a1, a1)) failures.add("square");
    if (v) {
      const b = (m0.b[k] + m1.b[k]) | 0;
      if (((m0.z0[k] + m1.z0[k]) | 0) !== Math.imul(a0, b) || ((m0.z1[k] + m1.z1[k]) | 0) !== Math.imul(a1, b)) failures.add("product");
    }
  }

  // comparison material: masks, wrap bits, and the DCF keys against the public intervals
  const rOut = [(m0.rOut[0] + m1.rOut[0]) >>> 0, (m0.rOut[1] + m1.rOut[1]) >>> 0];
  const wrap = (m0.wrap ^ m1.wrap) & 3;
  const iv = intervals(params);
  const tests: { name: "score" | "norm"; mask: number; bit: number; key: number }[] = v
    ? [{ name: "score", mask: 0, bit: 0, key: 0 }, { name: "norm", mask: 1, bit: 1, key: 2 }]
    : [{ name: "norm", mask: 1, bit: 1, key: 0 }];
  if (!v && (wrap & 1) !== 0) failures.add("wrap");
  const alphas: number[] = [];
  for (const t of tests) {
    const ro = rOut[t.mask];
    if (ro >= COMPARE_MOD) {
      failures.add("mask_out");
      return done(); // thresholds undefined
    }
    const [A, B] = iv[t.name];
    const s = (ro + A) % COMPARE_MOD;
    const e = (ro + B) % COMPARE_MOD;
    alphas.push(s, e);
    if (((wrap >>> t.bit) & 1) !== (s > e ? 1 : 0)) failures.add("wrap");
  }
  if (!failures.has("dcf_keys")) {
    // the keys are exactly Gen^< for (s, e) under the two parties' roots …
    const regen = dcfGen(COMPARE_BITS, alphas, m0.roots, m1.roots);
    if (regen.some((cw, k) => !sameCw(cw, m0.cws[k]))) failures.add("dcf_threshold");
    // … and the reconstructed interval test is right at the declared interval ends
    const keyIndex: number[] = [];
    const xs: number[] = [];
    const want: number[] = [];
    const wrapBit: number[] = [];
    for (const t of tests) {
      const [A, B] = iv[t.name];
      for (const val of [A - 1, A, B - 1, B]) {
        const vm = ((val % COMPARE_MOD) + COMPARE_MOD) % COMPARE_MOD;
        const x = (vm + rOut[t.mask]) % COMPARE_MOD;
        keyIndex.push(t.key, t.key + 1);
        xs.push(x, x);
        want.push(vm >= A && vm < B ? 1 : 0);
        wrapBit.push((wrap >>> t.bit) & 1);
      }
    }
    const o0 = dcfEval(0, m0.roots, m0.cws, keyIndex, xs);
    const o1 = dcfEval(1, m1.roots, m1.cws, keyIndex, xs);
    for (let i = 0; i < want.length; i++) {
      if ((o0[2 * i] ^ o0[2 * i + 1] ^ o1[2 * i] ^ o1[2 * i + 1] ^ wrapBit[i]) !== want[i]) failures.add("dcf_threshold");
    }
  }
  if (v) {
    const and = (m0.and ^ m1.and) & 7;
    if (((and >>> 2) & 1) !== ((and & 1) & ((and >>> 1) & 1))) failures.add("and_triple");
    checkBudget(m0.budget, m1.budget, m0.id, failures);
  }
  return done();
}

/** The budget section of a verify item (budget.ts): daBit, mask, wrap bit and the two DCF keys. */
function checkBudget(b0: BudgetMaterial | undefined, b1: BudgetMaterial | undefined, id: string, failures: Set<SpotCheckFailure>): void {
  if (!b0 || !b1 || b0.role !== "P0" || b1.role !== "P1" || b0.id !== id || b1.id !== id || b0.cws.length !== 2 || b1.cws.length !== 2 || b0.roots.length !== 32 || b1.roots.length !== 32) {
    failures.add("budget_missing");
    return;
  }
  const MASK = BUDGET_MOD - 1;
  const HALF = BUDGET_MOD / 2;
  if (((b0.bx ^ b1.bx) & 1) !== ((b0.ba + b1.ba) & MASK)) failures.add("budget_dabit");
  if (!sameCw(b0.cws[0], b1.cws[0]) || !sameCw(b0.cws[1], b1.cws[1])) {
    failures.add("budget_keys");
    return;
  }
  const rOut = (b0.rOut + b1.rOut) & MASK;
  const s = rOut, e = (rOut + HALF) & MASK;
  const wrap = (b0.wrap ^ b1.wrap) & 1;
  if (wrap !== (s > e ? 1 : 0)) failures.add("budget_wrap");
  const regen = dcfGen(BUDGET_BITS, [s, e], b0.roots, b1.roots);
  if (regen.some((cw, k) => !sameCw(cw, b0.cws[k]))) failures.add("budget_threshold");
  const vals = [MASK, 0, HALF - 1, HALF];
  const xs = vals.flatMap((val) => [(val + rOut) & MASK, (val + rOut) & MASK]);
  const keys = vals.flatMap(() => [0, 1]);
  const o0 = dcfEval(0, b0.roots, b0.cws, keys, xs);
  const o1 = dcfEval(1, b1.roots, b1.cws, keys, xs);
  vals.forEach((val, i) => {
    if ((o0[2 * i] ^ o0[2 * i + 1] ^ o1[2 * i] ^ o1[2 * i + 1] ^ wrap) !== (val < HALF ? 1 : 0)) failures.add("budget_threshold");
  });
}
