/**
 * Request bodies → the service's typed inputs, with the contracts' validators: exact field sets
 * (unknown fields refused), id formats, base64url byte fields with size limits, and the consistency of
 * a share's context with the body. Every failure is a `PartyError` INVALID_INPUT naming the field.
 * The authorisation is passed through as received: the service verifies it.
 */
import { bad, ID, object, PartyError, shareRequest, str, unpackItems, upgradeRequest, type Json } from "@privface/contracts";
import type { DeleteInput, EnrolInput, SessionInput, VerifyInput } from "./service.ts";

const SHARE_FIELDS = ["session", "templateId", "modelVersion", "sealedShare", "context", "authorisation"];

/**
 * The first check of an enrol or verify body: an object with the allowed fields and a session id.
 * Past it the party knows the session, so a later refusal can tell the peer at once.
 */
export function mpcRequest(body: unknown, kind: "enrol" | "verify"): { b: Json; session: string } {
  const b = object(body, "body", SHARE_FIELDS, kind === "verify" ? ["upgrade"] : []);
  const session = str(b.session, "session", ID.session, "a session id [A-Za-z0-9_-]{8,120}");
  return { b, session };
}

/** The fields enrol and verify share (the contracts' `shareRequest`, which the fake parties use too). */
export function enrolInput(b: Json, session: string): EnrolInput {
  const { templateId, modelVersion, sealed, ctx } = shareRequest(b);
  return { session, templateId, modelVersion, share: { sealed, context: ctx }, authorisation: b.authorisation };
}

export function verifyInput(b: Json, session: string): VerifyInput {
  const input: VerifyInput = enrolInput(b, session);
  if (b.upgrade === undefined) return input;
  const u = upgradeRequest(b.upgrade, input.templateId, input.modelVersion);
  return { ...input, upgrade: { modelVersion: u.modelVersion, share: { sealed: u.sealed, context: u.ctx } } };
}

export function sessionInput(body: unknown): SessionInput {
  const b = object(body, "body", ["session", "templateId", "authorisation"]);
  const session = str(b.session, "session", ID.session, "a session id");
  const templateId = str(b.templateId, "templateId", ID.template, "a template id");
  return { session, templateId, authorisation: b.authorisation };
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
