import { test } from "node:test";
import assert from "node:assert/strict";
import { dcfGen, dcfEval, dcfCwBytes, encodeDcfCw, decodeDcfCw, lessThanPlain } from "../src/dcf.ts";
import { seededRng } from "../src/index.ts";
import { randInt } from "./_helpers.ts";

const rng = seededRng("dcf");

test("DCF [x < α] is exact on the whole domain for n = 8 and 9 (every α, every x)", () => {
  for (const n of [8, 9]) {
    const N = 2 ** n;
    const alphas = Array.from({ length: N }, (_, a) => a);
    const r0 = rng(16 * N), r1 = rng(16 * N);
    const cws = dcfGen(n, alphas, r0, r1);
    for (let a = 0; a < N; a += n === 8 ? 1 : 7) {
      const xs = Array.from({ length: N }, (_, x) => x);
      const ki = xs.map(() => a);
      const b0 = dcfEval(0, r0, cws, ki, xs), b1 = dcfEval(1, r1, cws, ki, xs);
      for (let x = 0; x < N; x++) assert.equal(b0[x] ^ b1[x], lessThanPlain(x, a), `n=${n} α=${a} x=${x}`);
    }
  }
});

test("DCF at n = 26: random α and points near α, 0 and 2^26 − 1", () => {
  const n = 26, N = 2 ** n;
  const K = 50;
  const alphas = Array.from({ length: K }, (_, k) => (k === 0 ? 0 : k === 1 ? N - 1 : k === 2 ? 128 : randInt(rng, N)));
  const r0 = rng(16 * K), r1 = rng(16 * K);
  const cws = dcfGen(n, alphas, r0, r1);
  const ki: number[] = [], xs: number[] = [];
  for (let k = 0; k < K; k++) {
    for (const x of [alphas[k] - 129, alphas[k] - 128, alphas[k] - 1, alphas[k], alphas[k] + 1, alphas[k] + 127, 0, N - 1, randInt(rng, N)]) {
      if (x < 0 || x >= N) continue;
      ki.push(k);
      xs.push(x);
    }
  }
  const b0 = dcfEval(0, r0, cws, ki, xs), b1 = dcfEval(1, r1, cws, ki, xs);
  xs.forEach((x, e) => assert.equal(b0[e] ^ b1[e], lessThanPlain(x, alphas[ki[e]])));
});

test("one party's DCF output bits alone are balanced (they do not reveal [x < α])", () => {
  const n = 26;
  const K = 4000;
  const alphas = Array.from({ length: K }, () => randInt(rng, 2 ** n));
  const r0 = rng(16 * K), r1 = rng(16 * K);
  const cws = dcfGen(n, alphas, r0, r1);
  const xs = alphas.map((a) => (a > 0 ? a - 1 : a)); // all x < α except α = 0
  const b0 = dcfEval(0, r0, cws, alphas.map((_, k) => k), xs);
  const ones = b0.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(ones - K / 2) < 4.5 * Math.sqrt(K / 4), `ones=${ones}`);
});

test("DCF correction words encode/decode losslessly; 26-bit key is 328 bytes", () => {
  assert.equal(dcfCwBytes(26), 328);
  const cws = dcfGen(26, [12345678], rng(16), rng(16));
  const buf = new Uint8Array(dcfCwBytes(26) + 3);
  encodeDcfCw(cws[0], buf, 3);
  assert.deepEqual(decodeDcfCw(26, buf, 3), cws[0]);
  assert.throws(() => dcfGen(26, [2 ** 26], rng(16), rng(16)), RangeError);
  assert.throws(() => dcfGen(7, [1], rng(16), rng(16)), RangeError);
});
