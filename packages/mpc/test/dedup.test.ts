/**
 * 1:N deduplication (src/dedup.ts): the MPC match set equals the plaintext twin `dedupPlain` for random
 * galleries with planted duplicates and planted scores at the threshold and ±1, for several N and d;
 * deleted templates never match; crafted (malicious-device) probes match nothing; material is single use;
 * what a party receives is uniform whatever the probe matches (χ²).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_NORM_HI, DEFAULT_NORM_LO, MASK_BLOCK, ProtocolError, maskShare, maskShares, dealDedup, dedupBits, dedupPlain, dedupPrepare, dedupStart, jsRowStore, makeParams, newHelperGallery,
  newItemId, newPartyGallery, normPlain, openDedup, dedupGates, dedupSpotOpening, dedupSpotCheck, dedupOnEps, dedupOnZ, dedupOnAnd, dedupReveal, dedupAnyStart, dedupAnyOnAnd, quantise, simulateDedup, simulateEnrol, simulateGalleryAdd, simulateGalleryRemove,
  type DedupMsg, type DedupWorld, type Params, type Rng, type Seeds,
} from "../src/index.ts";
import { CRAFTS, craft } from "./_crafted.ts";
import { chiCritical, chiTwoSample, chiUniform, gaussians, randInt, shareProbe, shareTemplate, testSeeds, THRESHOLD } from "./_helpers.ts";

function world(params: Params, seeds: Seeds, shardRows = 97): DedupWorld {
  // a small shard size so that every test gallery spans several shards
  return {
    params, seeds,
    galleries: { P0: newPartyGallery("P0", params, 7, jsRowStore, shardRows), P1: newPartyGallery("P1", params, 7, jsRowStore, shardRows) },
    helper: newHelperGallery(params, 7, jsRowStore, shardRows),
  };
}

const valid = (p: Params, v: Int8Array) => { const n = normPlain(v); return n >= p.normLo && n <= p.normHi; };

/** A valid quantised vector near `base` (noise sigma), or null after a few tries. */
function near(p: Params, rng: Rng, base: Float64Array, sigma: number): Int8Array | null {
  for (let t = 0; t < 20; t++) {
    const noise = gaussians(rng, base.length);
    const v = quantise(base.map((b, k) => b + sigma * noise[k]));
    if (valid(p, v)) return v;
  }
  return null;
}

/**
 * A probe with a coordinate equal to 1 and a gallery: random templates, noisy copies of the probe
 * (planted duplicates), and y_A, y_A ± e_k whose scores are exactly t, t + 1, t − 1 with t = ⟨x, y_A⟩
 * the threshold. Returns the params (threshold t), the probe and the gallery (all valid).
 */
function scenario(d: number, n: number, rng: Rng): { params: Params; x: Int8Array; gallery: Int8Array[] } {
  const probe = (): { x: Int8Array; k: number; base: Float64Array } => {
    for (;;) {
      const base = gaussians(rng, d);
      const x = quantise(base);
      let k = 0;
      for (let i = 1; i < d; i++) if (Math.abs(x[i]) < Math.abs(x[k])) k = i;
      x[k] = 1;
      if (valid(makeParams({ d, threshold: 0 }), x)) return { x, k, base };
    }
  };
  for (;;) {
    const { x, k, base } = probe();
    const yA = near(makeParams({ d, threshold: 0 }), rng, base, 1.1);
    if (!yA) continue;
    let t = 0;
    for (let i = 0; i < d; i++) t += x[i] * yA[i];
    const params = makeParams({ d, threshold: t });
    const up = yA.slice(), down = yA.slice();
    up[k] += 1;
    down[k] -= 1;
    if (!valid(params, up) || !valid(params, down) || Math.abs(yA[k]) >= 127) continue;
    const gallery: Int8Array[] = [];
    while (gallery.length < n) {
      const kind = randInt(rng, 4);
      const y = kind === 0 ? near(params, rng, base, 0.3 + 2 * randInt(rng, 3)) : near(params, rng, gaussians(rng, d), 0);
      if (y) gallery.push(y);
    }
    // the three boundary templates at random positions
    for (const y of [yA, up, down]) gallery.splice(randInt(rng, gallery.length + 1), 0, y);
    return { params, x, gallery };
  }
}

function fill(w: DedupWorld, gallery: readonly Int8Array[], rng: Rng): void {
  // in runs of random length, so that runs start and end inside and across mask blocks
  for (let j = 0; j < gallery.length;) {
    const n = Math.min(gallery.length - j, 1 + randInt(rng, 300));
    simulateGalleryAdd(w, gallery.slice(j, j + n).map((y) => shareTemplate(y, rng)));
    j += n;
  }
}

for (const [d, n] of [[16, 1], [16, 61], [64, 200], [128, 450], [512, 300]] as const) {
  test(`exactness d = ${d}, N = ${n + 3}: MPC match set = plaintext, including scores at the threshold and ±1`, () => {
    const { rng, seeds } = testSeeds(`dedup-exact-${d}-${n}`);
    for (let rep = 0; rep < 3; rep++) {
      const { params, x, gallery } = scenario(d, n, rng);
      const w = world(params, seeds);
      fill(w, gallery, rng);
      const run = simulateDedup(w, shareProbe(x, rng), { rng });
      const plain = dedupPlain(params, x, gallery);
      assert.deepEqual(run.matches, plain);
      assert.equal(run.duplicate, plain.length > 0 ? 1 : 0, "the 'any match' bit");
      assert.equal(run.valid, 1);
      // the boundary: exactly t matches, t + 1 matches, t − 1 does not
      const scores = gallery.map((y) => y.reduce((s, v, i) => s + v * x[i], 0));
      assert.ok(scores.some((s, j) => s === params.threshold && plain.includes(j)));
      assert.ok(scores.some((s, j) => s === params.threshold + 1 && plain.includes(j)));
      assert.ok(scores.some((s, j) => s === params.threshold - 1 && !plain.includes(j)));
    }
  });
}

test("exactness over the whole comparison domain: scores ±normHi (x against ±x), small windows, random thresholds (half ≤ 0), a deleted slot", () => {
  const { rng, seeds } = testSeeds("dedup-domain");
  for (let rep = 0; rep < 20; rep++) {
    const d = 4;
    const normHi = 200 + randInt(rng, 4000);
    const threshold = randInt(rng, 2 * normHi + 3) - normHi - 1;
    const params = makeParams({ d, threshold, normLo: 0, normHi });
    const vec = () => { for (;;) { const v = Int8Array.from({ length: d }, () => randInt(rng, 81) - 40); if (normPlain(v) <= normHi) return v; } };
    const x = vec();
    const gallery = [x, x.map((v) => -v), ...Array.from({ length: 100 }, vec)];
    const w = world(params, seeds, 16);
    fill(w, gallery, rng);
    // a deleted slot (its row is zeroed: score 0, which a threshold ≤ 0 would accept) never matches
    const gone = 2 + randInt(rng, 100);
    simulateGalleryRemove(w, gone);
    const live: (Int8Array | null)[] = gallery.slice();
    live[gone] = null;
    const run = simulateDedup(w, shareProbe(x, rng), { rng });
    const plain = dedupPlain(params, x, live);
    assert.deepEqual(run.matches, plain, `normHi ${normHi}, threshold ${threshold}, n = ${dedupBits(params)}`);
    assert.equal(run.duplicate, plain.length > 0 ? 1 : 0);
  }
});

test("deleted templates never match, before or after more templates are added", () => {
  const { rng, seeds } = testSeeds("dedup-delete");
  const { params, x, gallery } = scenario(64, 120, rng);
  const w = world(params, seeds);
  fill(w, gallery, rng);
  const before = dedupPlain(params, x, gallery);
  assert.ok(before.length >= 3);
  const live: (Int8Array | null)[] = gallery.slice();
  for (const j of before.slice(0, 2)) {
    simulateGalleryRemove(w, j);
    live[j] = null;
  }
  let run = simulateDedup(w, shareProbe(x, rng), { rng });
  assert.deepEqual(run.matches, dedupPlain(params, x, live));
  for (const j of before.slice(0, 2)) assert.ok(!run.matches.includes(j));
  // the same template enrolled again gets a new slot (and a new mask) and matches there
  const again = simulateGalleryAdd(w, [shareTemplate(gallery[before[0]], rng)]);
  live.push(gallery[before[0]]);
  run = simulateDedup(w, shareProbe(x, rng), { rng });
  assert.deepEqual(run.matches, dedupPlain(params, x, live));
  assert.ok(run.matches.includes(again) && !run.matches.includes(before[0]));
});

test("malicious probes (the crafted vectors of the 1:1 suite) match nothing, even against their own template", () => {
  const { rng, seeds } = testSeeds("dedup-malicious");
  const d = 128;
  const params = makeParams({ d, threshold: THRESHOLD });
  assert.equal(params.normLo, DEFAULT_NORM_LO);
  assert.equal(params.normHi, DEFAULT_NORM_HI);
  const gallery: Int8Array[] = [];
  while (gallery.length < 40) { const y = near(params, rng, gaussians(rng, d), 0); if (y) gallery.push(y); }
  const w = world(params, seeds);
  fill(w, gallery, rng);
  for (const kind of CRAFTS) {
    for (let rep = 0; rep < 2; rep++) {
      const x = craft(kind, gallery[randInt(rng, gallery.length)], params, rng);
      assert.ok(!valid(params, x), `${kind}: the crafted vector must be invalid in plaintext`);
      const run = simulateDedup(w, shareProbe(x, rng), { rng });
      assert.equal(run.valid, 0, kind);
      assert.deepEqual(run.matches, [], kind);
      assert.equal(run.duplicate, 0, kind);
    }
  }
  // and the honest template itself as probe matches (the gallery works)
  assert.ok(simulateDedup(w, shareProbe(gallery[3], rng), { rng }).matches.includes(3));
});

test("per-query material is single use and bound to the gallery (epoch, at most its slots) it was dealt for", () => {
  const { rng, seeds } = testSeeds("dedup-single-use");
  const { params, x, gallery } = scenario(16, 10, rng);
  const w = world(params, seeds);
  fill(w, gallery, rng);
  const dealt = dealDedup(w.helper, seeds, newItemId(rng), rng);
  const v = simulateEnrol({ params, seeds, rng, share: shareProbe(x, rng) });
  const mat = openDedup("P0", seeds.P0, params, dealt.P0);
  const input = { role: "P0" as const, gallery: w.galleries.P0, material: mat };
  const prepared = dedupPrepare(input);
  assert.throws(() => dedupPrepare(input), (e: unknown) => e instanceof ProtocolError && e.code === "ITEM_REUSED");
  assert.ok(dedupStart(prepared, v.P0.templateShare, v.P0.valid), "a query covers the slots it was dealt for; slots added since are not in it");
  // material for more slots than the gallery holds, or for another epoch, is refused
  const bigger = world(params, seeds);
  fill(bigger, [...gallery, gallery[0]], rng);
  const over = dealDedup(bigger.helper, seeds, newItemId(rng), rng);
  assert.throws(() => dedupPrepare({ ...input, material: openDedup("P0", seeds.P0, params, over.P0) }), (e: unknown) => e instanceof ProtocolError && e.code === "BUNDLE_MISMATCH");
  const other = { ...dealt.P0, epoch: 8 };
  assert.throws(() => dedupPrepare({ ...input, material: openDedup("P0", seeds.P0, params, other) }), (e: unknown) => e instanceof ProtocolError && e.code === "BUNDLE_MISMATCH");
  assert.throws(() => openDedup("P1", seeds.P1, params, dealt.P0), (e: unknown) => e instanceof ProtocolError && e.code === "WRONG_ROLE");
});

test("privacy: what the parties open (ε, ẑ, the AND openings, the 'any' tree's openings) is uniform and the same whether the probe matches many slots or none", () => {
  const { rng, seeds } = testSeeds("dedup-privacy");
  const d = 16;
  const params = makeParams({ d, threshold: THRESHOLD });
  const base = gaussians(rng, d);
  // gallery: 32 near-duplicates of one face, 32 others; probe A is that face (≈ 32 matches), probe B another (none)
  const gallery: Int8Array[] = [];
  while (gallery.length < 32) { const y = near(params, rng, base, 0.15); if (y) gallery.push(y); }
  while (gallery.length < 64) { const y = near(params, rng, gaussians(rng, d), 0); if (y) gallery.push(y); }
  const dup = gallery[0];
  const w = world(params, seeds);
  fill(w, gallery, rng);
  let probeB: Int8Array;
  do probeB = near(params, rng, gaussians(rng, d), 0)!; while (!probeB || dedupPlain(params, probeB, gallery).length > 0);
  const bins = () => ({ eps: new Float64Array(16), z: new Float64Array(16), and: new Float64Array(16) });
  const collect = (x: Int8Array) => {
    const h = bins();
    let matched = 0;
    let last: DedupMsg | undefined;
    for (let q = 0; q < 120; q++) {
      const run = simulateDedup(w, shareProbe(x, rng), {
        rng,
        // what a party learns is the opened value: its own share with the peer's (P0's message comes first)
        observe: (m) => {
          if (m.from === "P0") { last = m; return; }
          const p = last;
          if ("eps" in m && p && "eps" in p) { const o = p.eps; m.eps.forEach((v, k) => h.eps[((v + o[k]) >>> 28) & 15]++); }
          else if ("z" in m && p && "z" in p) { const o = p.z; m.z.forEach((v, j) => h.z[(((v + o[j]) & 0x3ffff) >>> 14) & 15]++); } // top 4 of 18 bits
          else if ("de" in m && p && "de" in p) { const o = p.de; m.de.forEach((v, i) => h.and[(v ^ o[i]) & 15]++); }
        },
      });
      matched += run.matches.length;
    }
    return { h, matched };
  };
  const A = collect(dup), B = collect(probeB);
  assert.ok(A.matched >= 120 * 25 && B.matched === 0, `${A.matched} / ${B.matched}`);
  const crit = chiCritical(15);
  for (const k of ["eps", "z", "and"] as const) {
    assert.ok(chiUniform(A.h[k]) < crit, `${k} (matching probe) not uniform: χ² = ${chiUniform(A.h[k]).toFixed(1)}`);
    assert.ok(chiUniform(B.h[k]) < crit, `${k} (non-matching probe) not uniform: χ² = ${chiUniform(B.h[k]).toFixed(1)}`);
    assert.ok(chiTwoSample(A.h[k], B.h[k]) < crit, `${k} depends on the probe: χ² = ${chiTwoSample(A.h[k], B.h[k]).toFixed(1)}`);
  }
  // the test has power: the unmasked differences s_j − threshold mod 2^18 (what ẑ would be with r = 0) fail it
  const leak = new Float64Array(16);
  for (let q = 0; q < 120; q++) for (const y of gallery) leak[((dup.reduce((s, v, k) => s + v * y[k], 0) - params.threshold) >>> 14) & 15]++;
  assert.ok(chiUniform(leak) > crit);
});

test("mask shares: a run of slots equals slot by slot, across mask blocks; parties and epochs get independent masks", () => {
  const { seeds } = testSeeds("dedup-masks");
  const d = 8, first = MASK_BLOCK - 3, n = MASK_BLOCK + 7;
  const run = maskShares(seeds.P0, "P0", 2, first, n, d);
  for (let j = 0; j < n; j++) assert.deepEqual(run.subarray(j * d, (j + 1) * d), maskShare(seeds.P0, "P0", 2, first + j, d));
  const rows = new Set<string>();
  for (const [seed, role, epoch] of [[seeds.P0, "P0", 2], [seeds.P1, "P1", 2], [seeds.P0, "P0", 3]] as const)
    for (let j = 0; j < 2 * MASK_BLOCK; j++) rows.add(maskShare(seed, role, epoch, j, d).join(","));
  assert.equal(rows.size, 6 * MASK_BLOCK);
});

test("an empty gallery answers the empty set (the probe is still validated)", () => {
  const { rng, seeds } = testSeeds("dedup-empty");
  const { params, x } = scenario(16, 1, rng);
  const run = simulateDedup(world(params, seeds), shareProbe(x, rng), { rng });
  assert.deepEqual(run.matches, []);
  assert.equal(run.valid, 1);
});

test("a query dealt over the first k slots (the gallery grew since) matches and says 'duplicate' only within them", () => {
  const { rng, seeds } = testSeeds("dedup-prefix");
  const { params, x, gallery } = scenario(32, 60, rng);
  const plain = dedupPlain(params, x, gallery);
  assert.ok(plain.length > 0);
  const w = world(params, seeds);
  const k = plain[0]; // the first match is just outside the query
  fill(w, gallery, rng);
  const dealt = dealDedup(w.helper, seeds, newItemId(rng), rng, k);
  const v = simulateEnrol({ params, seeds, rng, share: shareProbe(x, rng) });
  const st: Record<string, any> = {}, out: Record<string, any> = {};
  for (const role of ["P0", "P1"] as const) {
    const r = dedupStart(dedupPrepare({ role, gallery: w.galleries[role], material: openDedup(role, seeds[role], params, dealt[role]) }), v[role].templateShare, v[role].valid);
    st[role] = r.state;
    out[role] = r.send;
  }
  const match: Record<string, Uint32Array> = {};
  while (out.P0) {
    const inbox = { P0: out.P1, P1: out.P0 };
    for (const role of ["P0", "P1"] as const) {
      const s = st[role];
      const r: any = s.phase === "dedup:opened" ? dedupOnEps(s, inbox[role]) : s.phase === "dedup:masked" ? dedupOnZ(s, inbox[role]) : dedupOnAnd(s, inbox[role]);
      st[role] = r.state;
      out[role] = r.send;
      if (r.match) match[role] = r.match;
    }
  }
  assert.deepEqual(dedupReveal(match.P0, match.P1, k), []);
  // the "any" bit over the k slots
  const mats = { P0: openDedup("P0", seeds.P0, params, dealt.P0), P1: openDedup("P1", seeds.P1, params, dealt.P1) };
  let s0 = dedupAnyStart("P0", mats.P0, match.P0), s1 = dedupAnyStart("P1", mats.P1, match.P1);
  for (;;) {
    const r0 = dedupAnyOnAnd(s0.state, s1.send), r1 = dedupAnyOnAnd(s1.state, s0.send);
    if ("duplicate" in r0 && "duplicate" in r1) {
      assert.equal(r0.duplicate ^ r1.duplicate, 0);
      break;
    }
    s0 = r0 as typeof s0;
    s1 = r1 as typeof s1;
  }
  // and dealt over all slots, it is found
  assert.equal(simulateDedup(w, shareProbe(x, rng), { rng }).duplicate, 1);
});

test("spot-check of a dealt query: honest material passes; a helper that shifts one c_j, one r_j, one bit share or one triple (comparison or 'any') is caught", async () => {
  const { rng, seeds } = testSeeds("dedup-spot");
  const { params, gallery } = scenario(32, 80, rng);
  const w = world(params, seeds);
  fill(w, gallery, rng);
  simulateGalleryRemove(w, 5); // removed slots are skipped, not flagged
  const count = w.galleries.P0.count, n = dedupBits(params), W = Math.ceil(count / 32);
  const G = dedupGates(params).reduce((s, g) => s + g, 0);
  const check = (tamper?: (corr: Uint32Array) => void) => {
    const dealt = dealDedup(w.helper, seeds, newItemId(rng), rng);
    tamper?.(dealt.P1.corrections!);
    const m0 = openDedup("P0", seeds.P0, params, dealt.P0), m1 = openDedup("P1", seeds.P1, params, dealt.P1);
    const opening = dedupSpotOpening(w.galleries.P0, m0, new Uint32Array(m1.a.buffer, m1.a.byteOffset, params.d));
    return dedupSpotCheck(w.galleries.P1, m1, opening);
  };
  assert.deepEqual(check(), []);
  for (let rep = 0; rep < 3; rep++) {
    const j = randInt(rng, count);
    assert.deepEqual(check((c) => void (c[j === 5 ? 6 : j] += 1 + randInt(rng, 1000))), ["c"], "c_j shifted");
    assert.deepEqual(check((c) => void (c[count + j] ^= 1)), ["r"], "r_j changed (its bit shares not)");
    assert.deepEqual(check((c) => void (c[2 * count + randInt(rng, n * W)] ^= 1 << randInt(rng, 32))).sort(), ["r"], "a bit share of r flipped");
    assert.deepEqual(check((c) => void (c[2 * count + n * W + randInt(rng, G * W)] ^= 1 << randInt(rng, 32))), ["triples"]);
    assert.deepEqual(check((c) => void (c[c.length - 1 - randInt(rng, 5)] ^= 1)), ["any-triples"]);
  }
  // the checked material is spent: it cannot serve a query afterwards
  const dealt = dealDedup(w.helper, seeds, newItemId(rng), rng);
  const m0 = openDedup("P0", seeds.P0, params, dealt.P0), m1 = openDedup("P1", seeds.P1, params, dealt.P1);
  dedupSpotCheck(w.galleries.P1, m1, dedupSpotOpening(w.galleries.P0, m0, new Uint32Array(params.d)));
  assert.throws(() => dedupPrepare({ role: "P0", gallery: w.galleries.P0, material: m0 }), (e: unknown) => e instanceof ProtocolError && e.code === "ITEM_REUSED");
  assert.throws(() => dedupPrepare({ role: "P1", gallery: w.galleries.P1, material: m1 }), (e: unknown) => e instanceof ProtocolError && e.code === "ITEM_REUSED");
});
