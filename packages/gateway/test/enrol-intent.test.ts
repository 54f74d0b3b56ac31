/**
 * The enrolment's write-ahead intent (issue 16) is written while the parties validate the template
 * (issue 18: in parallel with the enrolment runs, not after them): it is committed before either
 * party is asked to commit, an accepted enrolment settles it in the write that records the template,
 * an enrolment refused before the commits settles it with its decision, and one that failed keeps
 * it open for the re-check job.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PartyError } from "@privface/contracts";
import { enrol, giveConsent, registerWorld, setup, type Fixture, type World } from "./_setup.ts";

describe("the enrolment's intent, written while the parties validate", () => {
  let f: Fixture;
  let w: World;
  const open = async () =>
    (await f.db.kysely.selectFrom("rechecks").select(["op", "person_id", "template_id", "reason"]).where("resolved_at", "is", null).execute()) as { op: string; person_id: string; template_id: string; reason: string }[];
  before(async () => {
    f = await setup("enrol-intent");
    w = await registerWorld(f, ["alice", "bob", "carol"]);
    for (const who of ["alice", "bob", "carol"]) await giveConsent(f, w, w.persons[who].personId);
  });
  after(() => f.close());

  test("committed before either party is asked to commit; an accepted enrolment leaves it settled", async () => {
    const commit = f.fake.clients.P0.commit;
    const seen: { op: string; person_id: string }[][] = [];
    f.fake.clients.P0.commit = async (input) => {
      seen.push(await open());
      return commit(input);
    };
    try {
      const r = await enrol(f, w, "alice");
      assert.equal(r.body.decision, "accept");
    } finally {
      f.fake.clients.P0.commit = commit;
    }
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0].map((c) => [c.op, c.person_id]), [["enrol", w.persons.alice.personId]]);
    assert.deepEqual(await open(), []);
  });

  test("an enrolment the parties find invalid settles its intent with the decision (no open re-check)", async () => {
    const r = await enrol(f, w, "bob", new Float32Array(512).fill(0.001));
    assert.equal(r.body.decision, "reject", JSON.stringify(r.body));
    assert.equal(r.body.reason, "INVALID_TEMPLATE");
    assert.deepEqual(await open(), []);
  });

  test("an enrolment a party refuses settles its intent; one that fails for unavailability keeps it open, and the re-check settles it", async () => {
    const enrolP1 = f.fake.clients.P1.enrol;
    f.fake.down.add("P1");
    try {
      assert.equal((await enrol(f, w, "carol")).body.error.code, "MPC_UNAVAILABLE");
    } finally {
      f.fake.down.delete("P1");
    }
    assert.deepEqual((await open()).map((c) => [c.op, c.person_id, c.reason]), [["enrol", w.persons.carol.personId, "intent: commit"]]);
    const run = await f.admin("POST", "/v1/admin/rechecks/run", undefined, "operator");
    assert.equal(run.body.open, 0);
    assert.deepEqual(await open(), []);
    f.fake.clients.P1.enrol = async () => {
      throw new PartyError("INVALID_INPUT", "share rejected");
    };
    try {
      const r = await enrol(f, w, "carol");
      assert.equal(r.body.error?.code ?? r.body.reason, "SHARE_REJECTED", JSON.stringify(r.body));
    } finally {
      f.fake.clients.P1.enrol = enrolP1;
    }
    assert.deepEqual(await open(), []);
    assert.equal((await enrol(f, w, "carol")).body.decision, "accept");
  });
});
