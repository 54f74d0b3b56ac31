/**
 * Signatures. INTL: Ed25519 (RFC 8032, 64-byte signatures, deterministic). GM: SM2 with SM3 and
 * the default distinguishing ID "1234567812345678" (GB/T 32918.2, GM/T 0009), DER-encoded (r, s)
 * (70–72 bytes, randomised).
 */
import { backend } from "#backend";
import { sm2PublicFromPrivateSync, sm2Sign, sm2SignGenerate, sm2Verify } from "./_sm2.ts";
import { checkBytes, checkKey, checkSuite } from "./_types.ts";
import type { KeyPair, PublicKey, SuiteId } from "./_types.ts";

export async function generateSigningKeyPair(suite: SuiteId): Promise<KeyPair> {
  checkSuite(suite);
  const raw = suite === "INTL" ? await backend.ed25519Generate() : sm2SignGenerate();
  return { suite, kind: "sign", ...raw };
}

export async function signingPublicFromPrivate(suite: SuiteId, privateKey: Uint8Array): Promise<Uint8Array> {
  checkSuite(suite);
  return suite === "INTL" ? backend.ed25519PublicFromPrivate(privateKey) : sm2PublicFromPrivateSync(privateKey);
}

/** Sign `message` with a signing key pair. Example: `const sig = await sign(kp, utf8(canonicalJson(body)))`. */
export async function sign(key: KeyPair, message: Uint8Array): Promise<Uint8Array> {
  checkKey(key, "sign", "key", true);
  checkBytes(message, "message");
  return key.suite === "INTL" ? backend.ed25519Sign(key.privateKey, message) : sm2Sign(key.privateKey, key.publicKey, message);
}

/** True iff `sig` is a valid signature of `message` under `pub`. Malformed input gives false, never throws. */
export async function verify(pub: PublicKey, message: Uint8Array, sig: Uint8Array): Promise<boolean> {
  checkKey(pub, "sign", "pub", false);
  checkBytes(message, "message");
  checkBytes(sig, "sig");
  return pub.suite === "INTL" ? backend.ed25519Verify(pub.publicKey, message, sig) : sm2Verify(pub.publicKey, message, sig);
}
