/**
 * @privface/crypto — the cryptography every privface component shares, in Node and the browser.
 *
 * - Sealing shares to a party: `generateSealKeyPair`, `seal`, `open` (the associated data that binds a
 *   share to its request is @privface/contracts `contextAad`)
 *   (INTL: X25519 + HKDF-SHA256 + AES-256-GCM; GM: SM2-ECDH + HKDF-SM3 + SM4-GCM).
 * - Signatures: `generateSigningKeyPair`, `sign`, `verify` (INTL: Ed25519; GM: SM2/SM3, ID 1234567812345678).
 * - Static-static agreement and MACs: `agreeKey` (ECDH → HKDF), `mac` (HMAC-SHA256 / HMAC-SM3).
 * - `canonicalJson`, `signJson` / `verifySignedJson`, base64url helpers, `digest` (SHA-256 / SM3), `suiteHash` (which of the two a suite uses).
 * - Data keys for encryption at rest: `generateDataKey`, `encryptWithDataKey`, `decryptWithDataKey`.
 * - Key JSON (keys/ directory): `keyPairToJson`, `keyPairFromJson`, … ; files in `@privface/crypto/node`.
 * - KeyProvider seam: `Signer`, `Opener`, `softwareSigner`, `softwareOpener`.
 * Errors: `CryptoError` with a stable `code`; bad arguments raise TypeError / RangeError.
 */
import { backend } from "#backend";
import type { HashName } from "./_backend.ts";
import type { SuiteId } from "./_types.ts";

export type { SuiteId, KeyKind, KeyPair, PublicKey } from "./_types.ts";
export { SUITES } from "./_types.ts";
export { CryptoError } from "./_errors.ts";
export type { CryptoErrorCode } from "./_errors.ts";
export { toBase64url, fromBase64url, isBase64url, utf8, fromUtf8, toHex, fromHex, concatBytes, equalBytes, zeroize } from "./_bytes.ts";
export { canonicalJson } from "./_canonical.ts";
export { generateSealKeyPair, seal, open, envelopeSuite, sealPublicFromPrivate, ENVELOPE_VERSION } from "./_seal.ts";
export { generateSigningKeyPair, sign, verify, signingPublicFromPrivate } from "./_sign.ts";
export { SM2_DEFAULT_ID } from "./_sm2.ts";
export { signJson, verifySignedJson } from "./_signed.ts";
export { agreeKey, mac, type KeyAgreer } from "./_agree.ts";
export type { SignedJson } from "./_signed.ts";
export { generateDataKey, encryptWithDataKey, decryptWithDataKey, dataKeyIdOf, dataKeyLength } from "./_datakey.ts";
export type { DataKey } from "./_datakey.ts";
export { keyPairToJson, keyPairFromJson, publicKeyToJson, publicKeyFromJson, dataKeyToJson, dataKeyFromJson } from "./_keys.ts";
export type { KeyPairJson, PublicKeyJson, DataKeyJson } from "./_keys.ts";
export { softwareSigner, softwareOpener } from "./_provider.ts";
export type { Signer, Opener } from "./_provider.ts";
export type { HashName } from "./_backend.ts";

/** The hash of a suite: SHA-256 (INTL) or SM3 (GM) — for digests, chains and HMACs outside the envelopes. */
export function suiteHash(suite: SuiteId): HashName {
  return suite === "GM" ? "sm3" : "sha256";
}

/** SHA-256 or SM3 of `data`. */
export function digest(hash: HashName, data: Uint8Array): Promise<Uint8Array> {
  if (hash !== "sha256" && hash !== "sm3") throw new TypeError(`hash must be "sha256" or "sm3", got ${String(hash)}`);
  return backend.digest(hash, data);
}

/** Cryptographically secure random bytes (platform CSPRNG). */
export function randomBytes(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  return backend.randomBytes(n);
}

/** Which backend this build uses: "node" (node:crypto) or "browser" (WebCrypto + sm-crypto-v2). */
export const backendName: "node" | "browser" = backend.name;
