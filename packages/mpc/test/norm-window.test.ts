/**
 * The default norm window (issue 12 item 10, review L7): tight around the honest squared norms, so a
 * device cannot inflate its vector to raise its score by more than the stated bound, while honest
 * vectors of every supported dimension stay valid.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_NORM_HI, DEFAULT_NORM_LO, makeParams, Q, quantise, seededRng, validatePlain } from "../src/index.ts";
import { gaussians, THRESHOLD } from "./_helpers.ts";

test("20,000 honest quantised unit vectors of d = 128, 512 and 1024 are all valid under the default window", () => {
  const rng = seededRng("norm-window-honest");
  for (const d of [128, 512, 1024]) {
    const params = makeParams({ d, threshold: THRESHOLD });
    let lo = Infinity;
    let hi = 0;
    for (let k = 0; k < (d === 512 ? 10_000 : 5_000); k++) {
      const q = quantise(gaussians(rng, d));
      const r = validatePlain(params, q);
      assert.equal(r.valid, 1, `d=${d}: honest norm ${r.norm} outside [${DEFAULT_NORM_LO}, ${DEFAULT_NORM_HI}]`);
      lo = Math.min(lo, r.norm);
      hi = Math.max(hi, r.norm);
    }
    // the window keeps a margin around what honest vectors reach
    assert.ok(lo - DEFAULT_NORM_LO > 100 && DEFAULT_NORM_HI - hi > 100, `d=${d}: ${lo}–${hi}`);
  }
});

test("the bound: inflating a vector gains at most 0.66 % of the score; a vector inflated by 2 % (valid under Q²·[0.95, 1.05]) is invalid", () => {
  const gain = Math.sqrt(DEFAULT_NORM_HI / (Q * Q)) - 1;
  assert.ok(gain < 0.0066, String(gain));
  assert.ok(DEFAULT_NORM_LO >= 0.988 * Q * Q && DEFAULT_NORM_HI <= 1.0132 * Q * Q);
  const rng = seededRng("norm-window-inflated");
  const params = makeParams({ d: 512, threshold: THRESHOLD });
  let refused = 0;
  for (let k = 0; k < 200; k++) {
    const v = gaussians(rng, 512);
    const honest = quantise(v);
    // the same direction at 1.02 × the length (squared norm ≈ 1.04 Q²)
    const inflated = Int8Array.from(honest, (x, i) => Math.max(-127, Math.min(127, Math.round((v[i] / Math.hypot(...v)) * Q * 1.02))));
    assert.equal(validatePlain(params, honest).valid, 1);
    const n = validatePlain(params, inflated);
    assert.ok(n.norm <= 68_813, "the old window would have accepted it");
    if (n.valid === 0) refused++;
  }
  assert.equal(refused, 200);
});
