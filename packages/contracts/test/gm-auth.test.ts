/**
 * Authorisations in a GM deployment (issue 13): the gateway signs the batch with SM2 and lists the
 * payloads' SM3 hashes; the share digest is SM3. A party whose gateway key is an SM2 key refuses an
 * Ed25519 authorisation, an SM2 one over SHA-256 hashes, and a share digest made with SHA-256.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { fromBase64url, fromUtf8, generateSigningKeyPair, signJson, toBase64url, utf8, canonicalJson, type KeyPair, type PublicKey } from "@privface/crypto";
import { createAuthorisationChecker, shareDigest, signAuthorisations, type AuthPayload } from "../src/auth.ts";

const pub = (k: KeyPair): PublicKey => ({ suite: k.suite, kind: "sign", publicKey: k.publicKey });
const share = utf8("a sealed share, as the device sent it");
const payload = (digest = ""): AuthPayload => ({ v: 1, op: "enrol", party: "P1", session: "s-gm-0001", templateId: "tpl_gm_0001", modelVersion: "m1", digest, expires: Date.now() + 30_000, nonce: `nonce_${Math.random().toString(36).slice(2)}` });
const expect = (digest = "") => ({ ops: ["enrol" as const], party: "P1" as const, templateId: "tpl_gm_0001", digest });

test("GM authorisations: an SM2 signature over SM3 payload hashes, and an SM3 share digest", async () => {
  const gw = await generateSigningKeyPair("GM");
  const digest = shareDigest("GM", share);
  assert.equal(digest, createHash("sm3").update(share).digest("base64url"));
  assert.notEqual(digest, shareDigest("INTL", share));
  const [a] = await signAuthorisations(gw, [payload(digest)]);
  const batch = JSON.parse(fromUtf8(fromBase64url(a.batch))) as { hashes: string[] };
  assert.deepEqual(batch.hashes, [createHash("sm3").update(a.payload).digest("base64url")]);
  assert.ok(fromBase64url(a.sig).length >= 8 && fromBase64url(a.sig)[0] === 0x30, "a DER SM2 signature");
  const check = createAuthorisationChecker(pub(gw));
  assert.equal((await check(a, expect(digest))).op, "enrol");
});

test("attack: a GM party given an Ed25519 authorisation, an SM2 one over SHA-256 hashes, or a SHA-256 share digest refuses each (AUTH_INVALID)", async () => {
  const gw = await generateSigningKeyPair("GM");
  const check = createAuthorisationChecker(pub(gw));
  // an INTL gateway (or anyone holding an Ed25519 key) signs a well-formed batch
  const [ed] = await signAuthorisations(await generateSigningKeyPair("INTL"), [payload()]);
  await assert.rejects(check(ed, expect()), { code: "AUTH_INVALID" });
  // the real SM2 key, but the batch lists SHA-256 hashes of the payloads (the INTL format)
  const p = toBase64url(utf8(canonicalJson(payload())));
  const sha = await signJson(gw, { v: 1, kind: "privface.authorisations", hashes: [createHash("sha256").update(p).digest("base64url")] });
  await assert.rejects(check({ payload: p, batch: sha.payload, sig: sha.sig }, expect()), { code: "AUTH_INVALID" });
  // the real key and format, but the share digest is SHA-256: the party's SM3 digest of the share differs
  const [wrongDigest] = await signAuthorisations(gw, [payload(shareDigest("INTL", share))]);
  await assert.rejects(check(wrongDigest, expect(shareDigest("GM", share))), { code: "AUTH_INVALID" });
  // one deployment, one suite: a checker over keys of both suites is a configuration error
  const intl = await generateSigningKeyPair("INTL");
  assert.throws(() => createAuthorisationChecker([pub(gw), pub(intl)]), TypeError);
});
