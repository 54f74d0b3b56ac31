/**
 * The helper's dealer: `deal` makes the two halves of one bundle of correlated randomness (bundle.ts
 * says what a bundle holds and how both sides derive it from their seeds). P0's half is only the DCF
 * correction words — P0 derives everything else from its seed; P1's half adds the corrections that
 * make the two parties' material correlated. The helper never sees data; its own randomness is r, ρ and
 * the output masks r_out.
 */
import { dealBudget } from "./budget.ts";
import { dcfGen } from "./dcf.ts";
import { checkParams, type Params } from "./params.ts";
import { aligned, checkId, checkSeed, COMPARE_BITS, COMPARE_MOD, correctionBytes, Cursor, intervals, p0Material, p1Own, type BundleKind, type Dealt, type Seeds } from "./bundle.ts";
import { secureRng, type Rng } from "./rng.ts";

export interface DealOptions {
  /** "verify" (default) or "enrol" */
  readonly kind?: BundleKind;
  /** the helper's own randomness (r, ρ, output masks); default the platform's secure generator */
  readonly rng?: Rng;
}

/** Thresholds of the DCF keys for one masked value with mask rOut and interval [A, B): s, e and [s > e]. */
function intervalKeys(rOut: number, A: number, B: number): { s: number; e: number; wrap: number } {
  const s = (rOut + A) % COMPARE_MOD;
  const e = (rOut + B) % COMPARE_MOD;
  return { s, e, wrap: s > e ? 1 : 0 };
}

/**
 * Bundles for P0 and P1 for one run with id `itemId` (deterministic in params, itemId, seeds and rng).
 * `seeds` are the parties' long-term 32-byte seeds.
 * @throws RangeError naming a bad argument (params, itemId, seeds, kind).
 * @example const { P0, P1 } = deal(makeParams({ d: 512, threshold: 27_200 }), newItemId(), seeds, { kind: "enrol" });
 */
export function deal(params: Params, itemId: string, seeds: Seeds, options: DealOptions = {}): Dealt {
  const kind = options.kind ?? "verify";
  const rng = options.rng ?? secureRng;
  checkParams(params);
  checkId(itemId);
  checkSeed("seeds.P0", seeds?.P0);
  checkSeed("seeds.P1", seeds?.P1);
  if (kind !== "verify" && kind !== "enrol") throw new RangeError(`options.kind: expected "verify" or "enrol", got ${String(kind)}`);
  const d = params.d;
  const v = kind === "verify";
  const m0 = p0Material(seeds.P0, kind, itemId, params, []);
  const own1 = p1Own(seeds.P1, kind, itemId, params);
  // helper randomness: r (d bytes), rho (d bytes, low bit), rOut (2 × 4 bytes)
  const hr = rng(2 * d + 8);
  const hrOut = new DataView(hr.buffer, hr.byteOffset + 2 * d, 8);
  const rOut = [hrOut.getUint32(0, true) % COMPARE_MOD, hrOut.getUint32(4, true) % COMPARE_MOD];
  const corr = aligned(correctionBytes(kind, d));
  const c = new Cursor(corr);
  const r1 = c.i32(d), rho1 = c.i32(d), q01 = c.i32(d), q11 = c.i32(d);
  const z01 = c.i32(v ? d : 0), z11 = c.i32(v ? d : 0);
  const rOut1 = c.i32(2);
  const t1 = c.bytes(32 * d);
  const wrapAt = c.offset;
  for (let k = 0; k < d; k++) {
    const rk = hr[k];
    const rhok = hr[d + k] & 1;
    r1[k] = rk - m0.r[k];
    rho1[k] = rhok - m0.rho[k];
    const a0 = (m0.a0[k] + own1.a0[k]) >>> 0;
    const a1 = (m0.a1[k] + own1.a1[k]) >>> 0;
    q01[k] = Math.imul(a0, a0) - m0.q0[k];
    q11[k] = Math.imul(a1, a1) - m0.q1[k];
    if (v) {
      const b = (m0.b[k] + own1.b[k]) >>> 0;
      z01[k] = Math.imul(a0, b) - m0.z0[k];
      z11[k] = Math.imul(a1, b) - m0.z1[k];
    }
    // table bits: [c < r] ⊕ ρ for c in [0,256)
    const base = 32 * k;
    const fill = rhok ? 0xff : 0;
    for (let j = 0; j < 32; j++) {
      const lo = 8 * j;
      const cnt = Math.max(0, Math.min(8, rk - lo)); // bits c in [lo, lo+8) with c < r
      const bits = ((1 << cnt) - 1) ^ fill;
      t1[base + j] = m0.table[base + j] ^ bits;
    }
  }
  rOut1[0] = rOut[0] - m0.rOut[0];
  rOut1[1] = rOut[1] - m0.rOut[1];
  const iv = intervals(params);
  const alphas: number[] = [];
  let wrap = 0;
  if (v) {
    const sc = intervalKeys(rOut[0], iv.score[0], iv.score[1]);
    alphas.push(sc.s, sc.e);
    wrap |= sc.wrap;
  }
  const nm = intervalKeys(rOut[1], iv.norm[0], iv.norm[1]);
  alphas.push(nm.s, nm.e);
  wrap |= nm.wrap << 1;
  corr[wrapAt] = wrap ^ m0.wrap;
  if (v) {
    const a = (m0.and & 1) ^ (own1.and & 1);
    const b = ((m0.and >>> 1) & 1) ^ ((own1.and >>> 1) & 1);
    corr[wrapAt + 1] = (a & b) ^ ((m0.and >>> 2) & 1);
  }
  const cws = dcfGen(COMPARE_BITS, alphas, m0.roots, own1.roots);
  hr.fill(0);
  if (v) {
    const budget = dealBudget(m0.budgetStream!, own1.budgetStream!, rng);
    return {
      id: itemId,
      P0: { v: 1, kind, role: "P0", id: itemId, params, cws, budget: budget.P0 },
      P1: { v: 1, kind, role: "P1", id: itemId, params, cws, corrections: corr, budget: budget.P1 },
    };
  }
  return {
    id: itemId,
    P0: { v: 1, kind, role: "P0", id: itemId, params, cws },
    P1: { v: 1, kind, role: "P1", id: itemId, params, cws, corrections: corr },
  };
}
