/**
 * Decision 010 §2 at the parties, attacked by a malicious gateway: it holds the gateway's signing key
 * (so every authorisation it makes verifies), the parties' public sealing keys, and a template it
 * learned in the clear. Each party checks the device itself — its own registry, the statement's MAC
 * under the key only it and the device share, purpose = operation, template, model version, sealing
 * key and the digest of the envelope it received — so none of these requests is answered.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { composeChallenge, MODEL, statementContext } from "@privface/contracts";
import { authorise, authoriseBody, enrolBodies, finishBodies, newId, newSimDevice, randomFace, reconstruct, sameFace, sealedBodies, simChallenge, simRegistration, verifyBodies } from "@privface/devstack/gateway-sim";
import { makeInProc, type InProc } from "./_inproc.ts";

const MV = MODEL.version;
let h: InProc;
before(async () => {
  h = await makeInProc({ devicePolicy: "operator" });
  for (const p of ["P0", "P1"] as const) await h.services[p].approveDevice(h.keys.device.id);
  await h.fill(30);
});
after(() => h.close());

async function enrolled(x = randomFace(MODEL.dim)) {
  const templateId = newId();
  const session = newId();
  const e = await h.both("/v1/enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MV, x }));
  assert.equal(reconstruct(e.P0.body.resultShare, e.P1.body.resultShare).valid, 1, JSON.stringify(e.P0.body));
  await h.both("/v1/commit", await finishBodies(h.keys, "commit", { session, templateId, modelVersion: MV }));
  return { templateId, x };
}

/** What the malicious gateway sends: `bodies` (its own or the device's, altered), each re-authorised with the gateway key. */
async function asGateway(op: "enrol" | "verify", bodies: Record<"P0" | "P1", any>) {
  const signed = {
    P0: { ...bodies.P0, authorisation: await authoriseBody(h.keys, op, "P0", bodies.P0) },
    P1: { ...bodies.P1, authorisation: await authoriseBody(h.keys, op, "P1", bodies.P1) },
  };
  return h.both(`/v1/${op}`, signed);
}
const codes = (r: Record<"P0" | "P1", { body: any }>) => [r.P0.body.error?.code, r.P1.body.error?.code];

describe("the parties check the device themselves (decision 010 §2)", () => {
  it("an honest device's verification is answered", async () => {
    const { templateId, x } = await enrolled();
    const r = await h.both("/v1/verify", await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: sameFace(x) }));
    assert.deepEqual(reconstruct(r.P0.body.resultShare, r.P1.body.resultShare), { valid: 1, match: 1 });
  });

  it("attack: the gateway re-seals a template it learned under a registered device's id (it cannot make the MAC) → STATEMENT_INVALID at both", async () => {
    const { templateId, x } = await enrolled();
    const impostor = { ...(await newSimDevice(h.keys.device.id)) }; // same id, keys the gateway made
    const forged = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x, device: impostor });
    assert.deepEqual(codes(await asGateway("verify", forged)), ["STATEMENT_INVALID", "STATEMENT_INVALID"]);
  });

  it("attack: the gateway swaps its own envelopes under a genuine statement and MAC → STATEMENT_INVALID (digest)", async () => {
    const { templateId, x } = await enrolled();
    const session = newId();
    const genuine = await sealedBodies(h.keys, "verify", { session, templateId, modelVersion: MV, x: randomFace(MODEL.dim) });
    const resealed = await sealedBodies(h.keys, "verify", { session, templateId, modelVersion: MV, x, challenge: genuine.P0.statement.challenge });
    const swapped = { P0: { ...genuine.P0, sealedShare: resealed.P0.sealedShare }, P1: { ...genuine.P1, sealedShare: resealed.P1.sealedShare } };
    const r = await asGateway("verify", swapped);
    assert.deepEqual(codes(r), ["STATEMENT_INVALID", "STATEMENT_INVALID"]);
    assert.match(r.P0.body.error.message, /envelope received is not the one the device made/);
    // altering the statement to fit the new envelopes breaks the MAC
    const fitted = { P0: { ...swapped.P0, statement: resealed.P0.statement }, P1: { ...swapped.P1, statement: resealed.P1.statement } };
    assert.deepEqual(codes(await asGateway("verify", fitted)), ["STATEMENT_INVALID", "STATEMENT_INVALID"]);
  });

  it("attack: an enrolment envelope (the template itself) presented as a verification probe → STATEMENT_INVALID (purpose)", async () => {
    const { templateId, x } = await enrolled();
    const enrolMade = await sealedBodies(h.keys, "enrol", { session: newId(), templateId, modelVersion: MV, x });
    const r = await asGateway("verify", enrolMade);
    assert.deepEqual(codes(r), ["STATEMENT_INVALID", "STATEMENT_INVALID"]);
    assert.match(r.P1.body.error.message, /made for enrol, presented to verify/);
    // nor can the gateway relabel it: the MAC covers the purpose
    const relabelled = { P0: { ...enrolMade.P0, statement: { ...enrolMade.P0.statement, purpose: "verify" } }, P1: { ...enrolMade.P1, statement: { ...enrolMade.P1.statement, purpose: "verify" } } };
    assert.deepEqual(codes(await asGateway("verify", relabelled)), ["STATEMENT_INVALID", "STATEMENT_INVALID"]);
  });

  it("attack: a statement for another template or model version → STATEMENT_INVALID", async () => {
    const { templateId, x } = await enrolled();
    const other = await enrolled();
    const b = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x });
    const retargeted = { P0: { ...b.P0, templateId: other.templateId }, P1: { ...b.P1, templateId: other.templateId } };
    assert.deepEqual(codes(await asGateway("verify", retargeted)), ["STATEMENT_INVALID", "STATEMENT_INVALID"]);
    assert.equal(statementContext(b.P0.statement).templateId, templateId);
  });

  it("an unregistered device, and a registered one not yet approved by the party's operator → DEVICE_UNKNOWN; approved → answered", async () => {
    const { templateId, x } = await enrolled();
    const stranger = await newSimDevice();
    const r1 = await asGateway("verify", await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x, device: stranger }));
    assert.deepEqual(codes(r1), ["DEVICE_UNKNOWN", "DEVICE_UNKNOWN"]);
    // the gateway registers it: under the `operator` policy it waits for each party's approval
    for (const p of ["P0", "P1"] as const) assert.equal((await h.call(p, "/v1/devices", simRegistration(stranger))).body.status, "pending");
    const r2 = await asGateway("verify", await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x, device: stranger }));
    assert.deepEqual(codes(r2), ["DEVICE_UNKNOWN", "DEVICE_UNKNOWN"]);
    assert.ok(h.audit.P0.some((a) => a.op === "verify" && a.outcome === "refused" && a.code === "DEVICE_UNKNOWN"));
    // approved at P0 only: P1 still refuses, so nothing is computed
    await h.services.P0.approveDevice(stranger.id);
    const r3 = await asGateway("verify", await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x, device: stranger }));
    assert.equal(r3.P1.body.error.code, "DEVICE_UNKNOWN");
    assert.equal(r3.P0.status === 200, false);
    await h.services.P1.approveDevice(stranger.id);
    const r4 = await asGateway("verify", await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x), device: stranger }));
    assert.deepEqual(reconstruct(r4.P0.body.resultShare, r4.P1.body.resultShare), { valid: 1, match: 1 });
    // revoked (forwarded by the gateway): refused at once, and never re-activated by a new registration
    for (const p of ["P0", "P1"] as const) assert.equal((await h.call(p, "/v1/devices", { deviceId: stranger.id, revoke: true })).body.status, "revoked");
    const r5 = await asGateway("verify", await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x, device: stranger }));
    assert.deepEqual(codes(r5), ["DEVICE_UNKNOWN", "DEVICE_UNKNOWN"]);
    assert.equal((await h.call("P0", "/v1/devices", simRegistration(stranger))).body.status, "revoked");
    // a known device id with other keys is refused (a re-keyed device is a new device)
    assert.equal((await h.call("P0", "/v1/devices", simRegistration(await newSimDevice(stranger.id)))).body.error.code, "INVALID_INPUT");
  });

  it("the signed sealing-key list: this party's key under its root (GET /v1/keys)", async () => {
    const { checkKeyList, sealingKeyId } = await import("@privface/contracts");
    for (const p of ["P0", "P1"] as const) {
      const r = await h.call(p, "/v1/keys", undefined, "gateway");
      const { current, list } = await checkKeyList(h.roots[p], p, r.body.keyList);
      assert.equal(current.id, await sealingKeyId(h.sealKeys[p]));
      assert.equal(list.party, p);
      await assert.rejects(checkKeyList(h.roots[p === "P0" ? "P1" : "P0"], p, r.body.keyList), { code: "KEY_LIST_UNTRUSTED" });
    }
  });
});

describe("freshness the gateway cannot manufacture: each party's nonce, used once (decision 010 §3)", () => {
  it("attack: a malicious gateway replays a device's verification (fresh authorisations, new session) → NONCE_REUSED at both; nothing computed", async () => {
    const { templateId, x } = await enrolled();
    const b = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x) });
    const first = await asGateway("verify", b);
    assert.deepEqual(reconstruct(first.P0.body.resultShare, first.P1.body.resultShare), { valid: 1, match: 1 });
    const verifyRuns = () => h.audit.P0.filter((a) => a.op === "verify" && a.outcome.startsWith("computed")).length;
    const before = verifyRuns();
    for (let i = 0; i < 5; i++) {
      const session = newId();
      const replay = { P0: { ...b.P0, session }, P1: { ...b.P1, session } };
      assert.deepEqual(codes(await asGateway("verify", replay)), ["NONCE_REUSED", "NONCE_REUSED"]);
    }
    assert.equal(verifyRuns(), before, "no replay reached the MPC");
    assert.ok(h.audit.P1.some((a) => a.op === "verify" && a.code === "NONCE_REUSED"), "the refusal is audited");
  });

  it("attack: the gateway hands one challenge out twice (the device makes a new request for it) → the second is NONCE_REUSED", async () => {
    const { templateId, x } = await enrolled();
    const challenge = await simChallenge(h.keys);
    const a = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x), challenge });
    assert.equal((await asGateway("verify", a)).P0.status, 200);
    const again = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x), challenge });
    assert.deepEqual(codes(await asGateway("verify", again)), ["NONCE_REUSED", "NONCE_REUSED"]);
  });

  it("attack: a challenge the gateway made up (no party nonce, a forged one, the other party's) → NONCE_INVALID", async () => {
    const { templateId, x } = await enrolled();
    const none = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x, challenge: newId(18) });
    assert.deepEqual(codes(await asGateway("verify", none)), ["NONCE_INVALID", "NONCE_INVALID"]);
    const forged = composeChallenge(newId(18), { P0: newId(34).slice(0, 46), P1: newId(34).slice(0, 46) });
    const f = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x, challenge: forged });
    assert.deepEqual(codes(await asGateway("verify", f)), ["NONCE_INVALID", "NONCE_INVALID"]);
    const n0 = (await h.services.P0.nonces(1)).nonces[0];
    const n1 = (await h.services.P1.nonces(1)).nonces[0];
    const crossed = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x, challenge: composeChallenge(newId(18), { P0: n1, P1: n0 }) });
    assert.deepEqual(codes(await asGateway("verify", crossed)), ["NONCE_INVALID", "NONCE_INVALID"]);
  });

  it("an expired nonce → NONCE_EXPIRED (a held-back envelope cannot be used later)", async () => {
    const { templateId, x } = await enrolled();
    const held = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x) });
    h.clock.offset += 301_000;
    try {
      // the gateway's authorisations are fresh (it can always make those); the parties' nonces are not
      const late = async (p: "P0" | "P1") => {
        const digest = JSON.parse(Buffer.from((await authoriseBody(h.keys, "verify", p, held[p])).payload, "base64url").toString()).digest;
        return { ...held[p], authorisation: await authorise(h.keys.gateway, { op: "verify", party: p, session: held[p].session, templateId, modelVersion: MV, digest, expires: Date.now() + h.clock.offset + 30_000 }) };
      };
      const r = await h.both("/v1/verify", { P0: await late("P0"), P1: await late("P1") });
      assert.deepEqual(codes(r), ["NONCE_EXPIRED", "NONCE_EXPIRED"]);
    } finally {
      h.clock.offset -= 301_000;
    }
  });

  it("an enrolment replayed after its session was aborted → NONCE_REUSED (one envelope, one enrolment)", async () => {
    const x = randomFace(MODEL.dim);
    const templateId = newId();
    const b = await sealedBodies(h.keys, "enrol", { session: newId(), templateId, modelVersion: MV, x });
    assert.equal((await asGateway("enrol", b)).P0.status, 200);
    await h.both("/v1/abort", await finishBodies(h.keys, "abort", { session: b.P0.session, templateId }));
    const session = newId();
    assert.deepEqual(codes(await asGateway("enrol", { P0: { ...b.P0, session }, P1: { ...b.P1, session } })), ["NONCE_REUSED", "NONCE_REUSED"]);
  });
});

describe("per-template volume budgets at each party (decision 010 §4)", () => {
  it("attack: a malicious gateway with a registered device's fresh requests gets at most VERIFY_PER_MIN answers per template per minute → VOLUME_EXCEEDED, audited and counted", async () => {
    const { templateId, x } = await enrolled();
    const other = await enrolled();
    let answered = 0;
    let refused: unknown[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await asGateway("verify", await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x) }));
      if (r.P0.status === 200 && r.P1.status === 200) answered++;
      else refused = codes(r);
    }
    assert.equal(answered, 10, "the default budget: 10 per minute");
    assert.deepEqual(refused, ["VOLUME_EXCEEDED", "VOLUME_EXCEEDED"]);
    assert.ok(h.audit.P0.some((a) => a.op === "verify" && a.templateId === templateId && a.code === "VOLUME_EXCEEDED"));
    assert.match((await h.call("P0", "/metrics", undefined, "gateway")).body, /privface_party_errors_total\{[^}]*code="VOLUME_EXCEEDED"[^}]*\} [1-9]/);
    // another template is not affected; a minute later this one is answered again
    const o = await asGateway("verify", await sealedBodies(h.keys, "verify", { session: newId(), templateId: other.templateId, modelVersion: MV, x: sameFace(other.x) }));
    assert.equal(o.P0.status, 200);
    h.clock.offset += 61_000;
    try {
      const late = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x) });
      const signed = async (p: "P0" | "P1") => {
        const digest = JSON.parse(Buffer.from((await authoriseBody(h.keys, "verify", p, late[p])).payload, "base64url").toString()).digest;
        return { ...late[p], authorisation: await authorise(h.keys.gateway, { op: "verify", party: p, session: late[p].session, templateId, modelVersion: MV, digest, expires: Date.now() + h.clock.offset + 30_000 }) };
      };
      const r = await h.both("/v1/verify", { P0: await signed("P0"), P1: await signed("P1") });
      assert.deepEqual(reconstruct(r.P0.body.resultShare, r.P1.body.resultShare), { valid: 1, match: 1 });
    } finally {
      h.clock.offset -= 61_000;
    }
  });
});
