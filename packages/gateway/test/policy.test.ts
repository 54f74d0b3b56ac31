/**
 * The gateway's own flows under attack (issue 12 items 3 and 5, decision 010 §5), each written first
 * against the code before the fix:
 * - a wildcard (all-127) upgrade template riding on a genuine verification, against the REAL parties
 *   (both @privface/party apps with the full MPC, @privface/devstack inproc-parties): not promoted;
 *   afterwards a crafted no-face probe and unrelated faces are not accepted;
 * - an upgrade promoted at one party and not at the other is repaired by the re-check job;
 * - absolute daily failure budgets per person and per device that a success does not reset;
 * - consent withdrawal stops use at once, but deletion and re-enrolment need proof of the person (a
 *   fresh verification on the same device, or an operator identity check under dual control);
 *   devices need two approvers.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { MODEL, PartyError, type PartyClient, type PartyName } from "@privface/contracts";
import { generateSigningKeyPair, softwareSigner, toBase64url } from "@privface/crypto";
import { buildSignedPersonRequest } from "@privface/device";
import { craftedProbe } from "@privface/devstack/attacks";
import { startInProcParties, type InProcParties } from "@privface/devstack/inproc-parties";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, ensureOperators, type OperatorCredential } from "../src/index.ts";
import { challenge, deployModel, enrol, faceBody, giveConsent, randomEmbedding, registerWorld, sameFace, setup, SUITE, unlockPerson, verify, type Fixture, type World } from "./_setup.ts";

/** A gateway (in-memory SQLite) over the real parties in this process. */
async function realSetup(name: string, parties: InProcParties, clients: Record<PartyName, PartyClient> = parties.clients, extra: Parameters<typeof setup>[1] = {}): Promise<Fixture> {
  return setup(name, {
    parties: clients,
    partyKeys: {
      P0: { suite: SUITE, publicKey: toBase64url(parties.keys.P0.publicKey) },
      P1: { suite: SUITE, publicKey: toBase64url(parties.keys.P1.publicKey) },
    },
    signer: softwareSigner(parties.keys.gateway),
    ...extra,
  }, { roots: parties.roots });
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
    assert.equal((await unlockPerson(f, w.persons.alice.personId, "customer called")).status, 200);
    assert.equal((await verify(f, w, "alice")).body.decision, "accept");
    assert.equal((await verify(f, w, "alice", randomEmbedding(512, 71_000))).body.decision, "reject");
    assert.equal((await verify(f, w, "alice")).body?.error?.code, "PERSON_LOCKED");
    // the next UTC day starts a new budget
    assert.equal((await unlockPerson(f, w.persons.alice.personId, "next day")).status, 200);
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
        if (row.locked_at !== null) await unlockPerson(f, row.id, "test");
      }
    }
    assert.ok(locked, `the device was never locked (${failures} failures)`);
    assert.equal(failures, 30);
    assert.equal((await challenge(f, w, w.persons.bob.personId, "verify")).body.error.code, "DEVICE_LOCKED");
  });
});

describe("item 4: consent withdrawal, deletion and re-enrolment need proof of the person; devices need two approvers (fake parties)", () => {
  let f: Fixture;
  let w: World;
  /** a second device of the same merchant */
  let other: { deviceId: string; deviceKey: Awaited<ReturnType<typeof generateSigningKeyPair>> };
  before(async () => {
    f = await setup("proof");
    w = await registerWorld(f, ["alice", "bob", "carol"]);
    for (const who of ["alice", "bob", "carol"]) {
      assert.equal((await giveConsent(f, w, w.persons[who].personId)).status, 201);
      assert.equal((await enrol(f, w, who)).body.decision, "accept");
    }
    const deviceKey = await generateSigningKeyPair(SUITE);
    const d = await f.admin("POST", `/v1/admin/merchants/${w.merchantId}/devices`, { suite: SUITE, publicKey: toBase64url(deviceKey.publicKey), authKey: toBase64url(w.authKey.publicKey), label: "till 2" });
    assert.equal((await f.admin("POST", `/v1/admin/devices/${d.body.deviceId}/approve`, undefined, "operator")).status, 200);
    other = { deviceId: d.body.deviceId, deviceKey };
  });
  after(() => f.close());

  const withdraw = async (personId: string, device = { deviceId: w.deviceId, deviceKey: w.deviceKey }) => {
    const ch = await challenge(f, w, personId, "withdraw", device.deviceId, device.deviceKey);
    if (ch.status !== 201) return ch;
    return f.inject("POST", "/v1/consents/withdrawals", await buildSignedPersonRequest({ deviceId: device.deviceId, personId, challenge: ch.body, signingKey: device.deviceKey }));
  };
  const deregisterFrom = async (personId: string, device: { deviceId: string; deviceKey: World["deviceKey"] }) => {
    const ch = await challenge(f, w, personId, "deregister", device.deviceId, device.deviceKey);
    if (ch.status !== 201) return ch;
    return f.inject("POST", "/v1/deregistrations", await buildSignedPersonRequest({ deviceId: device.deviceId, personId, challenge: ch.body, signingKey: device.deviceKey }));
  };

  test("face takeover: withdraw (no proof) + consent again + enrol the attacker's face → refused; the victim still verifies, the attacker does not", async () => {
    const alice = w.persons.alice;
    const templates = f.fake.templates.size;
    const wd = await withdraw(alice.personId);
    assert.equal(wd.status, 200, JSON.stringify(wd.body));
    assert.equal(wd.body.status, "disabled");
    assert.equal(f.fake.templates.size, templates, "the template is kept (disabled), not deleted");
    // use stops at once
    assert.equal((await challenge(f, w, alice.personId, "verify")).body.error.code, "CONSENT_WITHDRAWN");
    assert.equal((await verify(f, w, "alice")).body.error.code, "CONSENT_WITHDRAWN");
    // the attacker consents again for alice and tries to enrol their own face
    assert.equal((await giveConsent(f, w, alice.personId)).status, 201);
    const attacker = randomEmbedding(512, 90_001);
    const e = await enrol(f, w, "alice", attacker);
    assert.equal(e.body.error.code, "ALREADY_ENROLLED");
    assert.equal((await verify(f, w, "alice", sameFace(attacker))).body.decision, "reject");
    assert.equal((await verify(f, w, "alice")).body.decision, "accept");
  });

  test("withdrawal deletes at once only with a fresh verification on the SAME device", async () => {
    const bob = w.persons.bob;
    assert.equal((await verify(f, w, "bob")).body.decision, "accept");
    // the verification was made on the first till: a withdrawal from the second does not delete
    const wd = await withdraw(bob.personId, other);
    assert.equal(wd.body.status, "disabled", JSON.stringify(wd.body));
    assert.equal((await giveConsent(f, w, bob.personId)).status, 201);
    assert.equal((await verify(f, w, "bob")).body.decision, "accept");
    const before = f.fake.templates.size;
    const wd2 = await withdraw(bob.personId);
    assert.equal(wd2.body.status, "deleted", JSON.stringify(wd2.body));
    assert.equal(f.fake.templates.size, before - 1);
    // consent and enrol again after a proven deletion
    assert.equal((await giveConsent(f, w, bob.personId)).status, 201);
    assert.equal((await enrol(f, w, "bob")).body.decision, "accept");
  });

  test("item 10: a deregistration's re-verification is bound to the device that made it", async () => {
    const carol = w.persons.carol;
    assert.equal((await verify(f, w, "carol")).body.decision, "accept");
    const r = await deregisterFrom(carol.personId, other);
    assert.equal(r.body?.error?.code, "REVERIFY_REQUIRED", JSON.stringify(r.body));
    const ok = await deregisterFrom(carol.personId, { deviceId: w.deviceId, deviceKey: w.deviceKey });
    assert.equal(ok.body.status, "deleted", JSON.stringify(ok.body));
    assert.equal((await giveConsent(f, w, carol.personId)).status, 201);
    assert.equal((await enrol(f, w, "carol")).body.decision, "accept");
  });

  test("an operator identity check under dual control completes a disabled withdrawal, with a notice record; one operator alone cannot", async () => {
    const alice = w.persons.alice;
    const wd = await withdraw(alice.personId, other);
    assert.equal(wd.body.status, "disabled");
    const before = f.fake.templates.size;
    const req = await f.admin("POST", `/v1/admin/persons/${alice.personId}/identity-checks`, undefined, "operator", "ID card seen at the branch");
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal(req.body.status, "pending");
    const self = await f.admin("POST", `/v1/admin/identity-checks/${req.body.checkId}/approve`, undefined, "operator", "approve my own");
    assert.equal(self.body.error.code, "SAME_APPROVER");
    const byAdmin = await f.admin("POST", `/v1/admin/identity-checks/${req.body.checkId}/approve`, undefined, "admin", "admin approves");
    assert.equal(byAdmin.body.error.code, "FORBIDDEN_ROLE");
    assert.equal(f.fake.templates.size, before, "nothing deleted before the second approval");
    const ok = await f.admin("POST", `/v1/admin/identity-checks/${req.body.checkId}/approve`, undefined, "operator2", "second check: ID card and phone");
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual({ status: ok.body.status, requestedBy: ok.body.requestedBy, approvedBy: ok.body.approvedBy, templateDeletion: ok.body.templateDeletion }, { status: "approved", requestedBy: "oscar", approvedBy: "olga", templateDeletion: "deleted" });
    assert.equal(f.fake.templates.size, before - 1);
    assert.deepEqual((await f.gw.service.store.personNotices(alice.personId)).map((n) => n.kind), ["identity-check", "template-deleted"]);
    const again = await f.admin("POST", `/v1/admin/identity-checks/${req.body.checkId}/approve`, undefined, "operator2", "twice");
    assert.equal(again.body.error.code, "NOT_PENDING");
    // consent and enrol again: the person was proven
    assert.equal((await giveConsent(f, w, alice.personId)).status, 201);
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
  });

  test("an approved identity check allows one deregistration without a verification", async () => {
    const bob = w.persons.bob;
    assert.equal((await deregisterFrom(bob.personId, other)).body.error.code, "REVERIFY_REQUIRED");
    const req = await f.admin("POST", `/v1/admin/persons/${bob.personId}/identity-checks`, undefined, "operator2", "customer in branch");
    assert.equal((await f.admin("POST", `/v1/admin/identity-checks/${req.body.checkId}/approve`, undefined, "operator", "checked")).status, 200);
    assert.equal((await deregisterFrom(bob.personId, other)).body.status, "deleted");
    assert.equal((await giveConsent(f, w, bob.personId)).status, 201);
    assert.equal((await enrol(f, w, "bob")).body.decision, "accept");
    assert.equal((await deregisterFrom(bob.personId, other)).body.error.code, "REVERIFY_REQUIRED", "the check was used up");
  });

  test("registering a device needs two approvers: pending (DEVICE_PENDING) until a second, different operator approves", async () => {
    const key = await generateSigningKeyPair(SUITE);
    const d = await f.admin("POST", `/v1/admin/merchants/${w.merchantId}/devices`, { suite: SUITE, publicKey: toBase64url(key.publicKey), authKey: toBase64url(w.authKey.publicKey), label: "till 3" });
    assert.equal(d.status, 201);
    assert.deepEqual({ status: d.body.status, requestedBy: d.body.requestedBy }, { status: "pending", requestedBy: "ada" });
    assert.equal((await challenge(f, w, w.persons.carol.personId, "verify", d.body.deviceId, key)).body.error.code, "DEVICE_PENDING");
    assert.equal((await f.admin("POST", `/v1/admin/devices/${d.body.deviceId}/approve`, undefined, "admin")).body.error.code, "SAME_APPROVER");
    assert.equal((await f.admin("POST", `/v1/admin/devices/${d.body.deviceId}/approve`, undefined, "auditor")).body.error.code, "FORBIDDEN_ROLE");
    const ok = await f.admin("POST", `/v1/admin/devices/${d.body.deviceId}/approve`, undefined, "operator");
    assert.deepEqual({ status: ok.body.status, approvedBy: ok.body.approvedBy }, { status: "active", approvedBy: "oscar" });
    assert.equal((await f.admin("POST", `/v1/admin/devices/${d.body.deviceId}/approve`, undefined, "operator2")).body.error.code, "NOT_PENDING");
    assert.equal((await challenge(f, w, w.persons.carol.personId, "verify", d.body.deviceId, key)).status, 201);
  });
});

describe("item 10: operator tokens expire", () => {
  test("a token past its expiresAt is TOKEN_EXPIRED; a credential without expiresAt is refused at start", async () => {
    let skew = 0;
    const f = await setup("tokens", {
      now: () => Date.now() + skew,
      operators: [{ id: "ada", role: "admin", token: "admin-token-expiring-1", expiresAt: new Date(Date.now() + 60_000).toISOString() }],
    });
    try {
      const auth = { authorization: "Bearer admin-token-expiring-1" };
      assert.equal((await f.inject("POST", "/v1/admin/merchants", { name: "Shop" }, auth)).status, 201);
      skew = 61_000;
      const r = await f.inject("POST", "/v1/admin/merchants", { name: "Shop" }, auth);
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, "TOKEN_EXPIRED");
    } finally {
      await f.close();
    }
    await assert.rejects(
      setup("tokens-none", { operators: [{ id: "ada", role: "admin", token: "admin-token-forever-1" } as unknown as OperatorCredential] }),
      /expiresAt is required/,
    );
  });

  test("an operators file without expiresAt stops the gateway at start (ConfigError); a new development file has tokens that expire", () => {
    const dir = mkdtempSync(join(tmpdir(), "privface-ops-"));
    try {
      const old = join(dir, "old.json");
      writeFileSync(old, JSON.stringify([{ id: "admin", role: "admin", token: "admin-token-old-0123" }]));
      assert.throws(() => ensureOperators(old), (e: unknown) => e instanceof ConfigError && /has no expiresAt/.test(e.message + (e as ConfigError).problems.join("\n")));
      const fresh = ensureOperators(join(dir, "new.json"));
      assert.deepEqual(fresh.map((o) => [o.id, o.role]), [["admin", "admin"], ["operator", "operator"], ["operator2", "operator"], ["auditor", "auditor"], ["monitor", "monitor"]]);
      for (const o of fresh) {
        const t = Date.parse(String(o.expiresAt));
        assert.ok(t > Date.now() + 29 * 86_400_000 && t <= Date.now() + 30 * 86_400_000 + 60_000, String(o.expiresAt));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("item 10: a consent counts only for the current notice once the purposes change", () => {
  test("a new notice text with the same purposes keeps consents; new purposes need a new consent (CONSENT_OUTDATED), which can still be withdrawn", async () => {
    const f = await setup("notice-purposes");
    try {
      const w = await registerWorld(f, ["alice", "bob"]);
      for (const who of ["alice", "bob"]) {
        assert.equal((await giveConsent(f, w, w.persons[who].personId)).status, 201);
      }
      assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
      const same = await f.admin("POST", "/v1/admin/notices", { version: "2027-01-01", text: "clearer wording, same purposes", purposes: ["face-verification"] });
      assert.equal(same.status, 201, JSON.stringify(same.body));
      assert.equal((await verify(f, w, "alice")).body.decision, "accept", "the same purposes: the earlier consent still counts");
      const wider = await f.admin("POST", "/v1/admin/notices", { version: "2027-02-01", text: "now also fraud analytics", purposes: ["face-verification", "fraud-analytics"] });
      assert.equal(wider.status, 201);
      assert.equal((await challenge(f, w, w.persons.alice.personId, "verify")).body.error.code, "CONSENT_OUTDATED");
      assert.equal((await challenge(f, w, w.persons.bob.personId, "enrol")).body.error.code, "CONSENT_OUTDATED");
      // a consent to the current notice counts again
      assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
      assert.equal((await verify(f, w, "alice")).body.decision, "accept");
      // an outdated consent can still be withdrawn
      const ch = await challenge(f, w, w.persons.bob.personId, "withdraw");
      assert.equal(ch.status, 201, JSON.stringify(ch.body));
      const wd = await f.inject("POST", "/v1/consents/withdrawals", await buildSignedPersonRequest({ deviceId: w.deviceId, personId: w.persons.bob.personId, challenge: ch.body, signingKey: w.deviceKey }));
      assert.equal(wd.status, 200, JSON.stringify(wd.body));
    } finally {
      await f.close();
    }
  });
});
