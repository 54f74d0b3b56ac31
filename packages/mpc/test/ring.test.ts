import { test } from "node:test";
import assert from "node:assert/strict";
import { dotPlain, quantise, reconstructBytes, seededRng, Q, shareInput, expandSeedShare } from "../src/index.ts";
import { reconstructRing, ring, shareRing } from "../src/ring.ts";
import { CTX, gaussians, uniforms } from "./_helpers.ts";

const rng = seededRng("ring-laws");
const el = () => new Uint32Array(rng(4).buffer)[0];

test("ring laws hold on random elements (commutativity, associativity, distributivity, neg)", () => {
  for (let i = 0; i < 5000; i++) {
    const a = el(), b = el(), c = el();
    assert.equal(ring.add(a, b), ring.add(b, a));
    assert.equal(ring.mul(a, b), ring.mul(b, a));
    assert.equal(ring.add(ring.add(a, b), c), ring.add(a, ring.add(b, c)));
    assert.equal(ring.mul(ring.mul(a, b), c), ring.mul(a, ring.mul(b, c)));
    assert.equal(ring.mul(a, ring.add(b, c)), ring.add(ring.mul(a, b), ring.mul(a, c)));
    assert.equal(ring.add(a, ring.neg(a)), 0);
    assert.equal(ring.sub(a, b), ring.add(a, ring.neg(b)));
    // agrees with BigInt arithmetic mod 2^32
    assert.equal(ring.mul(a, b), Number((BigInt(a) * BigInt(b)) % 2n ** 32n));
  }
});

test("ring.from and ring.signed round-trip integers in [-2^31, 2^31)", () => {
  for (const n of [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 123456, -98765]) assert.equal(ring.signed(ring.from(n)), n);
  assert.equal(ring.from(2 ** 32 + 5), 5);
  assert.throws(() => ring.from(0.5), RangeError);
});

test("additive sharing: share-then-reconstruct and linearity", () => {
  const d = 64;
  for (let t = 0; t < 200; t++) {
    const x = new Uint32Array(rng(4 * d).buffer), y = new Uint32Array(rng(4 * d).buffer);
    const [x0, x1] = shareRing(x, rng(4 * d));
    const [y0, y1] = shareRing(y, rng(4 * d));
    assert.deepEqual(reconstructRing(x0, x1), x);
    assert.deepEqual(reconstructRing(ring.addVec(x0, y0), ring.addVec(x1, y1)), ring.addVec(x, y));
    // public scalar multiple
    const k = el();
    assert.deepEqual(reconstructRing(x0.map((v) => ring.mul(v, k)), x1.map((v) => ring.mul(v, k))), x.map((v) => ring.mul(v, k)));
  }
});

test("byte sharing of int8 vectors reconstructs exactly and the range holds by construction", () => {
  for (let t = 0; t < 200; t++) {
    const x = new Int8Array(rng(96).buffer);
    const { seed0, share1 } = shareInput(x, CTX, rng);
    assert.equal(seed0.length, 16);
    assert.deepEqual(reconstructBytes(expandSeedShare(seed0, CTX, 96), share1), x);
  }
  // any pair of byte shares reconstructs to an int8
  const r = reconstructBytes(rng(1000), rng(1000));
  assert.ok(r.every((v) => v >= -128 && v <= 127));
});

test("quantise: L2-normalised, round(x*Q), clamped to ±127, squared norm near Q^2", () => {
  assert.equal(Q, 256);
  for (const d of [128, 512, 1024]) {
    for (let t = 0; t < 20; t++) {
      const q = quantise(gaussians(rng, d));
      const n = dotPlain(q, q);
      assert.ok(n > 0.97 * Q * Q && n < 1.03 * Q * Q, `norm ${n}`);
    }
  }
  assert.deepEqual(Array.from(quantise([3, 4])), [127, 127]);
  assert.deepEqual(Array.from(quantise([1, 0, 0])), [127, 0, 0]);
  assert.deepEqual(Array.from(quantise([0.001, -1])), [0, -127]);
  // half away from zero: 0.5/256 → 1, −0.5/256 → −1
  const h = 0.5 / 256;
  const v = [h, -h, Math.sqrt(1 - 2 * h * h)];
  const q = quantise(v);
  assert.equal(q[0], 1);
  assert.equal(q[1], -1);
  assert.throws(() => quantise([0, 0]), RangeError);
  assert.throws(() => quantise([]), RangeError);
  assert.throws(() => quantise([1, NaN]), RangeError);
  assert.ok(uniforms(rng, 3).every((u) => u > 0 && u < 1));
});

test("dotPlain is the exact integer dot product", () => {
  const x = Int8Array.from([127, -128, 5]);
  const y = Int8Array.from([-128, -128, 3]);
  assert.equal(dotPlain(x, y), -16256 + 16384 + 15);
  assert.throws(() => dotPlain(x, new Int8Array(2)), RangeError);
});
