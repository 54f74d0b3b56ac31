/**
 * The party API's one error door: `ApiError(code, message)` with a stable code from the catalogue
 * of docs/contracts.md and its HTTP status. Anything else becomes a bare INTERNAL 500.
 */
export const ERROR_STATUS = {
  INVALID_INPUT: 400,
  UNKNOWN_TEMPLATE: 404,
  WRONG_MODEL_VERSION: 409,
  TEMPLATE_EXISTS: 409,
  AUTH_INVALID: 401,
  AUTH_EXPIRED: 401,
  AUTH_REUSED: 409,
  FORBIDDEN_ROLE: 403,
  NOT_FOUND: 404,
  PEER_UNAVAILABLE: 503,
  HELPER_UNAVAILABLE: 503,
  POOL_EXHAUSTED: 503,
  SESSION_UNKNOWN: 404,
  INTERNAL: 500,
} as const;

export type ApiErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = ERROR_STATUS[code];
  }
}

export function isApiErrorCode(c: unknown): c is ApiErrorCode {
  return typeof c === "string" && Object.prototype.hasOwnProperty.call(ERROR_STATUS, c);
}
