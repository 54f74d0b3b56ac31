/**
 * FaceDevice request flow with stub engines (no ONNX): model-version handling and the R5 upgrade
 * path — a template under an older model is probed with the older engine, and upgrade shares of the
 * same capture under the deployed model are added when the challenge names `upgradeTo`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contextAad } from "@privface/contracts";
import { fromBase64url, generateSealKeyPair, generateSigningKeyPair, open, toBase64url, verify, type KeyPair } from "@privface/crypto";
import { expandSeedShare, quantise, reconstructBytes } from "@privface/mpc";
import { testTrust } from "./_trust.ts";
import { DeviceError, FaceDevice, signedMessage, type FaceEngine, type FaceRequestBody } from "../src/index.ts";

function embeddingOf(seed: number): Float32Array {
  return new Float32Array(512).map((_, i) => Math.sin(i * 0.37 + seed));
}

function stubEngine(version: string, seed: number): FaceEngine & { calls: number } {
  const e = embeddingOf(seed);
  const stub = {
    calls: 0,
    model: { id: "stub", version, dim: 512, threshold: 27_200, livenessThreshold: 0.3 },
    async processFrame() {
      stub.calls++;
      return { ok: true as const, embedding: e.slice(), liveness: 0.9, box: { x1: 0, y1: 0, x2: 100, y2: 100, score: 1 }, faces: 1 };
    },
    async release() {},
  };
  return stub;
}

async function gateway(templateVersion: string, upgradeTo: string | undefined, p0: KeyPair, p1: KeyPair, actions?: string[]) {
  const t = await testTrust("INTL", { P0: p0, P1: p1 });
  const posted: { path: string; body: FaceRequestBody }[] = [];
  const f = (async (url: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(url)).pathname;
    const body = JSON.parse(String(init?.body));
    if (path === "/v1/challenges") {
      return Response.json({
        challenge: "challenge_upgrade_0001", expiresAt: Date.now() + 30_000, purpose: body.purpose, templateId: "tpl_1", modelVersion: templateVersion,
        ...(upgradeTo ? { upgradeTo } : {}),
        ...(actions ? { actions } : {}),
        keyLists: t.keyLists,
      }, { status: 201 });
    }
    posted.push({ path, body });
    return Response.json({ decision: "accept", upgraded: body.upgrade !== undefined });
  }) as typeof fetch;
  return { fetch: f, posted, dev: { authKey: t.auth, trust: t.trust } };
}

async function opened(body: { shares: { P0: string; P1: string } }, p0: KeyPair, p1: KeyPair, modelVersion: string): Promise<Int8Array> {
  const ctx = { purpose: "verify", challenge: "challenge_upgrade_0001", templateId: "tpl_1", modelVersion };
  const s0 = await open(p0, fromBase64url(body.shares.P0), contextAad({ ...ctx, party: "P0" }));
  const s1 = await open(p1, fromBase64url(body.shares.P1), contextAad({ ...ctx, party: "P1" }));
  return reconstructBytes(expandSeedShare(s0, ctx, 512), s1);
}

const frame = { data: new Uint8Array(4 * 4 * 4), width: 4, height: 4 };

describe("FaceDevice model versions (R5)", () => {
  it("probes an old template with the old engine and adds upgrade shares from the deployed one", async () => {
    const [p0, p1, dev] = [await generateSealKeyPair("INTL"), await generateSealKeyPair("INTL"), await generateSigningKeyPair("INTL")];
    const deployed = stubEngine("model.2", 2);
    const old = stubEngine("model.1", 1);
    const gw = await gateway("model.1", "model.2", p0, p1);
    const device = new FaceDevice({ deviceId: "till", signingKey: dev, gatewayUrl: "https://gw.test", fetch: gw.fetch, ...gw.dev, engine: deployed, extraEngines: { "model.1": old } });
    assert.deepEqual(await device.verify("alice", frame), { decision: "accept", upgraded: true });
    const { body } = gw.posted[0];
    assert.equal(body.modelVersion, "model.1");
    assert.equal(body.upgrade?.modelVersion, "model.2");
    const oldQ = quantise(embeddingOf(1));
    const newQ = quantise(embeddingOf(2));
    assert.deepEqual(await opened(body, p0, p1, "model.1"), oldQ);
    assert.deepEqual(await opened(body.upgrade!, p0, p1, "model.2"), newQ);
    assert.equal(await verify({ suite: "INTL", publicKey: dev.publicKey }, signedMessage({ ...body }), fromBase64url(body.signature)), true);
  });

  it("without the old model the device refuses with WRONG_MODEL_VERSION and sends nothing", async () => {
    const [p0, p1, dev] = [await generateSealKeyPair("INTL"), await generateSealKeyPair("INTL"), await generateSigningKeyPair("INTL")];
    const gw = await gateway("model.1", "model.2", p0, p1);
    const device = new FaceDevice({ deviceId: "till", signingKey: dev, gatewayUrl: "https://gw.test", fetch: gw.fetch, ...gw.dev, engine: stubEngine("model.2", 2) });
    await assert.rejects(device.verify("alice", frame), (e: unknown) => e instanceof DeviceError && e.code === "WRONG_MODEL_VERSION");
    assert.equal(gw.posted.length, 0);
  });

  it("no upgrade shares when the template is current or the device lacks the new model", async () => {
    const [p0, p1, dev] = [await generateSealKeyPair("INTL"), await generateSealKeyPair("INTL"), await generateSigningKeyPair("INTL")];
    const cur = await gateway("model.2", undefined, p0, p1);
    const d1 = new FaceDevice({ deviceId: "till", signingKey: dev, gatewayUrl: "https://gw.test", fetch: cur.fetch, ...cur.dev, engine: stubEngine("model.2", 2) });
    await d1.verify("alice", frame);
    assert.equal(cur.posted[0].body.upgrade, undefined);
    const later = await gateway("model.2", "model.3", p0, p1);
    const d2 = new FaceDevice({ deviceId: "till", signingKey: dev, gatewayUrl: "https://gw.test", fetch: later.fetch, ...later.dev, engine: stubEngine("model.2", 2) });
    await d2.verify("alice", frame);
    assert.equal(later.posted[0].body.upgrade, undefined);
    // enrolment never carries upgrade shares
    const en = new FaceDevice({ deviceId: "till", signingKey: dev, gatewayUrl: "https://gw.test", fetch: later.fetch, ...later.dev, engine: stubEngine("model.2", 2), extraEngines: { "model.3": stubEngine("model.3", 3) } });
    await en.enrol("alice", frame);
    assert.equal(later.posted[1].path, "/v1/enrolments");
    assert.equal(later.posted[1].body.upgrade, undefined);
  });

  it("validates its options", () => {
    assert.throws(() => new FaceDevice({ deviceId: "", signingKey: {} as KeyPair, gatewayUrl: "x" } as never), TypeError);
  });
});

describe("FaceDevice.captureAndSubmit (issue 17: the app captures once the challenge is known)", () => {
  const steps = [
    { action: "turn-left" as const, from: 3, peak: 4, value: 0.4 },
    { action: "blink" as const, from: 8, peak: 9, value: 0.5 },
  ];

  it("hands the challenge's actions to the capture, then signs its per-step evidence with them and wipes the embedding", async () => {
    const [p0, p1, dev] = [await generateSealKeyPair("INTL"), await generateSealKeyPair("INTL"), await generateSigningKeyPair("INTL")];
    const gw = await gateway("model.2", undefined, p0, p1, ["turn-left", "blink"]);
    const device = new FaceDevice({ deviceId: "till", signingKey: dev, gatewayUrl: "https://gw.test", fetch: gw.fetch, ...gw.dev, engine: stubEngine("model.2", 2) });
    const embedding = embeddingOf(2);
    let asked: unknown;
    const r = await device.captureAndSubmit("verify", "alice", async (c) => {
      asked = c;
      return { embedding, liveness: 0.9, steps, modelVersion: "model.2" };
    });
    assert.deepEqual(r, { decision: "accept", upgraded: false });
    assert.deepEqual(asked, { actions: ["turn-left", "blink"], modelVersion: "model.2" });
    assert.deepEqual(gw.posted[0].body.liveness, { score: 0.9, actions: ["turn-left", "blink"], steps });
    assert.ok(embedding.every((x) => x === 0), "the embedding was not wiped");
  });

  it("refuses a capture made with another model version or without the evidence of the actions, and sends nothing", async () => {
    const [p0, p1, dev] = [await generateSealKeyPair("INTL"), await generateSealKeyPair("INTL"), await generateSigningKeyPair("INTL")];
    const gw = await gateway("model.2", undefined, p0, p1, ["turn-left", "blink"]);
    const device = new FaceDevice({ deviceId: "till", signingKey: dev, gatewayUrl: "https://gw.test", fetch: gw.fetch, ...gw.dev, engine: stubEngine("model.2", 2) });
    await assert.rejects(
      device.captureAndSubmit("verify", "alice", async () => ({ embedding: embeddingOf(1), liveness: 0.9, steps, modelVersion: "model.1" })),
      (e: unknown) => e instanceof DeviceError && e.code === "WRONG_MODEL_VERSION",
    );
    await assert.rejects(device.captureAndSubmit("verify", "alice", async () => ({ embedding: embeddingOf(2), liveness: 0.9 })));
    assert.equal(gw.posted.length, 0);
  });
});
