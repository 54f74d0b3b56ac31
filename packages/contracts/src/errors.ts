/**
 * The Party API's error catalogue, declared once: every code a party answers with (HTTP status and
 * whether it refuses the request or only says the computation is unavailable for now), plus the two
 * codes a client makes up itself when no answer came (`UNREACHABLE`, `TIMEOUT`). The party throws
 * `PartyError`s; the client turns an answer `{ error: { code, message } }` back into one; the gateway
 * decides "refused" versus "unavailable" (R35) with `classifyPartyError`, never by matching strings.
 */

type Kind = "refused" | "unavailable";

export const PARTY_ERRORS = {
  INVALID_INPUT: { status: 400, kind: "refused" },
  UNKNOWN_TEMPLATE: { status: 404, kind: "refused" },
  WRONG_MODEL_VERSION: { status: 409, kind: "refused" },
  TEMPLATE_EXISTS: { status: 409, kind: "refused" },
  AUTH_INVALID: { status: 401, kind: "refused" },
  AUTH_EXPIRED: { status: 401, kind: "refused" },
  AUTH_REUSED: { status: 409, kind: "refused" },
  FORBIDDEN_ROLE: { status: 403, kind: "refused" },
  NOT_FOUND: { status: 404, kind: "refused" },
  /** the statement's device is not in this party's registry, or not approved there (decision 010) */
  DEVICE_UNKNOWN: { status: 403, kind: "refused" },
  /** the device statement or its MAC does not match what the party received (purpose, template, model, key, envelope digest) */
  STATEMENT_INVALID: { status: 401, kind: "refused" },
  /** the challenge carries no nonce of this party, or one it did not issue (decision 010 §3) */
  NONCE_INVALID: { status: 401, kind: "refused" },
  /** this party's nonce in the challenge has expired */
  NONCE_EXPIRED: { status: 401, kind: "refused" },
  /** this party's nonce was already used: an envelope is answered once */
  NONCE_REUSED: { status: 409, kind: "refused" },
  /** an envelope with this digest was already presented */
  ENVELOPE_REUSED: { status: 409, kind: "refused" },
  /** the template's verification volume budget (per minute or per day, at this party) is spent */
  VOLUME_EXCEEDED: { status: 429, kind: "refused" },
  /** the template's daily failure budget (counted inside MPC) is exhausted: refused until the day ends (UTC) */
  BUDGET_EXHAUSTED: { status: 429, kind: "refused" },
  SESSION_UNKNOWN: { status: 404, kind: "unavailable" },
  /** the party runs no dedup gallery, or it is being built or stale, or the parties' galleries differ */
  GALLERY_UNAVAILABLE: { status: 503, kind: "unavailable" },
  PEER_UNAVAILABLE: { status: 503, kind: "unavailable" },
  HELPER_UNAVAILABLE: { status: 503, kind: "unavailable" },
  POOL_EXHAUSTED: { status: 503, kind: "unavailable" },
  /** the party's database cannot be reached (PostgreSQL restarting, failing over, a lost connection): retry later */
  DB_UNAVAILABLE: { status: 503, kind: "unavailable" },
  INTERNAL: { status: 500, kind: "unavailable" },
  /** client side: no answer (connection refused, link down) */
  UNREACHABLE: { status: 0, kind: "unavailable" },
  /** client side: no answer within the call's time limit */
  TIMEOUT: { status: 0, kind: "unavailable" },
  /** client side: an answer whose result share does not authenticate for this request (result.ts) */
  RESULT_UNAUTHENTICATED: { status: 0, kind: "unavailable" },
} as const satisfies Record<string, { status: number; kind: Kind }>;

export type PartyErrorCode = keyof typeof PARTY_ERRORS;

export class PartyError extends Error {
  readonly code: PartyErrorCode;
  readonly status: number;
  constructor(code: PartyErrorCode, message: string = code) {
    super(message);
    this.name = "PartyError";
    this.code = code;
    this.status = PARTY_ERRORS[code].status;
  }
}

export function isPartyErrorCode(c: unknown): c is PartyErrorCode {
  return typeof c === "string" && Object.prototype.hasOwnProperty.call(PARTY_ERRORS, c);
}

/**
 * What a failed party call means for the caller: `refused` (the party checked the request and said
 * no: the code says why) or `unavailable` (no answer, or the computation could not run: retry later).
 * Anything that is not a `PartyError` is `unavailable` with code `INTERNAL`.
 */
export function classifyPartyError(err: unknown): { kind: Kind; code: PartyErrorCode } {
  if (err instanceof PartyError) return { kind: PARTY_ERRORS[err.code].kind, code: err.code };
  return { kind: "unavailable", code: "INTERNAL" };
}
