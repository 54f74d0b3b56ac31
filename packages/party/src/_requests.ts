/**
 * Request bodies → the service's typed inputs, with the contracts' validators: exact field sets
 * (unknown fields refused), id formats, base64url byte fields with size limits, and the consistency of
 * a share's context with the body. Every failure is a `PartyError` INVALID_INPUT naming the field.
 * The authorisation is passed through as received: the service verifies it.
 */
import { bad, ID, object, PartyError, shareRequest, str, unpackItems, upgradeRequest, type Json } from "@privface/contracts";
import type { DeviceRegistration } from "@privface/contracts";
import type { DedupInput, DeleteInput, EnrolInput, SessionInput, VerifyInput } from "./service.ts";

const SHARE_FIELDS = ["session", "templateId", "modelVersion", "sealedShare", "statement", "mac", "authorisation"];

/**
 * The first check of an enrol or verify body: an object with the allowed fields and a session id.
 * Past it the party knows the session, so a later refusal can tell the peer at once.
 */
export function mpcRequest(body: unknown, kind: "enrol" | "verify"): { b: Json; session: string; peer?: string } {
  const b = object(body, "body", SHARE_FIELDS, kind === "verify" ? ["upgrade", "peer"] : ["peer"]);
  const session = str(b.session, "session", ID.session, "a session id [A-Za-z0-9_-]{8,120}");
  // several P1 workers (workers.ts): the one the gateway sent this session to
  const peer = b.peer === undefined ? undefined : str(b.peer, "peer", /^[a-z0-9_-]{1,32}$/, "a peer worker name");
  return { b, session, ...(peer === undefined ? {} : { peer }) };
}

/** The fields enrol and verify share (the contracts' `shareRequest`, which the fake parties use too). */
export function enrolInput(b: Json, session: string): EnrolInput {
  const { templateId, modelVersion, sealed, statement, mac } = shareRequest(b);
  return { session, templateId, modelVersion, sealed, statement, mac, authorisation: b.authorisation };
}

export function verifyInput(b: Json, session: string): VerifyInput {
  const input: VerifyInput = enrolInput(b, session);
  if (b.upgrade === undefined) return input;
  const u = upgradeRequest(b.upgrade, input.modelVersion);
  return { ...input, upgrade: { modelVersion: u.modelVersion, sealed: u.sealed } };
}

/** How many nonces the gateway asks for, and whether P0's are to name pool items: `{ count (1..256), items? }` → service.nonces' arguments. */
export function nonceCount(body: unknown): [count: number, items: boolean] {
  const o = object(body, "body", ["count"], ["items"]);
  if (!Number.isSafeInteger(o.count) || (o.count as number) < 1 || (o.count as number) > 256) bad("count", "an integer 1..256");
  if (o.items !== undefined && typeof o.items !== "boolean") bad("items", "a boolean");
  return [o.count as number, o.items === true];
}

/** A device registration forwarded by the gateway, or its revocation `{ deviceId, revoke: true }`. */
export function deviceRegistration(body: unknown): DeviceRegistration | { deviceId: string; revoke: true } {
  const o = object(body, "body", ["deviceId"], ["suite", "signingKey", "authKey", "revoke"]);
  const deviceId = str(o.deviceId, "deviceId", ID.entity, "a device id");
  if (o.revoke !== undefined) {
    if (o.revoke !== true || o.suite !== undefined || o.signingKey !== undefined || o.authKey !== undefined) bad("revoke", "true, and no keys");
    return { deviceId, revoke: true };
  }
  if (o.suite !== "INTL" && o.suite !== "GM") bad("suite", "INTL | GM");
  const key = (v: unknown, f: string) => str(v, f, /^[A-Za-z0-9_-]{16,256}$/, "a public key, base64url");
  return { deviceId, suite: o.suite as "INTL" | "GM", signingKey: key(o.signingKey, "signingKey"), authKey: key(o.authKey, "authKey") };
}

export function sessionInput(body: unknown): SessionInput {
  const b = object(body, "body", ["session", "templateId", "authorisation"]);
  const session = str(b.session, "session", ID.session, "a session id");
  const templateId = str(b.templateId, "templateId", ID.template, "a template id");
  return { session, templateId, authorisation: b.authorisation };
}

/** The dedup search of a prepared enrolment: `{ session, templateId, authorisation, matches? }`. */
export function dedupInput(body: unknown): DedupInput {
  const b = object(body, "body", ["session", "templateId", "authorisation"], ["matches"]);
  if (b.matches !== undefined && typeof b.matches !== "boolean") bad("matches", "a boolean");
  return { ...sessionInput({ session: b.session, templateId: b.templateId, authorisation: b.authorisation }), ...(b.matches === true ? { matches: true } : {}) };
}

export function deleteInput(body: unknown): DeleteInput {
  const b = object(body, "body", ["templateId", "authorisation"]);
  const templateId = str(b.templateId, "templateId", ID.template, "a template id");
  return { templateId, authorisation: b.authorisation };
}

/** The peer's recovery question: at most 1000 session ids. */
export function sessionList(body: unknown): string[] {
  const b = object(body, "body", ["sessions"]);
  if (!Array.isArray(b.sessions) || b.sessions.length > 1000) bad("sessions", "an array of at most 1000 session ids");
  return (b.sessions as unknown[]).map((s, i) => str(s, `sessions[${i}]`, ID.session, "a session id"));
}

/** A pool batch from the helper: the items of the one length-prefixed framing (copied out of the request buffer). */
export function poolBatch(raw: Uint8Array): Uint8Array[] {
  try {
    return unpackItems(raw, { maxItems: 100_000, copy: true });
  } catch (e) {
    throw new PartyError("INVALID_INPUT", `batch: ${(e as Error).message}`);
  }
}
