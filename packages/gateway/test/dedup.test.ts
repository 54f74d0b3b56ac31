/**
 * The enrolment policy for duplicates (issue 15, PRIVFACE_GATEWAY_ENROL_DEDUP=reject), against the REAL
 * parties in this process (both @privface/party apps with galleries, the full MPC, the stand-in helper
 * dealing dedup queries): the same face enrolled again — as another person, at another merchant — is
 * refused with DUPLICATE_ENROLMENT and leaves nothing at the parties; what the gateway learns is one bit;
 * a terminal that uses enrolments as an oracle ("is this face enrolled anywhere?") is locked like one
 * that guesses at verifications; without a ready gallery the enrolment fails closed.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { MODEL, type PartyName } from "@privface/contracts";
import { softwareSigner, toBase64url } from "@privface/crypto";
import { startInProcParties, type InProcParties } from "@privface/devstack/inproc-parties";
import { enrol, giveConsent, randomEmbedding, registerWorld, sameFace, setup, verify, type Fixture, type World } from "./_setup.ts";

async function realSetup(name: string, parties: InProcParties, extra: Parameters<typeof setup>[1] = {}): Promise<Fixture> {
  return setup(name, {
    parties: parties.clients,
    partyKeys: { P0: { suite: "INTL", publicKey: toBase64url(parties.keys.P0.publicKey) }, P1: { suite: "INTL", publicKey: toBase64url(parties.keys.P1.publicKey) } },
    signer: softwareSigner(parties.keys.gateway),
    modelVersion: MODEL.version,
    enrolDedup: "reject",
    ...extra,
  }, { roots: parties.roots });
}

let n = 0;
/** A new person of merchant `w` (a new ID number each time), consented. */
async function person(f: Fixture, w: World, face = randomEmbedding(512, 5000 + n)): Promise<string> {
  const who = `p${n++}`;
  const idNumber = `1101011990${String(1000000 + n).slice(-7)}1`;
  const r = await f.admin("POST", `/v1/admin/merchants/${w.merchantId}/persons`, { role: "cashier", name: "测试", idNumber, phone: "13800000000" });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  w.persons[who] = { personId: r.body.personId, face, idNumber, phone: "13800000000", name: "测试" };
  assert.equal((await giveConsent(f, w, r.body.personId)).status, 201);
  return who;
}
const idle = (p: InProcParties) => Promise.all((["P0", "P1"] as PartyName[]).map((q) => p.galleries![q].idle()));

describe("enrolment policy: duplicates refused (real parties)", { timeout: 180_000 }, () => {
  let parties: InProcParties;
  let f: Fixture;
  let shopA: World;
  let shopB: World;
  before(async () => {
    parties = await startInProcParties({ gallery: { epoch: 3 } });
    await parties.fill(10);
    await Promise.all([parties.galleries!.P0.build(), parties.galleries!.P1.build()]);
    f = await realSetup("dedup-policy", parties, { deviceLockAfter: 4, personLockAfter: 50 });
    shopA = await registerWorld(f, []);
    shopB = await registerWorld(f, []);
  });
  after(async () => {
    await f?.close();
    await parties?.close();
  });

  test("the same face as another person, at the same or another merchant, is refused DUPLICATE_ENROLMENT and leaves nothing at the parties; new faces enrol and verify", async () => {
    const face = randomEmbedding(512, 77);
    const a = await person(f, shopA, face);
    const r1 = await enrol(f, shopA, a);
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    assert.deepEqual([r1.body.decision, r1.body.reason], ["accept", "ENROLLED"]);
    await idle(parties);
    assert.equal((await verify(f, shopA, a)).body.reason, "MATCH");
    for (const [shop, label] of [[shopA, "same merchant"], [shopB, "another merchant"]] as const) {
      const b = await person(f, shop, sameFace(face, 0.15, 9));
      const r = await enrol(f, shop, b);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual([r.body.decision, r.body.reason], ["reject", "DUPLICATE_ENROLMENT"], label);
      assert.deepEqual(Object.keys(r.body).sort(), ["decision", "modelVersion", "reason", "requestId"], "no matching person, template or score in the answer");
      const row = await f.gw.service.store.getPerson(shop.persons[b].personId);
      assert.equal(row!.template_id, null, "the person has no template");
    }
    // nothing pending or active at the parties beyond the one template
    for (const p of ["P0", "P1"] as const) assert.equal((await parties.stores[p].templateCounts()).active, 1);
    for (const p of ["P0", "P1"] as const) assert.equal((await parties.stores[p].templateCounts()).pending, 0);
    const c = await person(f, shopB);
    assert.equal((await enrol(f, shopB, c)).body.reason, "ENROLLED");
    assert.ok(parties.audit.P0.some((e) => e.op === "dedup" && e.outcome === "computed"));
  });

  test("attack: a terminal asking 'is this face enrolled?' through enrolments is locked after deviceLockAfter duplicates, like a terminal guessing at verifications", async () => {
    const face = randomEmbedding(512, 91);
    const a = await person(f, shopA, face);
    assert.equal((await enrol(f, shopA, a)).body.reason, "ENROLLED");
    await idle(parties);
    const shop = await registerWorld(f, []);
    const probes = [];
    for (let i = 0; i < 5; i++) probes.push(await person(f, shop, sameFace(face, 0.15, 100 + i)));
    const reasons: string[] = [];
    for (const who of probes.slice(0, 4)) reasons.push((await enrol(f, shop, who)).body.reason);
    assert.deepEqual(reasons, ["DUPLICATE_ENROLMENT", "DUPLICATE_ENROLMENT", "DUPLICATE_ENROLMENT", "DUPLICATE_ENROLMENT"]);
    const dealt = parties.dedupHelper.dealt;
    const fifth = await enrol(f, shop, probes[4]);
    assert.equal(fifth.body.error?.code, "DEVICE_LOCKED", JSON.stringify(fifth.body));
    assert.equal(parties.dedupHelper.dealt, dealt, "a locked terminal reaches no search");
  });
});

describe("enrolment policy: fail closed", { timeout: 120_000 }, () => {
  test("without a ready gallery at the parties the enrolment is refused as unavailable, and nothing is enrolled", async () => {
    const parties = await startInProcParties({ gallery: { epoch: 4 } }); // galleries not built
    await parties.fill(4);
    const f = await realSetup("dedup-closed", parties);
    try {
      const w = await registerWorld(f, []);
      const who = await person(f, w);
      const r = await enrol(f, w, who);
      assert.notEqual(r.body.decision, "accept", JSON.stringify(r.body));
      assert.equal(r.body.error?.code ?? r.body.reason, "MPC_UNAVAILABLE");
      for (const p of ["P0", "P1"] as const) assert.equal((await parties.stores[p].templateCounts()).active, 0);
    } finally {
      await f.close();
      await parties.close();
    }
  });

  test("policy off (the default): no search is asked for, a duplicate enrols", async () => {
    const parties = await startInProcParties({ gallery: { epoch: 5 } });
    await parties.fill(4);
    await Promise.all([parties.galleries!.P0.build(), parties.galleries!.P1.build()]);
    const f = await realSetup("dedup-off", parties, { enrolDedup: undefined });
    try {
      const w = await registerWorld(f, []);
      const face = randomEmbedding(512, 3);
      assert.equal((await enrol(f, w, await person(f, w, face))).body.reason, "ENROLLED");
      await idle(parties);
      assert.equal((await enrol(f, w, await person(f, w, sameFace(face, 0.15, 4)))).body.reason, "ENROLLED");
      assert.equal(parties.dedupHelper.dealt, 0);
    } finally {
      await f.close();
      await parties.close();
    }
  });
});
