/**
 * Authorisations: the gateway signs `{ v: 1, op, party, session, templateId, modelVersion, digest,
 * expires, nonce }` (canonical JSON, base64url) with its signing key; a party checks signature,
 * version, operation, party, session, template, model version, digest of the sealed share(s) and
 * expiry (≤ 60 s ahead) here; single use is enforced by the store (`nonce`).
 */
import { createHash } from "node:crypto";
import { verifySignedJson, type PublicKey } from "@privface/crypto";
import { ApiError } from "./errors.ts";
import { object, str } from "./_validate.ts";

export type Op = "enrol" | "commit" | "abort" | "verify" | "upgrade" | "delete";
export const MAX_AUTH_AHEAD_MS = 60_000;
const CLOCK_SKEW_MS = 5_000;

export interface AuthPayload {
  v: 1;
  op: Op;
  party: "P0" | "P1";
  session: string;
  templateId: string;
  modelVersion: string;
  /** base64url(SHA-256(sealed share bytes)), or "" for operations without a share */
  digest: string;
  /** epoch ms */
  expires: number;
  nonce: string;
}

export interface AuthExpectation {
  ops: readonly Op[];
  party: "P0" | "P1";
  session?: string;
  templateId: string;
  modelVersion?: string;
  /** base64url SHA-256 of the sealed share bytes ("" when the call carries none). */
  digest?: string;
}

/** base64url(SHA-256(concatenation of the parts)). With an upgrade, the parts are (sealedShare, upgrade.sealedShare). */
export function shareDigest(...parts: Uint8Array[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("base64url");
}

export async function checkAuthorisation(auth: unknown, expect: AuthExpectation, gatewayKey: PublicKey, now = Date.now()): Promise<AuthPayload> {
  const a = object(auth, "authorisation", ["payload", "sig"]);
  if (typeof a.payload !== "string" || typeof a.sig !== "string" || a.payload.length > 4096 || a.sig.length > 512) {
    throw new ApiError("AUTH_INVALID", "authorisation: malformed");
  }
  let value: unknown;
  try {
    value = await verifySignedJson(gatewayKey, { payload: a.payload, sig: a.sig });
  } catch {
    throw new ApiError("AUTH_INVALID", "authorisation: bad signature");
  }
  let p: AuthPayload;
  try {
    const o = object(value, "authorisation.payload", ["v", "op", "party", "session", "templateId", "modelVersion", "digest", "expires", "nonce"]);
    p = {
      v: o.v as 1,
      op: o.op as Op,
      party: o.party as "P0" | "P1",
      session: str(o.session, "session", /^[\x21-\x7e]{0,128}$/, "a session"),
      templateId: str(o.templateId, "templateId", /^[\x21-\x7e]{1,128}$/, "a template id"),
      modelVersion: str(o.modelVersion, "modelVersion", /^[\x21-\x7e]{0,64}$/, "a model version"),
      digest: str(o.digest, "digest", /^[A-Za-z0-9_-]{0,64}$/, "a digest"),
      expires: o.expires as number,
      nonce: str(o.nonce, "nonce", /^[A-Za-z0-9_-]{8,128}$/, "a nonce"),
    };
  } catch {
    throw new ApiError("AUTH_INVALID", "authorisation: payload fields");
  }
  if (p.v !== 1) throw new ApiError("AUTH_INVALID", "authorisation: version");
  if (!expect.ops.includes(p.op)) throw new ApiError("AUTH_INVALID", `authorisation: for operation ${String(p.op)}, not ${expect.ops.join("/")}`);
  if (p.party !== expect.party) throw new ApiError("AUTH_INVALID", "authorisation: for another party");
  if (expect.session !== undefined && p.session !== expect.session) throw new ApiError("AUTH_INVALID", "authorisation: for another session");
  if (p.templateId !== expect.templateId) throw new ApiError("AUTH_INVALID", "authorisation: for another template");
  if (expect.modelVersion !== undefined && p.modelVersion !== expect.modelVersion) throw new ApiError("AUTH_INVALID", "authorisation: for another model version");
  if (expect.digest !== undefined && p.digest !== expect.digest) throw new ApiError("AUTH_INVALID", "authorisation: for other share bytes");
  if (!Number.isSafeInteger(p.expires)) throw new ApiError("AUTH_INVALID", "authorisation: expires");
  if (p.expires <= now) throw new ApiError("AUTH_EXPIRED", "authorisation: expired");
  if (p.expires > now + MAX_AUTH_AHEAD_MS + CLOCK_SKEW_MS) throw new ApiError("AUTH_INVALID", "authorisation: expires more than 60 s ahead");
  return p;
}
