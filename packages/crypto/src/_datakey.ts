/**
 * Data-key AEAD for data at rest (a party's stored shares). INTL: AES-256-GCM (32-byte key);
 * GM: SM4-GCM (16-byte key). The blob names the key id, so keys can rotate:
 *   [0] version 0x01 | [1] suite | [2] id length n (1..64) | id (UTF-8, n bytes) | nonce (12) | ct || tag
 * AEAD associated data = header (version .. nonce) || caller's AAD (e.g. utf8(templateId + "|" + modelVersion)).
 */
import { backend } from "#backend";
import { concatBytes, utf8 } from "./_bytes.ts";
import { CryptoError } from "./_errors.ts";
import { IV_BYTES, TAG_BYTES } from "./_backend.ts";
import { SUITE_CODE, checkBytes, checkSuite, suiteFromCode } from "./_types.ts";
import type { SuiteId } from "./_types.ts";

export interface DataKey {
  suite: SuiteId;
  id: string;
  key: Uint8Array;
}

const DATA_VERSION = 0x01;
export const dataKeyLength = (suite: SuiteId): number => (suite === "INTL" ? 32 : 16);

function checkDataKey(dk: DataKey, param: string): void {
  if (typeof dk !== "object" || dk === null) throw new TypeError(`${param} must be a DataKey`);
  checkSuite(dk.suite, `${param}.suite`);
  checkId(dk.id, `${param}.id`);
  checkBytes(dk.key, `${param}.key`);
  if (dk.key.length !== dataKeyLength(dk.suite)) {
    throw new CryptoError("BAD_KEY", `${param}.key must be ${dataKeyLength(dk.suite)} bytes for ${dk.suite}, got ${dk.key.length}`);
  }
}

function checkId(id: unknown, param: string): asserts id is string {
  if (typeof id !== "string" || !/^[A-Za-z0-9._:-]{1,64}$/.test(id)) {
    throw new TypeError(`${param} must be 1..64 characters of [A-Za-z0-9._:-]`);
  }
}

export function generateDataKey(suite: SuiteId, id: string): DataKey {
  checkSuite(suite);
  checkId(id, "id");
  return { suite, id, key: backend.randomBytes(dataKeyLength(suite)) };
}

export async function encryptWithDataKey(dk: DataKey, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  checkDataKey(dk, "dk");
  checkBytes(plaintext, "plaintext");
  checkBytes(aad, "aad");
  const id = utf8(dk.id);
  const header = concatBytes(Uint8Array.of(DATA_VERSION, SUITE_CODE[dk.suite], id.length), id, backend.randomBytes(IV_BYTES));
  const nonce = header.subarray(header.length - IV_BYTES);
  const full = concatBytes(header, aad);
  const body =
    dk.suite === "INTL" ? await backend.aes256GcmEncrypt(dk.key, nonce, plaintext, full) : await backend.sm4GcmEncrypt(dk.key, nonce, plaintext, full);
  return concatBytes(header, body);
}

function parse(blob: Uint8Array): { suite: SuiteId; id: string; headerLen: number } {
  checkBytes(blob, "blob");
  if (blob.length < 3) throw new CryptoError("ENVELOPE_TRUNCATED", `data blob has ${blob.length} bytes`);
  if (blob[0] !== DATA_VERSION) throw new CryptoError("UNSUPPORTED_VERSION", `data blob version ${blob[0]}, expected ${DATA_VERSION}`);
  const suite = suiteFromCode(blob[1]);
  const n = blob[2];
  const headerLen = 3 + n + IV_BYTES;
  if (n < 1 || n > 64 || blob.length < headerLen + TAG_BYTES) throw new CryptoError("ENVELOPE_TRUNCATED", `data blob has ${blob.length} bytes`);
  const idBytes = blob.subarray(3, 3 + n);
  let id = "";
  for (const b of idBytes) id += String.fromCharCode(b);
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(id)) throw new CryptoError("UNKNOWN_KEY_ID", "data blob carries a malformed key id");
  return { suite, id, headerLen };
}

/** The key id a blob was encrypted under (to pick the key, or to find blobs to re-encrypt on rotation). */
export function dataKeyIdOf(blob: Uint8Array): string {
  return parse(blob).id;
}

/** Decrypt with the matching key among `keys` (UNKNOWN_KEY_ID if none has the blob's id). */
export async function decryptWithDataKey(keys: DataKey | readonly DataKey[], blob: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  checkBytes(aad, "aad");
  const { suite, id, headerLen } = parse(blob);
  const dk = (Array.isArray(keys) ? keys : [keys]).find((k: DataKey) => k.id === id);
  if (!dk) throw new CryptoError("UNKNOWN_KEY_ID", `no data key with id ${JSON.stringify(id)}`);
  checkDataKey(dk, "key");
  if (dk.suite !== suite) throw new CryptoError("SUITE_MISMATCH", `blob is ${suite}, key ${id} is ${dk.suite}`);
  const header = blob.subarray(0, headerLen);
  const nonce = blob.subarray(headerLen - IV_BYTES, headerLen);
  const full = concatBytes(header, aad);
  const body = blob.subarray(headerLen);
  return suite === "INTL" ? backend.aes256GcmDecrypt(dk.key, nonce, body, full) : backend.sm4GcmDecrypt(dk.key, nonce, body, full);
}
