/**
 * The daily failure budget counted inside MPC (budget.ts): correlations of the budget section, exactness
 * against the plaintext twin `budgetPlain` (the counter crosses the budget exactly at the budget-th
 * failure, successes never count), reconciliation after a run one party applied alone, privacy of every
 * opened value, single use, and the message and bundle bytes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  budgetOnConvert, budgetPlain, budgetStart, checkOpenedPair, decodeBudgetMessage, decodeOpening, encodeMessage, encodeOpening, openItem, decodeBundle, decodeMessage, deal, encodeBudgetMessage, encodeBundle,
  freshCounter, makeParams, MAX_BUDGET, newItemId, openBudget, ProtocolError, quantise, reconcile, simulateBudget, simulateVerify,
  type Bundle, type BudgetMessage, type CounterState, type Rng,
} from "../src/index.ts";
import { dcfEval, dcfGen } from "../src/dcf.ts";
import { chiCritical, chiUniform, pair, randInt, shareProbe, shareTemplate, testSeeds } from "./_helpers.ts";

const N = 2 ** 16;
const { rng, seeds } = testSeeds("budget");
const params = makeParams({ d: 8, threshold: 0 });
const code = (c: string) => (e: unknown) => e instanceof ProtocolError && e.code === c;
const bit = (r: Rng): 0 | 1 => (r(1)[0] & 1) as 0 | 1;

function dealt(): { P0: Bundle; P1: Bundle } {
  const b = deal(params, newItemId(rng), seeds, { rng });
  return { P0: decodeBundle(encodeBundle(b.P0)), P1: decodeBundle(encodeBundle(b.P1)) };
}

/** XOR shares of a match bit. */
function shares(match: 0 | 1): { P0: 0 | 1; P1: 0 | 1 } {
  const s = bit(rng);
  return { P0: s, P1: (s ^ match) as 0 | 1 };
}

/** Additive shares of a counter value with consistent bookkeeping. */
function counterOf(count: number, runs: number): { P0: CounterState; P1: CounterState } {
  const s = randInt(rng, N);
  return { P0: { runs, share: s, prevRuns: runs, prevShare: s }, P1: { runs, share: (count - s + N) % N, prevRuns: runs, prevShare: (count - s + N) % N } };
}

test("budget section: β is one bit shared both ways, and the DCF keys compare with s = r_out, e = r_out + 2^15", () => {
  for (let t = 0; t < 200; t++) {
    const b = dealt();
    const m0 = openBudget("P0", seeds.P0, b.P0), m1 = openBudget("P1", seeds.P1, b.P1);
    const beta = m0.bx ^ m1.bx;
    assert.equal((m0.ba + m1.ba) % N, beta, "additive and XOR shares of the same bit");
    const rOut = (m0.rOut + m1.rOut) % N;
    const s = rOut, e = (rOut + N / 2) % N;
    assert.equal(m0.wrap ^ m1.wrap, s > e ? 1 : 0);
    const xs = [0, N - 1, s, e, (s + N - 1) % N, (e + 1) % N, randInt(rng, N)];
    const keys = xs.flatMap(() => [0, 1]);
    const pts = xs.flatMap((x) => [x, x]);
    const o0 = dcfEval(0, m0.roots, m0.cws, keys, pts), o1 = dcfEval(1, m1.roots, m1.cws, keys, pts);
    xs.forEach((x, i) => {
      assert.equal(o0[2 * i] ^ o1[2 * i], x < s ? 1 : 0);
      assert.equal(o0[2 * i + 1] ^ o1[2 * i + 1], x < e ? 1 : 0);
    });
  }
});

test("exactness: a day of random decisions — the MPC counter equals the plaintext twin and `exhausted` first holds at the budget-th failure", () => {
  for (const budget of [1, 2, 5, 17]) {
    let counter = { P0: freshCounter(), P1: freshCounter() };
    let plain = 0;
    let failures = 0;
    for (let v = 1; v <= 3 * budget + 3; v++) {
      const match = (randInt(rng, 3) === 0 ? 0 : 1) as 0 | 1;
      const r = simulateBudget({ seeds, rng, params, budget, day: 20_429, matchShares: shares(match), counter, verifications: { P0: v, P1: v } });
      const p = budgetPlain(plain, match, budget);
      failures += 1 - match;
      assert.equal(r.count, p.count, `budget ${budget}, verification ${v}`);
      assert.equal(r.count, failures, "successes never count");
      assert.equal(r.exhausted, p.exhausted);
      assert.equal(r.exhausted, failures >= budget ? 1 : 0, "exhausted exactly from the budget-th failure on");
      assert.equal(r.P0.counter.runs, v);
      assert.deepEqual(r.P0.counter.runs, r.P1.counter.runs);
      assert.equal(r.traffic.rounds, 3);
      counter = { P0: r.P0.counter, P1: r.P1.counter };
      plain = p.count;
    }
  }
});

test("exactness over the whole counter range: exhausted ⇔ C + f ≥ B for C < B + 2^15 − 1, B ∈ {1, 5, 2^14}", () => {
  for (const budget of [1, 5, MAX_BUDGET]) {
    const points = [0, 1, budget - 2, budget - 1, budget, budget + 1, 2 * budget, budget + N / 2 - 2];
    for (let i = 0; i < 12; i++) points.push(randInt(rng, budget + N / 2 - 1));
    for (const C of points.filter((c) => c >= 0)) {
      for (const match of [0, 1] as const) {
        const r = simulateBudget({ seeds, rng, params, budget, day: 1, matchShares: shares(match), counter: counterOf(C, 4), verifications: { P0: 5, P1: 5 } });
        const p = budgetPlain(C, match, budget);
        assert.equal(r.count, p.count % N);
        assert.equal(r.exhausted, p.exhausted, `B=${budget} C=${C} match=${match}`);
      }
    }
  }
});

test("the real verification's match shares feed the budget: a genuine user's successes never exhaust it, an impostor's failures do", () => {
  const p = makeParams({ d: 64, threshold: 4000 });
  const genuine = pair(rng, 64, 0.1);
  const template = shareTemplate(genuine.y, rng);
  const impostor = quantise(Float64Array.from({ length: 64 }, () => Math.sin(randInt(rng, 1000))));
  const budget = 3;
  let counter = { P0: freshCounter(), P1: freshCounter() };
  let v = 0;
  const run = (x: Int8Array) => {
    const bundles = deal(p, newItemId(rng), seeds, { rng });
    const out = simulateVerify({ params: p, seeds, rng, bundles, probe: shareProbe(x, rng), template });
    const b = simulateBudget({ seeds, rng, bundles, budget, day: 7, matchShares: { P0: out.P0.match, P1: out.P1.match }, counter, verifications: { P0: ++v, P1: v } });
    counter = { P0: b.P0.counter, P1: b.P1.counter };
    return { match: out.match, exhausted: b.exhausted, count: b.count };
  };
  for (let i = 0; i < 10; i++) assert.deepEqual(run(genuine.x), { match: 1, exhausted: 0, count: 0 });
  const fails = [run(impostor), run(impostor), run(impostor)];
  assert.deepEqual(fails.map((f) => [f.match, f.exhausted, f.count]), [[0, 0, 1], [0, 0, 2], [0, 1, 3]]);
});

test("reconciliation: a run applied at one party only is rolled back and counted as a failure (fail closed)", () => {
  const budget = 4;
  // two failures counted in step
  let counter = { P0: freshCounter(), P1: freshCounter() };
  for (let v = 1; v <= 2; v++) {
    const r = simulateBudget({ seeds, rng, params, budget, day: 3, matchShares: shares(0), counter, verifications: { P0: v, P1: v } });
    counter = { P0: r.P0.counter, P1: r.P1.counter };
  }
  // verification 3 (a success): only P1 stored its new counter (P0 crashed after round 1)
  const r3 = simulateBudget({ seeds, rng, params, budget, day: 3, matchShares: shares(1), counter, verifications: { P0: 3, P1: 3 } });
  assert.equal(r3.count, 2);
  for (const ahead of ["P0", "P1"] as const) {
    const c = { ...counter, [ahead]: r3[ahead].counter };
    // verification 4, a success: verification 3 was never accounted for by both → counted as a failure
    const r4 = simulateBudget({ seeds, rng, params, budget, day: 3, matchShares: shares(1), counter: c, verifications: { P0: 4, P1: 4 } });
    assert.equal(r4.count, budgetPlain(2, 1, budget, 1).count);
    assert.equal(r4.count, 3);
    assert.equal(r4.exhausted, 0);
    assert.equal(r4.P0.counter.runs, 4);
    // verification 5 answered by P0 only (P1 never stored its answer), verification 6 counts it: P1
    // holds no share of decision 5, so neither 5 (a success) nor the unaccounted one before is
    // counted from shares — both count as failures
    const r6 = simulateBudget({ seeds, rng, params, budget, day: 3, matchShares: shares(1), counter: { P0: r4.P0.counter, P1: r4.P1.counter }, verifications: { P0: 6, P1: 5 } });
    assert.equal(r6.count, 5);
    assert.equal(r6.exhausted, 1);
  }
  // lost verifications are capped at the budget (the comparison stays exact)
  assert.deepEqual(reconcile({ runs: 0, prevRuns: 0, verifications: 1000 }, { runs: 0, prevRuns: 0, verifications: 3 }, 5), { base: 0, lost: 5, convert: false, runs: 1000 });
  // a party whose last run also covered lost verifications rolls back over all of them
  assert.deepEqual(reconcile({ runs: 5, prevRuns: 3, verifications: 6 }, { runs: 3, prevRuns: 2, verifications: 6 }, 5), { base: 3, lost: 2, convert: true, runs: 6 });
  // the first verification of the day counts nothing; nothing answered since the last run counts nothing
  assert.deepEqual(reconcile({ runs: 0, prevRuns: 0, verifications: 0 }, { runs: 0, prevRuns: 0, verifications: 0 }, 5), { base: 0, lost: 0, convert: false, runs: 0 });
  assert.deepEqual(reconcile({ runs: 4, prevRuns: 3, verifications: 4 }, { runs: 4, prevRuns: 3, verifications: 4 }, 5), { base: 4, lost: 0, convert: false, runs: 4 });
  // states more than one run apart cannot be reconciled
  assert.throws(() => reconcile({ runs: 5, prevRuns: 4, verifications: 6 }, { runs: 3, prevRuns: 2, verifications: 6 }, 5), code("COUNTER_MISMATCH"));
  assert.throws(() => reconcile({ runs: 5, prevRuns: 4, verifications: 4 }, { runs: 5, prevRuns: 4, verifications: 4 }, 5), code("COUNTER_MISMATCH"));
});

test("privacy: every value a party receives (c, ẑ, the peer's bit) is uniform whatever the decision; only `exhausted` is learnt", () => {
  const T = 1200;
  for (const match of [0, 1] as const) {
    const cCounts = [new Array(2).fill(0), new Array(2).fill(0)];
    const zCounts = [new Array(16).fill(0), new Array(16).fill(0)];
    const revealCounts = [new Array(2).fill(0), new Array(2).fill(0)];
    for (let t = 0; t < T; t++) {
      // counter far below the budget: `exhausted` is 0 throughout, so the reveal must be uniform as well
      const seen: BudgetMessage[] = [];
      simulateBudget({ seeds, rng, params, budget: 100, day: 9, matchShares: shares(match), counter: counterOf(7, 3), verifications: { P0: 4, P1: 4 }, observe: (m) => seen.push(m) });
      for (const m of seen) {
        const who = m.from === "P0" ? 0 : 1;
        if (m.step === 1) cCounts[who][m.c]++;
        if (m.step === 2) zCounts[who][m.z >>> 12]++;
        if (m.step === 3) revealCounts[who][m.bit]++;
      }
    }
    for (const who of [0, 1]) {
      assert.ok(chiUniform(cCounts[who]) < chiCritical(1), `c of P${who}, match ${match}: ${cCounts[who]}`);
      assert.ok(chiUniform(zCounts[who]) < chiCritical(15), `ẑ of P${who}, match ${match}`);
      assert.ok(chiUniform(revealCounts[who]) < chiCritical(1), `reveal share of P${who}, match ${match}`);
    }
  }
});

test("sanity of the privacy statistic: the unmasked failure bit would be detected", () => {
  const counts = [0, 0];
  for (let t = 0; t < 1200; t++) counts[randInt(rng, 4) === 0 ? 1 : 0]++;
  assert.ok(chiUniform(counts) > chiCritical(1));
});

test("single use and agreement: a material starts one run; another budget, day or bundle at the peer is refused", () => {
  const b = dealt();
  const m0 = openBudget("P0", seeds.P0, b.P0);
  const input = { role: "P0" as const, session: "s-b", budget: 5, day: 1, matchShare: 0 as const, counter: freshCounter(), verifications: 1, material: m0 };
  budgetStart(input);
  assert.throws(() => budgetStart(input), code("ITEM_REUSED"));
  assert.throws(() => openBudget("P1", seeds.P1, b.P0), code("WRONG_ROLE"));
  assert.throws(() => openBudget("P0", seeds.P0, { ...b.P0, budget: undefined }), code("BAD_BUNDLE"));
  assert.throws(() => budgetStart({ ...input, material: openBudget("P0", seeds.P0, b.P0), budget: 0 }), RangeError);
  assert.throws(() => budgetStart({ ...input, material: openBudget("P0", seeds.P0, b.P0), budget: MAX_BUDGET + 1 }), RangeError);
  assert.throws(() => budgetStart({ ...input, material: openBudget("P1", seeds.P1, b.P1) }), code("WRONG_ROLE"));
  const base = { seeds, rng, params, day: 2, matchShares: shares(0), counter: { P0: freshCounter(), P1: freshCounter() }, verifications: { P0: 1, P1: 1 } };
  assert.equal(simulateBudget({ ...base, budget: 5 }).exhausted, 0);
  const tampered = (f: (m: BudgetMessage) => BudgetMessage) => () => {
    const bundles = dealt();
    const start = (role: "P0" | "P1") => budgetStart({ role, session: "x-b", budget: 5, day: 2, matchShare: 0, counter: freshCounter(), verifications: 1, material: openBudget(role, seeds[role], bundles[role]) });
    const s0 = start("P0"), s1 = start("P1");
    budgetOnConvert(s1.state, f(s0.send) as never);
  };
  assert.throws(tampered((m) => ({ ...m, budget: 6 }) as BudgetMessage), code("PARAMS_MISMATCH"));
  assert.throws(tampered((m) => ({ ...m, day: 3 }) as BudgetMessage), code("PARAMS_MISMATCH"));
  assert.throws(tampered((m) => ({ ...m, bundleId: newItemId(rng) }) as BudgetMessage), code("BUNDLE_MISMATCH"));
  assert.throws(tampered((m) => ({ ...m, session: "y-b" }) as BudgetMessage), code("WRONG_SESSION"));
  assert.throws(tampered((m) => ({ ...m, runs: 7, prevRuns: 7 }) as BudgetMessage), code("COUNTER_MISMATCH"));
});

test("wire: budget messages round-trip, are bound to session/step/sender, and never decode as verify messages (nor the reverse)", () => {
  const seen: BudgetMessage[] = [];
  simulateBudget({ seeds, rng, params, budget: 3, day: 20_000, matchShares: shares(0), counter: counterOf(2, 1), verifications: { P0: 2, P1: 2 }, wire: false, observe: (m) => seen.push(m) });
  assert.equal(seen.length, 6);
  for (const m of seen) {
    const bytes = encodeBudgetMessage(m);
    assert.deepEqual(decodeBudgetMessage(bytes, { session: m.session, step: m.step, from: m.from }), m);
    assert.throws(() => decodeBudgetMessage(bytes, { session: "other-b", step: m.step, from: m.from }), code("WRONG_SESSION"));
    assert.throws(() => decodeBudgetMessage(bytes, { session: m.session, step: m.step + 1, from: m.from }), code("WRONG_STEP"));
    assert.throws(() => decodeBudgetMessage(bytes, { session: m.session, step: m.step, from: m.from === "P0" ? "P1" : "P0" }), code("WRONG_SENDER"));
    assert.throws(() => decodeBudgetMessage(bytes.subarray(0, bytes.length - 1), { session: m.session, step: m.step, from: m.from }), code("LENGTH_MISMATCH"));
    assert.throws(() => decodeMessage(bytes, { protocol: "verify", session: m.session, step: m.step, seq: m.seq, from: m.from, d: 8 }), code("WRONG_PROTOCOL"));
  }
  const v = simulateVerifyBytes();
  assert.throws(() => decodeBudgetMessage(v.bytes, { session: v.session, step: 1, from: "P0" }), code("WRONG_PROTOCOL"));
  // P0 sends 3 headers + 37 + 4 + 1 body bytes
  const h = (12 + seen[0].session.length + 3) & ~3;
  assert.equal(seen.filter((m) => m.from === "P0").reduce((n, m) => n + encodeBudgetMessage(m).length, 0), 3 * h + 42);
});

function simulateVerifyBytes(): { bytes: Uint8Array; session: string } {
  let bytes: Uint8Array = new Uint8Array(0);
  const session = "v-1";
  const x = new Int8Array(8).fill(10);
  const observe = (m: Parameters<typeof encodeMessage>[0]) => {
    if (m.step === 1 && m.from === "P0") bytes = encodeMessage(m);
  };
  simulateVerify({ params, seeds, rng, session, probe: shareProbe(x, rng), template: shareTemplate(x, rng), wire: false, observe });
  return { bytes, session };
}

test("bundle bytes keep the budget section: a decoded verify bundle opens to the same budget material, which survives wiping the bytes", () => {
  const b = deal(params, newItemId(rng), seeds, { rng });
  for (const role of ["P0", "P1"] as const) {
    const a = openBudget(role, seeds[role], b[role]);
    const bytes = encodeBundle(b[role]);
    const c = openBudget(role, seeds[role], decodeBundle(bytes));
    bytes.fill(0); // the party wipes the pool item when the verification ends: the budget material is a copy
    assert.deepEqual({ ...a, cws: a.cws.map((w) => ({ ...w })) }, { ...c, cws: c.cws.map((w) => ({ ...w })) });
  }
  const e = deal(params, newItemId(rng), seeds, { rng, kind: "enrol" });
  assert.equal(e.P0.budget, undefined);
  assert.throws(() => openBudget("P0", seeds.P0, e.P0), code("BAD_BUNDLE"));
});

test("spot-check of the budget section (spotcheck.ts): honest items pass; a helper that never exhausts the budget, or deals mismatched daBits, is caught", () => {
  const open = (b: { P0: Bundle; P1: Bundle }) => ({ m0: openItem("P0", seeds.P0, b.P0), m1: openItem("P1", seeds.P1, b.P1) });
  const failures = (b: { P0: Bundle; P1: Bundle }) => {
    const { m0, m1 } = open(b);
    return checkOpenedPair(m0, decodeOpening(encodeOpening(m1))).failures;
  };
  for (let t = 0; t < 20; t++) assert.deepEqual(failures(dealt()), []);
  // 1. empty interval s = e and wrap 0: `exhausted` is never 1 — the oracle is unlimited again
  const honest = dealt();
  const m0 = openBudget("P0", seeds.P0, honest.P0), m1 = openBudget("P1", seeds.P1, honest.P1);
  const rOut = (m0.rOut + m1.rOut) % N;
  const cws = dcfGen(16, [rOut, rOut], m0.roots, m1.roots);
  const sc = honest.P1.budget!.corrections!.slice();
  sc[8] = m0.wrap; // wrap bit 0
  const shifted = { P0: { ...honest.P0, budget: { cws } }, P1: { ...honest.P1, budget: { cws, corrections: sc } } };
  const r = simulateBudget({ seeds, rng, bundles: shifted, budget: 5, day: 1, matchShares: shares(0), counter: counterOf(50, 60), verifications: { P0: 61, P1: 61 } });
  assert.equal(r.exhausted, 0, "the cheat works: 51 failures, budget 5, not exhausted");
  assert.ok(failures(shifted).includes("budget_threshold"));
  // 2. a daBit whose additive sharing is of 0 while the XOR sharing is of 1: failures are not counted
  let caught = false;
  for (let t = 0; t < 8 && !caught; t++) {
    const bad = dealt();
    const b0 = openBudget("P0", seeds.P0, bad.P0), b1 = openBudget("P1", seeds.P1, bad.P1);
    if ((b0.bx ^ b1.bx) === 0) continue;
    const corr = bad.P1.budget!.corrections!.slice();
    new DataView(corr.buffer).setUint32(0, (N - b0.ba) % N, true); // ⟦β⟧_1 = −⟦β⟧_0: additive β = 0
    assert.ok(failures({ P0: bad.P0, P1: { ...bad.P1, budget: { ...bad.P1.budget!, corrections: corr } } }).includes("budget_dabit"));
    caught = true;
  }
  assert.ok(caught);
  // 3. a flipped wrap bit, 4. different correction words to the two parties
  const w = dealt();
  const wc = w.P1.budget!.corrections!.slice();
  wc[8] ^= 1;
  assert.ok(failures({ P0: w.P0, P1: { ...w.P1, budget: { ...w.P1.budget!, corrections: wc } } }).includes("budget_wrap"));
  assert.ok(failures({ P0: w.P0, P1: { ...w.P1, budget: { ...w.P1.budget!, cws: dealt().P1.budget!.cws } } }).includes("budget_keys"));
});
