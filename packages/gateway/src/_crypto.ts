/**
 * The few cryptographic helpers the gateway needs beyond @privface/crypto: SHA-256 digests of sealed
 * shares (bound into party authorisations), CSPRNG identifiers, and a strict base64url decoder for
 * request fields. Signatures, canonical JSON and data keys come from @privface/crypto.
 */
import { createHash, randomBytes } from "node:crypto";

export function sha256b64u(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("base64url");
}

/** `bytes` random bytes from the platform CSPRNG, base64url (16 bytes → 22 characters). */
export function randomToken(bytes = 16): string {
  return randomBytes(bytes).toString("base64url");
}

/** Prefixed random id, e.g. "per_3hK…". */
export function randomId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString("base64url")}`;
}
