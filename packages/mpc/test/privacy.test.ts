/**
 * Privacy sanity: what the parties open is statistically independent of the inputs. For two very
 * different inputs (a genuine pair vs. an all-127 probe against another template) the opened values of
 * every round are binned over many runs; each histogram must look uniform (χ²) and the two inputs'
 * histograms must look alike (χ² homogeneity). Shares alone must be uniform too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeParams, simulateVerify, simulateEnrol, shareInput, type Message, type OpenMsg, type LiftMsg, type CompareMsg, type AndMsg } from "../src/index.ts";
import { CTX, chiCritical, chiTwoSample, chiUniform, pair, shareProbe, shareTemplate, testSeeds } from "./_helpers.ts";
import { THRESHOLD } from "./_helpers.ts";

const d = 32;
const RUNS = 2500;
const params = makeParams({ threshold: THRESHOLD, d });

type Hists = Record<string, Uint32Array>;

function collect(label: string, x: Int8Array, y: Int8Array): Hists {
  const { rng, seeds } = testSeeds(label);
  const h: Hists = {
    m: new Uint32Array(256), c: new Uint32Array(2), epsLo: new Uint32Array(256), epsHi: new Uint32Array(256), epsOther: new Uint32Array(256),
    deltaLo: new Uint32Array(256), deltaHi: new Uint32Array(256), zScore: new Uint32Array(64), zNorm: new Uint32Array(64), and: new Uint32Array(4),
    validShare: new Uint32Array(2), matchShare: new Uint32Array(2),
  };
  const tpl = shareTemplate(y, rng);
  for (let run = 0; run < RUNS; run++) {
    const got: Partial<Record<string, Message>> = {};
    const r = simulateVerify({ params, seeds, rng, probe: shareProbe(x, rng), template: tpl, observe: (m) => { got[`${m.step}${m.from}`] = m; } });
    const l0 = got["1P0"] as LiftMsg, l1 = got["1P1"] as LiftMsg;
    const o0 = got["2P0"] as OpenMsg, o1 = got["2P1"] as OpenMsg;
    const c0 = got["3P0"] as CompareMsg, c1 = got["3P1"] as CompareMsg;
    const a0 = got["4P0"] as AndMsg, a1 = got["4P1"] as AndMsg;
    for (let k = 0; k < d; k++) {
      h.m[(l0.m[k] + l1.m[k]) & 255]++;
      const c = ((o0.tau[k >> 3] ^ o1.tau[k >> 3]) >> (k & 7)) & 1;
      h.c[c]++;
      const eps = c ? (o0.eps1[k] + o1.eps1[k]) >>> 0 : (o0.eps0[k] + o1.eps0[k]) >>> 0;
      const other = c ? (o0.eps0[k] + o1.eps0[k]) >>> 0 : (o0.eps1[k] + o1.eps1[k]) >>> 0;
      h.epsLo[eps & 255]++;
      h.epsHi[eps >>> 24]++;
      h.epsOther[other >>> 24]++;
      const delta = (o0.delta[k] + o1.delta[k]) >>> 0;
      h.deltaLo[delta & 255]++;
      h.deltaHi[delta >>> 24]++;
    }
    h.zScore[((c0.zScore + c1.zScore) % 2 ** 26) >>> 20]++;
    h.zNorm[((c0.zNorm + c1.zNorm) % 2 ** 26) >>> 20]++;
    h.and[a0.bits ^ a1.bits]++;
    h.validShare[r.P1.valid]++;
    h.matchShare[r.P1.match]++;
  }
  return h;
}

test("opened values of every round are uniform and independent of the inputs", () => {
  const { rng } = testSeeds("privacy-inputs");
  const genuine = pair(rng, d, 0.3);
  const other = pair(rng, d, 1);
  const A = collect("privacy-A", genuine.x, genuine.y);
  const B = collect("privacy-B", new Int8Array(d).fill(127), other.y);
  for (const k of Object.keys(A)) {
    const df = A[k].length - 1;
    const crit = chiCritical(df);
    assert.ok(chiUniform(A[k]) < crit, `${k} (input A) not uniform: χ²=${chiUniform(A[k]).toFixed(1)} crit=${crit.toFixed(1)}`);
    assert.ok(chiUniform(B[k]) < crit, `${k} (input B) not uniform: χ²=${chiUniform(B[k]).toFixed(1)}`);
    assert.ok(chiTwoSample(A[k], B[k]) < crit, `${k} depends on the input: χ²=${chiTwoSample(A[k], B[k]).toFixed(1)}`);
  }
});

test("sanity of the statistic: a leaking value (the unmasked probe byte) is detected", () => {
  const { rng } = testSeeds("privacy-sanity");
  const x = pair(rng, d, 1).x;
  const h = new Uint32Array(256);
  for (let run = 0; run < 200; run++) for (let k = 0; k < d; k++) h[x[k] & 255]++;
  assert.ok(chiUniform(h) > chiCritical(255));
});

test("shares alone are uniform: device byte shares, P0's expanded seed, enrolled template shares", () => {
  const { rng, seeds } = testSeeds("privacy-shares");
  const x = new Int8Array(64).fill(127);
  const s1 = new Uint32Array(256), s0 = new Uint32Array(256);
  for (let run = 0; run < 400; run++) {
    const { seed0, share1 } = shareInput(x, CTX, rng);
    for (const b of share1) s1[b]++;
    void seed0;
    const p = shareProbe(x, rng);
    for (const b of p.P0) s0[b]++;
  }
  assert.ok(chiUniform(s1) < chiCritical(255), "P1's byte share");
  assert.ok(chiUniform(s0) < chiCritical(255), "P0's expanded share");
  const tp0 = new Uint32Array(256), tp1 = new Uint32Array(256);
  const p16 = makeParams({ threshold: THRESHOLD, d: 64, normLo: 0, normHi: 2 ** 24 - 1 });
  for (let run = 0; run < 60; run++) {
    const e = simulateEnrol({ params: p16, seeds, rng, share: shareProbe(x, rng) });
    for (const v of e.P0.templateShare) tp0[v >>> 24]++;
    for (const v of e.P1.templateShare) tp1[v & 255]++;
  }
  assert.ok(chiUniform(tp0) < chiCritical(255), "P0's template share");
  assert.ok(chiUniform(tp1) < chiCritical(255), "P1's template share");
});
