/**
 * FaceDevice end to end against an in-memory stand-in for the gateway and both parties (injected
 * fetch): the stand-in checks the device signature and the challenge, opens each share with its
 * party's key, reconstructs the template in plaintext and decides with MODEL.threshold — the
 * plaintext twin of what P0/P1 compute in MPC. Also checks that nothing but ids, sealed shares and
 * the liveness score is sent.
 */
import assert from "node:assert/strict";
import { testTrust } from "./_trust.ts";
import { after, before, describe, it } from "node:test";
import { contextAad } from "@privface/contracts";
import { fromBase64url, generateSealKeyPair, generateSigningKeyPair, open, toBase64url, verify, type KeyPair } from "@privface/crypto";
import { expandSeedShare, dotPlain, reconstructBytes } from "@privface/mpc";
import { createFaceEngine, DeviceError, FaceDevice, MODEL, signedMessage, type FaceEngine } from "../src/index.ts";
import { blankFrame, makeFrame, sample } from "./_fixtures.ts";

interface Stand {
  fetch: typeof fetch;
  sent: unknown[];
  templates: Map<string, Int8Array>;
  dev: { authKey: KeyPair; trust: import("../src/index.ts").DeviceTrust };
}

async function standIn(devicePub: KeyPair, p0: KeyPair, p1: KeyPair): Promise<Stand> {
  const t = await testTrust("INTL", { P0: p0, P1: p1 });
  const challenges = new Map<string, { personId: string; purpose: string; templateId: string; used: boolean }>();
  const templates = new Map<string, Int8Array>();
  const sent: unknown[] = [];
  let n = 0;
  const reply = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const f = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const path = new URL(String(url)).pathname;
    const body = JSON.parse(String(init?.body));
    sent.push(body);
    if (path === "/v1/challenges") {
      const challenge = `challenge_${String(++n).padStart(8, "0")}`;
      const templateId = `tpl_${body.personId}`;
      challenges.set(challenge, { personId: body.personId, purpose: body.purpose, templateId, used: false });
      return reply(200, {
        challenge, expiresAt: Date.now() + 30_000, purpose: body.purpose, templateId, modelVersion: MODEL.version,
        keyLists: t.keyLists,
      });
    }
    const purpose = { "/v1/enrolments": "enrol", "/v1/verifications": "verify", "/v1/deregistrations": "deregister" }[path];
    if (!purpose) return reply(404, { error: { code: "NOT_FOUND", message: path } });
    const ch = challenges.get(body.challenge);
    if (!ch || ch.used || ch.purpose !== purpose || ch.personId !== body.personId) return reply(401, { error: { code: "CHALLENGE_INVALID", message: "bad challenge" } });
    ch.used = true;
    if (!(await verify({ suite: "INTL", publicKey: devicePub.publicKey }, signedMessage(body), fromBase64url(body.signature)))) return reply(401, { error: { code: "BAD_SIGNATURE", message: "signature" } });
    if (purpose === "deregister") return reply(200, { deleted: templates.delete(ch.templateId) });
    const ctx = { purpose, challenge: body.challenge, templateId: ch.templateId, modelVersion: body.modelVersion };
    const seed0 = await open(p0, fromBase64url(body.shares.P0), contextAad({ ...ctx, party: "P0" }));
    const share1 = await open(p1, fromBase64url(body.shares.P1), contextAad({ ...ctx, party: "P1" }));
    const x = reconstructBytes(expandSeedShare(seed0, ctx, MODEL.dim), share1);
    if (purpose === "enrol") {
      templates.set(ch.templateId, x);
      return reply(200, { status: "enrolled" });
    }
    const y = templates.get(ch.templateId);
    if (!y) return reply(404, { error: { code: "NOT_ENROLLED", message: "no template" } });
    return reply(200, { decision: dotPlain(x, y) >= MODEL.threshold ? "accept" : "reject" });
  };
  return { fetch: f as typeof fetch, sent, templates, dev: { authKey: t.auth, trust: t.trust } };
}

let engine: FaceEngine;
before(async () => {
  engine = await createFaceEngine({ livenessThreshold: 0 });
});
after(async () => {
  await engine.release();
});

async function faceFrames(n: 1 | 3 | 5) {
  const img = await sample(n);
  const loose = await createFaceEngine({ livenessThreshold: 0, multipleFaces: "largest" });
  const r = await loose.processFrame(img.data, img.width, img.height);
  await loose.release();
  assert.ok(r.ok);
  const b = r.box;
  const cx = (b.x1 + b.x2) / 2;
  const cy = (b.y1 + b.y2) / 2;
  const side = Math.max(b.x2 - b.x1, b.y2 - b.y1);
  return {
    enrol: makeFrame(img, { cx, cy, scale: side / 200, width: 480, height: 480 }),
    probe: makeFrame(img, { cx: cx - side * 0.08, cy, scale: side / 180, width: 400, height: 400, gain: 1.1, rotate: -6 }),
  };
}

describe("FaceDevice", () => {
  it("enrols, verifies the same person, rejects another, deregisters", async () => {
    const dev = await generateSigningKeyPair("INTL");
    const p0 = await generateSealKeyPair("INTL");
    const p1 = await generateSealKeyPair("INTL");
    const gw = await standIn(dev, p0, p1);
    const device = new FaceDevice({ deviceId: "till-7", signingKey: dev, gatewayUrl: "https://gateway.test/", fetch: gw.fetch, ...gw.dev, engine });
    const alice = await faceFrames(1);
    const bob = await faceFrames(5);

    assert.deepEqual(await device.enrol("alice", alice.enrol), { status: "enrolled" });
    assert.deepEqual(await device.verify("alice", alice.probe), { decision: "accept" });
    assert.deepEqual(await device.verify("alice", bob.probe), { decision: "reject" });
    assert.deepEqual(await device.deregister("alice", alice.probe), { deleted: true });
    assert.equal(gw.templates.size, 0);

    // What left the device: only these fields, byte fields only as sealed envelopes.
    for (const b of gw.sent as Record<string, unknown>[]) {
      const keys = Object.keys(b).sort().join(",");
      assert.ok(
        ["at,deviceId,nonce,personId,purpose,signature", "challenge,deviceId,liveness,macs,modelVersion,personId,sealKeys,shares,signature,templateId", "challenge,deviceId,personId,signature"].includes(keys),
        `unexpected body fields ${keys}`,
      );
      const json = JSON.stringify(b);
      assert.ok(json.length < 4096, "a body is far smaller than any frame or crop");
    }
  });

  it("reports pipeline errors with their code and sends nothing", async () => {
    const dev = await generateSigningKeyPair("INTL");
    const gw = await standIn(dev, await generateSealKeyPair("INTL"), await generateSealKeyPair("INTL"));
    const device = new FaceDevice({ deviceId: "till-7", signingKey: dev, gatewayUrl: "https://gateway.test", fetch: gw.fetch, ...gw.dev, engine });
    const blank = blankFrame(320, 240);
    await assert.rejects(device.verify("alice", blank), (e: unknown) => e instanceof DeviceError && e.code === "NO_FACE");
    assert.equal(gw.sent.length, 0);
  });

  it("passes gateway error codes through", async () => {
    const dev = await generateSigningKeyPair("INTL");
    const gw = await standIn(dev, await generateSealKeyPair("INTL"), await generateSealKeyPair("INTL"));
    const device = new FaceDevice({ deviceId: "till-7", signingKey: dev, gatewayUrl: "https://gateway.test", fetch: gw.fetch, ...gw.dev, engine });
    const { probe } = await faceFrames(3);
    await assert.rejects(device.verify("nobody", probe), (e: unknown) => e instanceof DeviceError && e.code === "NOT_ENROLLED");
    const down = new FaceDevice({ deviceId: "till-7", signingKey: dev, gatewayUrl: "https://gateway.test", fetch: (async () => { throw new Error("ECONNREFUSED"); }) as typeof fetch, ...gw.dev, engine });
    await assert.rejects(down.verify("alice", probe), (e: unknown) => e instanceof DeviceError && e.code === "GATEWAY_UNREACHABLE");
  });
});
