/**
 * Degraded mode (R35): a party or the peer link down → 503 MPC_UNAVAILABLE with Retry-After, never
 * an approval, the request recorded for re-check; deletions are kept pending and retried.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { deregister, enrol, giveConsent, registerWorld, setup, verify, type Fixture, type World } from "./_setup.ts";
import { scanLog } from "./_logscan.ts";

describe("degraded mode", () => {
  let f: Fixture;
  let w: World;
  before(async () => {
    f = await setup("degraded");
    w = await registerWorld(f, ["alice", "bob"]);
    for (const who of ["alice", "bob"]) await giveConsent(f, w, w.persons[who].personId);
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
  });
  after(async () => {
    await f.close();
    assert.deepEqual(scanLog(f.log.text), []);
  });

  for (const down of ["P0", "P1"] as const) {
    test(`${down} down: verification is MPC_UNAVAILABLE (never accepted) and recorded for re-check`, async () => {
      f.fake.down.add(down);
      try {
        const r = await verify(f, w, "alice");
        assert.equal(r.status, 503);
        assert.equal(r.body.error.code, "MPC_UNAVAILABLE");
        assert.ok(Number(r.headers["retry-after"]) > 0);
        const checks = await f.admin("GET", "/v1/admin/rechecks", undefined, "operator");
        assert.ok(checks.body.rechecks.some((c: { op: string; personId: string }) => c.op === "verify" && c.personId === w.persons.alice.personId));
        const hist = await f.admin("GET", `/v1/admin/persons/${w.persons.alice.personId}/decisions?limit=1`, undefined, "operator", "degraded drill");
        assert.equal(hist.body.decisions[0].decision, "error");
        assert.equal(hist.body.decisions[0].reason, "MPC_UNAVAILABLE");
        const h = await f.inject("GET", "/v1/health");
        assert.equal(h.body.status, "degraded");
      } finally {
        f.fake.down.delete(down);
      }
      assert.equal((await verify(f, w, "alice")).body.decision, "accept");
    });
  }

  test("enrolment with a party down is MPC_UNAVAILABLE and leaves no template anywhere", async () => {
    f.fake.down.add("P1");
    try {
      const r = await enrol(f, w, "bob");
      assert.equal(r.body.error.code, "MPC_UNAVAILABLE");
    } finally {
      f.fake.down.delete("P1");
    }
    assert.equal(f.fake.templates.size, 1);
    const again = await enrol(f, w, "bob");
    assert.equal(again.body.decision, "accept");
  });

  test("deregistration with a party down is answered 'pending' and completed by the re-check run", async () => {
    assert.equal((await verify(f, w, "bob")).body.decision, "accept");
    f.fake.down.add("P0");
    let r;
    try {
      r = await deregister(f, w, "bob");
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.status, "pending");
      const run = await f.admin("POST", "/v1/admin/rechecks/run", undefined, "operator");
      assert.equal(run.body.resolved, 0);
    } finally {
      f.fake.down.delete("P0");
    }
    const run = await f.admin("POST", "/v1/admin/rechecks/run", undefined, "operator");
    assert.equal(run.status, 200);
    assert.ok(run.body.resolved >= 1);
    assert.equal(run.body.open, 0);
    // bob's template is gone at the parties; alice's remains
    assert.equal(f.fake.templates.size, 1);
    const open = await f.admin("GET", "/v1/admin/rechecks", undefined, "auditor");
    assert.equal(open.body.rechecks.length, 0);
  });
});
