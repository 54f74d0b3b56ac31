/**
 * Encryption at rest for the party store: AES-256-GCM (node:crypto) under a 32-byte key (INTL), SM4-GCM
 * (@privface/crypto/node) under a 16-byte key (GM: a party whose data keys are GM keys seals its
 * template keys, shares and pool items with SM4; keys made under a GM data key are 16 bytes too).
 * Blob layout: [0] version 0x01 | iv (12) | ciphertext | tag (16) under a data key (pool item keys,
 * template keys in the register, shares written before the register), or a share under its template's
 * key: 0x02 | key id of the template key (8) | iv | ciphertext | tag. The data key's id is stored
 * beside the blob. The associated data binds what the blob is (share or pool item), the party
 * role, and the row's identity (template id + model version, or item id), so a blob copied to another
 * row, another party's database or another table fails authentication.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { sm4GcmDecryptSync, sm4GcmEncryptSync } from "@privface/crypto/node";
import { toBytes } from "@privface/db";
import { StoreError } from "./_errors.ts";
import { newKid, type TemplateKeys } from "./template-keys.ts";

const VERSION = 0x01;
/** A share under its template's own key (./template-keys.ts): 0x02 | kid (8) | iv | ciphertext | tag. */
const VERSION_TK = 0x02;
const KID = 8;
const IV = 12;
const TAG = 16;
/** INTL (AES-256-GCM) and GM (SM4-GCM) key lengths. */
export const KEY_BYTES = 32;
export const SM4_KEY_BYTES = 16;

/**
 * AAD = "privface/party/<what>/v1" NUL role NUL id parts joined by NUL (inputs never contain NUL).
 * "share": a template share under the data key; "poolkey": a per-item key wrapped under the data key;
 * "poolitem": a pool item under its per-item key; "tkey": a template key wrapped under the data key.
 */
export function aad(what: "share" | "poolkey" | "poolitem" | "tkey", role: string, ...ids: string[]): Buffer {
  return Buffer.from([`privface/party/${what}/v1`, role, ...ids].join("\0"), "utf8");
}

/** `header` (default: the version byte 0x01) | iv | ciphertext | tag. */
export function encrypt(key: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, header: Buffer = Buffer.of(VERSION)): Buffer {
  const iv = randomBytes(IV);
  if (key.length === SM4_KEY_BYTES) return Buffer.concat([header, iv, sm4GcmEncryptSync(key, iv, plaintext, ad)]);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(ad);
  const body = c.update(plaintext);
  const fin = c.final();
  return Buffer.concat([header, iv, body, fin, c.getAuthTag()]);
}

export function decrypt(key: Uint8Array, blob: Uint8Array, ad: Uint8Array, headerLen = 1): Uint8Array {
  if (blob.length < headerLen + IV + TAG || blob[0] !== (headerLen === 1 ? VERSION : VERSION_TK)) throw new StoreError("INTEGRITY", "stored ciphertext is malformed");
  const iv = blob.subarray(headerLen, headerLen + IV);
  if (key.length === SM4_KEY_BYTES) {
    try {
      return sm4GcmDecryptSync(key, iv, blob.subarray(headerLen + IV), ad);
    } catch {
      throw new StoreError("INTEGRITY", "stored ciphertext failed authentication (wrong key, row or party)");
    }
  }
  const tag = blob.subarray(blob.length - TAG);
  const d = createDecipheriv("aes-256-gcm", key, iv);
  d.setAAD(ad);
  d.setAuthTag(tag);
  const body = d.update(blob.subarray(headerLen + IV, blob.length - TAG));
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
 * The party's data keys and what is sealed under them: shares (each template's under its own key in
 * the template-key register, wrapped under the data key; rows written before the register: under the
 * data key itself, version 0x01, still read and moved to a template key by rotateDataKey) and pool
 * items (each under its own random key, AAD binds role and item id; the item key is stored wrapped
 * under the data key, so erasing the 61-byte wrapped key makes the ciphertext garbage). `keys` is the
 * caller's map, kept by reference (a key added to it can become current by `use`).
 */
export interface Keyring {
  readonly keys: Map<string, Uint8Array>;
  readonly templateKeys: TemplateKeys;
  /** The id of the key new rows are sealed under. */
  current(): string;
  /** Makes `id` (already in `keys`) current. */
  use(id: string): void;
  /** `created`: this call made the template's key (the caller destroys it if its transaction fails). */
  sealShare(tid: string, mv: string, share: Uint8Array): { keyId: string; blob: Buffer; created: boolean };
  /** KEY_DESTROYED when the template's key is gone (an erased template in an older copy of the database). */
  openShare(r: { key_id: string | null; share: unknown }, tid: string, mv: string): Uint8Array;
  /** True when the key that sealed this share is not in the register any more (legacy rows: false). */
  shareKeyDestroyed(share: unknown, tid: string): boolean;
  /** Re-wraps the template's key under the current data key (false if it already is, or has none). */
  rewrapTemplateKey(tid: string): boolean;
  wrapItemKey(id: string, itemKey: Uint8Array): { keyId: string; wrapped: Buffer };
  unwrapItemKey(r: { key_id: string | null; item_key: unknown }, id: string): Uint8Array;
  /** A fresh item key, the item under it, the key wrapped under the data key. */
  sealItem(id: string, b: Uint8Array): { keyId: string; wrapped: Buffer; blob: Buffer };
}

export function createKeyring(role: string, keys: Map<string, Uint8Array>, current: string, templateKeys: TemplateKeys): Keyring {
  let currentKeyId = current;
  const keyFor = (id: string | null): Uint8Array => {
    const k = id === null ? undefined : keys.get(id);
    if (!k) throw new StoreError("KEY_UNKNOWN", `no data key with id ${JSON.stringify(id)} (rows under it stay unreadable until the key is supplied)`);
    return k;
  };
  const wrapItemKey = (id: string, itemKey: Uint8Array) => ({ keyId: currentKeyId, wrapped: encrypt(keyFor(currentKeyId), itemKey, aad("poolkey", role, id)) });
  const unwrapTemplateKey = (tid: string, row: { kid: Buffer; keyId: string; wrapped: Uint8Array }) =>
    decrypt(keyFor(row.keyId), row.wrapped, aad("tkey", role, tid, row.kid.toString("hex")));
  const kidOf = (blob: Uint8Array) => Buffer.from(blob.subarray(1, 1 + KID));
  return {
    keys,
    templateKeys,
    current: () => currentKeyId,
    use(id) {
      currentKeyId = id;
    },
    sealShare(tid, mv, share) {
      let row = templateKeys.get(tid);
      const created = !row;
      let tkey: Uint8Array;
      if (row) {
        tkey = unwrapTemplateKey(tid, row);
      } else {
        tkey = randomBytes(keyFor(currentKeyId).length); // SM4 under a GM data key
        const kid = newKid();
        row = { kid, keyId: currentKeyId, wrapped: encrypt(keyFor(currentKeyId), tkey, aad("tkey", role, tid, kid.toString("hex"))) };
        templateKeys.put(tid, row);
      }
      const blob = encrypt(tkey, share, aad("share", role, tid, mv), Buffer.concat([Buffer.of(VERSION_TK), row.kid]));
      tkey.fill(0);
      return { keyId: row.keyId, blob, created };
    },
    openShare(r, tid, mv) {
      const blob = toBytes(r.share);
      if (blob[0] !== VERSION_TK) return decrypt(keyFor(r.key_id), blob, aad("share", role, tid, mv));
      const row = templateKeys.get(tid);
      if (!row) throw new StoreError("KEY_DESTROYED", "this template's key was destroyed (the template was erased)");
      if (!row.kid.equals(kidOf(blob))) throw new StoreError("INTEGRITY", "stored share names another key than its template's (moved from another row?)");
      const tkey = unwrapTemplateKey(tid, row);
      try {
        return decrypt(tkey, blob, aad("share", role, tid, mv), 1 + KID);
      } finally {
        tkey.fill(0);
      }
    },
    shareKeyDestroyed(share, tid) {
      const blob = toBytes(share);
      if (blob[0] !== VERSION_TK) return false;
      const row = templateKeys.get(tid);
      return !row || !row.kid.equals(kidOf(blob));
    },
    rewrapTemplateKey(tid) {
      const row = templateKeys.get(tid);
      if (!row || row.keyId === currentKeyId) return false;
      const tkey = unwrapTemplateKey(tid, row);
      templateKeys.rewrap(tid, currentKeyId, encrypt(keyFor(currentKeyId), tkey, aad("tkey", role, tid, row.kid.toString("hex"))));
      tkey.fill(0);
      return true;
    },
    wrapItemKey,
    unwrapItemKey: (r, id) => decrypt(keyFor(r.key_id), toBytes(r.item_key), aad("poolkey", role, id)),
    sealItem(id, b) {
      const itemKey = randomBytes(keyFor(currentKeyId).length);
      const out = { ...wrapItemKey(id, itemKey), blob: encrypt(itemKey, b, aad("poolitem", role, id)) };
      itemKey.fill(0);
      return out;
    },
  };
}
