import { test } from "node:test";
import assert from "node:assert/strict";
import {
  deal, openBundle, newItemId, encodeBundle, decodeBundle, makeParams, ProtocolError, type Material,
} from "../src/index.ts";
import { COMPARE_MOD, intervals } from "../src/bundle.ts";
import { bundleBytes } from "../src/bundle-wire.ts";
import { dcfEval } from "../src/dcf.ts";
import { randInt, testSeeds } from "./_helpers.ts";
import { THRESHOLD } from "./_helpers.ts";

const { rng, seeds } = testSeeds("deal");
const params = makeParams({ d: 64, threshold: 1000 });
const code = (c: string) => (e: unknown) => e instanceof ProtocolError && e.code === c;

function both(kind: "verify" | "enrol"): [Material, Material] {
  const b = deal(params, newItemId(rng), seeds, { rng, kind });
  return [openBundle("P0", seeds.P0, decodeBundle(encodeBundle(b.P0))), openBundle("P1", seeds.P1, decodeBundle(encodeBundle(b.P1)))];
}

for (const kind of ["verify", "enrol"] as const) {
  test(`${kind} bundle: the parties' material reconstructs to the promised correlations`, () => {
    for (let t = 0; t < 20; t++) {
      const [m0, m1] = both(kind);
      for (let k = 0; k < params.d; k++) {
        const r = (m0.r[k] + m1.r[k]) >>> 0;
        const rho = (m0.rho[k] + m1.rho[k]) >>> 0;
        assert.ok(r < 256 && rho < 2);
        assert.equal((m0.r[k] + m1.r[k]) & 255, r, "byte shares of r");
        for (let c = 0; c < 256; c++) {
          const bit = ((m0.table[32 * k + (c >> 3)] ^ m1.table[32 * k + (c >> 3)]) >> (c & 7)) & 1;
          assert.equal(bit, (c < r ? 1 : 0) ^ rho);
        }
        const a0 = (m0.a0[k] + m1.a0[k]) >>> 0, a1 = (m0.a1[k] + m1.a1[k]) >>> 0;
        assert.equal((m0.q0[k] + m1.q0[k]) >>> 0, Math.imul(a0, a0) >>> 0);
        assert.equal((m0.q1[k] + m1.q1[k]) >>> 0, Math.imul(a1, a1) >>> 0);
        if (kind === "verify") {
          const b = (m0.b[k] + m1.b[k]) >>> 0;
          assert.equal((m0.z0[k] + m1.z0[k]) >>> 0, Math.imul(a0, b) >>> 0);
          assert.equal((m0.z1[k] + m1.z1[k]) >>> 0, Math.imul(a1, b) >>> 0);
        }
      }
      // comparison material: DCF outputs ⊕ wrap bit = [ẑ − rOut mod N ∈ [A, B)]
      const iv = intervals(params);
      const which = kind === "verify" ? [["score", 0, 0], ["norm", 1, 2]] as const : [["norm", 1, 0]] as const;
      for (const [name, maskIdx, key] of which) {
        const rOut = (m0.rOut[maskIdx] + m1.rOut[maskIdx]) >>> 0;
        assert.ok(rOut < COMPARE_MOD);
        const [A, B] = iv[name];
        const pts = [A - 1, A, A + 1, B - 1, B, 0, COMPARE_MOD - 1, randInt(rng, COMPARE_MOD)].filter((v) => v >= 0 && v < COMPARE_MOD);
        for (const v of pts) {
          const z = (v + rOut) % COMPARE_MOD;
          const o0 = dcfEval(0, m0.roots, m0.cws, [key, key + 1], [z, z]);
          const o1 = dcfEval(1, m1.roots, m1.cws, [key, key + 1], [z, z]);
          const bitIdx = name === "score" ? 0 : 1;
          const got = o0[0] ^ o0[1] ^ o1[0] ^ o1[1] ^ ((m0.wrap >> bitIdx) & 1) ^ ((m1.wrap >> bitIdx) & 1);
          assert.equal(got, v >= A && v < B ? 1 : 0, `${name} v=${v}`);
        }
      }
      if (kind === "verify") {
        const a = (m0.and ^ m1.and) & 1, b = ((m0.and ^ m1.and) >> 1) & 1, c = ((m0.and ^ m1.and) >> 2) & 1;
        assert.equal(c, a & b);
      }
    }
  });
}

test("bundle sizes: P0 gets only DCF correction words, P1 corrections + words (d = 512: ≈ 31 KB in all); verify adds the budget section", () => {
  const p = makeParams({ threshold: THRESHOLD, d: 512 });
  const b = deal(p, newItemId(rng), seeds, { rng });
  assert.equal(encodeBundle(b.P0).length, bundleBytes("verify", "P0", 512));
  assert.equal(encodeBundle(b.P1).length, bundleBytes("verify", "P1", 512));
  const total = bundleBytes("verify", "P0", 512) + bundleBytes("verify", "P1", 512);
  assert.ok(total <= 128 * 1024, `helper bytes ${total}`);
  // budget section: 2 DCF keys at n = 16 (164 B each), P1 also 9 B of corrections
  assert.equal(bundleBytes("verify", "P0", 512), 40 + 4 * 328 + 2 * 164);
  assert.equal(bundleBytes("verify", "P1", 512) - bundleBytes("verify", "P0", 512), 56 * 512 + 10 + 9);
  assert.equal(bundleBytes("enrol", "P0", 512), 40 + 2 * 328);
});

test("dealing is deterministic in (seeds, itemId, rng) and bundles of different ids differ", () => {
  const id = newItemId(rng);
  const a = deal(params, id, seeds, { rng: testSeeds("x").rng });
  const b = deal(params, id, seeds, { rng: testSeeds("x").rng });
  assert.deepEqual(encodeBundle(a.P1), encodeBundle(b.P1));
  const c = deal(params, newItemId(rng), seeds, { rng: testSeeds("x").rng });
  assert.notDeepEqual(openBundle("P0", seeds.P0, c.P0).a0, openBundle("P0", seeds.P0, a.P0).a0);
});

test("bundle errors: wrong role, bad bytes, bad arguments", () => {
  const b = deal(params, newItemId(rng), seeds, { rng });
  assert.throws(() => openBundle("P1", seeds.P1, b.P0), code("WRONG_ROLE"));
  const bytes = encodeBundle(b.P1);
  assert.throws(() => decodeBundle(bytes.subarray(0, bytes.length - 1)), code("LENGTH_MISMATCH"));
  const bad = bytes.slice();
  bad[0] = 0;
  assert.throws(() => decodeBundle(bad), code("BAD_BUNDLE"));
  const v2 = bytes.slice();
  v2[3] = 2;
  assert.throws(() => decodeBundle(v2), code("BAD_VERSION"));
  assert.throws(() => deal(params, "not-hex", seeds, { rng }), RangeError);
  assert.throws(() => deal(params, newItemId(rng), { P0: new Uint8Array(16), P1: seeds.P1 }, { rng }), RangeError);
  assert.throws(() => deal({ ...params, d: 0 }, newItemId(rng), seeds, { rng }), RangeError);
  assert.throws(() => deal(params, newItemId(rng), seeds, { kind: "other" as never }), RangeError);
});
