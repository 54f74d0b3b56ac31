/**
 * Encryption at rest for the party store: AES-256-GCM (node:crypto) under the party's data key.
 * Blob layout: [0] version 0x01 | iv (12) | ciphertext | tag (16). The key id is stored in its own
 * column beside the blob. The associated data binds what the blob is (share or pool item), the party
 * role, and the row's identity (template id + model version, or item id), so a blob copied to another
 * row, another party's database or another table fails authentication.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { StoreError } from "./_errors.ts";

const VERSION = 0x01;
const IV = 12;
const TAG = 16;
export const KEY_BYTES = 32;

/** AAD = "privface/party/<what>/v1" NUL role NUL id parts joined by NUL (inputs never contain NUL). */
/**
 * "pool": a v1 pool item under the data key (only items migrated from 001). "poolkey": a per-item key
 * wrapped under the data key; "poolitem": a pool item under its per-item key.
 */
export function aad(what: "share" | "pool" | "poolkey" | "poolitem", role: string, ...ids: string[]): Buffer {
  return Buffer.from([`privface/party/${what}/v1`, role, ...ids].join("\0"), "utf8");
}

export function encrypt(key: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Buffer {
  const iv = randomBytes(IV);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(ad);
  const body = c.update(plaintext);
  const fin = c.final();
  return Buffer.concat([Buffer.of(VERSION), iv, body, fin, c.getAuthTag()]);
}

export function decrypt(key: Uint8Array, blob: Uint8Array, ad: Uint8Array): Uint8Array {
  if (blob.length < 1 + IV + TAG || blob[0] !== VERSION) throw new StoreError("INTEGRITY", "stored ciphertext is malformed");
  const iv = blob.subarray(1, 1 + IV);
  const tag = blob.subarray(blob.length - TAG);
  const d = createDecipheriv("aes-256-gcm", key, iv);
  d.setAAD(ad);
  d.setAuthTag(tag);
  const body = d.update(blob.subarray(1 + IV, blob.length - TAG));
  try {
    const fin = d.final(); // GCM: always empty; checks the tag
    const out = fin.length === 0 ? body : Buffer.concat([body, fin]);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    body.fill(0); // unauthenticated plaintext
    throw new StoreError("INTEGRITY", "stored ciphertext failed authentication (wrong key, row or party)");
  }
}
