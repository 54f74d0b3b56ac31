/**
 * Sealing-key lists: how a device learns the keys it may seal shares to without trusting the gateway
 * (decision 010). Each party's institution root key signs
 *   { v: 1, kind: "privface.sealing-keys", party, version, issuedAt, expiresAt, keys: [{ id, suite, publicKey }] }
 * (canonical JSON, `signJson`); the gateway only relays it. A device is provisioned with both roots
 * and accepts a list only when the signature verifies under the root of the party it names, it has
 * not expired, and its version is not below the highest the device has accepted (no rollback). The
 * first key is the current one; rotation publishes a new version with the new key first, revocation
 * one without the key; lists expire, so an old list cannot be replayed for long.
 *
 * Root handover (issue 13): a party moves to a new root by a handover record its current root signs
 *   { v: 1, kind: "privface.root-handover", party, seq, issuedAt, from: { suite, publicKey }, to: { suite, publicKey } }
 * (seq 1 for the party's first handover, then +1; each `from` is the previous `to`). The party sends
 * the whole chain, oldest first, inside every key list it signs (`handovers`). A device follows the
 * chain from the root it trusts — every step signed by the root before it — to the newest root, checks
 * the list under that root alone and then trusts the newest root instead of its old one. So a list
 * the old root signs once it has handed over is refused wherever the chain is known (the party sends
 * it with every list) and by every device that has moved on, and a handover signed by anything but
 * the device's root (or a root it handed over to) is refused.
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
  /** the party's root handovers, oldest first (absent before the first); the list is signed by the newest root */
  handovers?: SignedJson[];
}

/** One step of a party's root chain, signed by `from` (see the module comment). */
export interface RootHandover {
  v: 1;
  kind: "privface.root-handover";
  party: PartyName;
  /** 1 for the party's first handover, then +1 */
  seq: number;
  /** epoch ms */
  issuedAt: number;
  /** the root handing over (base64url public key) */
  from: { suite: SuiteId; publicKey: string };
  /** the new root */
  to: { suite: SuiteId; publicKey: string };
}

export type TrustErrorCode = "KEY_LIST_UNTRUSTED" | "KEY_LIST_EXPIRED" | "KEY_LIST_ROLLBACK" | "KEY_LIST_MALFORMED" | "ROOT_HANDOVER_INVALID";

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
const HANDOVER_KIND = "privface.root-handover";
/** the most handovers a chain may hold (a key list must fit the gateway's 8 KiB relay limit) */
export const MAX_ROOT_HANDOVERS = 8;
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
): Promise<{ list: SealingKeyList; current: PublicKey & { id: string }; root: PublicKey }> {
  // the chain travels inside the list: read it first, follow it from `root`, then check the list under the newest root alone
  const chain = peekHandovers(signed);
  const signer = chain === undefined ? root : (await followRootHandovers(root, party, chain)).root;
  let value: unknown;
  try {
    value = await verifySignedJson(signer, signed);
  } catch {
    throw new TrustError("KEY_LIST_UNTRUSTED", `the ${party} key list is not signed by ${party}'s ${signer === root ? "root" : "newest root (its old root handed over)"}`);
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
  return { list: l, current, root: signer };
}

/** The `handovers` of a signed list's payload, read before its signature is checked (undefined: none). */
function peekHandovers(signed: unknown): unknown {
  try {
    const v = JSON.parse(new TextDecoder().decode(fromBase64url((signed as SignedJson).payload))) as { handovers?: unknown };
    return v?.handovers; // anything but an array of handovers: followRootHandovers refuses it
  } catch {
    return undefined; // not decodable: the signature check refuses it
  }
}

const samePublic = (a: PublicKey, b: { suite: SuiteId; publicKey: string }) => a.suite === b.suite && toBase64url(a.publicKey) === b.publicKey;

/** The old root signs a handover naming the new one (the next `seq` of the party's chain). */
export async function signRootHandover(oldRoot: KeyPair | Signer, h: { party: PartyName; seq: number; issuedAt: number; to: PublicKey }): Promise<SignedJson> {
  if (!Number.isSafeInteger(h.seq) || h.seq < 1) throw new RangeError("seq: 1 or more");
  if (h.to.suite !== oldRoot.suite) throw new RangeError("the new root must be of the old root's suite");
  const value: RootHandover = {
    v: 1,
    kind: HANDOVER_KIND,
    party: h.party,
    seq: h.seq,
    issuedAt: h.issuedAt,
    from: { suite: oldRoot.suite, publicKey: toBase64url(oldRoot.publicKey) },
    to: { suite: h.to.suite, publicKey: toBase64url(h.to.publicKey) },
  };
  return signJson(oldRoot, value);
}

/**
 * Checks a party's handover chain (each step signed by its `from`, `from` = the previous `to`, seq
 * 1, 2, … , at most MAX_ROOT_HANDOVERS) and follows it from `root`: returns the newest root when
 * `root` is in the chain, otherwise `root` itself (the caller's signature check then decides).
 * @throws TrustError ROOT_HANDOVER_INVALID
 */
export async function followRootHandovers(root: PublicKey, party: PartyName, chain: unknown): Promise<{ root: PublicKey; followed: number; chain: RootHandover[] }> {
  const bad = (why: string) => new TrustError("ROOT_HANDOVER_INVALID", `${party}'s root handover chain: ${why}`);
  if (!Array.isArray(chain) || chain.length > MAX_ROOT_HANDOVERS) throw bad(`expected an array of at most ${MAX_ROOT_HANDOVERS} records`);
  const steps: RootHandover[] = [];
  for (const [i, signed] of chain.entries()) {
    let h: RootHandover;
    try {
      h = JSON.parse(new TextDecoder().decode(fromBase64url((signed as SignedJson).payload))) as RootHandover;
    } catch {
      throw bad(`record ${i + 1} is not signed JSON`);
    }
    const key = (k: unknown) => !!k && typeof k === "object" && ((k as { suite?: unknown }).suite === "INTL" || (k as { suite?: unknown }).suite === "GM") && typeof (k as { publicKey?: unknown }).publicKey === "string";
    if (h?.v !== 1 || h.kind !== HANDOVER_KIND || h.seq !== i + 1 || !Number.isSafeInteger(h.issuedAt) || !key(h.from) || !key(h.to)) throw bad(`record ${i + 1} is malformed or out of sequence`);
    if (h.party !== party) throw bad(`record ${i + 1} names ${String(h.party)}`);
    if (i > 0 && (h.from.suite !== steps[i - 1].to.suite || h.from.publicKey !== steps[i - 1].to.publicKey)) throw bad(`record ${i + 1} is not signed by the root record ${i} handed over to`);
    let from: PublicKey;
    try {
      from = { suite: h.from.suite, kind: "sign", publicKey: fromBase64url(h.from.publicKey) };
      fromBase64url(h.to.publicKey);
      await verifySignedJson(from, signed);
    } catch {
      throw bad(`record ${i + 1} is not signed by the root it hands over from`);
    }
    steps.push(h);
  }
  const start = steps.findIndex((h) => samePublic(root, h.from));
  if (start < 0) return { root, followed: 0, chain: steps };
  const last = steps[steps.length - 1].to;
  return { root: { suite: last.suite, kind: "sign", publicKey: fromBase64url(last.publicKey) }, followed: steps.length - start, chain: steps };
}
