/**
 * The gateway's flows on the fake parties (in memory): the end-to-end scenario catalogue
 * (@privface/devstack `SCENARIOS`, which integration.slow.test.ts runs on the real parties), then what
 * this setting alone shows: the answers' fields, the calls reaching both parties, operator views,
 * the audit chain and encryption at rest.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { expectationsOf, observedOf, runScenario, scenarioWorld, SCENARIOS, type ScenarioWorld } from "@privface/devstack";
import { challengeNonce } from "@privface/contracts";
import { nonceItem } from "@privface/contracts/nonce";
import { challenge, deregister, enrol, giveConsent, randomEmbedding, registerWorld, scenarioGateway, setup, verify, type Fixture, type World } from "./_setup.ts";
import { scanLog } from "./_logscan.ts";
import { itemNonceBatch } from "../src/_parties.ts";
import { exportChain, verifyChain } from "@privface/audit";

describe("scenario catalogue (fake parties)", () => {
  let f: Fixture;
  let w: ScenarioWorld;
  before(async () => {
    f = await setup("scenarios");
    w = await scenarioWorld(scenarioGateway(f));
  });
  after(async () => {
    await f.close();
    const secrets = w.identities.flatMap((p) => [p.idNumber, p.phone, p.name]);
    assert.deepEqual(scanLog(f.log.text, secrets), [], "log scanner found sensitive data");
  });

  for (const s of SCENARIOS) {
    test(s.name, async () => {
      assert.deepEqual(observedOf(await runScenario(s, w)), expectationsOf(s));
    });
  }
});

describe("P0's item nonces (decision 012)", () => {
  test("asked for as they are used: 4 when idle, then twice the use since the last batch, at most 64 — reservations that expire unused waste few items", async () => {
    assert.deepEqual([0, 1, 3, 20, 40].map(itemNonceBatch), [4, 4, 6, 40, 64]);
    const g = await setup("item-nonces");
    try {
      const gw = await registerWorld(g, ["alice"]);
      assert.equal((await giveConsent(g, gw, gw.persons.alice.personId)).status, 201);
      assert.equal((await enrol(g, gw, "alice")).body.decision, "accept");
      const asked: number[] = [];
      const P0 = g.fake.clients.P0;
      const nonces = P0.nonces.bind(P0);
      P0.nonces = async (req) => {
        if (req.items) asked.push(req.count);
        return nonces(req);
      };
      for (let i = 0; i < 10; i++) assert.equal((await challenge(g, gw, gw.persons.alice.personId, "verify")).status, 201);
      assert.equal(asked[0], 4, JSON.stringify(asked));
      assert.ok(asked.length >= 2 && asked.every((n, i) => n <= 64 && (i === 0 || n > asked[i - 1])), JSON.stringify(asked));
      assert.ok(asked.reduce((a, b) => a + b, 0) <= 3 * 10, `items reserved for 10 challenges: ${JSON.stringify(asked)}`);
    } finally {
      await g.close();
    }
  });
});

describe("gateway flows (fake parties)", () => {
  let f: Fixture;
  let w: World;
  before(async () => {
    f = await setup("flows");
    w = await registerWorld(f);
    assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
  });
  after(async () => {
    await f.close();
    const secrets = Object.values(w.persons).flatMap((p) => [p.idNumber, p.phone, p.name]);
    assert.deepEqual(scanLog(f.log.text, secrets), [], "log scanner found sensitive data");
  });

  test("a verification answers with the decision alone: request id, decision, reason, upgraded — never a score", async () => {
    const g = await verify(f, w, "alice");
    assert.equal(g.status, 200, JSON.stringify(g.body));
    assert.deepEqual(Object.keys(g.body).sort(), ["decision", "reason", "requestId", "upgraded"]);
    assert.equal(g.body.decision, "accept");
    const i = await verify(f, w, "alice", randomEmbedding(512, 99));
    assert.deepEqual(Object.keys(i.body).sort(), ["decision", "reason", "requestId", "upgraded"]);
    assert.equal(i.body.reason, "NO_MATCH");
  });

  test("a verification challenge carries P0's item nonce (decision 012) and P1's plain one; device and gateway accept it", async () => {
    const v = await challenge(f, w, w.persons.alice.personId, "verify");
    assert.equal(v.status, 201, JSON.stringify(v.body));
    assert.match(nonceItem(challengeNonce(v.body.challenge, "P0")) ?? "", /^[0-9a-f]{32}$/);
    assert.equal(nonceItem(challengeNonce(v.body.challenge, "P1")), null);
    assert.equal((await verify(f, w, "alice")).body.decision, "accept");
  });

  test("a deregistration deletes the template at both parties", async () => {
    const before = [...f.fake.templates.keys()];
    assert.equal(before.length, 1);
    assert.deepEqual(f.fake.templates.get(before[0])!.at, ["P0", "P1"]);
    assert.equal((await verify(f, w, "alice")).body.decision, "accept");
    const d = await deregister(f, w, "alice");
    assert.equal(d.status, 200, JSON.stringify(d.body));
    assert.equal(d.body.status, "deleted");
    assert.equal(f.fake.templates.size, 0);
    const deletes = f.fake.calls.filter((c) => c.op === "delete");
    assert.deepEqual(deletes.map((c) => `${c.party}:${c.templateId}`).sort(), [`P0:${before[0]}`, `P1:${before[0]}`]);
    assert.equal((await challenge(f, w, w.persons.alice.personId, "verify")).body.error.code, "NOT_ENROLLED");
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
  });

  test("operators see masked records and history; quota and reason enforced", async () => {
    const id = w.persons.alice.personId;
    const noReason = await f.admin("GET", `/v1/admin/persons/${id}`, undefined, "operator");
    assert.equal(noReason.status, 400);
    assert.equal(noReason.body.error.code, "REASON_REQUIRED");
    const v = await f.admin("GET", `/v1/admin/persons/${id}`, undefined, "operator", "fraud case 17");
    assert.equal(v.status, 200, JSON.stringify(v.body));
    assert.equal(v.body.idNumber, "110101********1234");
    assert.equal(v.body.phone, "138****8000");
    assert.equal(v.body.name, "王**");
    assert.equal(v.body.consent, "given");
    const h = await f.admin("GET", `/v1/admin/persons/${id}/decisions?limit=3`, undefined, "auditor", "audit sample");
    assert.equal(h.status, 200);
    assert.equal(h.body.decisions.length, 3);
    assert.ok(h.body.decisions.every((d: { decision: string }) => ["accept", "reject", "error"].includes(d.decision)));
    assert.ok(!JSON.stringify(h.body).includes("score"));
    const admin = await f.admin("GET", `/v1/admin/persons/${id}`, undefined, "admin", "curious");
    assert.equal(admin.body.error.code, "FORBIDDEN_ROLE");
    const anon = await f.inject("GET", `/v1/admin/persons/${id}`);
    assert.equal(anon.body.error.code, "UNAUTHENTICATED");
    const cashierAsOperator = await f.admin("POST", `/v1/admin/merchants`, { name: "x" }, "operator");
    assert.equal(cashierAsOperator.body.error.code, "FORBIDDEN_ROLE");
  });

  test("every operation is in the gateway's audit chain, which verifies and holds no personal data", async () => {
    const v = await verifyChain(f.db, { suite: f.auditKey.suite, publicKey: f.auditKey.publicKey });
    assert.equal(v.ok, true);
    const recs = await exportChain(f.db);
    const ops = new Set(recs.map((r) => r.op));
    for (const op of ["merchant.create", "person.create", "device.register", "consent.give", "enrol", "verify", "deregister", "person.view", "person.history"]) assert.ok(ops.has(op), op);
    const text = JSON.stringify(recs);
    for (const p of Object.values(w.persons)) for (const s of [p.idNumber, p.phone, p.name]) assert.ok(!text.includes(s));
    assert.ok(!text.includes("fraud case 17"), "operator reasons stay out of the audit chain");
    const q = await f.gw.service.store.exec.read((tx) => tx.all<{ reason: string; operator_id: string; action: string }>("SELECT * FROM operator_queries"));
    assert.ok(q.some((r) => r.reason === "fraud case 17" && r.operator_id === "oscar" && r.action === "person.view"));
  });

  test("the database holds identity attributes only encrypted", async () => {
    const rows = await f.gw.service.store.exec.read((tx) => tx.all("SELECT * FROM persons"));
    const text = JSON.stringify(rows);
    for (const p of Object.values(w.persons)) {
      assert.ok(!text.includes(p.idNumber));
      assert.ok(!text.includes(p.phone));
      assert.ok(!text.includes(p.name));
    }
  });
});
