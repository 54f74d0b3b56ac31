/**
 * Sealing-key lists: how a device learns the keys it may seal shares to without trusting the gateway
 * (decision 010). Each party's institution root key signs
 *   { v: 1, kind: "privface.sealing-keys", party, version, issuedAt, expiresAt, keys: [{ id, suite, publicKey }] }
 * (canonical JSON, `signJson`); the gateway only relays it. A device is provisioned with both roots
 * and accepts a list only when the signature verifies under the root of the party it names, it has
 * not expired, and its version is not below the highest the device has accepted (no rollback). The
 * first key is the current one; rotation publishes a new version with the new key first, revocation
 * one without the key; lists expire, so an old list cannot be replayed for long.
 */
import { fromBase64url, signJson, toBase64url, verifySignedJson, digest, type KeyPair, type PublicKey, type Signer, type SignedJson, type SuiteId } from "@privface/crypto";
import type { PartyName } from "./ids.ts";

export interface SealingKey {
  /** the key's id: base64url of the first 12 bytes of SHA-256(suite ‖ 0x00 ‖ public key) */
  id: string;
  suite: SuiteId;
  /** base64url */
  publicKey: string;
}

export interface SealingKeyList {
  v: 1;
  kind: "privface.sealing-keys";
  party: PartyName;
  /** increases with every list the party publishes */
  version: number;
  /** epoch ms */
  issuedAt: number;
  /** epoch ms */
  expiresAt: number;
  /** newest first; the first is the one to seal to */
  keys: SealingKey[];
}

export type TrustErrorCode = "KEY_LIST_UNTRUSTED" | "KEY_LIST_EXPIRED" | "KEY_LIST_ROLLBACK" | "KEY_LIST_MALFORMED";

/** A key list the device must not use, with a stable code. */
export class TrustError extends Error {
  constructor(
    readonly code: TrustErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "TrustError";
  }
}

const KIND = "privface.sealing-keys";
const ID_RE = /^[A-Za-z0-9_-]{16}$/;

/** The id of a sealing public key (stable, derived from the key). */
export async function sealingKeyId(key: PublicKey): Promise<string> {
  const tag = new TextEncoder().encode(key.suite);
  const bytes = new Uint8Array(tag.length + 1 + key.publicKey.length);
  bytes.set(tag);
  bytes.set(key.publicKey, tag.length + 1);
  return toBase64url((await digest("sha256", bytes)).subarray(0, 12));
}

/** Signs a key list with the party's institution root. */
export async function signKeyList(root: KeyPair | Signer, list: Omit<SealingKeyList, "v" | "kind">): Promise<SignedJson> {
  if (list.keys.length === 0) throw new RangeError("keys: at least one sealing key");
  return signJson(root, { v: 1, kind: KIND, ...list });
}

/**
 * Checks a signed key list against the party's root; returns it and its current key as a
 * `PublicKey`. @throws TrustError
 */
export async function checkKeyList(
  root: PublicKey,
  party: PartyName,
  signed: unknown,
  o: { now?: number; minVersion?: number } = {},
): Promise<{ list: SealingKeyList; current: PublicKey & { id: string } }> {
  let value: unknown;
  try {
    value = await verifySignedJson(root, signed);
  } catch {
    throw new TrustError("KEY_LIST_UNTRUSTED", `the ${party} key list is not signed by ${party}'s root`);
  }
  const l = value as SealingKeyList;
  const fine =
    l?.v === 1 &&
    l.kind === KIND &&
    Number.isSafeInteger(l.version) &&
    l.version >= 0 &&
    Number.isSafeInteger(l.issuedAt) &&
    Number.isSafeInteger(l.expiresAt) &&
    Array.isArray(l.keys) &&
    l.keys.length > 0 &&
    l.keys.every((k) => k && ID_RE.test(k.id) && (k.suite === "INTL" || k.suite === "GM") && typeof k.publicKey === "string");
  if (!fine) throw new TrustError("KEY_LIST_MALFORMED", `the ${party} key list is malformed`);
  if (l.party !== party) throw new TrustError("KEY_LIST_UNTRUSTED", `a key list of ${l.party} was offered as ${party}'s`);
  if (l.expiresAt <= (o.now ?? Date.now())) throw new TrustError("KEY_LIST_EXPIRED", `the ${party} key list expired`);
  if (l.version < (o.minVersion ?? 0)) throw new TrustError("KEY_LIST_ROLLBACK", `the ${party} key list is version ${l.version}, older than ${o.minVersion} already seen`);
  const k = l.keys[0];
  let publicKey: Uint8Array;
  try {
    publicKey = fromBase64url(k.publicKey);
  } catch {
    throw new TrustError("KEY_LIST_MALFORMED", `the ${party} key is not base64url`);
  }
  const current = { suite: k.suite, kind: "seal" as const, publicKey, id: k.id };
  if ((await sealingKeyId(current)) !== k.id) throw new TrustError("KEY_LIST_MALFORMED", `the ${party} key id does not match its key`);
  return { list: l, current };
}
