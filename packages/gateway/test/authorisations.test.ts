/**
 * Batch-signed authorisations (@privface/contracts/auth, the gateway's signer src/authorise.ts): one signature covers the payloads of a batch; a party
 * accepts a payload only if its hash is in a batch the gateway key signed, and remembers verified
 * batches without letting a forged batch or payload through.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { canonicalJson, generateSigningKeyPair, signJson, toBase64url, utf8 } from "@privface/crypto";
import { PartyError } from "@privface/contracts";
import { createAuthorisationChecker, MAX_AUTH_BATCH, signAuthorisations, type AuthPayload } from "@privface/contracts/auth";
import { createAuthorisationSigner } from "../src/authorise.ts";

const gateway = await generateSigningKeyPair("INTL");
const other = await generateSigningKeyPair("INTL");
const payload = (i: number, over: Partial<AuthPayload> = {}): AuthPayload => ({
  v: 1,
  op: "verify",
  party: "P0",
  session: `session-${i}-xxxxxxxx`,
  templateId: `template-${i}-xxxxxxxxxxxx`,
  modelVersion: "m.1",
  digest: "",
  expires: Date.now() + 30_000,
  nonce: `nonce-${i}-xxxxxxxx`,
  ...over,
});
const expect = (i: number) => ({ ops: ["verify" as const], party: "P0" as const, session: `session-${i}-xxxxxxxx`, templateId: `template-${i}-xxxxxxxxxxxx` });
const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return "accepted";
  } catch (e) {
    assert.ok(e instanceof PartyError, String(e));
    return e.code;
  }
};

describe("batch-signed authorisations", () => {
  it("every payload of a batch is accepted with the batch's one signature, and only for itself", async () => {
    const signed = await signAuthorisations(gateway, [payload(1), payload(2), payload(3)]);
    assert.equal(new Set(signed.map((a) => a.sig)).size, 1);
    const check = createAuthorisationChecker(gateway);
    for (const i of [1, 2, 3]) assert.equal((await check(signed[i - 1], expect(i))).nonce, `nonce-${i}-xxxxxxxx`);
    assert.equal(await code(check(signed[0], expect(2))), "AUTH_INVALID");
  });

  it("refuses a payload not in the batch, a changed batch, a foreign key, a non-batch signature and junk", async () => {
    const [a] = await signAuthorisations(gateway, [payload(1)]);
    const check = createAuthorisationChecker(gateway);
    assert.equal(await code(check(a, expect(1))), "accepted");
    // a forged payload riding on a verified batch (the batch is now remembered)
    const forged = toBase64url(utf8(canonicalJson(payload(1, { op: "delete" }))));
    assert.equal(await code(check({ ...a, payload: forged }, expect(1))), "AUTH_INVALID");
    // a batch listing the forged payload, with the remembered signature
    const batch = toBase64url(utf8(canonicalJson({ v: 1, kind: "privface.authorisations", hashes: [hash(forged)] })));
    assert.equal(await code(check({ payload: forged, batch, sig: a.sig }, { ...expect(1), ops: ["delete"] })), "AUTH_INVALID");
    // signed by another key
    const [b] = await signAuthorisations(other, [payload(1)]);
    assert.equal(await code(check(b, expect(1))), "AUTH_INVALID");
    // the gateway's signature over the payload itself (not a batch) is not an authorisation
    const direct = await signJson(gateway, payload(1));
    assert.equal(await code(check({ payload: direct.payload, batch: direct.payload, sig: direct.sig }, expect(1))), "AUTH_INVALID");
    assert.equal(await code(check({ payload: a.payload, sig: a.sig }, expect(1))), "INVALID_INPUT");
    assert.equal(await code(check({ ...a, extra: 1 }, expect(1))), "INVALID_INPUT");
    assert.equal(await code(check({ ...a, batch: "x".repeat(5000) }, expect(1))), "AUTH_INVALID");
  });

  it("a forged batch sent first does not stop the genuine one, and is never remembered", async () => {
    const [a] = await signAuthorisations(gateway, [payload(1)]);
    const check = createAuthorisationChecker(gateway);
    const forged = toBase64url(utf8(canonicalJson(payload(1, { nonce: "nonce-forged-xx" }))));
    const batch = toBase64url(utf8(canonicalJson({ v: 1, kind: "privface.authorisations", hashes: [hash(forged)] })));
    const results = await Promise.all([code(check({ payload: forged, batch, sig: a.sig }, expect(1))), code(check(a, expect(1)))]);
    assert.deepEqual(results, ["AUTH_INVALID", "accepted"]);
    assert.equal(await code(check({ payload: forged, batch, sig: a.sig }, expect(1))), "AUTH_INVALID");
  });

  it("the signer batches the calls of one event-loop turn, up to its limit", async () => {
    const sign = createAuthorisationSigner(gateway, 4);
    const out = await Promise.all(Array.from({ length: 6 }, (_, i) => sign(payload(i))));
    assert.deepEqual(
      out.map((a) => out.findIndex((b) => b.sig === a.sig)),
      [0, 0, 0, 0, 4, 4],
    );
    const later = await sign(payload(9));
    assert.ok(!out.some((a) => a.sig === later.sig));
    const check = createAuthorisationChecker(gateway);
    for (let i = 0; i < 6; i++) assert.equal((await check(out[i], expect(i))).nonce, `nonce-${i}-xxxxxxxx`);
    await assert.rejects(signAuthorisations(gateway, []), RangeError);
    await assert.rejects(signAuthorisations(gateway, Array.from({ length: MAX_AUTH_BATCH + 1 }, (_, i) => payload(i))), RangeError);
  });
});

function hash(s: string): string {
  return createHash("sha256").update(s).digest("base64url");
}
