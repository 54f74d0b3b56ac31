/**
 * The party store's argument checks (pure). Template ids are random pseudonyms from the gateway:
 * 16–64 base64url characters, and never digits only (which is what phone, ID-card and account
 * numbers look like; R11). A bad type raises TypeError / RangeError naming the parameter; a bad
 * format or size raises StoreError INVALID_INPUT.
 */
import { KEY_BYTES, SM4_KEY_BYTES } from "./_aead.ts";
import { StoreError } from "./_errors.ts";
import type { Authorisation, DataKeys, UseMark } from "./index.ts";

const TEMPLATE_ID_RE = /^[A-Za-z0-9_-]{16,64}$/;
const NUMBER_LIKE_RE = /^[0-9]+[Xx]?$/;
export const MODEL_RE = /^[A-Za-z0-9._:+@-]{1,64}$/; // "@" added by the party-server helper: model versions are [A-Za-z0-9._@-]+ (brief)
export const SESSION_RE = /^[A-Za-z0-9_-]{8,128}$/;
const NONCE_RE = /^[A-Za-z0-9_-]{8,128}$/;
const MARK_RE = /^[A-Za-z0-9_-]{16,120}$/;
export const ITEM_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const KEY_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
export const DEVICE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const PUBKEY_RE = /^[A-Za-z0-9_-]{16,256}$/;
export const MAX_SHARE = 1 << 20;
export const MAX_ITEM = 64 << 20;

export function str(value: unknown, name: string, re: RegExp): string {
  if (typeof value !== "string") throw new TypeError(`${name} must be a string, got ${typeof value}`);
  if (!re.test(value)) throw new StoreError("INVALID_INPUT", `${name} must match ${re}`);
  return value;
}
export function templateId(value: unknown, name = "templateId"): string {
  const id = str(value, name, TEMPLATE_ID_RE);
  if (NUMBER_LIKE_RE.test(id)) throw new StoreError("INVALID_INPUT", `${name} looks like a number (phone, ID or account); template ids are random pseudonyms`);
  return id;
}
export function bytes(value: unknown, name: string, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (value.length < 1 || value.length > max) throw new StoreError("INVALID_INPUT", `${name} must have 1..${max} bytes, got ${value.length}`);
  return value;
}
export function ms(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new TypeError(`${name} must be an integer (epoch ms), got ${String(value)}`);
  return value;
}
export function duration(value: unknown, name: string): number {
  const v = ms(value, name);
  if (v < 0) throw new RangeError(`${name} must be ≥ 0, got ${v}`);
  return v;
}
export function dayNumber(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 2 ** 31 - 1) throw new RangeError(`day must be a day number (days since 1970-01-01 UTC), got ${String(value)}`);
  return value as number;
}
export function checkAuth(auth: Authorisation | undefined): Authorisation | undefined {
  if (auth === undefined) return undefined;
  if (typeof auth !== "object" || auth === null) throw new TypeError("opts.auth must be { nonce, expires }");
  return { nonce: str(auth.nonce, "auth.nonce", NONCE_RE), expires: ms(auth.expires, "auth.expires") };
}
export function checkMarks(marks: unknown): UseMark[] {
  if (marks === undefined) return [];
  if (!Array.isArray(marks) || marks.length > 8) throw new TypeError("marks must be an array of at most 8 { kind, value, expires }");
  return marks.map((m, i) => {
    if (m?.kind !== "nonce" && m?.kind !== "envelope") throw new TypeError(`marks[${i}].kind must be nonce | envelope`);
    return { kind: m.kind, value: str(m.value, `marks[${i}].value`, MARK_RE), expires: ms(m.expires, `marks[${i}].expires`) };
  });
}
export function checkKeys(dataKeys: DataKeys): void {
  if (typeof dataKeys !== "object" || dataKeys === null || !(dataKeys.keys instanceof Map)) {
    throw new TypeError("dataKeys must be { current: keyId, keys: Map<keyId, Uint8Array> }");
  }
  for (const [id, key] of dataKeys.keys) checkKey(id, key);
  if (!dataKeys.keys.has(dataKeys.current)) throw new RangeError(`dataKeys.current ${JSON.stringify(dataKeys.current)} is not in dataKeys.keys`);
}
export function checkKey(id: unknown, key: unknown): void {
  if (typeof id !== "string" || !KEY_ID_RE.test(id)) throw new RangeError(`data key id must match ${KEY_ID_RE}`);
  if (!(key instanceof Uint8Array) || (key.length !== KEY_BYTES && key.length !== SM4_KEY_BYTES)) {
    throw new RangeError(`data key ${id} must be a Uint8Array of ${KEY_BYTES} bytes (INTL, AES-256-GCM) or ${SM4_KEY_BYTES} (GM, SM4-GCM)`);
  }
}
