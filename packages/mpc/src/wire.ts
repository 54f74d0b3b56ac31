/**
 * Bytes of the party-to-party messages (messages.ts). Layout (big-endian header integers):
 *   "PFM" | v u8 | protocol u8 (1 verify, 2 enrol) | step u8 | from u8 (0 P0, 1 P1) | sessionLen u8 |
 *   seq u32 | session (ASCII, 1..128 chars of [A-Za-z0-9._:-]) | 0-padding to a multiple of 4 | body
 * Bodies: 1 lift: bundleId 16 B ‖ m d B;  2 open: ε0 4d ‖ ε1 4d ‖ [δ 4d, verify] ‖ τ ⌈d/8⌉ B;
 *         3 compare: [zScore u32be, verify] ‖ zNorm u32be;  4 and: bits u8.
 * u32 vectors are little-endian and 4-byte aligned within the message, so `decodeMessage` returns
 * views into the given bytes (no copy) when the buffer itself is aligned: the caller hands the bytes
 * over and must not reuse them. `decodeMessage` checks everything against what the receiver expects
 * and throws ProtocolError BAD_MAGIC, BAD_VERSION, WRONG_PROTOCOL, WRONG_SESSION, WRONG_STEP,
 * WRONG_SEQUENCE, WRONG_SENDER or LENGTH_MISMATCH.
 */
import type { PartyName } from "./messages.ts";
import { ProtocolError } from "./errors.ts";
import { MESSAGE_VERSION, type AndMsg, type CompareMsg, type LiftMsg, type Message, type OpenMsg, type Protocol } from "./messages.ts";

const SESSION_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function checkSession(session: string): void {
  if (typeof session !== "string" || !SESSION_RE.test(session)) throw new RangeError(`session: expected 1..128 characters of [A-Za-z0-9._:-], got ${JSON.stringify(session)}`);
}

export function bodyBytes(protocol: Protocol, step: number, d: number): number {
  const v = protocol === "verify";
  switch (step) {
    case 1: return 16 + d;
    case 2: return 4 * d * (v ? 3 : 2) + Math.ceil(d / 8);
    case 3: return v ? 8 : 4;
    case 4:
      if (v) return 1;
      throw new ProtocolError("WRONG_STEP", `${protocol} has no step ${step}`);
    default: throw new ProtocolError("WRONG_STEP", `${protocol} has no step ${step}`);
  }
}

/** Header bytes for a session id of `sessionLength` characters (12 + length, padded to 4). */
export function headerBytes(sessionLength: number): number {
  return (12 + sessionLength + 3) & ~3;
}

export function messageBytes(protocol: Protocol, step: number, d: number, session: string): number {
  return headerBytes(session.length) + bodyBytes(protocol, step, d);
}

function u32le(src: Uint32Array, out: Uint8Array, o: number): number {
  out.set(new Uint8Array(src.buffer, src.byteOffset, 4 * src.length), o);
  return o + 4 * src.length;
}

/** Encodes a message; d is taken from the message's vectors. */
export function encodeMessage(msg: Message): Uint8Array {
  checkSession(msg.session);
  const d = msg.step === 1 ? msg.m.length : msg.step === 2 ? msg.eps0.length : 0;
  const h = headerBytes(msg.session.length);
  const out = new Uint8Array(h + bodyBytes(msg.protocol, msg.step, d));
  out[0] = 0x50;
  out[1] = 0x46;
  out[2] = 0x4d;
  out[3] = MESSAGE_VERSION;
  out[4] = msg.protocol === "verify" ? 1 : 2;
  out[5] = msg.step;
  out[6] = msg.from === "P0" ? 0 : 1;
  out[7] = msg.session.length;
  const dv = new DataView(out.buffer);
  dv.setUint32(8, msg.seq);
  for (let i = 0; i < msg.session.length; i++) out[12 + i] = msg.session.charCodeAt(i);
  let o = h;
  switch (msg.step) {
    case 1:
      for (let i = 0; i < 16; i++) out[o + i] = parseInt(msg.bundleId.slice(2 * i, 2 * i + 2), 16);
      out.set(msg.m, o + 16);
      break;
    case 2:
      o = u32le(msg.eps0, out, o);
      o = u32le(msg.eps1, out, o);
      if (msg.protocol === "verify") o = u32le(msg.delta, out, o);
      out.set(msg.tau, o);
      break;
    case 3:
      if (msg.protocol === "verify") {
        dv.setUint32(o, msg.zScore);
        o += 4;
      }
      dv.setUint32(o, msg.zNorm);
      break;
    case 4:
      out[o] = msg.bits & 3;
      break;
  }
  return out;
}

export interface Expect {
  readonly protocol: Protocol;
  readonly session: string;
  readonly step: number;
  readonly seq: number;
  readonly from: PartyName;
  readonly d: number;
}

/** u32 vector at byte offset o: a view when aligned, else a copy. */
function u32At(bytes: Uint8Array, o: number, n: number): Uint32Array {
  if ((bytes.byteOffset + o) % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset + o, n);
  return new Uint32Array(bytes.slice(o, o + 4 * n).buffer);
}

/** Decodes and validates a message against what the receiver expects next. */
export function decodeMessage(bytes: Uint8Array, expect: Expect): Message {
  if (!(bytes instanceof Uint8Array) || bytes.length < 12) throw new ProtocolError("LENGTH_MISMATCH", "message shorter than its header");
  if (bytes[0] !== 0x50 || bytes[1] !== 0x46 || bytes[2] !== 0x4d) throw new ProtocolError("BAD_MAGIC", "not a privface MPC message");
  if (bytes[3] !== MESSAGE_VERSION) throw new ProtocolError("BAD_VERSION", `expected version ${MESSAGE_VERSION}, got ${bytes[3]}`);
  const protocol: Protocol | undefined = bytes[4] === 1 ? "verify" : bytes[4] === 2 ? "enrol" : undefined;
  if (protocol !== expect.protocol) throw new ProtocolError("WRONG_PROTOCOL", `expected ${expect.protocol}, got ${protocol ?? bytes[4]}`);
  const step = bytes[5];
  const from: PartyName | undefined = bytes[6] === 0 ? "P0" : bytes[6] === 1 ? "P1" : undefined;
  const sl = bytes[7];
  const seq = ((bytes[8] << 24) | (bytes[9] << 16) | (bytes[10] << 8) | bytes[11]) >>> 0;
  const o = headerBytes(sl);
  if (bytes.length < o) throw new ProtocolError("LENGTH_MISMATCH", "message shorter than its header");
  // compare the session id byte by byte with the expected one (ASCII)
  let sameSession = sl === expect.session.length;
  for (let i = 0; sameSession && i < sl; i++) sameSession = bytes[12 + i] === expect.session.charCodeAt(i);
  if (!sameSession) throw new ProtocolError("WRONG_SESSION", "message bound to another session");
  for (let i = 12 + sl; i < o; i++) if (bytes[i] !== 0) throw new ProtocolError("BAD_MAGIC", "non-zero header padding");
  const session = expect.session;
  if (step !== expect.step) throw new ProtocolError("WRONG_STEP", `expected step ${expect.step}, got ${step}`);
  if (seq !== expect.seq) throw new ProtocolError("WRONG_SEQUENCE", `expected sequence ${expect.seq}, got ${seq}`);
  if (from !== expect.from) throw new ProtocolError("WRONG_SENDER", `expected a message from ${expect.from}, got ${from ?? bytes[6]}`);
  const want = bodyBytes(protocol, step, expect.d);
  if (bytes.length - o !== want) throw new ProtocolError("LENGTH_MISMATCH", `step ${step} body: expected ${want} bytes, got ${bytes.length - o}`);
  const d = expect.d;
  const v = MESSAGE_VERSION;
  switch (step) {
    case 1: {
      let bundleId = "";
      for (let i = 0; i < 16; i++) bundleId += HEX[bytes[o + i]];
      return { v, protocol, session, step: 1, seq, from, bundleId, m: bytes.subarray(o + 16, o + 16 + d) } satisfies LiftMsg;
    }
    case 2: {
      const n = protocol === "verify" ? 3 : 2;
      const vec = u32At(bytes, o, n * d); // ε0 ‖ ε1 ‖ δ
      const eps0 = vec.subarray(0, d);
      const eps1 = vec.subarray(d, 2 * d);
      const delta = vec.subarray(2 * d, n * d);
      const tau = bytes.subarray(o + 4 * n * d, o + 4 * n * d + Math.ceil(d / 8));
      return { v, protocol, session, step: 2, seq, from, tau, eps0, eps1, delta } satisfies OpenMsg;
    }
    case 3: {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + o, want);
      const isV = protocol === "verify";
      return { v, protocol, session, step: 3, seq, from, zScore: isV ? dv.getUint32(0) : 0, zNorm: dv.getUint32(isV ? 4 : 0) } satisfies CompareMsg;
    }
    default:
      return { v, protocol, session, step: 4, seq, from, bits: bytes[o] & 3 } satisfies AndMsg;
  }
}
