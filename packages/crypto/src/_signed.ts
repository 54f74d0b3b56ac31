/**
 * Signed JSON containers (request signing, e.g. the gateway's authorisations to the parties):
 *   { payload: base64url(utf8(canonicalJson(value))), sig: base64url(sign(key, utf8 payload bytes)) }
 * The signature covers the exact payload bytes; `verifySignedJson` also insists the payload is in
 * canonical form, so one value has exactly one signed encoding.
 */
import { fromBase64url, fromUtf8, toBase64url, utf8 } from "./_bytes.ts";
import { canonicalJson } from "./_canonical.ts";
import { CryptoError } from "./_errors.ts";
import { sign, verify } from "./_sign.ts";
import type { KeyPair, PublicKey } from "./_types.ts";
import type { Signer } from "./_provider.ts";

export interface SignedJson {
  payload: string;
  sig: string;
}

export async function signJson(key: KeyPair | Signer, value: unknown): Promise<SignedJson> {
  const bytes = utf8(canonicalJson(value));
  const sig = "sign" in key && typeof key.sign === "function" ? await key.sign(bytes) : await sign(key as KeyPair, bytes);
  return { payload: toBase64url(bytes), sig: toBase64url(sig) };
}

/** Verify and decode. Throws CryptoError BAD_SIGNED_JSON on any malformation or a bad signature. */
export async function verifySignedJson(pub: PublicKey, signed: unknown): Promise<unknown> {
  if (typeof signed !== "object" || signed === null) throw new CryptoError("BAD_SIGNED_JSON", "expected { payload, sig }");
  const { payload, sig } = signed as Record<string, unknown>;
  if (typeof payload !== "string" || typeof sig !== "string") throw new CryptoError("BAD_SIGNED_JSON", "payload and sig must be strings");
  let bytes: Uint8Array;
  let sigBytes: Uint8Array;
  try {
    bytes = fromBase64url(payload);
    sigBytes = fromBase64url(sig);
  } catch {
    throw new CryptoError("BAD_SIGNED_JSON", "payload or sig is not base64url");
  }
  if (!(await verify(pub, bytes, sigBytes))) throw new CryptoError("BAD_SIGNED_JSON", "signature does not verify");
  let value: unknown;
  try {
    const text = fromUtf8(bytes);
    value = JSON.parse(text);
    if (canonicalJson(value) !== text) throw new Error("not canonical");
  } catch {
    throw new CryptoError("BAD_SIGNED_JSON", "payload is not canonical JSON");
  }
  return value;
}
