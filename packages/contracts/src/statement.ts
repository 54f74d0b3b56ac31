/**
 * The device's request statement (decision 010): what a device says about one request, signed for
 * the gateway and MACed for each party, so that each party checks, itself, that a registered device
 * asked for exactly this — purpose, challenge (which carries the party's own nonce), template, model
 * version and the digest of the envelope the party received.
 *
 *   { v: 1, kind: "privface.device-request", purpose, deviceId, challenge,
 *     templateId?, modelVersion?, shares?: { P0: { key, digest }, P1: { key, digest } },
 *     upgrade?: { modelVersion, shares: { P0: …, P1: … } }, liveness? }
 *
 * `key` is the id of the sealing key the share was sealed to (keylist.ts); `digest` is
 * base64url(SHA-256(envelope)). The signature and the MACs cover `statementBytes` (canonical JSON).
 * A party's MAC key: agreeKey(device auth key, party sealing key, macInfo(deviceId, party, key id)).
 */
import { agreeKey, canonicalJson, digest, equalBytes, fromBase64url, mac, toBase64url, utf8, type KeyPair, type PublicKey } from "@privface/crypto";
import { ID, PARTIES, type PartyName } from "./ids.ts";
import { bad, object, str } from "./validate.ts";

export type StatementPurpose = "enrol" | "verify" | "deregister" | "consent" | "withdraw";
export interface ShareRef {
  key: string;
  digest: string;
}
export interface DeviceStatement {
  v: 1;
  kind: "privface.device-request";
  purpose: StatementPurpose;
  deviceId: string;
  challenge: string;
  templateId?: string;
  modelVersion?: string;
  shares?: Record<PartyName, ShareRef>;
  upgrade?: { modelVersion: string; shares: Record<PartyName, ShareRef> };
  liveness?: Record<string, unknown>;
}

export const STATEMENT_KIND = "privface.device-request";
const PURPOSES: readonly StatementPurpose[] = ["enrol", "verify", "deregister", "consent", "withdraw"];
const DIGEST_RE = /^[A-Za-z0-9_-]{43}$/;
const KEY_ID_RE = /^[A-Za-z0-9_-]{16}$/;

export function statementBytes(s: DeviceStatement): Uint8Array {
  return utf8(canonicalJson(s));
}

/** base64url(SHA-256(envelope)). */
export async function envelopeDigest(envelope: Uint8Array): Promise<string> {
  return toBase64url(await digest("sha256", envelope));
}

export function macInfo(deviceId: string, party: PartyName, keyId: string): Uint8Array {
  return utf8(`privface-device-mac-v1|${deviceId}|${party}|${keyId}`);
}

/** The device's side: the MAC key for `party` (the device's auth key with the party's sealing key). */
export function deviceMacKey(auth: KeyPair, partyKey: PublicKey & { id: string }, deviceId: string, party: PartyName): Promise<Uint8Array> {
  return agreeKey(auth, partyKey, macInfo(deviceId, party, partyKey.id));
}

/** The party's side: the same key from its sealing key pair and the device's registered auth key. */
export function partyMacKey(seal: KeyPair, keyId: string, deviceAuth: PublicKey, deviceId: string, party: PartyName): Promise<Uint8Array> {
  return agreeKey(seal, deviceAuth, macInfo(deviceId, party, keyId));
}

export async function statementMac(suite: "INTL" | "GM", key: Uint8Array, s: DeviceStatement): Promise<string> {
  return toBase64url(await mac(suite, key, statementBytes(s)));
}

export async function checkStatementMac(suite: "INTL" | "GM", key: Uint8Array, s: DeviceStatement, tag: string): Promise<boolean> {
  let t: Uint8Array;
  try {
    t = fromBase64url(tag);
  } catch {
    return false;
  }
  return equalBytes(await mac(suite, key, statementBytes(s)), t);
}

function shareRefs(v: unknown, field: string): Record<PartyName, ShareRef> {
  const o = object(v, field, PARTIES);
  const out = {} as Record<PartyName, ShareRef>;
  for (const p of PARTIES) {
    const r = object(o[p], `${field}.${p}`, ["key", "digest"]);
    out[p] = { key: str(r.key, `${field}.${p}.key`, KEY_ID_RE, "a sealing key id"), digest: str(r.digest, `${field}.${p}.digest`, DIGEST_RE, "a SHA-256 digest, base64url") };
  }
  return out;
}

/** Validates a statement received over the wire (exact fields; PartyError INVALID_INPUT otherwise). */
export function parseStatement(v: unknown, field = "statement"): DeviceStatement {
  const o = object(v, field, ["v", "kind", "purpose", "deviceId", "challenge"], ["templateId", "modelVersion", "shares", "upgrade", "liveness"]);
  if (o.v !== 1 || o.kind !== STATEMENT_KIND) bad(`${field}.kind`, `{ v: 1, kind: "${STATEMENT_KIND}" }`);
  if (!PURPOSES.includes(o.purpose as StatementPurpose)) bad(`${field}.purpose`, PURPOSES.join(" | "));
  const s: DeviceStatement = {
    v: 1,
    kind: STATEMENT_KIND,
    purpose: o.purpose as StatementPurpose,
    deviceId: str(o.deviceId, `${field}.deviceId`, ID.entity, "a device id"),
    challenge: str(o.challenge, `${field}.challenge`, ID.challenge, "a challenge"),
  };
  if (o.templateId !== undefined) s.templateId = str(o.templateId, `${field}.templateId`, ID.template, "a template id");
  if (o.modelVersion !== undefined) s.modelVersion = str(o.modelVersion, `${field}.modelVersion`, ID.modelVersion, "a model version");
  if (o.shares !== undefined) s.shares = shareRefs(o.shares, `${field}.shares`);
  if (o.upgrade !== undefined) {
    const u = object(o.upgrade, `${field}.upgrade`, ["modelVersion", "shares"]);
    s.upgrade = { modelVersion: str(u.modelVersion, `${field}.upgrade.modelVersion`, ID.modelVersion, "a model version"), shares: shareRefs(u.shares, `${field}.upgrade.shares`) };
  }
  if (o.liveness !== undefined) {
    if (o.liveness === null || typeof o.liveness !== "object" || Array.isArray(o.liveness)) bad(`${field}.liveness`, "an object");
    s.liveness = o.liveness as Record<string, unknown>;
  }
  return s;
}
