/** Catalogue of edge cases: the MPC decision equals the plaintext twin, both parties agree on the rounds. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  deal, newItemId, openBundle, makeParams, verifyPlain, validatePlain, dotPlain, simulateVerify, simulateEnrol,
  verifyStart, verifyOnLift, verifyOnOpen, verifyDiscard, enrolStart, ProtocolError, verifyRounds, enrolRounds, simulateVerifyMany,
  type Params, type VerifyOpened,
} from "../src/index.ts";
import { messageBytes } from "../src/wire.ts";
import { enrol, pair, shareProbe, shareTemplate, testSeeds, verify } from "./_helpers.ts";
import { THRESHOLD } from "./_helpers.ts";

const { rng, seeds } = testSeeds("protocol");
const code = (c: string) => (e: unknown) => e instanceof ProtocolError && e.code === c;
const fill = (d: number, v: number) => new Int8Array(d).fill(v);

interface Case {
  name: string;
  params: Params;
  x: Int8Array;
  y: Int8Array;
  expect: { valid: 0 | 1; match: 0 | 1 };
}

function cases(): Case[] {
  const out: Case[] = [];
  const d = 128;
  const { x, y } = pair(rng, d, 0.8);
  const s = dotPlain(x, y);
  const n = dotPlain(x, x);
  const P = (o: Partial<Params>) => makeParams({ threshold: THRESHOLD, d, ...o });
  out.push({ name: "genuine (default threshold)", params: P({}), x, y, expect: { valid: 1, match: 1 } });
  out.push({ name: "score = threshold", params: P({ threshold: s }), x, y, expect: { valid: 1, match: 1 } });
  out.push({ name: "score = threshold − 1", params: P({ threshold: s + 1 }), x, y, expect: { valid: 1, match: 0 } });
  out.push({ name: "score = threshold + 1", params: P({ threshold: s - 1 }), x, y, expect: { valid: 1, match: 1 } });
  out.push({ name: "norm = normLo", params: P({ normLo: n, normHi: n + 10 }), x, y, expect: { valid: 1, match: 1 } });
  out.push({ name: "norm = normLo − 1", params: P({ normLo: n + 1, normHi: n + 10 }), x, y, expect: { valid: 0, match: 0 } });
  out.push({ name: "norm = normHi", params: P({ normLo: n - 10, normHi: n }), x, y, expect: { valid: 1, match: 1 } });
  out.push({ name: "norm = normHi + 1", params: P({ normLo: n - 10, normHi: n - 1 }), x, y, expect: { valid: 0, match: 0 } });
  out.push({ name: "normLo = normHi = norm", params: P({ normLo: n, normHi: n }), x, y, expect: { valid: 1, match: 1 } });
  const imp = pair(rng, d, 0.8);
  out.push({ name: "impostor", params: P({}), x: imp.x, y, expect: { valid: 1, match: 0 } });
  const neg = y.map((v) => -v);
  out.push({ name: "opposite vectors", params: P({}), x: neg, y, expect: { valid: 1, match: 0 } });
  out.push({ name: "opposite vectors, threshold = −norm", params: P({ threshold: -dotPlain(y, y) }), x: neg, y, expect: { valid: 1, match: 1 } });
  out.push({ name: "opposite vectors, threshold = −norm + 1", params: P({ threshold: 1 - dotPlain(y, y) }), x: neg, y, expect: { valid: 1, match: 0 } });
  out.push({ name: "zero probe", params: P({}), x: new Int8Array(d), y, expect: { valid: 0, match: 0 } });
  out.push({ name: "zero probe, normLo = 0, threshold = 0", params: P({ normLo: 0, threshold: 0 }), x: new Int8Array(d), y, expect: { valid: 1, match: 1 } });
  out.push({ name: "all-127 probe (huge score, huge norm)", params: P({}), x: fill(d, 127), y: fill(d, 127), expect: { valid: 0, match: 0 } });
  // the comparison domain's corners: d = 1024, |score| and norm up to 2^24
  const D = 1024;
  const wide = (o: Partial<Params>) => makeParams({ threshold: THRESHOLD, d: D, normLo: 0, normHi: 2 ** 24 - 1, ...o });
  out.push({ name: "max norm 2^24 (all −128) is above normHi = 2^24 − 1", params: wide({ threshold: 0 }), x: fill(D, -128), y: fill(D, -128), expect: { valid: 0, match: 0 } });
  out.push({ name: "all 127, score = threshold = 16,516,096", params: wide({ threshold: 127 * 127 * D }), x: fill(D, 127), y: fill(D, 127), expect: { valid: 1, match: 1 } });
  out.push({ name: "all 127, threshold = score + 1", params: wide({ threshold: 127 * 127 * D + 1 }), x: fill(D, 127), y: fill(D, 127), expect: { valid: 1, match: 0 } });
  out.push({ name: "most negative score −2^24 + 2^17, threshold = −2^24 + 1", params: wide({ threshold: -(2 ** 24) + 1 }), x: fill(D, 127), y: fill(D, -128), expect: { valid: 1, match: 1 } });
  out.push({ name: "most negative score, threshold = score + 1", params: wide({ threshold: -127 * 128 * D + 1 }), x: fill(D, 127), y: fill(D, -128), expect: { valid: 1, match: 0 } });
  out.push({ name: "score = norm = threshold = 2^24 − 2^14 (d = 1023, all −128)", params: makeParams({ d: 1023, normLo: 0, normHi: 2 ** 24 - 1, threshold: 2 ** 24 - 2 ** 14 }), x: fill(1023, -128), y: fill(1023, -128), expect: { valid: 1, match: 1 } });
  out.push({ name: "score = norm = 2^24 − 2^14, threshold = score + 1", params: makeParams({ d: 1023, normLo: 0, normHi: 2 ** 24 - 1, threshold: 2 ** 24 - 2 ** 14 + 1 }), x: fill(1023, -128), y: fill(1023, -128), expect: { valid: 1, match: 0 } });
  return out;
}

for (const c of cases()) {
  test(`verify: ${c.name}`, () => {
    const plain = verifyPlain(c.params, c.x, c.y);
    assert.deepEqual({ valid: plain.valid, match: plain.match }, c.expect, "the catalogue's expectation agrees with verifyPlain");
    const r = verify(c.params, c.x, shareTemplate(c.y, rng), seeds, rng);
    assert.deepEqual({ valid: r.valid, match: r.match }, c.expect);
    assert.equal(r.traffic.rounds, verifyRounds);
    assert.equal(r.traffic.sent.P0, r.traffic.sent.P1, "fixed, symmetric message sizes");
  });
}

test("enrolment: valid template enrols; its stored shares verify like the plaintext template", () => {
  const params = makeParams({ threshold: THRESHOLD, d: 256 });
  for (let t = 0; t < 10; t++) {
    const { x, y } = pair(rng, 256, t % 2 ? 0.5 : 3);
    const e = enrol(params, y, seeds, rng);
    assert.equal(e.valid, validatePlain(params, y).valid);
    assert.equal(e.valid, 1);
    assert.equal(e.traffic.rounds, enrolRounds);
    for (let k = 0; k < 256; k++) assert.equal((e.P0.templateShare[k] + e.P1.templateShare[k]) | 0, y[k]);
    const r = verify(params, x, { P0: e.P0.templateShare, P1: e.P1.templateShare }, seeds, rng);
    const p = verifyPlain(params, x, y);
    assert.deepEqual([r.valid, r.match], [p.valid, p.match]);
  }
});

test("enrolment: wildcard, scaled and out-of-norm templates do not enrol", () => {
  const d = 128;
  const params = makeParams({ threshold: THRESHOLD, d });
  const { y } = pair(rng, d, 1);
  const bad = [new Int8Array(d), fill(d, 127), fill(d, -128), y.map((v) => Math.max(-128, Math.min(127, 2 * v))), y.map((v) => Math.round(v / 2)), y.map((v, i) => (i === 0 ? 127 : v))];
  for (const t of bad) {
    assert.equal(validatePlain(params, t).valid, 0);
    assert.equal(enrol(params, t, seeds, rng).valid, 0);
  }
});

test("traffic: 4 rounds and < 16 KiB between the parties at d = 512; exact sizes", () => {
  const params = makeParams({ threshold: THRESHOLD, d: 512 });
  const { x, y } = pair(rng, 512, 1);
  const r = verify(params, x, shareTemplate(y, rng), seeds, rng);
  const session = "sim-" + "0".repeat(32);
  const perParty = [1, 2, 3, 4].reduce((s, step) => s + messageBytes("verify", step, 512, session), 0);
  assert.equal(r.traffic.sent.P0, perParty);
  assert.ok(r.traffic.sent.P0 + r.traffic.sent.P1 <= 16384, `${r.traffic.sent.P0 + r.traffic.sent.P1} bytes`);
});

test("step errors: reuse, wrong phase, wrong parameters, mismatched bundles, bad lengths", () => {
  const params = makeParams({ threshold: THRESHOLD, d: 32 });
  const { x, y } = pair(rng, 32, 1);
  const probe = shareProbe(x, rng);
  const tpl = shareTemplate(y, rng);
  const fresh = () => deal(params, newItemId(rng), seeds, { rng });
  const mat = (role: "P0" | "P1", bb = fresh()) => openBundle(role, seeds[role], bb[role]);
  const base = { role: "P0" as const, session: "s1", params, probeShare: probe.P0, templateShare: tpl.P0 };
  assert.throws(() => verifyStart({ ...base, material: mat("P0"), params: makeParams({ d: 32, threshold: 1 }) }), code("PARAMS_MISMATCH"));
  assert.throws(() => verifyStart({ ...base, material: openBundle("P0", seeds.P0, deal(params, newItemId(rng), seeds, { rng, kind: "enrol" }).P0) }), code("BUNDLE_MISMATCH"));
  assert.throws(() => verifyStart({ ...base, material: mat("P1") }), code("WRONG_ROLE"));
  assert.throws(() => verifyStart({ ...base, material: mat("P0"), probeShare: new Uint8Array(31) }), code("LENGTH_MISMATCH"));
  assert.throws(() => enrolStart({ role: "P0", session: "s1", params, share: probe.P0, material: mat("P0") }), code("BUNDLE_MISMATCH"));
  assert.throws(() => verifyStart({ ...base, material: mat("P0"), session: "bad session!" }), RangeError);
  // peers on different bundles
  const a0 = verifyStart({ ...base, material: mat("P0") });
  const a1 = verifyStart({ ...base, role: "P1", probeShare: probe.P1, templateShare: tpl.P1, material: mat("P1") });
  assert.throws(() => verifyOnLift(a0.state, a1.send), code("BUNDLE_MISMATCH"));
  // wrong phase at run time (the types forbid it at compile time)
  assert.throws(() => verifyOnOpen(a0.state as unknown as VerifyOpened, a1.send as never), code("WRONG_PHASE"));
  // a message with a wrong-length vector
  const bb = fresh();
  const s0 = verifyStart({ ...base, material: mat("P0", bb) });
  const s1 = verifyStart({ ...base, role: "P1", probeShare: probe.P1, templateShare: tpl.P1, material: mat("P1", bb) });
  assert.throws(() => verifyOnLift(s0.state, { ...s1.send, m: new Uint8Array(31) }), code("LENGTH_MISMATCH"));
  const o0 = verifyOnLift(s0.state, s1.send);
  const o1 = verifyOnLift(s1.state, s0.send);
  assert.throws(() => verifyOnOpen(o0.state, { ...o1.send, eps1: new Uint32Array(3) }), code("LENGTH_MISMATCH"));
  void simulateEnrol;
});

test("batched sessions (simulateVerifyMany, one DCF batch per party) decide exactly like single runs", () => {
  const params = makeParams({ threshold: THRESHOLD, d: 128 });
  const list = Array.from({ length: 40 }, (_, i) => {
    const { x, y } = pair(rng, 128, i % 2 ? 0.6 : 2.5);
    const probe = i % 5 === 4 ? fill(128, 127) : x;
    return { x: probe, y, opts: { params, seeds, rng, probe: shareProbe(probe, rng), template: shareTemplate(y, rng), session: `batch-${i}` } };
  });
  const res = simulateVerifyMany(list.map((l) => l.opts));
  const seen = new Set<string>();
  res.forEach((r, i) => {
    const p = verifyPlain(params, list[i].x, list[i].y);
    assert.deepEqual([r.valid, r.match], [p.valid, p.match]);
    assert.equal(r.traffic.rounds, verifyRounds);
    seen.add(`${p.valid}${p.match}`);
  });
  assert.equal(seen.size, 3, "genuine, impostor and invalid all present");
});

test("single use: a material that started a run is refused the second time (ITEM_REUSED), whatever the protocol", () => {
  const params = makeParams({ threshold: THRESHOLD, d: 32 });
  const { x, y } = pair(rng, 32, 1);
  const probe = shareProbe(x, rng);
  const tpl = shareTemplate(y, rng);
  const b = deal(params, newItemId(rng), seeds, { rng });
  const m0 = openBundle("P0", seeds.P0, b.P0);
  const input = { role: "P0" as const, session: "once-1", params, probeShare: probe.P0, templateShare: tpl.P0, material: m0 };
  const started = verifyStart(input);
  assert.throws(() => verifyStart(input), code("ITEM_REUSED"));
  // a run ended before round 4 (failure budget exhausted) wipes its material
  assert.ok(m0.a0.some((v) => v !== 0));
  verifyDiscard(started.state);
  assert.ok([m0.r, m0.a0, m0.a1, m0.b, m0.roots].every((a) => a.every((v) => v === 0)));
  assert.throws(() => verifyStart({ ...input, session: "once-2" }), code("ITEM_REUSED"));
  // a refused start claims nothing: the material still starts once
  const m1 = openBundle("P1", seeds.P1, b.P1);
  const p1 = { role: "P1" as const, session: "once-1", params, probeShare: probe.P1, templateShare: tpl.P1, material: m1 };
  assert.throws(() => verifyStart({ ...p1, probeShare: new Uint8Array(31) }), code("LENGTH_MISMATCH"));
  verifyStart(p1);
  assert.throws(() => verifyStart(p1), code("ITEM_REUSED"));
  // enrolment material likewise
  const e = deal(params, newItemId(rng), seeds, { rng, kind: "enrol" });
  const em = openBundle("P1", seeds.P1, e.P1);
  enrolStart({ role: "P1", session: "once-3", params, share: probe.P1, material: em });
  assert.throws(() => enrolStart({ role: "P1", session: "once-4", params, share: probe.P1, material: em }), code("ITEM_REUSED"));
});
