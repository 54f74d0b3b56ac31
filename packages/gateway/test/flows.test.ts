import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { challenge, deployModel, deregister, enrol, giveConsent, randomEmbedding, registerWorld, sameFace, setup, verify, type Fixture, type World } from "./_setup.ts";
import { scanLog } from "./_logscan.ts";
import { exportChain, verifyChain } from "@privface/audit";

describe("gateway flows (fake parties)", () => {
  let f: Fixture;
  let w: World;
  before(async () => {
    f = await setup("flows");
    w = await registerWorld(f);
  });
  after(async () => {
    await f.close();
    const secrets = Object.values(w.persons).flatMap((p) => [p.idNumber, p.phone, p.name]);
    assert.deepEqual(scanLog(f.log.text, secrets), [], "log scanner found sensitive data");
  });

  test("consent, enrol, genuine accept, impostor reject, decisions only", async () => {
    assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
    const e = await enrol(f, w, "alice");
    assert.equal(e.status, 200, JSON.stringify(e.body));
    assert.equal(e.body.decision, "accept");
    assert.equal(e.body.reason, "ENROLLED");
    const g = await verify(f, w, "alice");
    assert.equal(g.status, 200, JSON.stringify(g.body));
    assert.deepEqual(Object.keys(g.body).sort(), ["decision", "reason", "requestId", "upgraded"]);
    assert.equal(g.body.decision, "accept");
    assert.equal(g.body.reason, "MATCH");
    const i = await verify(f, w, "alice", randomEmbedding(512, 99));
    assert.equal(i.body.decision, "reject");
    assert.equal(i.body.reason, "NO_MATCH");
    assert.ok(!("score" in i.body));
  });

  test("a wildcard / malicious vector is refused at enrolment and as a probe", async () => {
    assert.equal((await giveConsent(f, w, w.persons.carol.personId)).status, 201);
    const big = new Int8Array(512).fill(127);
    const p = w.persons.carol;
    const ch = await challenge(f, w, p.personId, "enrol");
    const { faceBody } = await import("./_setup.ts");
    const r = await f.inject("POST", "/v1/enrolments", await faceBody(w, p.personId, ch.body, "enrol", big));
    assert.equal(r.status, 200);
    assert.equal(r.body.decision, "reject");
    assert.equal(r.body.reason, "INVALID_TEMPLATE");
    // not enrolled afterwards
    assert.equal((await challenge(f, w, p.personId, "verify")).body.error.code, "NOT_ENROLLED");
    const v = await verify(f, w, "alice", big as unknown as Float32Array);
    assert.equal(v.body.reason, "INVALID_PROBE");
  });

  test("deregistration needs a fresh successful verification, then deletes at both parties", async () => {
    const tid = [...f.fake.templates.keys()];
    assert.equal(tid.length, 1);
    // the last verification of alice was a failure → no fresh success
    const d0 = await deregister(f, w, "alice");
    assert.equal(d0.status, 403);
    assert.equal(d0.body.error.code, "REVERIFY_REQUIRED");
    assert.equal((await verify(f, w, "alice")).body.decision, "accept");
    const d1 = await deregister(f, w, "alice");
    assert.equal(d1.status, 200, JSON.stringify(d1.body));
    assert.equal(d1.body.status, "deleted");
    assert.equal(f.fake.templates.size, 0);
    const deletes = f.fake.calls.filter((c) => c.op === "delete");
    assert.deepEqual(deletes.map((c) => c.party).sort(), ["P0", "P1"]);
    assert.equal((await challenge(f, w, w.persons.alice.personId, "verify")).body.error.code, "NOT_ENROLLED");
    // one verification allows one deregistration
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
    assert.equal((await deregister(f, w, "alice")).body.error.code, "REVERIFY_REQUIRED");
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
    const q = await f.gw.service.store.k.selectFrom("operator_queries").selectAll().execute();
    assert.ok(q.some((r) => r.reason === "fraud case 17" && r.operator_id === "oscar" && r.action === "person.view"));
  });

  test("the database holds identity attributes only encrypted", async () => {
    const rows = await f.gw.service.store.k.selectFrom("persons").selectAll().execute();
    const text = JSON.stringify(rows);
    for (const p of Object.values(w.persons)) {
      assert.ok(!text.includes(p.idNumber));
      assert.ok(!text.includes(p.phone));
      assert.ok(!text.includes(p.name));
    }
  });

  test("model upgrade on a successful verification (R5)", async () => {
    const g = await setup("upgrade", { modelVersion: "test-model.2" });
    try {
      const ww = await registerWorld(g, ["bob"]);
      // enrol bob under the old model by lowering the deployed version for the enrolment only
      await giveConsent(g, ww, ww.persons.bob.personId);
      deployModel(g.gw.service, "test-model.1");
      assert.equal((await enrol(g, ww, "bob")).body.decision, "accept");
      deployModel(g.gw.service, "test-model.2");
      const ch = await challenge(g, ww, ww.persons.bob.personId, "verify");
      assert.equal(ch.body.modelVersion, "test-model.1");
      assert.equal(ch.body.upgradeTo, "test-model.2");
      const newFace = randomEmbedding(512, 4242);
      const { faceBody } = await import("./_setup.ts");
      const body = await faceBody(ww, ww.persons.bob.personId, ch.body, "verify", sameFace(ww.persons.bob.face), {
        upgrade: { modelVersion: "test-model.2", embedding: newFace },
      });
      const r = await g.inject("POST", "/v1/verifications", body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.decision, "accept");
      assert.equal(r.body.upgraded, true);
      // the next verification runs under the new model with the new template
      const ch2 = await challenge(g, ww, ww.persons.bob.personId, "verify");
      assert.equal(ch2.body.modelVersion, "test-model.2");
      assert.equal(ch2.body.upgradeTo, undefined);
      const r2 = await g.inject("POST", "/v1/verifications", await faceBody(ww, ww.persons.bob.personId, ch2.body, "verify", sameFace(newFace)));
      assert.equal(r2.body.decision, "accept");
    } finally {
      await g.close();
    }
  });
});
