/**
 * The enrolment policy for duplicates (issue 15, PRIVFACE_GATEWAY_ENROL_DEDUP=reject), against the REAL
 * parties in this process (both @privface/party apps with galleries, the full MPC, the stand-in helper
 * dealing dedup queries): the same face enrolled again — as another person, at another merchant — is
 * refused with DUPLICATE_ENROLMENT and leaves nothing at the parties; what the gateway learns is one bit;
 * a terminal that uses enrolments as an oracle ("is this face enrolled anywhere?") is locked like one
 * that guesses at verifications; without a ready gallery the enrolment fails closed.
 * ENROL_DEDUP=hold: a match is committed but held (no verification) until two operators decide; only
 * the gateway learns which templates matched, the terminal no more than under `reject`, the operators
 * see the persons masked; a crash between the decision and the deletion leaves no template behind.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AUDIT_TABLE } from "@privface/audit";
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

describe("enrolment policy: duplicates held for review (real parties)", { timeout: 240_000 }, () => {
  let parties: InProcParties;
  let f: Fixture;
  let shopA: World;
  let shopB: World;
  before(async () => {
    parties = await startInProcParties({ gallery: { epoch: 6 } });
    await parties.fill(12);
    await Promise.all([parties.galleries!.P0.build(), parties.galleries!.P1.build()]);
    f = await realSetup("dedup-hold", parties, { enrolDedup: "hold", deviceLockAfter: 3, personLockAfter: 50 });
    shopA = await registerWorld(f, []);
    shopB = await registerWorld(f, []);
  });
  after(async () => {
    await f?.close();
    await parties?.close();
  });
  const active = async () => Promise.all((["P0", "P1"] as const).map(async (p) => (await parties.stores[p].templateCounts()).active));
  const audited = async () =>
    f.gw.service.store.exec.read((tx) => tx.all<{ requester: string; op: string; outcome: string; code: string | null }>(`SELECT requester, op, outcome, code FROM ${AUDIT_TABLE} ORDER BY seq`));
  /** a face enrolled by `shop`, then the same face as a new person at shopB: held */
  async function held(face = randomEmbedding(512, 600 + n)) {
    const a = await person(f, shopA, face);
    assert.equal((await enrol(f, shopA, a)).body.reason, "ENROLLED");
    await idle(parties);
    const b = await person(f, shopB, sameFace(face, 0.15, 11 + n));
    const r = await enrol(f, shopB, b);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return { a, b, r };
  }
  const isActive = (p: PartyName, t: string) => parties.stores[p].loadActive(t).then(() => true, () => false);
  const holdOf = async (personId: string) => (await f.admin("GET", "/v1/admin/holds", undefined, "operator", "review duplicates")).body.holds.find((h: { person: { personId: string } }) => h.person.personId === personId);

  test("a match is committed at both parties but held: the terminal's answer says no more than a reject, verification is refused ENROLMENT_HELD without reaching the parties, and the gateway knows whom it matched", async () => {
    const before = await active();
    const { a, b, r } = await held();
    assert.deepEqual([r.body.decision, r.body.reason], ["reject", "HELD_FOR_REVIEW"]);
    assert.deepEqual(Object.keys(r.body).sort(), ["decision", "modelVersion", "reason", "requestId"], "no matching person, template or score in the answer");
    assert.deepEqual(await active(), before.map((x) => x + 2), "the first face and the held one are active at both parties");
    const row = await f.gw.service.store.getPerson(shopB.persons[b].personId);
    assert.ok(row!.template_id && row!.held_at, "recorded with its template and held");
    const verifies = () => parties.audit.P0.filter((e) => e.op === "verify").length;
    const seen = verifies();
    const v = await verify(f, shopB, b);
    assert.equal(v.body.error?.code, "ENROLMENT_HELD", JSON.stringify(v.body));
    assert.equal(verifies(), seen, "no verification reached the parties");
    const [hold] = await f.gw.service.store.openHolds(100).then((hs) => hs.filter((h) => h.person_id === row!.id));
    assert.deepEqual(JSON.parse(hold.matches), [(await f.gw.service.store.getPerson(shopA.persons[a].personId))!.template_id]);
    // a new face is not held
    assert.equal((await enrol(f, shopB, await person(f, shopB))).body.reason, "ENROLLED");
  });

  test("attack: a terminal probing 'is this face enrolled?' under hold is locked after deviceLockAfter matches, as under reject", async () => {
    const face = randomEmbedding(512, 191);
    const a = await person(f, shopA, face);
    assert.equal((await enrol(f, shopA, a)).body.reason, "ENROLLED");
    await idle(parties);
    const shop = await registerWorld(f, []);
    const probes = [];
    for (let i = 0; i < 4; i++) probes.push(await person(f, shop, sameFace(face, 0.15, 200 + i)));
    const reasons: string[] = [];
    for (const who of probes.slice(0, 3)) reasons.push((await enrol(f, shop, who)).body.reason);
    assert.deepEqual(reasons, ["HELD_FOR_REVIEW", "HELD_FOR_REVIEW", "HELD_FOR_REVIEW"]);
    const dealt = parties.dedupHelper.dealt;
    const fourth = await enrol(f, shop, probes[3]);
    assert.equal(fourth.body.error?.code, "DEVICE_LOCKED", JSON.stringify(fourth.body));
    assert.equal(parties.dedupHelper.dealt, dealt, "a locked terminal reaches no search");
  });

  test("review: the operator sees the held and the matching person masked, with a reason and against the quota; approving needs a second operator; approved → active and verifies; every step audited", async () => {
    const { a, b } = await held();
    const who = shopB.persons[b];
    assert.equal((await f.admin("GET", "/v1/admin/holds", undefined, "operator")).body.error?.code, "REASON_REQUIRED");
    assert.equal((await f.admin("GET", "/v1/admin/holds", undefined, "admin", "x-role")).body.error?.code, "FORBIDDEN_ROLE");
    const used = async () => Number((await f.gw.service.store.exec.read((tx) => tx.get<{ count: unknown }>("SELECT count FROM operator_reads WHERE operator_id = 'oscar'", [])))?.count ?? 0);
    const u0 = await used();
    const page = (await f.admin("GET", "/v1/admin/holds", undefined, "operator", "review duplicates")).body.holds as { matches: unknown[] }[];
    assert.equal((await used()) - u0, page.reduce((n, x) => n + 1 + x.matches.length, 0), "each person shown counts against the quota");
    const h = await holdOf(who.personId);
    assert.ok(h, "listed");
    assert.equal(h.person.held, true);
    assert.deepEqual(h.matches.map((m: { personId: string }) => m.personId), [shopA.persons[a].personId]);
    const text = JSON.stringify(h);
    for (const p of [who, shopA.persons[a]]) for (const clear of [p.idNumber, p.phone]) assert.ok(!text.includes(clear), "masked");
    assert.ok(!text.includes((await f.gw.service.store.getPerson(who.personId))!.template_id!), "no template id shown");
    assert.match(h.person.idNumber, /\*/);
    // dual control
    const req = await f.admin("POST", `/v1/admin/holds/${h.holdId}/decision`, { decision: "approve" }, "operator", "documents checked in person");
    assert.equal(req.status, 202, JSON.stringify(req.body));
    assert.equal((await f.admin("POST", `/v1/admin/approvals/${req.body.approvalId}/approve`, undefined, "operator", "me too")).body.error?.code, "SAME_APPROVER");
    assert.equal((await verify(f, shopB, b)).body.error?.code, "ENROLMENT_HELD", "still held while pending");
    const ok = await f.admin("POST", `/v1/admin/approvals/${req.body.approvalId}/approve`, undefined, "operator2", "second look: twins");
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal((await f.admin("POST", `/v1/admin/approvals/${req.body.approvalId}/approve`, undefined, "operator2", "again")).body.error?.code, "NOT_PENDING");
    assert.equal((await f.admin("POST", `/v1/admin/holds/${h.holdId}/decision`, { decision: "reject" }, "operator", "too late")).body.error?.code, "NOT_PENDING");
    assert.equal(await holdOf(who.personId), undefined, "no longer listed");
    assert.equal((await verify(f, shopB, b)).body.reason, "MATCH");
    const log = await audited();
    for (const op of ["hold.list", "hold.approve.request", "hold.approve.approve", "hold.approve"]) assert.ok(log.some((e) => e.op === op), `audited: ${op}`);
  });

  test("review: rejected by two operators → the held template is deleted at both parties and the person is not enrolled; a second pending decision finds nothing", async () => {
    const { b } = await held();
    const who = shopB.persons[b];
    const templateId = (await f.gw.service.store.getPerson(who.personId))!.template_id!;
    const h = await holdOf(who.personId);
    const rej = await f.admin("POST", `/v1/admin/holds/${h.holdId}/decision`, { decision: "reject" }, "operator", "same face as an enrolled principal");
    const app = await f.admin("POST", `/v1/admin/holds/${h.holdId}/decision`, { decision: "approve" }, "operator2", "disagree");
    const before = await active();
    assert.equal((await f.admin("POST", `/v1/admin/approvals/${rej.body.approvalId}/approve`, undefined, "operator2", "agreed: fraud")).status, 200);
    assert.equal((await f.admin("POST", `/v1/admin/approvals/${app.body.approvalId}/approve`, undefined, "operator", "late")).body.error?.code, "NOT_PENDING");
    assert.deepEqual(await active(), before.map((x) => x - 1), "deleted at both parties");
    for (const p of ["P0", "P1"] as const) assert.equal(await isActive(p, templateId), false);
    const row = await f.gw.service.store.getPerson(who.personId);
    assert.deepEqual([row!.template_id, row!.held_at], [null, null]);
    assert.equal((await verify(f, shopB, b)).body.error?.code, "NOT_ENROLLED");
    assert.ok((await audited()).some((e) => e.op === "hold.reject" && e.code === "DELETED"));
  });

  test("crash: a rejection whose process dies right after the decision is recorded leaves its deletion to the re-check, which deletes the template at both parties", async () => {
    const { b } = await held();
    const who = shopB.persons[b];
    const templateId = (await f.gw.service.store.getPerson(who.personId))!.template_id!;
    const h = await holdOf(who.personId);
    const rej = await f.admin("POST", `/v1/admin/holds/${h.holdId}/decision`, { decision: "reject" }, "operator", "fraud");
    // what the approval writes before it calls the parties, and nothing after (the process "dies")
    assert.ok(await f.gw.service.store.decideHold(rej.body.approvalId, "olga", Date.now(), "chk_crash0123456789"));
    assert.ok((await f.gw.service.store.getPerson(who.personId))!.held_at, "still held: unusable until the deletion");
    for (const p of ["P0", "P1"] as const) assert.ok(await isActive(p, templateId));
    await f.gw.service.runRechecks();
    for (const p of ["P0", "P1"] as const) assert.equal(await isActive(p, templateId), false, `gone at ${p}`);
    assert.equal((await f.gw.service.store.getPerson(who.personId))!.template_id, null);
  });

  test("attack: a party's half of the match list that does not fit the other's fails the enrolment closed (nothing enrolled, nothing held)", async () => {
    const face = randomEmbedding(512, 321);
    const a = await person(f, shopA, face);
    assert.equal((await enrol(f, shopA, a)).body.reason, "ENROLLED");
    await idle(parties);
    const real = parties.clients.P1.dedup;
    parties.clients.P1.dedup = async (req) => {
      const r = await real(req);
      return { ...r, matches: { ...r.matches!, templates: r.matches!.templates.map(() => "tpl_forged0123456789") } };
    };
    try {
      const b = await person(f, shopB, sameFace(face, 0.15, 5));
      const r = await enrol(f, shopB, b);
      assert.equal(r.body.error?.code, "MPC_UNAVAILABLE", JSON.stringify(r.body));
      assert.equal((await f.gw.service.store.getPerson(shopB.persons[b].personId))!.template_id, null);
    } finally {
      parties.clients.P1.dedup = real;
    }
  });
});

