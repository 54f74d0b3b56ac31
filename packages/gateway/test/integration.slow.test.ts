/**
 * End to end with the real servers: helper, P0 and P1 as child processes over mutual TLS
 * (@privface/party), the gateway over HTTPS in this process, devices simulated with
 * @privface/device's request builder from precomputed embeddings. Consent → enrol → genuine accept →
 * impostor reject → malicious probe → replay refused → model upgrade → deregistration → consent
 * withdrawal → a party down (MPC_UNAVAILABLE). All servers' logs pass the log scanner.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalJson, generateSigningKeyPair, sign, toBase64url, utf8, type KeyPair } from "@privface/crypto";
import { buildFaceRequest, buildSignedPersonRequest, MODEL } from "@privface/device";
import { startStack, type GatewayClient, type Stack } from "@privface/devstack";
import { deployModel, PEOPLE, randomEmbedding, sameFace } from "./_setup.ts";
import { scanLog } from "./_logscan.ts";

describe("gateway + real helper, P0, P1 on loopback", { timeout: 180_000 }, () => {
  let home: string;
  let stack: Stack;
  let c: GatewayClient;
  let op: GatewayClient;
  const logs: string[] = [];
  let deviceKey: KeyPair;
  let deviceId = "";
  const ids: Record<string, string> = {};
  const faces: Record<string, Float32Array> = {};

  async function ch(personId: string, purpose: string) {
    const r = await c.call("POST", "/v1/challenges", { deviceId, personId, purpose });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  }
  async function face(who: string, purpose: "enrol" | "verify", embedding: Float32Array | Int8Array, upgrade?: { modelVersion: string; embedding: Float32Array }) {
    const challenge = await ch(ids[who], purpose);
    const body = await buildFaceRequest({
      deviceId,
      personId: ids[who],
      purpose,
      challenge,
      embedding,
      liveness: 0.97,
      modelVersion: challenge.modelVersion,
      ...(upgrade ? { upgrade } : {}),
      signingKey: deviceKey,
    });
    const r = await c.call("POST", purpose === "enrol" ? "/v1/enrolments" : "/v1/verifications", body);
    return { ...r, sent: body };
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "privface-gw-e2e-"));
    const env: Record<string, string> = {};
    for (const p of ["P0", "P1"]) Object.assign(env, { [`PRIVFACE_${p}_POOL_TARGET`]: "60", [`PRIVFACE_${p}_POOL_LOW`]: "20", [`PRIVFACE_${p}_POOL_BATCH`]: "20", [`PRIVFACE_${p}_MPC_TIMEOUT_MS`]: "3000" });
    env.PRIVFACE_GATEWAY_PARTY_TIMEOUT_MS = "4000";
    stack = await startStack({ home, gateway: "in-process", env, onLog: (s, l) => logs.push(`${s} ${l}`) });
    c = stack.client("admin");
    op = stack.client("operator");
    const m = await c.admin("POST", "/v1/admin/merchants", { name: "E2E Shop" });
    deviceKey = await generateSigningKeyPair("INTL");
    const d = await c.admin("POST", `/v1/admin/merchants/${m.body.merchantId}/devices`, { suite: "INTL", publicKey: toBase64url(deviceKey.publicKey) });
    deviceId = d.body.deviceId;
    let seed = 1;
    for (const who of ["alice", "bob"] as const) {
      const p = await c.admin("POST", `/v1/admin/merchants/${m.body.merchantId}/persons`, PEOPLE[who]);
      assert.equal(p.status, 201);
      ids[who] = p.body.personId;
      faces[who] = randomEmbedding(MODEL.dim, seed++ * 7919);
      const notice = (await c.call("GET", "/v1/notices/current")).body;
      const cc = await ch(ids[who], "consent");
      const unsigned = { deviceId, personId: ids[who], challenge: cc.challenge, noticeVersion: notice.version, noticeHash: notice.hash, purposes: ["face-verification"] };
      const r = await c.call("POST", "/v1/consents", { ...unsigned, signature: toBase64url(await sign(deviceKey, utf8(canonicalJson(unsigned)))) });
      assert.equal(r.status, 201);
    }
  });

  after(async () => {
    c?.close();
    op?.close();
    await stack?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
    const secrets = Object.values(PEOPLE).flatMap((p) => [p.idNumber, p.phone]);
    assert.deepEqual(scanLog(logs.join("\n"), secrets), [], "log scanner");
  });

  it("health is ok with both parties and the peer link up", async () => {
    const h = await c.call("GET", "/v1/health");
    assert.deepEqual(h.body, { status: "ok", parties: { P0: "up", P1: "up" } });
  });

  it("enrols, accepts the genuine person, rejects an impostor and a malicious probe", async () => {
    const e = await face("alice", "enrol", faces.alice);
    assert.equal(e.status, 200, JSON.stringify(e.body));
    assert.equal(e.body.decision, "accept");
    const g = await face("alice", "verify", sameFace(faces.alice));
    assert.equal(g.body.decision, "accept", JSON.stringify(g.body));
    assert.equal(g.body.reason, "MATCH");
    const i = await face("alice", "verify", randomEmbedding(MODEL.dim, 424242));
    assert.equal(i.body.decision, "reject");
    assert.equal(i.body.reason, "NO_MATCH");
    const bad = new Int8Array(MODEL.dim).fill(127);
    const mal = await face("alice", "verify", bad);
    assert.equal(mal.body.decision, "reject");
    assert.equal(mal.body.reason, "INVALID_PROBE");
    const wild = await face("bob", "enrol", bad);
    assert.equal(wild.body.reason, "INVALID_TEMPLATE");
  });

  it("refuses a replayed request", async () => {
    const g = await face("alice", "verify", sameFace(faces.alice, 0.1, 3));
    assert.equal(g.body.decision, "accept");
    const r = await c.call("POST", "/v1/verifications", g.sent);
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, "REPLAYED_REQUEST");
  });

  it("upgrades the template to a new model on a successful verification", async () => {
    assert.ok(stack.gateway);
    const old = stack.gateway.service.modelVersion;
    const next = `${old}-next`;
    deployModel(stack.gateway.service, next);
    try {
      const newFace = randomEmbedding(MODEL.dim, 99_001);
      const u = await face("alice", "verify", sameFace(faces.alice, 0.1, 5), { modelVersion: next, embedding: newFace });
      assert.equal(u.status, 200, JSON.stringify(u.body));
      assert.equal(u.body.decision, "accept");
      assert.equal(u.body.upgraded, true);
      const after = await face("alice", "verify", sameFace(newFace, 0.1, 6));
      assert.equal(after.body.decision, "accept", JSON.stringify(after.body));
      faces.alice = newFace;
    } finally {
      deployModel(stack.gateway.service, old);
    }
  });

  it("deregisters after a fresh verification; the template is gone at both parties", async () => {
    assert.equal((await face("alice", "verify", sameFace(faces.alice, 0.1, 8))).body.decision, "accept");
    const dch = await ch(ids.alice, "deregister");
    const d = await c.call("POST", "/v1/deregistrations", await buildSignedPersonRequest({ deviceId, personId: ids.alice, challenge: dch, signingKey: deviceKey }));
    assert.equal(d.status, 200, JSON.stringify(d.body));
    assert.equal(d.body.status, "deleted");
    const v = await c.call("POST", "/v1/challenges", { deviceId, personId: ids.alice, purpose: "verify" });
    assert.equal(v.body.error.code, "NOT_ENROLLED");
    const h = await op.admin("GET", `/v1/admin/persons/${ids.alice}/decisions`, undefined, "e2e check");
    assert.equal(h.status, 200);
    assert.deepEqual(
      h.body.decisions.map((x: { op: string; reason: string }) => `${x.op}:${x.reason}`).reverse(),
      ["enrol:ENROLLED", "verify:MATCH", "verify:NO_MATCH", "verify:INVALID_PROBE", "verify:MATCH", "verify.upgrade:MATCH", "verify:MATCH", "verify:MATCH", "deregister:DELETED"],
    );
  });

  it("withdrawing consent deletes the template at both parties; no verification afterwards", async () => {
    assert.equal((await face("bob", "enrol", faces.bob)).body.decision, "accept");
    const wch = await ch(ids.bob, "withdraw");
    const wd = await c.call("POST", "/v1/consents/withdrawals", await buildSignedPersonRequest({ deviceId, personId: ids.bob, challenge: wch, signingKey: deviceKey }));
    assert.equal(wd.status, 200, JSON.stringify(wd.body));
    assert.equal(wd.body.status, "deleted");
    const v = await c.call("POST", "/v1/challenges", { deviceId, personId: ids.bob, purpose: "verify" });
    assert.equal(v.body.error.code, "CONSENT_WITHDRAWN");
    // opt back in
    const notice = (await c.call("GET", "/v1/notices/current")).body;
    const cc = await ch(ids.bob, "consent");
    const unsigned = { deviceId, personId: ids.bob, challenge: cc.challenge, noticeVersion: notice.version, noticeHash: notice.hash, purposes: ["face-verification"] };
    assert.equal((await c.call("POST", "/v1/consents", { ...unsigned, signature: toBase64url(await sign(deviceKey, utf8(canonicalJson(unsigned)))) })).status, 201);
  });

  it("with P1 down: MPC_UNAVAILABLE, never an approval, recorded for re-check", async () => {
    assert.equal((await face("bob", "enrol", faces.bob)).body.decision, "accept");
    await stack.servers.p1!.stop();
    const r = await face("bob", "verify", sameFace(faces.bob));
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.error.code, "MPC_UNAVAILABLE");
    const checks = await op.admin("GET", "/v1/admin/rechecks");
    assert.ok(checks.body.rechecks.some((x: { op: string }) => x.op === "verify"));
    const h = await c.call("GET", "/v1/health");
    assert.equal(h.body.status, "degraded");
  });
});
