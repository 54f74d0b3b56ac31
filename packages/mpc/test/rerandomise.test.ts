import { test } from "node:test";
import assert from "node:assert/strict";
import { deal, epochOffset, makeParams, newItemId, reshare, simulateEnrol, simulateVerify, verifyPlain } from "../src/index.ts";
import { p1Own } from "../src/bundle.ts";
import { helperRebuild } from "../src/evil-dealer.ts";
import { pair, shareProbe, testSeeds, THRESHOLD } from "./_helpers.ts";

const { rng, seeds } = testSeeds("rerandomise");
const params = makeParams({ d: 128, threshold: THRESHOLD });
const pairSeed = rng(32); // P0 and P1 only: the helper never sees it
const slot = { templateId: "tpl-0001", modelVersion: "m1" };

function enrolKnown(x: Int8Array) {
  const id = newItemId(rng);
  const bundles = deal(params, id, seeds, { rng, kind: "enrol" });
  const r = simulateEnrol({ params, seeds, rng, share: shareProbe(x, rng), bundles });
  assert.equal(r.valid, 1);
  return { id, y0: r.P0.templateShare, y1: r.P1.templateShare };
}

test("re-randomisation: the helper's seeds + P0's stored share rebuild the template before, not after", () => {
  for (let t = 0; t < 5; t++) {
    const { x } = pair(rng, params.d, 0.1);
    const { id, y0 } = enrolKnown(x);
    // today: P0's database share + the helper's seeds = the exact template
    assert.deepEqual(helperRebuild(params, seeds, id, y0), x, "attack works on the enrolment output");
    // stored after re-randomisation (epoch 1, and later epochs): nothing consistent comes out
    for (const epoch of [1, 2, 17]) {
      const stored = reshare("P0", pairSeed, slot, y0, 0, epoch);
      assert.equal(helperRebuild(params, seeds, id, stored), null, `epoch ${epoch}`);
      // not even partially: a coordinate has an int8 candidate with probability ≈ 2^-23
      const own = p1Own(seeds.P1, "enrol", id, params);
      let hits = 0;
      for (let k = 0; k < params.d; k++) for (const a of [own.a0[k], own.a1[k]]) if (Math.abs((stored[k] + a) | 0) <= 128) hits++;
      assert.equal(hits, 0);
    }
  }
});

test("re-randomisation: the sum of the shares is unchanged at every epoch, and shares of mixed epochs verify once brought to a common epoch", () => {
  const { x, y } = pair(rng, params.d, 0.1);
  const { y0, y1 } = enrolKnown(y);
  const { valid, match } = verifyPlain(params, x, y);
  const want = { valid, match };
  for (const [e0, e1] of [[1, 1], [2, 2], [5, 2], [0, 3], [1, 0]]) {
    const s0 = reshare("P0", pairSeed, slot, y0, 0, e0), s1 = reshare("P1", pairSeed, slot, y1, 0, e1);
    if (e0 === e1) for (let k = 0; k < params.d; k++) assert.equal((s0[k] + s1[k]) | 0, (y0[k] + y1[k]) | 0);
    // what each party does at a verification: its own stored share, moved to epoch 0 in memory
    const template = { P0: reshare("P0", pairSeed, slot, s0, e0, 0), P1: reshare("P1", pairSeed, slot, s1, e1, 0) };
    const r = simulateVerify({ params, seeds, rng, probe: shareProbe(x, rng), template });
    assert.deepEqual({ valid: r.valid, match: r.match }, want, `epochs ${e0}/${e1}`);
  }
  // a desynchronised pair used as stored (no common epoch) no longer sums to the template
  const s0 = reshare("P0", pairSeed, slot, y0, 0, 2), s1 = reshare("P1", pairSeed, slot, y1, 0, 1);
  let same = 0;
  for (let k = 0; k < params.d; k++) if (((s0[k] + s1[k]) | 0) === ((y0[k] + y1[k]) | 0)) same++;
  assert.equal(same, 0);
});

test("re-randomisation: offsets compose, differ per template, version and seed, and refuse bad arguments", () => {
  const y = new Uint32Array(rng(4 * 16).buffer);
  assert.deepEqual(epochOffset(pairSeed, slot, 0, 16), new Uint32Array(16));
  assert.deepEqual(reshare("P0", pairSeed, slot, reshare("P0", pairSeed, slot, y, 0, 3), 3, 7), reshare("P0", pairSeed, slot, y, 0, 7));
  assert.deepEqual(reshare("P1", pairSeed, slot, reshare("P1", pairSeed, slot, y, 2, 9), 9, 2), y);
  const z = epochOffset(pairSeed, slot, 1, 16);
  assert.notDeepEqual(epochOffset(pairSeed, { ...slot, templateId: "tpl-0002" }, 1, 16), z);
  assert.notDeepEqual(epochOffset(pairSeed, { ...slot, modelVersion: "m2" }, 1, 16), z);
  assert.notDeepEqual(epochOffset(rng(32), slot, 1, 16), z);
  assert.notDeepEqual(epochOffset(pairSeed, slot, 2, 16), z);
  assert.throws(() => reshare("P2" as never, pairSeed, slot, y, 0, 1), RangeError);
  assert.throws(() => reshare("P0", pairSeed.subarray(1), slot, y, 0, 1), RangeError);
  assert.throws(() => reshare("P0", pairSeed, slot, y, -1, 1), RangeError);
  assert.throws(() => reshare("P0", pairSeed, slot, y, 0, 2 ** 32), RangeError);
  assert.throws(() => reshare("P0", pairSeed, slot, new Int32Array(4) as never, 0, 1), TypeError);
});
