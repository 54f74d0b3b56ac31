/**
 * Rotating the gateway's authorisation key without downtime (issue 13): the parties accept the new
 * key and the one being retired (GATEWAY_KEY, RETIRED_GATEWAY_KEYS), then the gateway switches; once
 * the retired key is removed, an authorisation it signed is refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateSigningKeyPair, type KeyPair, type PublicKey } from "@privface/crypto";
import { createAuthorisationChecker, signAuthorisations, type AuthPayload } from "../src/auth.ts";

const pub = (k: KeyPair): PublicKey => ({ suite: k.suite, kind: "sign", publicKey: k.publicKey });

test("authorisations under the new and the retired gateway key verify during a rotation; the retired one is refused once removed", async () => {
  const [old, fresh, stranger] = [await generateSigningKeyPair("INTL"), await generateSigningKeyPair("INTL"), await generateSigningKeyPair("INTL")];
  const payload = (): AuthPayload => ({ v: 1, op: "verify", party: "P0", session: "s-rotation-0001", templateId: "tpl_rotation_0001", modelVersion: "m1", digest: "", expires: Date.now() + 30_000, nonce: `nonce_${Math.random().toString(36).slice(2)}` });
  const expect = { ops: ["verify" as const], party: "P0" as const, templateId: "tpl_rotation_0001" };
  const [byOld] = await signAuthorisations(old, [payload()]);
  const [byFresh] = await signAuthorisations(fresh, [payload()]);
  const [byStranger] = await signAuthorisations(stranger, [payload()]);

  const during = createAuthorisationChecker([pub(fresh), pub(old)]);
  assert.equal((await during(byOld, expect)).op, "verify");
  assert.equal((await during(byFresh, expect)).op, "verify");
  await assert.rejects(during(byStranger, expect), { code: "AUTH_INVALID" });

  const afterwards = createAuthorisationChecker([pub(fresh)]);
  assert.equal((await afterwards(byFresh, expect)).op, "verify");
  await assert.rejects(afterwards(byOld, expect), { code: "AUTH_INVALID" });
});
