/**
 * Messages between P0 and P1, one named type per message. Every message is bound to
 * (protocol, session id, step, sequence number, sender role); the step functions and `wire.ts` refuse a
 * message bound to anything else. Sizes depend only on d (never on data or on the decision).
 *
 * verify: step 1 lift, 2 open, 3 compare, 4 and   (4 rounds)
 * enrol:  step 1 lift, 2 open, 3 compare           (3 rounds)
 */

/** A compute party: the name protocol messages, bundles and the Party API use. */
export type PartyName = "P0" | "P1";

export const MESSAGE_VERSION = 1 as const;
export type Protocol = "verify" | "enrol";

export interface Header {
  readonly v: typeof MESSAGE_VERSION;
  readonly protocol: Protocol;
  readonly session: string;
  readonly step: number;
  /** sender's message counter in this session, starting at 0 (= step − 1) */
  readonly seq: number;
  readonly from: PartyName;
}

/** Round 1: the masked offset-binary byte share m_i = x_i + 128·[P0] + r_i mod 256, and the bundle id. */
export interface LiftMsg extends Header {
  readonly step: 1;
  readonly bundleId: string;
  readonly m: Uint8Array;
}

/**
 * Round 2: table bits τ_i (packed, bit k at byte k>>3, bit k&7), the Beaver openings for both branches
 * ε^(0)_i, ε^(1)_i, and (verify only) δ_i = y_i − b_i.
 */
export interface OpenMsg extends Header {
  readonly step: 2;
  readonly tau: Uint8Array;
  readonly eps0: Uint32Array;
  readonly eps1: Uint32Array;
  /** verify only; zero-length for enrol */
  readonly delta: Uint32Array;
}

/** Round 3: shares mod 2^26 of the masked score (verify only, else 0) and the masked squared norm. */
export interface CompareMsg extends Header {
  readonly step: 3;
  readonly zScore: number;
  readonly zNorm: number;
}

/** Round 4 (verify): masked bits of the AND gate, bit0 = valid ⊕ a, bit1 = scoreOk ⊕ b. */
export interface AndMsg extends Header {
  readonly step: 4;
  readonly bits: number;
}

export type Message = LiftMsg | OpenMsg | CompareMsg | AndMsg;

/** Rounds of party-to-party messages. */
export const verifyRounds = 4;
export const enrolRounds = 3;
