/**
 * Known-answer tests: vectors from scripts/make-vectors.mjs (node:crypto + openssl CLI only),
 * checked against BOTH backends (the browser backend runs in Node 20, whose WebCrypto has X25519
 * and Ed25519) and against the public API.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { backend as nodeBackend } from "../src/_backend.node.ts";
import { backend as browserBackend } from "../src/_backend.browser.ts";
import { sealWith } from "../src/_seal.ts";
import { sm2Verify } from "../src/_sm2.ts";
import * as c from "../src/index.ts";
import { loadVectors, H, hex } from "./_util.ts";

interface GcmV { name: string; key: string; iv: string; aad: string; plaintext: string; ciphertext: string; tag: string }
interface SealV { suite: "INTL" | "GM"; recipientPrivateKey: string; recipientPublicKey: string; ephemeralPrivateKey: string; nonce: string; plaintext: string; aad: string; sharedSecret: string; key: string; envelope: string }
interface EdV { privateKey: string; publicKey: string; message: string; signature: string }
interface Sm2V { userId: string; privateKey: string; publicKey: string; message: string; signature: string }

const backends = [nodeBackend, browserBackend];

for (const b of backends) {
  test(`SM4-GCM known answers (RFC 8998 A.1 + reference GHASH) — ${b.name} backend`, async () => {
    const vs = loadVectors<GcmV>("sm4-gcm.json");
    assert.ok(vs.some((v) => v.name === "RFC 8998 A.1"));
    for (const v of vs) {
      const out = await b.sm4GcmEncrypt(H(v.key), H(v.iv), H(v.plaintext), H(v.aad));
      assert.equal(hex(out), v.ciphertext + v.tag, v.name);
      assert.equal(hex(await b.sm4GcmDecrypt(H(v.key), H(v.iv), out, H(v.aad))), v.plaintext, v.name);
      const bad = out.slice();
      bad[bad.length - 1] ^= 1;
      await assert.rejects(b.sm4GcmDecrypt(H(v.key), H(v.iv), bad, H(v.aad)), { code: "AUTH_FAILED" });
    }
  });

  test(`seal primitives: ECDH, HKDF known answers — ${b.name} backend`, async () => {
    for (const v of loadVectors<SealV>("seal.json")) {
      const pub = v.suite === "INTL" ? await b.x25519PublicFromPrivate(H(v.recipientPrivateKey)) : await b.sm2PublicFromPrivate(H(v.recipientPrivateKey));
      assert.equal(hex(pub), v.recipientPublicKey);
      const shared =
        v.suite === "INTL"
          ? await b.x25519Derive(H(v.ephemeralPrivateKey), H(v.recipientPublicKey))
          : await b.sm2EcdhDerive(H(v.ephemeralPrivateKey), H(v.recipientPublicKey));
      assert.equal(hex(shared), v.sharedSecret);
      const epk = v.suite === "INTL" ? await b.x25519PublicFromPrivate(H(v.ephemeralPrivateKey)) : await b.sm2PublicFromPrivate(H(v.ephemeralPrivateKey));
      const info = c.concatBytes(c.utf8("privface-seal-v1"), Uint8Array.of(v.suite === "INTL" ? 1 : 2), epk, pub);
      const key = await b.hkdf(v.suite === "INTL" ? "sha256" : "sm3", shared, new Uint8Array(0), info, v.suite === "INTL" ? 32 : 16);
      assert.equal(hex(key), v.key);
    }
  });

  test(`Ed25519 known answers — ${b.name} backend`, async () => {
    for (const v of loadVectors<EdV>("ed25519.json")) {
      assert.equal(hex(await b.ed25519PublicFromPrivate(H(v.privateKey))), v.publicKey);
      assert.equal(hex(await b.ed25519Sign(H(v.privateKey), H(v.message))), v.signature);
      assert.equal(await b.ed25519Verify(H(v.publicKey), H(v.message), H(v.signature)), true);
      const bad = H(v.signature);
      bad[5] ^= 0x10;
      assert.equal(await b.ed25519Verify(H(v.publicKey), H(v.message), bad), false);
    }
  });
}

test("seal envelopes equal the reference script's bytes, and open", async () => {
  const vs = loadVectors<SealV>("seal.json");
  assert.equal(vs.filter((v) => v.suite === "GM").length, 3);
  for (const v of vs) {
    const recipient = { suite: v.suite, publicKey: H(v.recipientPublicKey) };
    const env = await sealWith(recipient, H(v.plaintext), H(v.aad), H(v.ephemeralPrivateKey), H(v.nonce));
    assert.equal(hex(env), v.envelope, `${v.suite} envelope`);
    const kp = { ...recipient, privateKey: H(v.recipientPrivateKey) };
    assert.equal(hex(await c.open(kp, H(v.envelope), H(v.aad))), v.plaintext);
  }
});

test("SM2 signatures made by the openssl CLI verify (standard ID and empty ID)", async () => {
  const vs = loadVectors<Sm2V>("sm2-sign.json");
  for (const v of vs) {
    assert.equal(hex(c.fromHex(v.publicKey)), hex(await c.signingPublicFromPrivate("GM", H(v.privateKey))));
    assert.equal(sm2Verify(H(v.publicKey), H(v.message), H(v.signature), v.userId), true, `userId ${JSON.stringify(v.userId)}`);
    // the same signature must NOT verify under the other ID: the ID really enters the hash
    const other = v.userId === "" ? "1234567812345678" : "";
    assert.equal(sm2Verify(H(v.publicKey), H(v.message), H(v.signature), other), false);
    if (v.userId === c.SM2_DEFAULT_ID) {
      assert.equal(await c.verify({ suite: "GM", publicKey: H(v.publicKey) }, H(v.message), H(v.signature)), true);
    }
  }
});

test("canonicalJson and base64url known answers", () => {
  for (const v of loadVectors<{ value: unknown; json: string }>("canonical-json.json")) {
    assert.equal(c.canonicalJson(v.value), v.json);
  }
  for (const v of loadVectors<{ hex: string; base64url: string }>("base64url.json")) {
    assert.equal(c.toBase64url(H(v.hex)), v.base64url);
    assert.equal(hex(c.fromBase64url(v.base64url)), v.hex);
  }
});

test("SM4-GCM: the Node hybrid (SM4-CTR + @noble GHASH) equals sm-crypto-v2's SM4-GCM on random inputs", async () => {
  for (let i = 0; i < 200; i++) {
    const key = nodeBackend.randomBytes(16);
    const iv = nodeBackend.randomBytes(12);
    const pt = nodeBackend.randomBytes((i * 37) % 300);
    const aad = nodeBackend.randomBytes((i * 11) % 70);
    const a = await nodeBackend.sm4GcmEncrypt(key, iv, pt, aad);
    const b = await browserBackend.sm4GcmEncrypt(key, iv, pt, aad);
    assert.equal(hex(a), hex(b), `case ${i}`);
    assert.equal(hex(await browserBackend.sm4GcmDecrypt(key, iv, a, aad)), hex(pt));
  }
});

test("HKDF-SM3 and SM2 ECDH agree between node:crypto and sm-crypto-v2 on random inputs", async () => {
  for (let i = 0; i < 10; i++) {
    const a = await nodeBackend.sm2EcdhGenerate();
    const b = await browserBackend.sm2EcdhGenerate();
    const ab = await nodeBackend.sm2EcdhDerive(a.privateKey, b.publicKey);
    assert.equal(hex(ab), hex(await browserBackend.sm2EcdhDerive(b.privateKey, a.publicKey)));
    const info = nodeBackend.randomBytes(i * 20);
    assert.equal(hex(await nodeBackend.hkdf("sm3", ab, new Uint8Array(0), info, 16)), hex(await browserBackend.hkdf("sm3", ab, new Uint8Array(0), info, 16)));
    assert.equal(hex(await nodeBackend.digest("sm3", info)), hex(await browserBackend.digest("sm3", info)));
  }
});

test("HMAC-SHA256 and HMAC-SM3 agree between node:crypto and the browser backend (keys shorter and longer than a block)", async () => {
  for (let i = 0; i < 40; i++) {
    const key = nodeBackend.randomBytes((i * 7) % 100);
    const data = nodeBackend.randomBytes((i * 13) % 300);
    for (const h of ["sha256", "sm3"] as const) assert.equal(hex(await browserBackend.hmac(h, key, data)), hex(await nodeBackend.hmac(h, key, data)), `${h} case ${i}`);
  }
});
