/**
 * `@privface/mpc/evil-dealer` — a cheating helper (attack harness, never used by a server): deals an
 * honest bundle, then tampers with exactly one correlation of it (P1's corrections or the DCF
 * correction words), keeping the header intact so the parties' existing checks (params, ids,
 * lengths) pass. Used by the spot-check tests and `privface bench attacks` (helper_cheat_detected_rate).
 */
import { deal } from "./deal.ts";
import type { Dealt, Params, Rng, Seeds, BundleKind } from "./index.ts";
import { COMPARE_BITS, COMPARE_MOD, intervals, p0Material, p1Own } from "./bundle.ts";
import { dcfGen } from "./dcf.ts";
import { BUDGET_BITS, openBudget } from "./budget.ts";

export const CHEATS = [
  "match_everything", // M4: every probe matches (and every template is valid)
  "threshold_minus_one", // the score threshold one below the declared one
  "split_keys", // P0 and P1 get different correction words
  "table", "square", "product", "mask_r", "mask_rho", "mask_out", "wrap", "and_triple",
  "budget_never_exhausted", // the failure budget's test always answers "not exhausted"
  "budget_dabit", // the daBit's two sharings disagree (the failure count drifts)
] as const;
export type Cheat = (typeof CHEATS)[number];

/** The failure the spot-check should report for each cheat. */
export const EXPECTED: Record<Cheat, string> = {
  match_everything: "dcf_threshold",
  threshold_minus_one: "dcf_threshold",
  split_keys: "dcf_keys",
  table: "table",
  square: "square",
  product: "product",
  mask_r: "mask_r",
  mask_rho: "mask_rho",
  mask_out: "mask_out",
  wrap: "wrap",
  and_triple: "and_triple",
  budget_never_exhausted: "budget_threshold",
  budget_dabit: "budget_dabit",
};

/** Which cheats apply to which bundle kind (enrol bundles have no products, score key or AND triple). */
export function cheatsFor(kind: BundleKind): Cheat[] {
  return kind === "verify" ? [...CHEATS] : CHEATS.filter((c) => !["threshold_minus_one", "product", "and_triple", "budget_never_exhausted", "budget_dabit"].includes(c));
}

export function evilDeal(params: Params, id: string, seeds: Seeds, cheat: Cheat, rng: Rng, kind: BundleKind = "verify", coord = 0): Dealt {
  const honest = deal(params, id, seeds, { rng, kind });
  const d = params.d;
  const v = kind === "verify";
  const corr = honest.P1.corrections!.slice();
  const i32 = new Int32Array(corr.buffer, 0, corr.length >>> 2);
  const off = { r: 0, rho: d, q0: 2 * d, q1: 3 * d, z0: 4 * d, z1: 5 * d, rOut: (v ? 6 : 4) * d };
  const tableAt = 4 * (off.rOut + 2);
  const wrapAt = tableAt + 32 * d;
  const m0 = p0Material(seeds.P0, kind, id, params, []);
  const own1 = p1Own(seeds.P1, kind, id, params);
  const rOut = [(m0.rOut[0] + i32[off.rOut]) >>> 0, (m0.rOut[1] + i32[off.rOut + 1]) >>> 0];
  let cws0 = honest.P0.cws;
  let cws1 = honest.P1.cws;
  const k = coord;
  switch (cheat) {
    case "match_everything": {
      // s = e for every interval and the wrap bits set: [x < s] ⊕ [x < s] ⊕ 1 = 1 for every x
      const alphas = v ? [rOut[0], rOut[0], rOut[1], rOut[1]] : [rOut[1], rOut[1]];
      cws0 = cws1 = dcfGen(COMPARE_BITS, alphas, m0.roots, own1.roots);
      corr[wrapAt] = (v ? 3 : 2) ^ m0.wrap;
      break;
    }
    case "threshold_minus_one": {
      const iv = intervals(params);
      const s = (rOut[0] + iv.score[0] - 1) % COMPARE_MOD, e = (rOut[0] + iv.score[1]) % COMPARE_MOD;
      const ns = (rOut[1] + iv.norm[0]) % COMPARE_MOD, ne = (rOut[1] + iv.norm[1]) % COMPARE_MOD;
      cws0 = cws1 = dcfGen(COMPARE_BITS, [s, e, ns, ne], m0.roots, own1.roots);
      corr[wrapAt] = ((s > e ? 1 : 0) | ((ns > ne ? 1 : 0) << 1)) ^ m0.wrap;
      break;
    }
    case "split_keys": {
      const other = deal(params, id, seeds, { rng, kind });
      cws0 = other.P0.cws;
      break;
    }
    case "table":
      corr[tableAt + 32 * k + 5] ^= 1 << 3;
      break;
    case "square":
      i32[off.q1 + k] += 1;
      break;
    case "product":
      i32[off.z0 + k] += 1;
      break;
    case "mask_r":
      i32[off.r + k] += 256;
      break;
    case "mask_rho":
      i32[off.rho + k] += 2;
      break;
    case "mask_out":
      i32[off.rOut + 1] += COMPARE_MOD;
      break;
    case "wrap":
      corr[wrapAt] ^= 2;
      break;
    case "and_triple":
      corr[wrapAt + 1] ^= 1;
      break;
  }
  let budget0 = honest.P0.budget, budget1 = honest.P1.budget;
  if (cheat === "budget_never_exhausted" || cheat === "budget_dabit") {
    const b0 = openBudget("P0", seeds.P0, honest.P0), b1 = openBudget("P1", seeds.P1, honest.P1);
    const bc = budget1!.corrections!.slice();
    if (cheat === "budget_dabit") bc[0] ^= 1;
    else {
      // s = e and wrap 0: [x < s] ⊕ [x < s] ⊕ 0 = 0 — "exhausted" never comes
      const s = (b0.rOut + b1.rOut) & 0xffff;
      const cws = dcfGen(BUDGET_BITS, [s, s], b0.roots, b1.roots);
      bc[8] = b0.wrap;
      budget0 = { cws };
      budget1 = { cws, corrections: bc };
    }
    if (cheat === "budget_dabit") budget1 = { cws: budget1!.cws, corrections: bc };
  }
  return { id, P0: { ...honest.P0, cws: cws0, budget: budget0 }, P1: { ...honest.P1, cws: cws1, corrections: corr, budget: budget1 } };
}

/**
 * The helper's reconstruction of a stored template (review M4): it dealt the enrolment bundle
 * `enrolBundleId`, so it knows P1's Beaver masks a^(0)_1, a^(1)_1; P1's stored share is one of them
 * per coordinate, and with P0's stored share `y0` the right branch is the one that gives an int8.
 * Returns the template, or null if no consistent one (e.g. after re-randomisation).
 */
export function helperRebuild(p: Params, s: Seeds, enrolBundleId: string, y0: Uint32Array): Int8Array | null {
  const own = p1Own(s.P1, "enrol", enrolBundleId, p);
  const out = new Int8Array(p.d);
  for (let k = 0; k < p.d; k++) {
    const c = [(y0[k] + own.a0[k]) | 0, (y0[k] + own.a1[k]) | 0].filter((v) => v >= -128 && v <= 127);
    if (c.length !== 1) return null;
    out[k] = c[0];
  }
  return out;
}
