/** Sealing: round trips, and every way an envelope can be wrong gives its named error. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as c from "../src/index.ts";

// associated data as a share's would be (the real binding is @privface/contracts contextAad)
const aadOf = (party: string, challenge = "q2F6") => c.utf8(c.canonicalJson({ aad: "test", challenge, party }));
const aad0 = aadOf("P0");
const aad1 = aadOf("P1");

for (const suite of c.SUITES) {
  test(`${suite}: round trip for sizes 0..2048 and the public-key-only recipient`, async () => {
    const kp = await c.generateSealKeyPair(suite);
    assert.equal(kp.kind, "seal");
    for (const n of [0, 1, 15, 16, 17, 512, 2048]) {
      const pt = c.randomBytes(n);
      const env = await c.seal({ suite, publicKey: kp.publicKey }, pt, aad0);
      assert.equal(env.length, n + (suite === "INTL" ? 62 : 95));
      assert.equal(c.envelopeSuite(env), suite);
      assert.deepEqual(await c.open(kp, env, aad0), pt);
    }
  });

  test(`${suite}: two seals of the same plaintext differ (fresh ephemeral key and nonce)`, async () => {
    const kp = await c.generateSealKeyPair(suite);
    const pt = c.utf8("same");
    const a = await c.seal(kp, pt, aad0);
    const b = await c.seal(kp, pt, aad0);
    assert.notDeepEqual(a, b);
  });

  test(`${suite}: every single-byte alteration of the envelope is refused`, async () => {
    const kp = await c.generateSealKeyPair(suite);
    const env = await c.seal(kp, c.randomBytes(40), aad0);
    for (let i = 0; i < env.length; i++) {
      const bad = env.slice();
      bad[i] ^= 0x01;
      await assert.rejects(c.open(kp, bad, aad0), (e: c.CryptoError) => {
        // byte 0: version, byte 1: suite (0x01<->0x00 / 0x02->0x03 is unknown), else the tag or the ephemeral point
        const expected = i === 0 ? ["UNSUPPORTED_VERSION"] : i === 1 ? ["UNKNOWN_SUITE"] : ["AUTH_FAILED", "BAD_PUBLIC_KEY"];
        assert.ok(expected.includes(e.code), `byte ${i}: ${e.code}`);
        return true;
      });
    }
  });

  test(`${suite}: wrong AAD (other party, other challenge, empty) is refused with AUTH_FAILED`, async () => {
    const kp = await c.generateSealKeyPair(suite);
    const env = await c.seal(kp, c.utf8("share"), aad0);
    await assert.rejects(c.open(kp, env, aad1), { code: "AUTH_FAILED" });
    await assert.rejects(c.open(kp, env, aadOf("P0", "other")), { code: "AUTH_FAILED" });
    await assert.rejects(c.open(kp, env, new Uint8Array(0)), { code: "AUTH_FAILED" });
  });

  test(`${suite}: another recipient's key cannot open`, async () => {
    const kp = await c.generateSealKeyPair(suite);
    const other = await c.generateSealKeyPair(suite);
    const env = await c.seal(kp, c.utf8("share"), aad0);
    await assert.rejects(c.open(other, env, aad0), { code: "AUTH_FAILED" });
  });

  test(`${suite}: truncated envelopes are refused with ENVELOPE_TRUNCATED`, async () => {
    const kp = await c.generateSealKeyPair(suite);
    const env = await c.seal(kp, new Uint8Array(0), aad0);
    for (const n of [0, 1, 2, 10, env.length - 1]) {
      await assert.rejects(c.open(kp, env.subarray(0, n), aad0), { code: "ENVELOPE_TRUNCATED" }, `length ${n}`);
    }
    // a longer envelope cut short still fails, on the tag
    const long = await c.seal(kp, c.randomBytes(64), aad0);
    await assert.rejects(c.open(kp, long.subarray(0, long.length - 1), aad0), { code: "AUTH_FAILED" });
  });
}

test("suite mismatch: an INTL envelope opened with a GM key and vice versa", async () => {
  const intl = await c.generateSealKeyPair("INTL");
  const gm = await c.generateSealKeyPair("GM");
  await assert.rejects(c.open(gm, await c.seal(intl, c.utf8("x"), aad0), aad0), { code: "SUITE_MISMATCH" });
  await assert.rejects(c.open(intl, await c.seal(gm, c.utf8("x"), aad0), aad0), { code: "SUITE_MISMATCH" });
  // relabelling an INTL envelope as GM is also refused (mismatch, never a decryption attempt)
  const env = await c.seal(intl, c.utf8("x"), aad0);
  env[1] = 0x02;
  await assert.rejects(c.open(intl, env, aad0), { code: "SUITE_MISMATCH" });
});

test("sealing to a malformed public key is refused", async () => {
  await assert.rejects(c.seal({ suite: "INTL", publicKey: new Uint8Array(31) }, c.utf8("x"), aad0), { code: "BAD_PUBLIC_KEY" });
  await assert.rejects(c.seal({ suite: "INTL", publicKey: new Uint8Array(32) }, c.utf8("x"), aad0), { code: "BAD_PUBLIC_KEY" }); // low order
  const notOnCurve = new Uint8Array(65);
  notOnCurve[0] = 4;
  notOnCurve[64] = 7;
  await assert.rejects(c.seal({ suite: "GM", publicKey: notOnCurve }, c.utf8("x"), aad0), { code: "BAD_PUBLIC_KEY" });
  const sign = await c.generateSigningKeyPair("INTL");
  await assert.rejects(c.seal(sign, c.utf8("x"), aad0), { code: "BAD_KEY" });
  await assert.rejects(c.seal({ suite: "RSA" as never, publicKey: new Uint8Array(32) }, c.utf8("x"), aad0), TypeError);
  await assert.rejects(c.seal(await c.generateSealKeyPair("INTL"), "x" as never, aad0), TypeError);
});

test("GM: private scalars with leading zero bytes work (32-byte fixed width everywhere)", async () => {
  for (const zeros of [1, 2]) {
    const priv = c.concatBytes(new Uint8Array(zeros), c.randomBytes(32 - zeros));
    const kp = { suite: "GM" as const, kind: "seal" as const, privateKey: priv, publicKey: await c.sealPublicFromPrivate("GM", priv) };
    const env = await c.seal(kp, c.utf8("x"), aad0);
    assert.equal(c.fromUtf8(await c.open(kp, env, aad0)), "x");
    assert.deepEqual(await c.keyPairFromJson(c.keyPairToJson(kp)), kp);
  }
  for (let i = 0; i < 30; i++) assert.equal((await c.generateSealKeyPair("GM")).privateKey.length, 32);
});

test("INTL: cached key objects never outlive a change to the caller's key bytes", async () => {
  const a = await c.generateSealKeyPair("INTL");
  const b = await c.generateSealKeyPair("INTL");
  const env = await c.seal(b, c.utf8("for b"), aad0);
  const reused = { ...a, privateKey: a.privateKey };
  await assert.rejects(c.open(reused, env, aad0), { code: "AUTH_FAILED" }); // caches a's key object
  reused.privateKey.set(b.privateKey); // same array, now b's bytes
  assert.equal(c.fromUtf8(await c.open({ ...b, privateKey: reused.privateKey }, env, aad0)), "for b");
});

for (const suite of c.SUITES) {
  test(`${suite}: agreeKey gives both holders the same key, bound to info; mac is the suite's HMAC`, async () => {
    const a = await c.generateSealKeyPair(suite);
    const b = await c.generateSealKeyPair(suite);
    const info = c.utf8("privface-test|device-1|P0");
    const ab = await c.agreeKey(a, { suite, kind: "seal", publicKey: b.publicKey }, info);
    const ba = await c.agreeKey(b, { suite, kind: "seal", publicKey: a.publicKey }, info);
    assert.equal(ab.length, 32);
    assert.deepEqual(ab, ba);
    assert.notDeepEqual(await c.agreeKey(a, b, c.utf8("other")), ab);
    const other = await c.generateSealKeyPair(suite);
    assert.notDeepEqual(await c.agreeKey(a, other, info), ab);
    const m1 = await c.mac(suite, ab, c.utf8("statement"));
    assert.equal(m1.length, 32);
    assert.deepEqual(await c.mac(suite, ba, c.utf8("statement")), m1);
    assert.notDeepEqual(await c.mac(suite, ab, c.utf8("statemenT")), m1);
    const wrong = suite === "INTL" ? "GM" : "INTL";
    await assert.rejects(c.agreeKey(a, await c.generateSealKeyPair(wrong), info), { code: "SUITE_MISMATCH" });
  });
}

test("INTL: a KeyAgreer holding a non-extractable WebCrypto X25519 key agrees the same key as its peer's key pair", async () => {
  const pair = (await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const agreer: c.KeyAgreer = {
    suite: "INTL",
    kind: "seal",
    publicKey,
    derive: async (peer) => {
      const pk = await crypto.subtle.importKey("raw", new Uint8Array(peer.publicKey), { name: "X25519" }, false, []);
      return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pk }, pair.privateKey, 256));
    },
  };
  const b = await c.generateSealKeyPair("INTL");
  const info = c.utf8("privface-test|device-1|P0");
  const ab = await c.agreeKey(agreer, { suite: "INTL", kind: "seal", publicKey: b.publicKey }, info);
  assert.deepEqual(ab, await c.agreeKey(b, { suite: "INTL", kind: "seal", publicKey }, info));
  await assert.rejects(c.agreeKey({ ...agreer, derive: async () => "x" as unknown as Uint8Array }, b, info), TypeError);
  await assert.rejects(c.agreeKey({ ...agreer, kind: "sign" }, b, info), { code: "BAD_KEY" });
});

test("mac: HMAC-SHA256 and HMAC-SM3 known answers (RFC 4231 case 2; GM/T HMAC-SM3 via node:crypto)", async () => {
  const key = c.utf8("Jefe");
  const data = c.utf8("what do ya want for nothing?");
  assert.equal(Buffer.from(await c.mac("INTL", key, data)).toString("hex"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const { createHmac } = await import("node:crypto");
  assert.equal(Buffer.from(await c.mac("GM", key, data)).toString("hex"), createHmac("sm3", key).update(data).digest("hex"));
});
