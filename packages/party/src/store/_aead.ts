/**
 * Encryption at rest for the party store: AES-256-GCM (node:crypto) under the party's data key.
 * Blob layout: [0] version 0x01 | iv (12) | ciphertext | tag (16). The key id is stored in its own
 * column beside the blob. The associated data binds what the blob is (share or pool item), the party
 * role, and the row's identity (template id + model version, or item id), so a blob copied to another
 * row, another party's database or another table fails authentication.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { toBytes } from "@privface/db";
import { StoreError } from "./_errors.ts";

const VERSION = 0x01;
const IV = 12;
const TAG = 16;
export const KEY_BYTES = 32;

/**
 * AAD = "privface/party/<what>/v1" NUL role NUL id parts joined by NUL (inputs never contain NUL).
 * "share": a template share under the data key; "poolkey": a per-item key wrapped under the data key;
 * "poolitem": a pool item under its per-item key.
 */
export function aad(what: "share" | "poolkey" | "poolitem", role: string, ...ids: string[]): Buffer {
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

/**
 * The party's data keys and what is sealed under them: shares (under the current data key) and pool
 * items (each under its own random key, AAD binds role and item id; the item key is stored wrapped
 * under the data key, so erasing the 61-byte wrapped key makes the ciphertext garbage). `keys` is the
 * caller's map, kept by reference (a key added to it can become current by `use`).
 */
export interface Keyring {
  readonly keys: Map<string, Uint8Array>;
  /** The id of the key new rows are sealed under. */
  current(): string;
  /** Makes `id` (already in `keys`) current. */
  use(id: string): void;
  sealShare(tid: string, mv: string, share: Uint8Array): { keyId: string; blob: Buffer };
  openShare(r: { key_id: string | null; share: unknown }, tid: string, mv: string): Uint8Array;
  wrapItemKey(id: string, itemKey: Uint8Array): { keyId: string; wrapped: Buffer };
  unwrapItemKey(r: { key_id: string | null; item_key: unknown }, id: string): Uint8Array;
  /** A fresh item key, the item under it, the key wrapped under the data key. */
  sealItem(id: string, b: Uint8Array): { keyId: string; wrapped: Buffer; blob: Buffer };
}

export function createKeyring(role: string, keys: Map<string, Uint8Array>, current: string): Keyring {
  let currentKeyId = current;
  const keyFor = (id: string | null): Uint8Array => {
    const k = id === null ? undefined : keys.get(id);
    if (!k) throw new StoreError("KEY_UNKNOWN", `no data key with id ${JSON.stringify(id)} (rows under it stay unreadable until the key is supplied)`);
    return k;
  };
  const wrapItemKey = (id: string, itemKey: Uint8Array) => ({ keyId: currentKeyId, wrapped: encrypt(keyFor(currentKeyId), itemKey, aad("poolkey", role, id)) });
  return {
    keys,
    current: () => currentKeyId,
    use(id) {
      currentKeyId = id;
    },
    sealShare: (tid, mv, share) => ({ keyId: currentKeyId, blob: encrypt(keyFor(currentKeyId), share, aad("share", role, tid, mv)) }),
    openShare: (r, tid, mv) => decrypt(keyFor(r.key_id), toBytes(r.share), aad("share", role, tid, mv)),
    wrapItemKey,
    unwrapItemKey: (r, id) => decrypt(keyFor(r.key_id), toBytes(r.item_key), aad("poolkey", role, id)),
    sealItem(id, b) {
      const itemKey = randomBytes(KEY_BYTES);
      const out = { ...wrapItemKey(id, itemKey), blob: encrypt(itemKey, b, aad("poolitem", role, id)) };
      itemKey.fill(0);
      return out;
    },
  };
}
