/**
 * Key (de)serialisation to the JSON of the runtime layout's keys/ directory:
 *   key pair:   { "suite": "INTL"|"GM", "kind": "seal"|"sign", "publicKey": b64url, "privateKey": b64url }
 *   public key: { "suite", "kind", "publicKey" }
 *   data key:   { "suite", "kind": "data", "id", "key": b64url }
 * Reading a key pair checks that the public key is the one the private key gives (BAD_KEY otherwise).
 */
import { equalBytes, fromBase64url, toBase64url } from "./_bytes.ts";
import { CryptoError } from "./_errors.ts";
import { sealPublicFromPrivate } from "./_seal.ts";
import { signingPublicFromPrivate } from "./_sign.ts";
import { dataKeyLength } from "./_datakey.ts";
import type { DataKey } from "./_datakey.ts";
import type { KeyKind, KeyPair, PublicKey, SuiteId } from "./_types.ts";
import { checkKey } from "./_types.ts";

export interface KeyPairJson {
  suite: SuiteId;
  kind: KeyKind;
  publicKey: string;
  privateKey: string;
}
export interface PublicKeyJson {
  suite: SuiteId;
  kind: KeyKind;
  publicKey: string;
}
export interface DataKeyJson {
  suite: SuiteId;
  kind: "data";
  id: string;
  key: string;
}

function kindOf(k: PublicKey): KeyKind {
  if (k.kind !== "seal" && k.kind !== "sign") throw new TypeError("key.kind must be \"seal\" or \"sign\" to serialise a key");
  return k.kind;
}

export function keyPairToJson(kp: KeyPair): KeyPairJson {
  const kind = kindOf(kp);
  checkKey(kp, kind, "kp", true);
  return { suite: kp.suite, kind, publicKey: toBase64url(kp.publicKey), privateKey: toBase64url(kp.privateKey) };
}

export function publicKeyToJson(k: PublicKey): PublicKeyJson {
  const kind = kindOf(k);
  checkKey(k, kind, "k", false);
  return { suite: k.suite, kind, publicKey: toBase64url(k.publicKey) };
}

function field(o: Record<string, unknown>, name: string): string {
  const v = o[name];
  if (typeof v !== "string") throw new CryptoError("BAD_KEY", `key JSON: ${name} must be a string`);
  return v;
}

function bytes(o: Record<string, unknown>, name: string): Uint8Array {
  try {
    return fromBase64url(field(o, name));
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    throw new CryptoError("BAD_KEY", `key JSON: ${name} is not base64url`);
  }
}

function header(json: unknown, allowed: readonly string[]): { o: Record<string, unknown>; suite: SuiteId; kind: string } {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new CryptoError("BAD_KEY", "key JSON must be an object");
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new CryptoError("BAD_KEY", `key JSON: unknown field ${JSON.stringify(k)}`);
  const suite = o.suite;
  if (suite !== "INTL" && suite !== "GM") throw new CryptoError("BAD_KEY", "key JSON: suite must be INTL or GM");
  return { o, suite, kind: field(o, "kind") };
}

export function publicKeyFromJson(json: unknown): PublicKey {
  const { o, suite, kind } = header(json, ["suite", "kind", "publicKey", "privateKey"]);
  if (kind !== "seal" && kind !== "sign") throw new CryptoError("BAD_KEY", "key JSON: kind must be seal or sign");
  const k: PublicKey = { suite, kind, publicKey: bytes(o, "publicKey") };
  try {
    checkKey(k, kind, "publicKey", false);
  } catch (e) {
    throw new CryptoError("BAD_KEY", `key JSON: ${(e as Error).message}`);
  }
  return k;
}

export async function keyPairFromJson(json: unknown): Promise<KeyPair> {
  const { o, suite, kind } = header(json, ["suite", "kind", "publicKey", "privateKey"]);
  if (kind !== "seal" && kind !== "sign") throw new CryptoError("BAD_KEY", "key JSON: kind must be seal or sign");
  const kp: KeyPair = { suite, kind, publicKey: bytes(o, "publicKey"), privateKey: bytes(o, "privateKey") };
  try {
    checkKey(kp, kind, "keyPair", true);
  } catch (e) {
    throw new CryptoError("BAD_KEY", `key JSON: ${(e as Error).message}`);
  }
  let derived: Uint8Array;
  try {
    derived = kind === "seal" ? await sealPublicFromPrivate(suite, kp.privateKey) : await signingPublicFromPrivate(suite, kp.privateKey);
  } catch {
    throw new CryptoError("BAD_KEY", "key JSON: private key is not valid");
  }
  if (!equalBytes(derived, kp.publicKey)) throw new CryptoError("BAD_KEY", "key JSON: public key does not match the private key");
  return kp;
}

export function dataKeyToJson(dk: DataKey): DataKeyJson {
  return { suite: dk.suite, kind: "data", id: dk.id, key: toBase64url(dk.key) };
}

export function dataKeyFromJson(json: unknown): DataKey {
  const { o, suite, kind } = header(json, ["suite", "kind", "id", "key"]);
  if (kind !== "data") throw new CryptoError("BAD_KEY", "key JSON: kind must be data");
  const id = field(o, "id");
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(id)) throw new CryptoError("BAD_KEY", "key JSON: id must be 1..64 characters of [A-Za-z0-9._:-]");
  const key = bytes(o, "key");
  if (key.length !== dataKeyLength(suite)) throw new CryptoError("BAD_KEY", `key JSON: ${suite} data key must be ${dataKeyLength(suite)} bytes`);
  return { suite, id, key };
}
