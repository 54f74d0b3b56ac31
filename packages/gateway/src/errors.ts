/**
 * The gateway's one error type and its one catalogue. Every refusal the API can give is a row here:
 * a stable `code` (what tests and clients match on), the HTTP status, and a fixed English message
 * that never contains request data (no identities, no shares). The error handler in `app.ts` turns an
 * `ApiError` into `{ error: { code, message } }` and anything else into a bare 500 `INTERNAL`.
 */

export const ERROR_CATALOGUE = {
  // request shape
  INVALID_INPUT: [400, "the request does not match the schema"],
  BODY_TOO_LARGE: [413, "the request body is larger than the limit"],
  UNSUPPORTED_MEDIA_TYPE: [415, "only application/json bodies are accepted; images never reach the server"],
  NOT_FOUND: [404, "no such route"],
  // devices, persons, merchants
  DEVICE_UNKNOWN: [403, "the device is not registered"],
  DEVICE_REVOKED: [403, "the device has been revoked"],
  DEVICE_PENDING: [403, "the device's registration awaits a second approver"],
  DEVICE_MERCHANT_MISMATCH: [403, "the device belongs to another merchant than the person"],
  DEVICE_LOCKED: [423, "the device is locked after repeated failed verifications; an operator must unlock it"],
  PERSON_UNKNOWN: [404, "no such person"],
  PERSON_BUSY: [409, "another operation for this person is in progress"],
  PERSON_LOCKED: [423, "the person is locked after repeated failed verifications; an operator must unlock it"],
  MERCHANT_UNKNOWN: [404, "no such merchant"],
  DUPLICATE: [409, "a record with this identity already exists"],
  // challenges, signatures, replay (R21)
  CHALLENGE_UNKNOWN: [401, "the challenge was not issued by this gateway"],
  CHALLENGE_EXPIRED: [401, "the challenge has expired; request a new one"],
  CHALLENGE_USED: [409, "the challenge has already been used"],
  CHALLENGE_MISMATCH: [401, "the challenge was issued for another person, device or purpose"],
  SIGNATURE_INVALID: [401, "the device signature does not verify"],
  REPLAYED_REQUEST: [409, "this exact request has already been received"],
  // consent (R9, R13)
  CONSENT_REQUIRED: [403, "no valid consent for face verification"],
  CONSENT_WITHDRAWN: [403, "the person has withdrawn consent for face verification"],
  CONSENT_OUTDATED: [403, "the privacy notice's purposes changed since the person consented; consent to the current notice is needed"],
  NOTICE_MISMATCH: [409, "the privacy notice version or hash is not the current one"],
  // enrolment state and model
  NOT_ENROLLED: [409, "the person has no face template"],
  ALREADY_ENROLLED: [409, "the person already has a face template; deregister first"],
  ENROLMENT_HELD: [403, "the person's enrolment matched enrolled faces and awaits an operator's review"],
  MODEL_VERSION_MISMATCH: [409, "the request's model version does not match the template's"],
  LIVENESS_FAILED: [422, "the liveness score is below the threshold"],
  LIVENESS_ACTIONS_MISMATCH: [422, "the liveness actions in the signed request are not the ones the challenge asked for"],
  SHARE_REJECTED: [422, "a party could not open or accept a sealed share"],
  REVERIFY_REQUIRED: [403, "deregistration needs a successful verification of the person within the last minutes"],
  // limits (R24)
  RATE_LIMITED: [429, "too many requests; retry later"],
  // issue 12 item 6: one answer for every challenge request that is not a registered device's, whatever the reason
  DEVICE_UNAUTHENTICATED: [401, "the request is not signed by an active registered device"],
  // degraded mode (R35)
  MPC_UNAVAILABLE: [503, "face verification is temporarily unavailable; retry later"],
  // several replicas (issue 16): the shared state (Redis) cannot be reached, so nothing can be checked
  SERVICE_UNAVAILABLE: [503, "the gateway cannot check requests at the moment; retry later"],
  // operators (R26, R27)
  UNAUTHENTICATED: [401, "operator token missing or invalid"],
  TOKEN_EXPIRED: [401, "the operator token has expired; ask for a new one"],
  SESSION_EXPIRED: [401, "the console session has expired; sign in again"],
  CSRF_FAILED: [403, "the console request lacks the session's x-privface-csrf header"],
  FORBIDDEN_ROLE: [403, "the operator's role does not allow this action"],
  REASON_REQUIRED: [400, "operator queries need an x-privface-reason header"],
  QUOTA_EXCEEDED: [429, "the operator's daily quota of sensitive records is used up"],
  SAME_APPROVER: [403, "a second, different operator must approve"],
  NOT_PENDING: [409, "nothing with this id awaits approval"],
  HOLD_UNKNOWN: [404, "no held enrolment with this id"],
  INTERNAL: [500, "internal error"],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  /** Extra, non-sensitive fields for the client (e.g. `{ scope: "person" }`, `retryAfterS`). */
  readonly details: Record<string, string | number> | undefined;

  constructor(code: ErrorCode, details?: Record<string, string | number>) {
    const [status, message] = ERROR_CATALOGUE[code];
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, code);
}
