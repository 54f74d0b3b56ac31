/**
 * StoreError: the party store's failures with stable codes. Codes shared with the party API
 * (docs/contracts.md) keep the same name; the server maps the rest (see README).
 */
export type StoreErrorCode =
  | "INVALID_INPUT" // a value has the right type but a bad format (ids, sizes)
  | "TEMPLATE_EXISTS" // prepare/stage on a template id that is active, pending or was deleted
  | "UNKNOWN_TEMPLATE" // no active version of this template
  | "WRONG_MODEL_VERSION" // the active version is another model version
  | "SESSION_UNKNOWN" // commit/promote of a session this party never prepared
  | "SESSION_EXISTS" // a session id reused for different content
  | "SESSION_STATE" // commit after abort, abort after commit, or wrong kind (promote an enrolment)
  | "AUTH_EXPIRED" // authorisation expiry ≤ now
  | "AUTH_REUSED" // authorisation nonce already consumed
  | "POOL_EXHAUSTED" // no unused pool item
  | "ITEM_UNKNOWN" // no pool item with this id
  | "ITEM_REUSED" // pool item already used
  | "KEY_UNKNOWN" // a row is encrypted under a key id the store was not given
  | "INTEGRITY" // a stored ciphertext failed authentication
  | "KEY_DESTROYED" // the template's own key is gone: it was erased (a row of an older copy of the database)
  | "UNSUPPORTED" // operation not available on this dialect, or a database of a pre-release schema
  | "DEVICE_UNKNOWN" // no registered device with this id
  | "DEVICE_EXISTS" // a device id re-registered with other keys
  | "NONCE_REUSED" // a party nonce already consumed
  | "ENVELOPE_REUSED" // an envelope digest already consumed
  | "VOLUME_EXCEEDED" // the template's verifications per minute or per day reached the budget
  | "BUDGET_EXHAUSTED"; // the template's daily failure budget is exhausted (beginVerify with `budget`)

export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}
