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
import { agreeKey, canonicalJson, digest, equalBytes, fromBase64url, mac, toBase64url, utf8, type KeyAgreer, type KeyPair, type PublicKey } from "@privface/crypto";
import { PartyError } from "./errors.ts";
import { ID, PARTIES, type PartyName } from "./ids.ts";
import type { ShareContext } from "./share.ts";
import { bad, object, str } from "./validate.ts";
import { isLivenessAction, LIVENESS_STEPS } from "./liveness.ts";
import { MODEL } from "./model.ts";

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
export function deviceMacKey(auth: KeyPair | KeyAgreer, partyKey: PublicKey & { id: string }, deviceId: string, party: PartyName): Promise<Uint8Array> {
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

/** The share context (AAD) a party builds from the statement; for the upgrade, the upgrade's model version. */
export function statementContext(s: DeviceStatement, upgrade = false): ShareContext {
  if (s.templateId === undefined || s.modelVersion === undefined) throw new PartyError("STATEMENT_INVALID", "statement: no template or model version");
  const modelVersion = upgrade ? s.upgrade?.modelVersion : s.modelVersion;
  if (modelVersion === undefined) throw new PartyError("STATEMENT_INVALID", "statement: no upgrade");
  return { purpose: s.purpose, challenge: s.challenge, templateId: s.templateId, modelVersion };
}

/** What a party received in an enrol or verify call, to hold against the device's statement. */
export interface ReceivedShares {
  party: PartyName;
  /** the Party API operation: the statement's purpose must equal it */
  op: "enrol" | "verify";
  templateId: string;
  modelVersion: string;
  sealed: Uint8Array;
  upgrade?: { modelVersion: string; sealed: Uint8Array };
  /** the ids of the sealing keys this party can open with (its current key first) */
  keyIds: readonly string[];
}

/**
 * The party's own checks of a device statement against what it received (pure, no MAC: the caller
 * checks the MAC with `partyMacKey` against its device registry): purpose = operation, the template,
 * the model version, the sealing key named for this party is one it holds, and the digest of each
 * envelope it received. Returns the share contexts to open with (built from the statement).
 * @throws PartyError STATEMENT_INVALID
 */
export async function checkStatement(s: DeviceStatement, r: ReceivedShares): Promise<{ ctx: ShareContext; upCtx?: ShareContext; keyId: string }> {
  const no = (why: string): never => {
    throw new PartyError("STATEMENT_INVALID", `statement: ${why}`);
  };
  if (s.purpose !== r.op) no(`made for ${s.purpose}, presented to ${r.op}`);
  checkLivenessEvidence(s.liveness, no);
  if (s.templateId !== r.templateId) no("for another template");
  if (s.modelVersion !== r.modelVersion) no("for another model version");
  const mine = s.shares?.[r.party];
  if (!mine) no("names no share for this party");
  if (!r.keyIds.includes(mine!.key)) no("the share is sealed to a key this party does not hold");
  if (mine!.digest !== (await envelopeDigest(r.sealed))) no("the envelope received is not the one the device made");
  if ((s.upgrade === undefined) !== (r.upgrade === undefined)) no("upgrade present in one of statement and request only");
  let upCtx: ShareContext | undefined;
  if (s.upgrade && r.upgrade) {
    if (s.upgrade.modelVersion !== r.upgrade.modelVersion) no("upgrade for another model version");
    const u = s.upgrade.shares[r.party];
    if (u.key !== mine!.key) no("the upgrade share is sealed to another key");
    if (u.digest !== (await envelopeDigest(r.upgrade.sealed))) no("the upgrade envelope received is not the one the device made");
    upCtx = statementContext(s, true);
  }
  return { ctx: statementContext(s), upCtx, keyId: mine!.key };
}

/**
 * The device's liveness evidence as each party can check it itself (issue 17): the passive score is a
 * number at or above the model's threshold (`MODEL.livenessThreshold`, whatever the gateway is set to);
 * the actions, when present, are 1–3 known actions, never the same twice in a row, with exactly one
 * evidence step each, naming the same action, in time order (from ≤ peak, each step after the one
 * before). A party cannot know which actions the gateway drew, nor whether anyone moved: SECURITY.md.
 */
function checkLivenessEvidence(l: Record<string, unknown> | undefined, no: (why: string) => never): void {
  if (!l) no("no liveness evidence");
  const score = l!.score;
  if (typeof score !== "number" || !Number.isFinite(score) || score < 0 || score > 1) no("liveness score is not a number in [0, 1]");
  if ((score as number) < MODEL.livenessThreshold) no("liveness score below the model's threshold");
  const { actions, steps } = l as { actions?: unknown; steps?: unknown };
  if (actions === undefined) {
    if (steps !== undefined) no("liveness evidence without actions");
    return;
  }
  if (!Array.isArray(actions) || actions.length < 1 || actions.length > LIVENESS_STEPS.max || !actions.every(isLivenessAction) || actions.some((a, i) => i > 0 && a === actions[i - 1]))
    no("liveness actions are not 1–3 known actions");
  if (!Array.isArray(steps) || steps.length !== (actions as unknown[]).length) no("liveness evidence: not one step per action");
  let after = -1;
  (steps as unknown[]).forEach((st, i) => {
    const x = st as { action?: unknown; from?: unknown; peak?: unknown; value?: unknown };
    if (!x || x.action !== (actions as unknown[])[i]) no(`liveness evidence: step ${i} does not name action ${i}`);
    if (!Number.isSafeInteger(x.from) || !Number.isSafeInteger(x.peak) || typeof x.value !== "number" || !Number.isFinite(x.value)) no(`liveness evidence: step ${i} is malformed`);
    if ((x.from as number) <= after || (x.peak as number) < (x.from as number)) no(`liveness evidence: step ${i} is not after the one before`);
    after = x.peak as number;
  });
}

/** The device's side: the statement of a face request, from the envelopes it sealed (base64url or bytes). */
export async function faceStatement(o: {
  purpose: "enrol" | "verify";
  deviceId: string;
  challenge: string;
  templateId: string;
  modelVersion: string;
  keys: Record<PartyName, string>;
  shares: Record<PartyName, Uint8Array | string>;
  upgrade?: { modelVersion: string; shares: Record<PartyName, Uint8Array | string> };
  liveness?: Record<string, unknown>;
}): Promise<DeviceStatement> {
  const refs = async (shares: Record<PartyName, Uint8Array | string>): Promise<Record<PartyName, ShareRef>> => {
    const out = {} as Record<PartyName, ShareRef>;
    for (const p of PARTIES) {
      const e = shares[p];
      out[p] = { key: o.keys[p], digest: await envelopeDigest(typeof e === "string" ? fromBase64url(e) : e) };
    }
    return out;
  };
  const s: DeviceStatement = {
    v: 1,
    kind: STATEMENT_KIND,
    purpose: o.purpose,
    deviceId: o.deviceId,
    challenge: o.challenge,
    templateId: o.templateId,
    modelVersion: o.modelVersion,
    shares: await refs(o.shares),
  };
  if (o.upgrade) s.upgrade = { modelVersion: o.upgrade.modelVersion, shares: await refs(o.upgrade.shares) };
  if (o.liveness) s.liveness = o.liveness;
  return s;
}
