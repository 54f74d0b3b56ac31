/**
 * Session logic of the party app with both parties in one process (memory transport, SQLite in
 * memory): the scenario catalogue of enrol / verify / upgrade / delete and their error codes, through
 * the route table and through the HTTP-free service.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MODEL, modelParams, packItems, type PartyError } from "@privface/contracts";
import { deal, encodeBundle, newItemId } from "@privface/mpc";
import { fromBase64url } from "@privface/crypto";
import { authorise, deleteBodies, enrolBodies, finishBodies, maliciousProbe, newId, randomFace, reconstruct, sameFace, verifyBodies } from "@privface/devstack/gateway-sim";
import { MAX_BODY_BYTES, MAX_POOL_BODY_BYTES } from "../src/index.ts";
import { makeInProc, type InProc } from "./_inproc.ts";

const MV = MODEL.version;
const MV2 = "faceplugin-fr512-flip.2@test";
let h: InProc;
before(async () => {
  h = await makeInProc({ commitWindowMs: 1_000 });
  await h.fill(40);
});
after(() => h.close());

async function enrolled(x = randomFace(MODEL.dim)) {
  const templateId = newId();
  const session = newId();
  const e = await h.both("/v1/enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MV, x }));
  assert.equal(e.P0.status, 200, JSON.stringify(e.P0.body));
  assert.equal(e.P1.status, 200, JSON.stringify(e.P1.body));
  assert.equal(reconstruct(e.P0.body.resultShare, e.P1.body.resultShare).valid, 1);
  const c = await h.both("/v1/commit", await finishBodies(h.keys, "commit", { session, templateId, modelVersion: MV }));
  assert.deepEqual([c.P0.body, c.P1.body], [{ templateId, status: "active" }, { templateId, status: "active" }]);
  return { templateId, x };
}

async function verify(templateId: string, x: Int8Array, modelVersion = MV) {
  return h.both("/v1/verify", await verifyBodies(h.keys, { session: newId(), templateId, modelVersion, x }));
}

describe("party app (in process)", () => {
  it("enrols, then verifies genuine → match, impostor → no match, malicious → invalid", async () => {
    const { templateId, x } = await enrolled();
    const g = await verify(templateId, sameFace(x));
    assert.deepEqual(reconstruct(g.P0.body.resultShare, g.P1.body.resultShare), { valid: 1, match: 1 });
    const i = await verify(templateId, randomFace(MODEL.dim));
    assert.deepEqual(reconstruct(i.P0.body.resultShare, i.P1.body.resultShare), { valid: 1, match: 0 });
    const m = await verify(templateId, maliciousProbe(MODEL.dim));
    assert.deepEqual(reconstruct(m.P0.body.resultShare, m.P1.body.resultShare), { valid: 0, match: 0 });
    assert.ok(h.audit.P0.some((r) => r.op === "verify" && r.templateId === templateId));
    assert.ok(h.audit.P1.some((r) => r.op === "commit" && r.templateId === templateId));
  });

  it("an invalid template enrols as valid=0 and abort leaves nothing at either party", async () => {
    const templateId = newId();
    const session = newId();
    const e = await h.both("/v1/enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MV, x: maliciousProbe(MODEL.dim) }));
    assert.equal(reconstruct(e.P0.body.resultShare, e.P1.body.resultShare).valid, 0);
    const a = await h.both("/v1/abort", await finishBodies(h.keys, "abort", { session, templateId }));
    assert.deepEqual([a.P0.body.status, a.P1.body.status], ["aborted", "aborted"]);
    for (const p of ["P0", "P1"] as const) assert.deepEqual(await h.stores[p].templateVersions(templateId), []);
  });

  it("refuses reused, expired, wrong-party and wrong-op authorisations, and callers of the wrong role", async () => {
    const { templateId, x } = await enrolled();
    const bodies = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x });
    assert.equal((await h.both("/v1/verify", bodies)).P0.status, 200);
    const again = await h.both("/v1/verify", bodies);
    assert.equal(again.P0.body.error.code, "AUTH_REUSED");
    assert.equal(again.P1.body.error.code, "AUTH_REUSED");
    const b2 = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x });
    b2.P0.authorisation = await authorise(h.keys.gateway, { op: "verify", party: "P0", session: b2.P0.session, templateId, modelVersion: MV, digest: "x", expires: Date.now() - 1 });
    assert.equal((await h.call("P0", "/v1/verify", b2.P0)).body.error.code, "AUTH_INVALID");
    const b3 = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x });
    b3.P0.authorisation = b3.P1.authorisation;
    assert.equal((await h.call("P0", "/v1/verify", b3.P0)).body.error.code, "AUTH_INVALID");
    const del = await deleteBodies(h.keys, { templateId });
    assert.equal((await h.call("P0", "/v1/verify", { ...b3.P1, authorisation: del.P0.authorisation })).body.error.code, "AUTH_INVALID");
    const r = await h.call("P0", "/v1/verify", b3.P0, "helper");
    assert.equal(r.status, 403);
    assert.equal((await h.call("P1", "/v1/peer/sessions", { sessions: [] }, "gateway")).status, 403);
  });

  it("admission (issue 12 item 9): route and caller's role decided before the body is read, each route with its body cap", () => {
    const admit = (party: "P0" | "P1", method: string, path: string, role: "gateway" | "helper" | "p0" | "p1" | "monitor" | null) => h.apps[party].admit({ method, path, role });
    const code = (a: ReturnType<typeof admit>) => (a.ok ? "ok" : (a.response.body as { error: { code: string } }).error.code);
    // a wrong role is refused on the head alone, whatever body would follow (P1 read 256 MiB before)
    assert.equal(code(admit("P1", "POST", "/v1/pool/items", "gateway")), "FORBIDDEN_ROLE");
    assert.equal(code(admit("P1", "POST", "/v1/pool/items", "p0")), "FORBIDDEN_ROLE");
    assert.equal(code(admit("P1", "POST", "/v1/verify", "helper")), "FORBIDDEN_ROLE");
    assert.equal(code(admit("P0", "POST", "/v1/enrol", null)), "FORBIDDEN_ROLE");
    assert.equal(code(admit("P0", "POST", "/v1/peer/sessions", "gateway")), "FORBIDDEN_ROLE");
    assert.equal(code(admit("P0", "POST", "/v1/pool/items", "helper")), "NOT_FOUND");
    // a metrics scraper's certificate reads health and metrics, and nothing else
    for (const p of ["P0", "P1"] as const) {
      assert.equal(code(admit(p, "GET", "/metrics", "monitor")), "ok");
      assert.equal(code(admit(p, "GET", "/v1/health", "monitor")), "ok");
      for (const path of ["/v1/enrol", "/v1/verify", "/v1/commit", "/v1/abort", "/v1/delete", "/v1/nonces", "/v1/devices", "/v1/peer/sessions"]) assert.equal(code(admit(p, "POST", path, "monitor")), "FORBIDDEN_ROLE", `${p} ${path}`);
      assert.equal(code(admit(p, "GET", "/v1/keys", "monitor")), "FORBIDDEN_ROLE");
    }
    assert.equal(code(admit("P1", "POST", "/v1/pool/items", "monitor")), "FORBIDDEN_ROLE");
    assert.equal(code(admit("P0", "POST", "/v1/nothing", "gateway")), "NOT_FOUND");
    assert.deepEqual(admit("P1", "POST", "/v1/pool/items", "helper"), { ok: true, maxBodyBytes: MAX_POOL_BODY_BYTES });
    assert.deepEqual(admit("P1", "POST", "/v1/verify", "gateway"), { ok: true, maxBodyBytes: MAX_BODY_BYTES });
    assert.deepEqual(admit("P0", "POST", "/v1/peer/sessions", "p1"), { ok: true, maxBodyBytes: MAX_BODY_BYTES });
    assert.equal(MAX_BODY_BYTES, 1 << 20);
    // the largest delivery (1024 items: the helper's MAX_BATCH bound) fits, far below the 256 MiB P1 read before
    const seeds = { P0: new Uint8Array(32).fill(1), P1: new Uint8Array(32).fill(2) };
    const item = (kind: "verify" | "enrol") => encodeBundle(deal(modelParams(), newItemId(), seeds, { kind }).P1);
    const full = packItems(Array.from({ length: 1024 }, () => item("verify")));
    assert.ok(full.length <= MAX_POOL_BODY_BYTES && MAX_POOL_BODY_BYTES <= 64 << 20, `a full batch is ${full.length} bytes`);
    assert.ok(item("enrol").length <= item("verify").length);
    assert.ok(h.audit.P1.some((r) => r.op === "verify" && r.code === "FORBIDDEN_ROLE" && r.requester === "helper"), "refusals of gateway operations are audited");
  });

  it("expired authorisation → AUTH_EXPIRED; unknown fields → INVALID_INPUT", async () => {
    const { templateId, x } = await enrolled();
    const b = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x });
    h.clock.offset = 120_000;
    try {
      assert.equal((await h.call("P0", "/v1/verify", b.P0)).body.error.code, "AUTH_EXPIRED");
    } finally {
      h.clock.offset = 0;
    }
    const r = await h.call("P1", "/v1/verify", { ...b.P1, extra: 1 });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, "INVALID_INPUT");
    // a peer worker named to a party that runs no several peer workers (workers.ts), or not a worker name
    for (const peer of ["b", "../x", 7]) {
      const p = await h.call("P0", "/v1/verify", { ...b.P0, session: newId(), peer });
      assert.equal(p.body.error?.code, "INVALID_INPUT", JSON.stringify(peer));
    }
  });

  it("unknown template and wrong model version are reported by both parties", async () => {
    const u = await verify(newId(), randomFace(MODEL.dim));
    assert.equal(u.P0.body.error.code, "UNKNOWN_TEMPLATE");
    assert.equal(u.P1.body.error.code, "UNKNOWN_TEMPLATE");
    const { templateId, x } = await enrolled();
    const w = await verify(templateId, x, "other-model.9");
    assert.equal(w.P0.body.error.code, "WRONG_MODEL_VERSION");
    assert.equal(w.P1.body.error.code, "WRONG_MODEL_VERSION");
  });

  it("upgrade: a verification carries v_new, commit promotes it, v_old is then refused", async () => {
    const { templateId, x } = await enrolled();
    const y = sameFace(x);
    const bodies = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: y, upgrade: { modelVersion: MV2, x: sameFace(x) } });
    const v = await h.both("/v1/verify", bodies);
    assert.equal(v.P0.status, 200, JSON.stringify([v.P0.body, v.P1.body]));
    assert.deepEqual(reconstruct(v.P0.body.resultShare, v.P1.body.resultShare), { valid: 1, match: 1, upgradeValid: 1 });
    const c = await h.both("/v1/commit", await finishBodies(h.keys, "upgrade", { session: bodies.P0.session, templateId, modelVersion: MV2 }));
    assert.equal(c.P0.status, 200, JSON.stringify(c.P0.body));
    assert.equal(c.P1.status, 200);
    const g = await verify(templateId, sameFace(x), MV2);
    assert.deepEqual(reconstruct(g.P0.body.resultShare, g.P1.body.resultShare), { valid: 1, match: 1 });
    assert.equal((await verify(templateId, x, MV)).P0.body.error.code, "WRONG_MODEL_VERSION");
  });

  it("upgrade without a helper: the verification still answers, nothing is staged", async () => {
    const { templateId, x } = await enrolled();
    h.helperDown.value = true;
    try {
      const bodies = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: sameFace(x), upgrade: { modelVersion: MV2, x: sameFace(x) } });
      const v = await h.both("/v1/verify", bodies);
      assert.deepEqual(reconstruct(v.P0.body.resultShare, v.P1.body.resultShare), { valid: 1, match: 1 });
      const c = await h.both("/v1/commit", await finishBodies(h.keys, "upgrade", { session: bodies.P0.session, templateId, modelVersion: MV2 }));
      assert.deepEqual([c.P0.body.error.code, c.P1.body.error.code], ["SESSION_UNKNOWN", "SESSION_UNKNOWN"]);
    } finally {
      h.helperDown.value = false;
    }
  });

  it("delete erases at both, is idempotent and answered", async () => {
    const { templateId, x } = await enrolled();
    const d1 = await h.both("/v1/delete", await deleteBodies(h.keys, { templateId }));
    assert.deepEqual(d1.P0.body, { templateId, deleted: true, existed: true });
    assert.deepEqual(d1.P1.body, { templateId, deleted: true, existed: true });
    const d2 = await h.both("/v1/delete", await deleteBodies(h.keys, { templateId }));
    assert.deepEqual(d2.P1.body, { templateId, deleted: true, existed: false });
    assert.equal((await verify(templateId, x)).P0.body.error.code, "UNKNOWN_TEMPLATE");
  });

  it("a failing audit append fails the operation", async () => {
    const { templateId } = await enrolled();
    h.failAudit.P1 = true;
    try {
      const d = await h.both("/v1/delete", await deleteBodies(h.keys, { templateId }));
      assert.equal(d.P1.status, 500);
      assert.equal(d.P1.body.error.code, "INTERNAL");
    } finally {
      h.failAudit.P1 = false;
    }
  });

  it("peer unreachable → PEER_UNAVAILABLE", async () => {
    const { templateId, x } = await enrolled();
    h.net.disconnect("p1");
    try {
      const r = await h.call("P0", "/v1/verify", (await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x })).P0);
      assert.equal(r.body.error.code, "PEER_UNAVAILABLE");
      assert.equal(r.status, 503);
    } finally {
      h.net.reconnect("p1");
    }
  });

  it("recovery: committed at one party only → the other commits; committed at neither → both abort", async () => {
    const x = randomFace(MODEL.dim);
    const mk = async () => {
      const templateId = newId();
      const session = newId();
      await h.both("/v1/enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MV, x }));
      return { templateId, session };
    };
    const one = await mk();
    const none = await mk();
    const c = await finishBodies(h.keys, "commit", { session: one.session, templateId: one.templateId, modelVersion: MV });
    assert.equal((await h.call("P0", "/v1/commit", c.P0)).status, 200);
    h.clock.offset = 10_000;
    try {
      const late = await finishBodies(h.keys, "commit", { session: none.session, templateId: none.templateId, modelVersion: MV });
      assert.equal((await h.call("P1", "/v1/commit", late.P1)).body.error.code, "SESSION_UNKNOWN");
      const r1 = await h.services.P1.recover((s) => h.services.P0.sessionStatus(s));
      const r0 = await h.services.P0.recover((s) => h.services.P1.sessionStatus(s));
      assert.ok(r1.committed >= 1 && r1.aborted >= 1, JSON.stringify(r1));
      assert.ok(r0.aborted >= 1, JSON.stringify(r0));
    } finally {
      h.clock.offset = 0;
    }
    for (const p of ["P0", "P1"] as const) {
      assert.deepEqual((await h.stores[p].templateVersions(one.templateId)).map((t) => t.status), ["active"]);
      assert.deepEqual(await h.stores[p].templateVersions(none.templateId), []);
    }
  });

  it("the service takes typed input and answers typed output, without HTTP", async () => {
    const { templateId } = await enrolled();
    const health = await h.services.P1.health();
    assert.deepEqual({ ...health, pool: { target: health.pool.target } }, { role: "p1", peer: "up", helper: "up", pool: { target: 100 } });
    const d = await deleteBodies(h.keys, { templateId });
    assert.deepEqual(await h.services.P0.delete({ templateId, authorisation: d.P0.authorisation }), { templateId, deleted: true, existed: true });
    // the authorisation is the service's to check: the other party's is refused
    await assert.rejects(h.services.P1.delete({ templateId, authorisation: d.P0.authorisation }), (e: PartyError) => e.code === "AUTH_INVALID");
    const v = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: randomFace(MODEL.dim) });
    const input = (p: "P0" | "P1") => ({
      session: v[p].session,
      templateId,
      modelVersion: MV,
      sealed: fromBase64url(v[p].sealedShare),
      statement: v[p].statement,
      mac: v[p].mac,
      authorisation: v[p].authorisation,
    });
    const both = await Promise.allSettled([h.services.P0.verify(input("P0")), h.services.P1.verify(input("P1"))]);
    assert.deepEqual(both.map((r) => r.status === "rejected" && (r.reason as PartyError).code), ["UNKNOWN_TEMPLATE", "UNKNOWN_TEMPLATE"]);
  });

  it("a body refused once its session id is known is aborted at the peer at once (the peer answers the same code, not a time-out)", async () => {
    const { templateId, x } = await enrolled();
    const e = await enrolBodies(h.keys, { session: newId(), templateId: newId(), modelVersion: MV, x });
    const badEnrol = await h.call("P0", "/v1/enrol", { ...e.P0, statement: { ...e.P0.statement, templateId: "not a template id" } });
    assert.equal(badEnrol.body.error.code, "INVALID_INPUT");
    const peerEnrol = await h.call("P1", "/v1/enrol", e.P1);
    assert.equal(peerEnrol.body.error.code, "INVALID_INPUT", JSON.stringify(peerEnrol.body));
    // verify with an upgrade whose part is malformed: both runs (session and session-u) are aborted at the peer
    const v = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: sameFace(x), upgrade: { modelVersion: MV2, x: sameFace(x) } });
    const bad = await h.call("P1", "/v1/verify", { ...v.P1, upgrade: { ...v.P1.upgrade!, modelVersion: MV } });
    assert.equal(bad.body.error.code, "INVALID_INPUT");
    const peer = await h.call("P0", "/v1/verify", v.P0);
    assert.equal(peer.body.error.code, "INVALID_INPUT", JSON.stringify(peer.body));
    // the refusal is in the refusing party's audit log, under its session
    assert.deepEqual(h.audit.P1.filter((r) => r.session === v.P1.session).map((r) => [r.op, r.outcome, r.code]), [["verify", "refused", "INVALID_INPUT"]]);
  });

  it("pool exhausted → POOL_EXHAUSTED at both", async () => {
    const { templateId, x } = await enrolled();
    // (items reserved for item nonces count in the level but are not taken: drain until none is)
    while (await h.stores.P0.takeItem().then(() => true, () => false));
    const r = await verify(templateId, x);
    assert.equal(r.P0.body.error.code, "POOL_EXHAUSTED");
    assert.equal(r.P1.body.error.code, "POOL_EXHAUSTED");
  });
});
