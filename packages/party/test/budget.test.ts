/**
 * The daily failure budget at the real parties (issue 12 item 2, decision 010 §4), both @privface/party
 * services with the full MPC in one process (devstack inproc-parties). The attacker is a malicious
 * gateway: it holds the gateway's signing key, signs anything and sends the parties chosen probes for
 * one template (the decision-boundary attack of the 2026-12-06 review needs ≈ 1,950 failures). Each
 * party counts failures inside MPC — the budget run rides in the template's next verification and
 * counts the one before — and refuses the template once `budget` failures are reached, without either
 * party seeing a single decision.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MODEL, PARTIES, type PartyName } from "@privface/contracts";
import { newId, randomFace, reconstruct, sameFace, enrolBodies, finishBodies, verifyBodies } from "@privface/devstack/gateway-sim";
import { startInProcParties, type InProcParties } from "@privface/devstack/inproc-parties";
import { budgetDay } from "../src/service.ts";

const MV = MODEL.version;
const BUDGET = 3;
let h: InProcParties;
before(async () => {
  h = await startInProcParties({ failureBudget: BUDGET });
  await h.fill(80);
});
after(() => h.close());

async function enrolled(x = randomFace(MODEL.dim)) {
  const templateId = newId();
  const session = newId();
  const e = await h.both("/v1/enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MV, x }));
  assert.equal(reconstruct(e.P0.body.resultShare, e.P1.body.resultShare).valid, 1);
  await h.both("/v1/commit", await finishBodies(h.keys, "commit", { session, templateId, modelVersion: MV }));
  return { templateId, x };
}

/** The malicious gateway's probe: signed like any verification, sent to both parties. */
async function probe(templateId: string, x: Int8Array) {
  return h.both("/v1/verify", await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x }));
}

const today = () => budgetDay(Date.now() + h.clock.offset);

async function metric(p: PartyName, name: string): Promise<string> {
  const m = await h.call(p, "/metrics");
  return String(m.body).split("\n").filter((l) => l.startsWith(name)).join("\n");
}

describe("daily failure budget at the real parties (malicious gateway)", () => {
  it("a malicious gateway gets at most `budget` failing answers per template per day; then BOTH parties refuse, each on its own", async () => {
    const { templateId } = await enrolled();
    let answered = 0;
    for (let i = 0; i < 8; i++) {
      const r = await probe(templateId, randomFace(MODEL.dim));
      if (r.P0.status === 200 && r.P1.status === 200) {
        answered++;
        assert.equal(reconstruct(r.P0.body.resultShare, r.P1.body.resultShare).match, 0);
      } else {
        assert.deepEqual([r.P0.body.error.code, r.P1.body.error.code], ["BUDGET_EXHAUSTED", "BUDGET_EXHAUSTED"]);
      }
    }
    assert.equal(answered, BUDGET, "oracle answers per template per day");
    // each party refuses by itself, without the other being asked (no waiting for a peer that never comes)
    for (const p of PARTIES) {
      const b = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: randomFace(MODEL.dim) });
      const t0 = Date.now();
      const r = await h.call(p, "/v1/verify", b[p]);
      assert.equal(r.status, 429);
      assert.equal(r.body.error.code, "BUDGET_EXHAUSTED");
      assert.ok(Date.now() - t0 < 1_000, "refused at once");
      assert.equal((await h.stores[p].budget(templateId, today())).exhausted, true);
    }
    // the refusal holds until the UTC day ends: the record is per (template, day)
    for (const p of PARTIES) assert.equal((await h.stores[p].budget(templateId, today() + 1)).exhausted, false);
    // refusals are audited at each party and counted in its metrics
    for (const p of PARTIES) {
      assert.ok(h.audit[p].some((e) => e.op === "verify" && e.templateId === templateId && e.outcome === "refused" && e.code === "BUDGET_EXHAUSTED"));
      assert.ok(h.audit[p].some((e) => e.op === "budget" && e.templateId === templateId && e.outcome === "exhausted"));
      assert.match(await metric(p, "privface_party_budget_refusals_total"), /privface_party_budget_refusals_total\{party="P[01]"\} [1-9]/);
      assert.match(await metric(p, "privface_party_budget_runs_total"), /outcome="exhausted"/);
    }
  });

  it("a genuine user's successes never exhaust it (nor do failures below the budget)", async () => {
    const { templateId, x } = await enrolled();
    const results: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await probe(templateId, i === 3 || i === 7 ? randomFace(MODEL.dim) : sameFace(x));
      assert.equal(r.P0.status, 200, JSON.stringify(r.P0.body));
      results.push(reconstruct(r.P0.body.resultShare, r.P1.body.resultShare).match);
    }
    assert.deepEqual(results, [1, 1, 1, 0, 1, 1, 1, 0, 1, 1]);
    for (const p of PARTIES) {
      const rec = await h.stores[p].budget(templateId, today());
      // 10 answered, 9 counted: the 10th is counted by the template's next verification
      assert.deepEqual([rec.runs, rec.verifications, rec.exhausted], [9, 10, false]);
    }
  });

  it("neither party's state, audit or answers tell a success from a failure", async () => {
    const genuine = await enrolled();
    const impostor = await enrolled();
    for (let i = 0; i < 2; i++) {
      await probe(genuine.templateId, sameFace(genuine.x));
      await probe(impostor.templateId, randomFace(MODEL.dim));
    }
    for (const p of PARTIES) {
      const a = await h.stores[p].budget(genuine.templateId, today());
      const b = await h.stores[p].budget(impostor.templateId, today());
      // public bookkeeping is the same; the counter share is a uniform share mod 2^16 either way
      assert.deepEqual([a.runs, a.verifications, a.exhausted], [b.runs, b.verifications, b.exhausted]);
      const trail = (tid: string) => h.audit[p].filter((e) => e.templateId === tid && e.op !== "commit" && e.op !== "enrol").map((e) => [e.op, e.outcome, e.code ?? null]);
      assert.deepEqual(trail(genuine.templateId), trail(impostor.templateId));
      assert.ok(!h.audit[p].some((e) => /match|fail|success/i.test(JSON.stringify(e))), "no decision in the audit log");
    }
  });

  it("a verification one party answered and the other never recorded counts as a failure, whatever its decision (fail closed)", async () => {
    const { templateId, x } = await enrolled();
    const genuine = async () => {
      const r = await probe(templateId, sameFace(x));
      return r.P0.status === 200 && r.P1.status === 200 ? reconstruct(r.P0.body.resultShare, r.P1.body.resultShare).match : r.P0.body.error.code;
    };
    assert.equal(await genuine(), 1);
    // P1 answers a verification whose answer P0 never stored (P0 crashed after round 4): P1's record
    // moves on by one answer, P0's does not
    const p1Answered = async () => {
      const rec = await h.stores.P1.budget(templateId, today());
      await h.stores.P1.finishVerify(templateId, today(), { runs: rec.verifications, share: rec.share, prevRuns: rec.runs, prevShare: rec.share }, 1);
    };
    // the genuine user never fails, yet each unrecorded answer and the one before it (whose share P1
    // no longer holds) count as failures: 2 + 2 reach the budget of 3
    await p1Answered();
    assert.equal(await genuine(), 1);
    await p1Answered();
    assert.equal(await genuine(), "BUDGET_EXHAUSTED");
    for (const p of PARTIES) assert.equal((await h.stores[p].budget(templateId, today())).exhausted, true);
  });
});
