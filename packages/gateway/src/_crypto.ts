/**
 * The few cryptographic helpers the gateway needs beyond @privface/crypto: SHA-256 digests of sealed
 * shares (bound into party authorisations), CSPRNG identifiers, and a strict base64url decoder for
 * request fields. Signatures, canonical JSON and data keys come from @privface/crypto.
 */
import { createHash, randomBytes } from "node:crypto";

export function sha256b64u(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("base64url");
}

// CSPRNG bytes are drawn 4 KiB at a time and handed out once each (a randomBytes call per token cost
// more than the token: several per request on the hot path); consumed bytes are zeroed.
const POOL = 4096;
let pool = Buffer.alloc(0);
let at = POOL;

function fresh(n: number): Buffer {
  if (n > 256) return randomBytes(n);
  if (at + n > pool.length) {
    pool = randomBytes(POOL);
    at = 0;
  }
  const out = Buffer.from(pool.subarray(at, at + n));
  pool.fill(0, at, at + n);
  at += n;
  return out;
}

/** `bytes` random bytes from the platform CSPRNG, base64url (16 bytes → 22 characters). */
export function randomToken(bytes = 16): string {
  return fresh(bytes).toString("base64url");
}

/** Prefixed random id, e.g. "per_3hK…". */
export function randomId(prefix: string): string {
  return `${prefix}_${fresh(12).toString("base64url")}`;
}
