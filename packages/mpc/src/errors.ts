/**
 * Errors of the MPC package. Protocol failures raise `ProtocolError` with a stable `code`; tests and
 * servers match on the code, never on the message. Bad arguments raise `TypeError`/`RangeError`
 * naming the parameter.
 */

/** Stable protocol error codes (append only). */
export type ProtocolErrorCode =
  | "ITEM_REUSED" // correlated randomness (an opened bundle's material) already started a run
  | "BUNDLE_MISMATCH" // the peer uses another bundle, or the bundle is for another protocol/role
  | "PARAMS_MISMATCH" // bundle or message made for other parameters (d, threshold, norm bounds)
  | "BAD_BUNDLE" // a bundle's bytes do not decode
  | "BAD_MAGIC" // bytes are not a privface MPC message
  | "BAD_VERSION" // unknown message version
  | "WRONG_PROTOCOL" // message of another protocol (enrol vs verify)
  | "WRONG_SESSION" // message bound to another session
  | "WRONG_STEP" // message of another step (replayed or out of order)
  | "WRONG_SEQUENCE" // message sequence number not the expected one
  | "WRONG_SENDER" // message from an unexpected role
  | "WRONG_ROLE" // state/input for another role
  | "WRONG_PHASE" // step called with a state of another phase
  | "LENGTH_MISMATCH" // a message or field has the wrong length
  | "COUNTER_MISMATCH"; // the parties' failure-counter states cannot be reconciled (budget.ts)

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "ProtocolError";
    this.code = code;
  }
}
