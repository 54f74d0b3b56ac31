/** Signatures: round trips, tampering, and GM signatures checked by an independent implementation (openssl CLI). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as c from "../src/index.ts";

for (const suite of c.SUITES) {
  test(`${suite}: sign / verify round trip; altered message, signature or key fails`, async () => {
    const kp = await c.generateSigningKeyPair(suite);
    assert.equal(kp.kind, "sign");
    const msg = c.utf8(c.canonicalJson({ op: "verify", templateId: "t1", n: 1 }));
    const sig = await c.sign(kp, msg);
    if (suite === "INTL") assert.equal(sig.length, 64);
    else assert.ok(sig.length >= 68 && sig.length <= 72 && sig[0] === 0x30, "SM2 DER signature");
    assert.equal(await c.verify({ suite, publicKey: kp.publicKey }, msg, sig), true);
    const m2 = msg.slice();
    m2[3] ^= 1;
    assert.equal(await c.verify(kp, m2, sig), false);
    for (const i of [0, 5, sig.length - 1]) {
      const s2 = sig.slice();
      s2[i] ^= 0x04;
      assert.equal(await c.verify(kp, msg, s2), false, `sig byte ${i}`);
    }
    assert.equal(await c.verify(kp, msg, new Uint8Array(0)), false);
    const other = await c.generateSigningKeyPair(suite);
    assert.equal(await c.verify(other, msg, sig), false);
  });
}

test("a seal key is refused for signing, a signing key for sealing", async () => {
  const seal = await c.generateSealKeyPair("INTL");
  await assert.rejects(c.sign(seal, c.utf8("x")), { code: "BAD_KEY" });
});

function sm2PublicPem(dir: string, pub: Uint8Array): string {
  // SubjectPublicKeyInfo { id-ecPublicKey, sm2 (1.2.156.10197.1.301) }, uncompressed point
  const spki = Buffer.concat([Buffer.from("3059301306072a8648ce3d020106082a811ccf5501822d034200", "hex"), pub]);
  writeFileSync(join(dir, "pub.der"), spki);
  execFileSync("openssl", ["pkey", "-pubin", "-inform", "DER", "-in", join(dir, "pub.der"), "-out", join(dir, "pub.pem")], { stdio: "ignore" });
  return join(dir, "pub.pem");
}

function opensslVerify(dir: string, pem: string, msg: Uint8Array, sig: Uint8Array, id: string): boolean {
  writeFileSync(join(dir, "m"), msg);
  writeFileSync(join(dir, "s"), sig);
  try {
    execFileSync(
      "openssl",
      ["pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-digest", "sm3", "-in", join(dir, "m"), "-sigfile", join(dir, "s"), "-pkeyopt", `distid:${id}`],
      { stdio: "pipe" },
    );
    return true;
  } catch {
    return false;
  }
}

test("GM signatures verify in OpenSSL with distid 1234567812345678 (and not with another ID)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pf-sm2-"));
  try {
    for (let i = 0; i < 3; i++) {
      const kp = await c.generateSigningKeyPair("GM");
      const pem = sm2PublicPem(dir, kp.publicKey);
      const msg = c.randomBytes(10 + i * 30);
      const sig = await c.sign(kp, msg);
      assert.equal(opensslVerify(dir, pem, msg, sig, c.SM2_DEFAULT_ID), true);
      assert.equal(opensslVerify(dir, pem, msg, sig, "ALICE123@YAHOO.COM"), false);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("signJson / verifySignedJson: canonical payload, tamper and non-canonical payload refused", async () => {
  for (const suite of c.SUITES) {
    const kp = await c.generateSigningKeyPair(suite);
    const value = { v: 1, op: "verify", party: "P0", expires: 1764576000000, nonce: "abc" };
    const signed = await c.signJson(kp, value);
    assert.equal(c.fromUtf8(c.fromBase64url(signed.payload)), c.canonicalJson(value));
    assert.deepEqual(await c.verifySignedJson(kp, signed), value);
    assert.deepEqual(await c.verifySignedJson(kp, await c.signJson(c.softwareSigner(kp), value)), value);
    const forged = { ...signed, payload: c.toBase64url(c.utf8(c.canonicalJson({ ...value, party: "P1" }))) };
    await assert.rejects(c.verifySignedJson(kp, forged), { code: "BAD_SIGNED_JSON" });
    // a validly signed but non-canonical payload is refused too
    const nonCanonical = c.utf8('{"v":1, "op":"verify"}');
    const sig = await c.sign(kp, nonCanonical);
    await assert.rejects(c.verifySignedJson(kp, { payload: c.toBase64url(nonCanonical), sig: c.toBase64url(sig) }), { code: "BAD_SIGNED_JSON" });
    await assert.rejects(c.verifySignedJson(kp, { payload: "!!", sig: "" }), { code: "BAD_SIGNED_JSON" });
    await assert.rejects(c.verifySignedJson(kp, null), { code: "BAD_SIGNED_JSON" });
  }
});

test("GM: only strict DER signatures are accepted (no malleable encodings)", async () => {
  const { isStrictSm2Der } = await import("../src/_sm2.ts");
  const kp = await c.generateSigningKeyPair("GM");
  const msg = c.utf8("m");
  for (let i = 0; i < 20; i++) {
    const sig = await c.sign(kp, msg);
    assert.equal(isStrictSm2Der(sig), true);
    // re-encode r with a superfluous leading zero: same (r, s), different bytes → refused
    const rLen = sig[3];
    const padded = c.concatBytes(Uint8Array.of(0x30, sig[1] + 1, 0x02, rLen + 1, 0x00), sig.subarray(4));
    assert.equal(await c.verify(kp, msg, padded), false);
    const trailing = c.concatBytes(sig, Uint8Array.of(0));
    assert.equal(await c.verify(kp, msg, trailing), false);
  }
});
