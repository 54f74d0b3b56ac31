/**
 * Binary frame encoding: [version=1][from u8][step u16][seq u32][sessionLen u8][session ASCII][payload].
 * All integers big-endian. decodeFrame validates every field and throws FRAME_INVALID otherwise.
 */
import { packItems, SERVER_ROLES, unpackItems, type ServerRole } from "@privface/contracts";
import { TransportError, type Frame, type OutFrame } from "./_types.ts";

const VERSION = 1;
const HEADER = 9;
const SESSION_RE = /^[\x21-\x7e]{1,128}$/;

export function checkOutFrame(frame: OutFrame): void {
  if (typeof frame.session !== "string" || !SESSION_RE.test(frame.session)) {
    throw new TypeError(`frame.session: expected 1..128 printable ASCII characters, got ${JSON.stringify(frame.session)}`);
  }
  if (!Number.isInteger(frame.step) || frame.step < 0 || frame.step > 0xffff) {
    throw new RangeError(`frame.step: expected an integer in 0..65535, got ${frame.step}`);
  }
  if (!Number.isInteger(frame.seq) || frame.seq < 0 || frame.seq > 0xffffffff) {
    throw new RangeError(`frame.seq: expected an integer in 0..2^32-1, got ${frame.seq}`);
  }
  if (!(frame.payload instanceof Uint8Array)) throw new TypeError("frame.payload: expected a Uint8Array");
}

export function encodeFrame(from: ServerRole, frame: OutFrame): Buffer {
  checkOutFrame(frame);
  const s = Buffer.from(frame.session, "latin1");
  const out = Buffer.allocUnsafe(HEADER + s.length + frame.payload.length);
  out[0] = VERSION;
  out[1] = SERVER_ROLES.indexOf(from);
  out.writeUInt16BE(frame.step, 2);
  out.writeUInt32BE(frame.seq, 4);
  out[8] = s.length;
  s.copy(out, HEADER);
  out.set(frame.payload, HEADER + s.length);
  return out;
}

export function decodeFrame(buf: Uint8Array): Frame {
  if (buf.length < HEADER + 1) throw new TransportError("FRAME_INVALID", `frame too short: ${buf.length} bytes`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b[0] !== VERSION) throw new TransportError("FRAME_INVALID", `frame version: expected ${VERSION}, got ${b[0]}`);
  const from = SERVER_ROLES[b[1]];
  if (from === undefined) throw new TransportError("FRAME_INVALID", `frame sender: unknown role code ${b[1]}`);
  const len = b[8];
  if (len < 1 || len > 128 || HEADER + len > b.length) throw new TransportError("FRAME_INVALID", `frame session length ${len}`);
  const session = b.toString("latin1", HEADER, HEADER + len);
  if (!SESSION_RE.test(session)) throw new TransportError("FRAME_INVALID", "frame session: not printable ASCII");
  return {
    session,
    step: b.readUInt16BE(2),
    seq: b.readUInt32BE(4),
    from,
    payload: new Uint8Array(b.subarray(HEADER + len)),
  };
}

/**
 * A link message carries one or more encoded frames in the one length-prefixed framing of
 * @privface/contracts (`packItems`): frames sent in the same event-loop turn (the same round of
 * concurrent sessions) travel as one WebSocket message and one TLS record instead of one each.
 */
export function packFrames(frames: Uint8Array[]): Buffer {
  const b = packItems(frames);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** The encoded frames of a link message (views into `msg`); FRAME_INVALID when the lengths do not add up. */
export function unpackFrames(msg: Uint8Array): Uint8Array[] {
  let out: Uint8Array[];
  try {
    out = unpackItems(msg);
  } catch (e) {
    throw new TransportError("FRAME_INVALID", (e as Error).message);
  }
  if (out.length === 0) throw new TransportError("FRAME_INVALID", "empty link message");
  return out;
}
