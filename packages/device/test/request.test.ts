/**
 * Request bodies from a precomputed embedding: the shares open with the right party key and AAD and
 * reconstruct exactly the quantised embedding; a wrong AAD, a swapped party or a wrong key fails;
 * the device signature verifies over canonicalJson(body without signature) and breaks on tampering.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contextAad } from "@privface/contracts";
import { fromBase64url, generateSealKeyPair, generateSigningKeyPair, open, softwareSigner, toBase64url, verify, type KeyPair, type SuiteId } from "@privface/crypto";
import { expandSeedShare, dotPlain, quantise, reconstructBytes, seededRng, type ShareContext } from "@privface/mpc";
import { testTrust } from "./_trust.ts";
import { buildFaceRequest, buildSignedPersonRequest, DeviceError, MODEL, signedMessage, type ChallengeResponse } from "../src/index.ts";

function randomEmbedding(seed: number, d = 512): Float32Array {
  let x = seed >>> 0 || 1;
  const v = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    // sum of uniforms ≈ Gaussian
    let s = 0;
    for (let k = 0; k < 4; k++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      s += (x >>> 0) / 2 ** 32 - 0.5;
    }
    v[i] = s;
  }
  return v;
}

async function setup(suite: SuiteId) {
  const p0 = await generateSealKeyPair(suite);
  const p1 = await generateSealKeyPair(suite);
  const dev = await generateSigningKeyPair(suite);
  const t = await testTrust(suite, { P0: p0, P1: p1 });
  const challenge: ChallengeResponse = {
    challenge: "ch_0123456789abcdefABCDEF",
    expiresAt: Date.now() + 30_000,
    templateId: "tpl_A1b2C3",
    modelVersion: MODEL.version,
    keyLists: t.keyLists,
  };
  return { p0, p1, dev, challenge, t };
}

async function openShares(body: { shares: { P0: string; P1: string } }, p0: KeyPair, p1: KeyPair, ctx: ShareContext): Promise<Int8Array> {
  const seed0 = await open(p0, fromBase64url(body.shares.P0), contextAad({ ...ctx, party: "P0" }));
  const share1 = await open(p1, fromBase64url(body.shares.P1), contextAad({ ...ctx, party: "P1" }));
  assert.equal(seed0.length, 16);
  assert.equal(share1.length, 512);
  return reconstructBytes(expandSeedShare(seed0, ctx, 512), share1);
}

for (const suite of ["INTL", "GM"] as const) {
  describe(`request bodies (${suite})`, () => {
    it("shares open with the right party keys and reconstruct the int8 template", async () => {
      const { p0, p1, dev, challenge, t } = await setup(suite);
      const emb = randomEmbedding(42);
      const body = await buildFaceRequest({
        deviceId: "dev-1",
        personId: "person-1",
        purpose: "verify",
        challenge,
        embedding: emb,
        liveness: 0.87654321,
        modelVersion: MODEL.version,
        signingKey: dev, authKey: t.auth, trust: t.trust,
      });
      assert.deepEqual(Object.keys(body).sort(), ["challenge", "deviceId", "liveness", "macs", "modelVersion", "personId", "sealKeys", "shares", "signature", "templateId"]);
      assert.equal(body.liveness.score, 0.8765);
      const ctx: ShareContext = { purpose: "verify", challenge: challenge.challenge, templateId: challenge.templateId!, modelVersion: MODEL.version };
      const x = await openShares(body, p0, p1, ctx);
      assert.deepEqual(x, quantise(emb));
      // No share is the template itself.
      assert.notDeepEqual(fromBase64url(body.shares.P1), new Uint8Array(quantise(emb).buffer));
    });

    it("a wrong AAD, a swapped party or another party's key cannot open a share", async () => {
      const { p0, p1, dev, challenge, t } = await setup(suite);
      const body = await buildFaceRequest({ deviceId: "d", personId: "p", purpose: "enrol", challenge, embedding: randomEmbedding(7), liveness: 0.9, modelVersion: MODEL.version, signingKey: dev, authKey: t.auth, trust: t.trust });
      const ctx = { purpose: "enrol", challenge: challenge.challenge, templateId: challenge.templateId!, modelVersion: MODEL.version };
      const env0 = fromBase64url(body.shares.P0);
      const env1 = fromBase64url(body.shares.P1);
      assert.equal((await open(p0, env0, contextAad({ ...ctx, party: "P0" }))).length, 16);
      await assert.rejects(open(p0, env0, contextAad({ ...ctx, purpose: "verify", party: "P0" })));
      await assert.rejects(open(p0, env0, contextAad({ ...ctx, challenge: "another-challenge-value", party: "P0" })));
      await assert.rejects(open(p0, env0, contextAad({ ...ctx, templateId: "tpl_other", party: "P0" })));
      await assert.rejects(open(p0, env0, contextAad({ ...ctx, modelVersion: "other.1", party: "P0" })));
      await assert.rejects(open(p0, env0, contextAad({ ...ctx, party: "P1" })));
      await assert.rejects(open(p1, env0, contextAad({ ...ctx, party: "P0" })));
      await assert.rejects(open(p0, env1, contextAad({ ...ctx, party: "P1" })));
    });

    it("the device signature verifies over canonicalJson(body without signature) and breaks on tampering", async () => {
      const { dev, challenge, t } = await setup(suite);
      for (const key of [dev, softwareSigner(dev)]) {
        const body = await buildFaceRequest({ deviceId: "d", personId: "p", purpose: "verify", challenge, embedding: randomEmbedding(9), liveness: 0.5, modelVersion: MODEL.version, signingKey: key, authKey: t.auth, trust: t.trust });
        const pub = { suite, publicKey: dev.publicKey };
        assert.equal(await verify(pub, signedMessage({ ...body }), fromBase64url(body.signature)), true);
        const tampered = { ...body, liveness: { score: 1 } };
        assert.equal(await verify(pub, signedMessage(tampered), fromBase64url(body.signature)), false);
        const swapped = { ...body, shares: { P0: body.shares.P1, P1: body.shares.P0 } };
        assert.equal(await verify(pub, signedMessage(swapped), fromBase64url(body.signature)), false);
      }
      const del = await buildSignedPersonRequest({ deviceId: "d", personId: "p", challenge, signingKey: dev });
      assert.deepEqual(Object.keys(del).sort(), ["challenge", "deviceId", "personId", "signature"]);
      assert.equal(await verify({ suite, publicKey: dev.publicKey }, signedMessage({ ...del }), fromBase64url(del.signature)), true);
    });
  });
}

describe("request building rules", () => {
  it("two bodies of the same embedding carry unrelated shares (fresh randomness), a seeded rng repeats them", async () => {
    const { p0, p1, dev, challenge, t } = await setup("INTL");
    const emb = randomEmbedding(3);
    const mk = (rng?: (n: number) => Uint8Array) =>
      buildFaceRequest({ deviceId: "d", personId: "p", purpose: "verify", challenge, embedding: emb, liveness: 0.5, modelVersion: MODEL.version, signingKey: dev, authKey: t.auth, trust: t.trust, rng });
    const ctx = { purpose: "verify", challenge: challenge.challenge, templateId: challenge.templateId!, modelVersion: MODEL.version };
    const a = await mk();
    const b = await mk();
    const s1a = await open(p1, fromBase64url(a.shares.P1), contextAad({ ...ctx, party: "P1" }));
    const s1b = await open(p1, fromBase64url(b.shares.P1), contextAad({ ...ctx, party: "P1" }));
    assert.notDeepEqual(s1a, s1b);
    const c = await mk(seededRng(new Uint8Array(32).fill(5)));
    const d = await mk(seededRng(new Uint8Array(32).fill(5)));
    const s1c = await open(p1, fromBase64url(c.shares.P1), contextAad({ ...ctx, party: "P1" }));
    const s1d = await open(p1, fromBase64url(d.shares.P1), contextAad({ ...ctx, party: "P1" }));
    assert.deepEqual(s1c, s1d);
    assert.deepEqual(await openShares(c, p0, p1, ctx), quantise(emb));
  });

  it("refuses a challenge for another model version, without templateId, and bad liveness", async () => {
    const { dev, challenge, t } = await setup("INTL");
    const base = { deviceId: "d", personId: "p", purpose: "verify" as const, embedding: randomEmbedding(1), liveness: 0.5, modelVersion: MODEL.version, signingKey: dev, authKey: t.auth, trust: t.trust };
    await assert.rejects(buildFaceRequest({ ...base, challenge: { ...challenge, modelVersion: "other-model.7" } }), (e: unknown) => e instanceof DeviceError && e.code === "WRONG_MODEL_VERSION");
    await assert.rejects(buildFaceRequest({ ...base, challenge: { ...challenge, templateId: undefined } }), (e: unknown) => e instanceof DeviceError && e.code === "BAD_CHALLENGE");
    await assert.rejects(buildFaceRequest({ ...base, challenge, liveness: 1.5 }), RangeError);
    await assert.rejects(buildFaceRequest({ ...base, challenge, deviceId: "" }), TypeError);
  });

  it("adds upgrade shares bound to the new model version when the challenge asks for it", async () => {
    const { p0, p1, dev, challenge, t } = await setup("INTL");
    const ch = { ...challenge, upgradeTo: "next-model.2" };
    const emb = randomEmbedding(11);
    const next = randomEmbedding(12);
    const body = await buildFaceRequest({
      deviceId: "d", personId: "p", purpose: "verify", challenge: ch, embedding: emb, liveness: 0.5, modelVersion: MODEL.version,
      upgrade: { modelVersion: "next-model.2", embedding: next }, signingKey: dev, authKey: t.auth, trust: t.trust,
    });
    assert.equal(body.upgrade?.modelVersion, "next-model.2");
    const ctx = { purpose: "verify", challenge: ch.challenge, templateId: ch.templateId!, modelVersion: "next-model.2" };
    assert.deepEqual(await openShares(body.upgrade!, p0, p1, ctx), quantise(next));
    // The upgrade shares do not open under the old model version's context.
    await assert.rejects(open(p1, fromBase64url(body.upgrade!.shares.P1), contextAad({ ...ctx, modelVersion: MODEL.version, party: "P1" })));
    await assert.rejects(
      buildFaceRequest({ deviceId: "d", personId: "p", purpose: "verify", challenge, embedding: emb, liveness: 0.5, modelVersion: MODEL.version, upgrade: { modelVersion: "x.1", embedding: next }, signingKey: dev, authKey: t.auth, trust: t.trust }),
      (e: unknown) => e instanceof DeviceError && e.code === "WRONG_MODEL_VERSION",
    );
  });

  it("an already quantised int8 template is shared as it is", async () => {
    const { p0, p1, dev, challenge, t } = await setup("INTL");
    const q = new Int8Array(512).map((_, i) => ((i * 37) % 255) - 127);
    const body = await buildFaceRequest({ deviceId: "d", personId: "p", purpose: "enrol", challenge, embedding: q, liveness: 1, modelVersion: MODEL.version, signingKey: dev, authKey: t.auth, trust: t.trust });
    const ctx = { purpose: "enrol", challenge: challenge.challenge, templateId: challenge.templateId!, modelVersion: MODEL.version };
    assert.deepEqual(await openShares(body, p0, p1, ctx), q);
    assert.equal(dotPlain(q, q), q.reduce((s, x) => s + x * x, 0));
  });
});
