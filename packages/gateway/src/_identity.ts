/**
 * Identity attributes at rest and on display (R11, R12, R30, PFI-06/07).
 * - `sealField` / `openField`: @privface/crypto's data-key AEAD (AES-256-GCM, or SM4-GCM for a GM
 *   key) with the row id and column name as associated data, so a ciphertext cannot be moved to
 *   another row or column; the blob names its key id, so keys can rotate. Stored as base64url.
 * - `blindIndex`: HMAC-SHA256 (HMAC-SM3 when the data keys are GM) under the index key, for uniqueness checks on the ID-card number
 *   without storing it in the clear. The index key is a key of its own (`keys/gateway/index.json`),
 *   so the data keys can rotate without changing any index.
 * - `maskIdNumber`, `maskPhone`, `maskName`: what operators and logs see (110101********1234,
 *   138****8000, 张*).
 */
import { createHmac, hkdfSync } from "node:crypto";
import { decryptWithDataKey, encryptWithDataKey, fromBase64url, fromUtf8, suiteHash, toBase64url, utf8, type DataKey, type HashName } from "@privface/crypto";

/** The gateway's data keys: the first encrypts, all decrypt (rotation by key id). */
export interface IdentityKeys {
  keys: readonly DataKey[];
  /** HMAC key for blind indexes, independent of the data keys */
  indexKey: Uint8Array;
  /** the blind index's HMAC: SHA-256, or SM3 in a GM deployment (its data keys are GM) */
  indexHash: HashName;
}

/**
 * The index key derived from a data key: what every index was computed under before the index key
 * became a key of its own. The gateway's first start writes it to the index key file, so existing
 * indexes stay valid; from then on it never changes with the data keys.
 */
export function legacyIndexKey(dataKey: DataKey): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", dataKey.key, new Uint8Array(0), "privface gateway blind index v1", 32));
}

export function makeIdentityKeys(keys: readonly DataKey[], indexKey?: Uint8Array): IdentityKeys {
  if (!Array.isArray(keys) || keys.length === 0) throw new RangeError("makeIdentityKeys: keys must be a non-empty array of data keys");
  const gm = keys[0].suite === "GM";
  // an INTL index key is 32 bytes; a GM one is a GM data key, 16 bytes (HMAC-SM3)
  if (indexKey !== undefined && (!(indexKey instanceof Uint8Array) || indexKey.length < (gm ? 16 : 32))) throw new RangeError(`makeIdentityKeys: indexKey must be at least ${gm ? 16 : 32} bytes`);
  return { keys, indexKey: indexKey ?? legacyIndexKey(keys[0]), indexHash: suiteHash(keys[0].suite) };
}

export async function sealField(ik: IdentityKeys, plaintext: string, aad: string): Promise<string> {
  return toBase64url(await encryptWithDataKey(ik.keys[0], utf8(plaintext), utf8(aad)));
}

export async function openField(ik: IdentityKeys, sealed: string, aad: string): Promise<string> {
  return fromUtf8(await decryptWithDataKey(ik.keys, fromBase64url(sealed), utf8(aad)));
}

export function blindIndex(ik: IdentityKeys, kind: string, value: string): string {
  return createHmac(ik.indexHash, ik.indexKey).update(`${kind}\u0000${value}`).digest("base64url");
}

/** 18-character resident ID (last may be X): keep the 6-digit region and the last 4. */
export function maskIdNumber(id: string): string {
  if (id.length <= 10) return "*".repeat(id.length);
  return id.slice(0, 6) + "*".repeat(id.length - 10) + id.slice(-4);
}

/** 11-digit mobile: keep the first 3 and last 4. */
export function maskPhone(phone: string): string {
  if (phone.length <= 7) return "*".repeat(phone.length);
  return phone.slice(0, 3) + "*".repeat(phone.length - 7) + phone.slice(-4);
}

/** Keep the first character (the family name in Chinese names). */
export function maskName(name: string): string {
  const chars = Array.from(name);
  if (chars.length <= 1) return "*";
  return chars[0] + "*".repeat(chars.length - 1);
}

export const ID_NUMBER_RE = /^[1-9]\d{16}[\dX]$/;
export const PHONE_RE = /^1\d{10}$/;
