/**
 * The gateway's own flows under attack (issue 12 items 3 and 5, decision 010 §5), each written first
 * against the code before the fix:
 * - a wildcard (all-127) upgrade template riding on a genuine verification, against the REAL parties
 *   (both @privface/party apps with the full MPC, @privface/devstack inproc-parties): not promoted;
 *   afterwards a crafted no-face probe and unrelated faces are not accepted;
 * - an upgrade promoted at one party and not at the other is repaired by the re-check job;
 * - absolute daily failure budgets per person and per device that a success does not reset.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { MODEL, PartyError, type PartyClient, type PartyName } from "@privface/contracts";
import { softwareSigner, toBase64url } from "@privface/crypto";
import { startInProcParties, type InProcParties } from "@privface/devstack/inproc-parties";
import { challenge, deployModel, enrol, faceBody, giveConsent, randomEmbedding, registerWorld, sameFace, setup, verify, type Fixture, type World } from "./_setup.ts";

/** A gateway (in-memory SQLite) over the real parties in this process. */
async function realSetup(name: string, parties: InProcParties, clients: Record<PartyName, PartyClient> = parties.clients, extra: Parameters<typeof setup>[1] = {}): Promise<Fixture> {
  return setup(name, {
    parties: clients,
    partyKeys: {
      P0: { suite: "INTL", publicKey: toBase64url(parties.keys.P0.publicKey) },
      P1: { suite: "INTL", publicKey: toBase64url(parties.keys.P1.publicKey) },
    },
    signer: softwareSigner(parties.keys.gateway),
    ...extra,
  });
}

/** A probe with no face in it: a valid-norm vector along the all-ones direction (what maximises the score against an all-127 template). */
function craftedProbe(): Int8Array {
  const v = new Int8Array(MODEL.dim).fill(11);
  // 356 × 11² + 156 × 12² = 65,540 ≈ Q²: inside the norm window
  for (let i = 0; i < 156; i++) v[i] = 12;
  return v;
}

const wildcard = () => new Int8Array(MODEL.dim).fill(127);

async function versions(p: InProcParties, templateId: string) {
  const out: Record<string, string[]> = {};
  for (const party of ["P0", "P1"] as const) out[party] = (await p.stores[party].templateVersions(templateId)).map((t: { modelVersion: string; status: string }) => `${t.modelVersion}:${t.status}`).sort();
  return out;
}

async function templateOf(f: Fixture, personId: string) {
  const p = (await f.gw.service.store.getPerson(personId))!;
  return { templateId: p.template_id!, modelVersion: p.model_version! };
}

describe("item 3: a wildcard upgrade template against the real parties", { timeout: 120_000 }, () => {
  let parties: InProcParties;
  let f: Fixture;
  let w: World;
  before(async () => {
    parties = await startInProcParties();
    await parties.fill(40);
    f = await realSetup("wildcard", parties);
    w = await registerWorld(f, ["alice"]);
    assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
  });
  after(async () => {
    await f?.close();
    await parties?.close();
  });

  test("a genuine verification carrying an all-127 upgrade: accepted, NOT upgraded; the parties keep the old template active", async () => {
    const alice = w.persons.alice;
    const { templateId, modelVersion } = await templateOf(f, alice.personId);
    deployModel(f.gw.service, `${modelVersion}-next`);
    try {
      const ch = await challenge(f, w, alice.personId, "verify");
      assert.equal(ch.status, 201, JSON.stringify(ch.body));
      assert.equal(ch.body.upgradeTo, `${modelVersion}-next`);
      const body = await faceBody(w, alice.personId, ch.body, "verify", sameFace(alice.face), { upgrade: { modelVersion: `${modelVersion}-next`, embedding: wildcard() as unknown as Float32Array } });
      const r = await f.inject("POST", "/v1/verifications", body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual({ decision: r.body.decision, reason: r.body.reason, upgraded: r.body.upgraded }, { decision: "accept", reason: "MATCH", upgraded: false });
      assert.equal((await templateOf(f, alice.personId)).modelVersion, modelVersion, "the gateway still records the old model");
      // both parties: the old version active, the wildcard staged one discarded (never active)
      const v = await versions(parties, templateId);
      for (const party of ["P0", "P1"] as const) {
        assert.ok(v[party].includes(`${modelVersion}:active`), `${party}: ${v[party]}`);
        assert.ok(!v[party].includes(`${modelVersion}-next:active`), `${party}: ${v[party]}`);
      }
      // a crafted probe (no face) and unrelated faces are not accepted as alice
      const crafted = await verify(f, w, "alice", craftedProbe() as unknown as Float32Array);
      assert.equal(crafted.status, 200, JSON.stringify(crafted.body));
      assert.equal(crafted.body.decision, "reject");
      for (let i = 0; i < 3; i++) {
        const u = await verify(f, w, "alice", randomEmbedding(512, 50_000 + i));
        assert.equal(u.body.decision, "reject", `unrelated face ${i}`);
      }
      // the person's own face still verifies, and a genuine upgrade is promoted at both parties
      const g = await verify(f, w, "alice", undefined, { upgrade: { modelVersion: `${modelVersion}-next`, embedding: sameFace(alice.face, 0.1, 3) } });
      assert.deepEqual({ decision: g.body.decision, upgraded: g.body.upgraded }, { decision: "accept", upgraded: true }, JSON.stringify(g.body));
      const after = await versions(parties, templateId);
      for (const party of ["P0", "P1"] as const) assert.ok(after[party].includes(`${modelVersion}-next:active`), `${party}: ${after[party]}`);
    } finally {
      deployModel(f.gw.service, modelVersion);
    }
  });
});

describe("item 3: an upgrade promoted at one party only is repaired automatically", { timeout: 120_000 }, () => {
  let parties: InProcParties;
  let f: Fixture;
  let w: World;
  /** P1's promotion calls fail (no answer) while this is > 0, counting down */
  const failP1Upgrades = { left: 0 };
  before(async () => {
    parties = await startInProcParties();
    await parties.fill(20);
    const p1 = parties.clients.P1;
    const flaky: PartyClient = {
      ...p1,
      commit: async (b) => {
        if (failP1Upgrades.left > 0) {
          failP1Upgrades.left--;
          throw new PartyError("UNREACHABLE", "P1 is down");
        }
        return p1.commit(b);
      },
    };
    f = await realSetup("split", parties, { P0: parties.clients.P0, P1: flaky }, { recheckIntervalMs: 100 });
    w = await registerWorld(f, ["alice"]);
    assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
  });
  after(async () => {
    await f?.close();
    await parties?.close();
  });

  test("P1 does not answer the promotion: P0 is on the new model, P1 on the old; the re-check job promotes P1 and the gateway records it", async () => {
    const alice = w.persons.alice;
    const { templateId, modelVersion } = await templateOf(f, alice.personId);
    const next = `${modelVersion}-next`;
    deployModel(f.gw.service, next);
    try {
      failP1Upgrades.left = 2; // both of the verification's own attempts
      const r = await verify(f, w, "alice", undefined, { upgrade: { modelVersion: next, embedding: sameFace(alice.face, 0.1, 5) } });
      assert.deepEqual({ decision: r.body.decision, upgraded: r.body.upgraded }, { decision: "accept", upgraded: false }, JSON.stringify(r.body));
      const split = await versions(parties, templateId);
      assert.ok(split.P0.includes(`${next}:active`), `P0 ${split.P0}`);
      assert.ok(split.P1.includes(`${modelVersion}:active`), `P1 ${split.P1}`);
      // the re-check job (every 100 ms here) finishes the promotion at P1
      const deadline = Date.now() + 10_000;
      // (the job records the template's new version, then clears its re-check entry: wait for both)
      const pending = async () => (await f.admin("GET", "/v1/admin/rechecks", undefined, "operator")).body.rechecks.length;
      while ((await templateOf(f, alice.personId)).modelVersion !== next || (await pending()) > 0) {
        assert.ok(Date.now() < deadline, "the split upgrade was not repaired");
        await new Promise((res) => setTimeout(res, 50));
      }
      const repaired = await versions(parties, templateId);
      for (const party of ["P0", "P1"] as const) assert.ok(repaired[party].includes(`${next}:active`), `${party}: ${repaired[party]}`);
      // and the person verifies under the new model
      const g = await verify(f, w, "alice", sameFace(alice.face, 0.1, 5), { modelVersion: next });
      assert.equal(g.body.decision, "accept", JSON.stringify(g.body));
    } finally {
      deployModel(f.gw.service, modelVersion);
    }
  });
});

describe("item 5: daily failure budgets that a success does not reset (fake parties)", () => {
  let f: Fixture;
  let w: World;
  let skew = 0;
  before(async () => {
    f = await setup("budgets", { now: () => Date.now() + skew });
    w = await registerWorld(f, ["alice", "bob", "carol"]);
    for (const who of ["alice", "bob", "carol"]) {
      assert.equal((await giveConsent(f, w, w.persons[who].personId)).status, 201);
      assert.equal((await enrol(f, w, who)).body.decision, "accept");
    }
  });
  after(() => f.close());

  test("80 verifications against one person, 4 failures then 1 success each round: locked after 10 failures (default budget)", async () => {
    let failures = 0;
    let locked = false;
    for (let i = 0; i < 80 && !locked; i++) {
      const r = i % 5 === 4 ? await verify(f, w, "alice") : await verify(f, w, "alice", randomEmbedding(512, 70_000 + i));
      if (r.status === 423) {
        assert.equal(r.body.error.code, "PERSON_LOCKED");
        locked = true;
      } else {
        assert.equal(r.status, 200, JSON.stringify(r.body));
        if (r.body.decision === "reject") failures++;
      }
    }
    assert.ok(locked, "the person was never locked");
    assert.equal(failures, 10);
    assert.equal(await f.gw.service.store.failuresToday("person", w.persons.alice.personId, Date.now() + skew), 10);
    // an operator unlock lets the person verify again; today's budget stays spent (one more failure locks again)
    assert.equal((await f.admin("POST", `/v1/admin/persons/${w.persons.alice.personId}/unlock`, undefined, "operator", "customer called")).status, 200);
    assert.equal((await verify(f, w, "alice")).body.decision, "accept");
    assert.equal((await verify(f, w, "alice", randomEmbedding(512, 71_000))).body.decision, "reject");
    assert.equal((await verify(f, w, "alice")).body?.error?.code, "PERSON_LOCKED");
    // the next UTC day starts a new budget
    assert.equal((await f.admin("POST", `/v1/admin/persons/${w.persons.alice.personId}/unlock`, undefined, "operator", "next day")).status, 200);
    skew += 86_400_000;
    assert.equal((await verify(f, w, "alice", randomEmbedding(512, 72_000))).body.decision, "reject");
    assert.equal((await verify(f, w, "alice")).body.decision, "accept");
  });

  test("32 failures from one device across persons, interleaved with successes: the device is locked at 30 (default budget)", async () => {
    skew += 86_400_000; // a fresh day for every budget
    const who = ["bob", "carol"];
    let failures = 0;
    let locked = false;
    for (let i = 0; i < 48 && !locked && failures < 32; i++) {
      const person = who[i % 2];
      // one genuine verification of each person after every 2 failures of theirs keeps them under the person budgets' consecutive lock
      const genuine = i % 6 >= 4;
      const r = genuine ? await verify(f, w, person) : await verify(f, w, person, randomEmbedding(512, 80_000 + i));
      if (r.status === 423) {
        assert.equal(r.body.error.code, "DEVICE_LOCKED", JSON.stringify(r.body));
        locked = true;
      } else {
        assert.equal(r.status, 200, JSON.stringify(r.body));
        if (r.body.decision === "reject") failures++;
      }
      // the person budgets (10/day) are not what stops this: persons are unlocked by an operator as needed
      for (const p of who) {
        const row = (await f.gw.service.store.getPerson(w.persons[p].personId))!;
        if (row.locked_at !== null) await f.admin("POST", `/v1/admin/persons/${row.id}/unlock`, undefined, "operator", "test");
      }
    }
    assert.ok(locked, `the device was never locked (${failures} failures)`);
    assert.equal(failures, 30);
    assert.equal((await challenge(f, w, w.persons.bob.personId, "verify")).body.error.code, "DEVICE_LOCKED");
  });
});
