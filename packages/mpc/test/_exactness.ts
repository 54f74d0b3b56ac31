/** The exactness suite shared by exactness-*.slow.test.ts: random valid pairs, MPC decision = verifyPlain. */
import assert from "node:assert/strict";
import { makeParams, dotPlain, simulateVerify, verifyPlain, type Params } from "../src/index.ts";
import { enrol, pair, randInt, shareProbe, shareTemplate, testSeeds, uniforms } from "./_helpers.ts";
import { THRESHOLD } from "./_helpers.ts";

export function exactness(d: number, count: number): void {
  const { rng, seeds } = testSeeds(`exactness-${d}`);
  let mismatches = 0;
  const seen = { match: 0, noMatch: 0, invalid: 0, atThreshold: 0 };
  for (let t = 0; t < count; t++) {
    const sigma = 0.3 + 3.7 * uniforms(rng, 1)[0];
    const { x, y } = pair(rng, d, sigma);
    const s = dotPlain(x, y), n = dotPlain(x, x);
    const mode = t % 10;
    let params: Params;
    if (mode < 3) params = makeParams({ threshold: THRESHOLD, d });
    else if (mode < 7) params = makeParams({ d, threshold: s + randInt(rng, 5) - 2 });
    else if (mode < 9) params = makeParams({ d, threshold: randInt(rng, 110_000) - 40_000 });
    else {
      const lo = n + randInt(rng, 5) - 2;
      params = makeParams({ d, threshold: s + randInt(rng, 3) - 1, normLo: lo, normHi: Math.max(lo, n + randInt(rng, 5) - 2) });
    }
    const template = t % 100 === 0 ? (() => { const e = enrol(makeParams({ threshold: THRESHOLD, d }), y, seeds, rng); return { P0: e.P0.templateShare, P1: e.P1.templateShare }; })() : shareTemplate(y, rng);
    const r = simulateVerify({ params, seeds, rng, probe: shareProbe(x, rng), template, wire: t % 10 === 0, session: `ex-${t}` });
    const p = verifyPlain(params, x, y);
    if (r.valid !== p.valid || r.match !== p.match || r.P0.valid !== (r.valid ^ r.P1.valid)) mismatches++;
    if (!p.valid) seen.invalid++;
    else if (p.match) seen.match++;
    else seen.noMatch++;
    if (s === params.threshold) seen.atThreshold++;
  }
  assert.equal(mismatches, 0, `${mismatches} of ${count} decisions differ from verifyPlain`);
  // the sample must exercise every outcome, including the boundary
  assert.ok(seen.match > count / 10 && seen.noMatch > count / 10 && seen.invalid > 0 && seen.atThreshold > count / 20, JSON.stringify(seen));
}
