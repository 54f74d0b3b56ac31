/**
 * Transport types: a frame is one typed protocol message between two servers, bound to
 * (session, step, seq, from). `from` is never trusted from the wire alone: the receiving transport
 * sets it from the authenticated link (the peer certificate's role) and refuses a frame whose
 * claimed sender differs.
 */
import type { ServerRole } from "@privface/contracts";

export interface Frame {
  /** Session id: 1..128 printable ASCII characters (the gateway's session id or a party-chosen id). */
  session: string;
  /** Protocol step number, 0..65535. */
  step: number;
  /** Sequence number within the step, 0..2^32-1. */
  seq: number;
  /** Sender role, set by the receiving side from the authenticated link. */
  from: ServerRole;
  payload: Uint8Array;
}

export type OutFrame = Omit<Frame, "from">;

export interface ReceiveOptions {
  /** The role the frame must come from; a disconnect of that peer rejects with PEER_UNAVAILABLE. */
  from: ServerRole;
  /** If set, the next frame must carry this step (and `seq`, if set), else UNEXPECTED_FRAME. */
  step?: number;
  seq?: number;
  /** Default: the transport's receive timeout. */
  timeoutMs?: number;
}

export interface Transport {
  /** This endpoint's own role. */
  readonly role: ServerRole;
  /** Sends a frame to `to`. Rejects with PEER_UNAVAILABLE when no link comes up within the connect timeout. */
  send(to: ServerRole, frame: OutFrame): Promise<void>;
  /** Resolves with the next frame of `session` (in arrival order), buffered if it arrived earlier. */
  receive(session: string, opts: ReceiveOptions): Promise<Frame>;
  /** Forgets a session: drops its buffered frames and any frame that arrives for it later; a later receive on it rejects with SESSION_CLOSED (for ~30 s). */
  closeSession(session: string): void;
  /** True when a link to `role` is currently up. */
  isUp(role: ServerRole): boolean;
  /** Closes all links; pending receives reject with CLOSED. */
  close(): Promise<void>;
}

export type TransportErrorCode =
  | "PEER_UNAVAILABLE"
  | "TIMEOUT"
  | "CLOSED"
  | "UNEXPECTED_FRAME"
  | "FRAME_INVALID"
  | "WRONG_ROLE"
  | "SESSION_CLOSED";

export class TransportError extends Error {
  readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string) {
    super(message);
    this.name = "TransportError";
    this.code = code;
  }
}
