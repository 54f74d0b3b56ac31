import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkOpenedPair, decodeBundle, decodeOpening, deal, encodeBundle, encodeOpening, makeParams, newItemId, ProtocolError, quantise,
  openItem, simulateEnrol, simulateVerify, spotCheckCoin, spotCheckCount, spotCheckMissProbability, spotCheckSample, type Dealt, type OpenedMaterial,
} from "../src/index.ts";
import { cheatsFor, evilDeal, EXPECTED, type Cheat } from "../src/evil-dealer.ts";
import { gaussians, pair, shareProbe, shareTemplate, testSeeds, THRESHOLD } from "./_helpers.ts";

const { rng, seeds } = testSeeds("spotcheck");
const params = makeParams({ d: 64, threshold: 1000 });

/** Each party opens its half as the party would (bytes → bundle → material) and the other decodes the opening. */
function opened(b: Dealt): { m0: OpenedMaterial; m1: OpenedMaterial } {
  const m0 = openItem("P0", seeds.P0, decodeBundle(encodeBundle(b.P0)));
  const m1 = openItem("P1", seeds.P1, decodeBundle(encodeBundle(b.P1)));
  return { m0, m1 };
}
/** What P0 checks: its own material against P1's opening (and P1 the mirror image). */
function checkBothSides(b: Dealt) {
  const { m0, m1 } = opened(b);
  const atP0 = checkOpenedPair(m0, decodeOpening(encodeOpening(m1)));
  const atP1 = checkOpenedPair(decodeOpening(encodeOpening(m0)), m1);
  assert.deepEqual(atP0, atP1, "both parties reach the same verdict");
  return atP0;
}

for (const kind of ["verify", "enrol"] as const) {
  test(`spot-check: honest ${kind} bundles pass every check`, () => {
    for (let t = 0; t < 10; t++) {
      const r = checkBothSides(deal(params, newItemId(rng), seeds, { rng, kind }));
      assert.deepEqual(r, { ok: true, failures: [] });
    }
  });

  for (const cheat of cheatsFor(kind)) {
    test(`spot-check: a helper cheating on ${kind} bundles with "${cheat}" is caught (${EXPECTED[cheat]})`, () => {
      for (const coord of [0, params.d - 1]) {
        const r = checkBothSides(evilDeal(params, newItemId(rng), seeds, cheat, rng, kind, coord));
        assert.equal(r.ok, false);
        assert.ok(r.failures.includes(EXPECTED[cheat] as never), `${cheat}: ${r.failures.join(",")}`);
      }
    });
  }
}

test("spot-check: the match-everything helper (review M4) really turns impostors and empty probes into matches, and is caught", () => {
  const p = makeParams({ d: 128, threshold: THRESHOLD });
  const { x: template } = pair(rng, p.d, 0.1);
  const impostor = quantise(gaussians(rng, p.d));
  const zero = new Int8Array(p.d);
  const tpl = shareTemplate(template, rng);
  for (const [name, probe, honestMatch] of [["impostor", impostor, 0], ["all-zero", zero, 0]] as const) {
    const honest = simulateVerify({ params: p, seeds, rng, probe: shareProbe(probe, rng), template: tpl });
    assert.equal(honest.match, honestMatch, `${name}: honest answer`);
    const evil = evilDeal(p, newItemId(rng), seeds, "match_everything", rng);
    // (the check opens copies: a protocol run wipes the material, P1's corrections in place)
    assert.ok(checkBothSides(evil).failures.includes("dcf_threshold"));
    const cheated = simulateVerify({ params: p, seeds, rng, probe: shareProbe(probe, rng), template: tpl, bundles: evil });
    assert.deepEqual({ valid: cheated.valid, match: cheated.match }, { valid: 1, match: 1 }, `${name}: the cheat works`);
  }
  // enrolment: an all-127 (wildcard) template is accepted as valid under the cheat, refused honestly
  const wild = new Int8Array(p.d).fill(127);
  const share = shareProbe(wild, rng);
  assert.equal(simulateEnrol({ params: p, seeds, rng, share }).valid, 0);
  const evil = evilDeal(p, newItemId(rng), seeds, "match_everything", rng, "enrol");
  assert.equal(simulateEnrol({ params: p, seeds, rng, share: shareProbe(wild, rng), bundles: evil }).valid, 1);
});

test("spot-check: openings round-trip and refuse malformed bytes with stable codes", () => {
  for (const kind of ["verify", "enrol"] as const) {
    const { m0, m1 } = opened(deal(params, newItemId(rng), seeds, { rng, kind }));
    for (const m of [m0, m1]) {
      const bytes = encodeOpening(m);
      assert.deepEqual(encodeOpening(decodeOpening(bytes)), bytes);
      const bad = (mutate: (b: Uint8Array) => Uint8Array, c: string) =>
        assert.throws(() => decodeOpening(mutate(bytes.slice())), (e: unknown) => e instanceof ProtocolError && e.code === c);
      bad((b) => b.subarray(0, b.length - 1), "LENGTH_MISMATCH");
      bad((b) => ((b[0] = 0), b), "BAD_MAGIC");
      bad((b) => ((b[3] = 9), b), "BAD_VERSION");
      bad((b) => ((b[4] = 7), b), "BAD_BUNDLE");
      bad((b) => ((b[6] = 3), b), "BAD_BUNDLE");
    }
    // a swapped or foreign half is a header failure, not a pass
    const other = opened(deal(params, newItemId(rng), seeds, { rng, kind }));
    assert.deepEqual(checkOpenedPair(m0, other.m1).failures, ["header"]);
    assert.deepEqual(checkOpenedPair(m1, m0).failures, ["header"]);
  }
});

test("spot-check sample: k = ⌈s·n⌉ distinct positions, fixed by both coins and the ids, changed by either coin", () => {
  const ids = Array.from({ length: 256 }, () => newItemId(rng));
  const c0 = spotCheckCoin(rng), c1 = spotCheckCoin(rng);
  const s = spotCheckSample(ids, c0, c1);
  assert.equal(s.length, 16);
  assert.equal(new Set(s).size, 16);
  assert.ok(s.every((i, j) => Number.isInteger(i) && i >= 0 && i < 256 && (j === 0 || i > s[j - 1])));
  assert.deepEqual(spotCheckSample(ids, c0, c1), s, "both parties compute the same sample");
  assert.notDeepEqual(spotCheckSample(ids, spotCheckCoin(rng), c1), s);
  assert.notDeepEqual(spotCheckSample(ids, c0, spotCheckCoin(rng)), s);
  assert.notDeepEqual(spotCheckSample([...ids.slice(1), ids[0]], c0, c1).map((i) => ids[(i + 1) % 256]), s.map((i) => ids[i]), "bound to the ids");
  assert.equal(spotCheckCount(0), 0);
  assert.equal(spotCheckCount(1), 1);
  assert.equal(spotCheckCount(17), 2);
  assert.equal(spotCheckCount(10, 1), 10);
  assert.deepEqual(spotCheckSample(ids.slice(0, 3), c0, c1, 1), [0, 1, 2]);
  assert.throws(() => spotCheckSample(ids, c0.subarray(1), c1), RangeError);
  assert.throws(() => spotCheckSample([ids[0], ids[0]], c0, c1), RangeError);
  assert.throws(() => spotCheckSample(["xyz"], c0, c1), RangeError);
  assert.throws(() => spotCheckCount(10, 0), RangeError);
  assert.throws(() => spotCheckCount(10, 1.5), RangeError);
});

test("spot-check sample: every position is equally likely (χ² over 4,000 samples)", () => {
  const ids = Array.from({ length: 64 }, () => newItemId(rng));
  const counts = new Array(64).fill(0);
  for (let t = 0; t < 4000; t++) for (const i of spotCheckSample(ids, spotCheckCoin(rng), spotCheckCoin(rng), 1 / 8)) counts[i]++;
  const e = (4000 * 8) / 64;
  const chi = counts.reduce((x, c) => x + (c - e) ** 2 / e, 0);
  assert.ok(chi < 130, `χ²(63) = ${chi.toFixed(1)}`); // p ≈ 1e-6 critical value ≈ 130
});

test("spot-check miss probability: formula C(n−m,k)/C(n,k), bounded by (1 − k/n)^m", () => {
  assert.equal(spotCheckMissProbability(256, 256, 16), 0);
  assert.equal(spotCheckMissProbability(256, 0, 16), 1);
  assert.ok(Math.abs(spotCheckMissProbability(256, 1, 16) - 240 / 256) < 1e-12);
  for (const m of [1, 5, 26, 128]) assert.ok(spotCheckMissProbability(256, m, 16) <= (1 - 16 / 256) ** m + 1e-12);
  assert.throws(() => spotCheckMissProbability(10, 11, 1), RangeError);
});

/**
 * Detection, measured: a cheating dealer deals batches of n = 64 with m = 4 bad items ("threshold
 * shifted", φ = 1/16) at random positions; each batch is spot-checked with s = 1/16 (k = 4) by two fresh
 * coins, opening and checking the sampled items exactly as the parties do. The measured miss rate must
 * agree with C(60,4)/C(64,4) = 0.7675 within 4 standard errors; a batch where every item cheats (φ = 1,
 * what "every probe matches" needs) is always caught. The measured figure is in docs/protocol.md §10.
 */
test("spot-check detection rate: measured miss rate of a cheating dealer matches the formula", () => {
  const n = 64, m = 4, fraction = 1 / 16;
  const k = spotCheckCount(n, fraction);
  const expected = spotCheckMissProbability(n, m, k);
  const batches = 25, tosses = 40;
  let missed = 0, total = 0;
  const p = makeParams({ d: 16, threshold: 1000 });
  for (let bi = 0; bi < batches; bi++) {
    const bad = new Set<number>();
    while (bad.size < m) bad.add(Math.floor((rng(1)[0] / 256) * n));
    const batch = Array.from({ length: n }, (_, i) => (bad.has(i) ? evilDeal(p, newItemId(rng), seeds, "threshold_minus_one" as Cheat, rng) : deal(p, newItemId(rng), seeds, { rng })));
    const ids = batch.map((b) => b.id);
    for (let t = 0; t < tosses; t++) {
      const sample = spotCheckSample(ids, spotCheckCoin(rng), spotCheckCoin(rng), fraction);
      const caught = sample.some((i) => !checkOpenedPair(openItem("P0", seeds.P0, batch[i].P0), decodeOpening(encodeOpening(openItem("P1", seeds.P1, batch[i].P1)))).ok);
      assert.equal(caught, sample.some((i) => bad.has(i)), "caught exactly when a bad item is sampled");
      if (!caught) missed++;
      total++;
    }
  }
  const rate = missed / total;
  const se = Math.sqrt((expected * (1 - expected)) / total);
  console.log(`spot-check n=${n} m=${m} k=${k}: measured miss rate ${rate.toFixed(4)} over ${total} checks, formula ${expected.toFixed(4)}`);
  assert.ok(Math.abs(rate - expected) < 4 * se, `measured ${rate}, formula ${expected} ± ${se}`);
  // φ = 1: every sampled item is bad
  const all = Array.from({ length: 8 }, () => evilDeal(p, newItemId(rng), seeds, "match_everything", rng));
  const sample = spotCheckSample(all.map((b) => b.id), spotCheckCoin(rng), spotCheckCoin(rng), fraction);
  assert.ok(sample.every((i) => !checkOpenedPair(openItem("P0", seeds.P0, all[i].P0), openItem("P1", seeds.P1, all[i].P1)).ok));
});
