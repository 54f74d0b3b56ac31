/**
 * Bytes of the 1:N query (dedup.ts) as the helper deals it and the parties exchange it.
 *
 * Bundle: "PFD" | v=1 | role u8 (0 P0, 1 P1) | 0 0 0 | id (16 B) | epoch u32be | count u32be |
 *   [P1: the corrections, u32 little-endian]. 32 header bytes, so the corrections stay 4-aligned.
 * Message payload (the frame's step says which): step 1 = id (16 B) ‖ ε (d u32 LE); step 2 = ẑ
 * (count u32 LE); AND levels (comparison and "any") = the openings (u32 LE). Lengths are checked by the
 * step functions against the material. Errors: ProtocolError BAD_BUNDLE, BAD_VERSION, LENGTH_MISMATCH.
 */
import type { DedupAndMsg, DedupBundle, DedupEpsMsg, DedupMsg, DedupZMsg } from "./dedup.ts";
import { ProtocolError } from "./errors.ts";
import type { PartyName } from "./messages.ts";

const HEADER = 32;
const ID_RE = /^[0-9a-f]{32}$/;

function idBytes(id: string): Uint8Array {
  if (!ID_RE.test(id)) throw new ProtocolError("BAD_BUNDLE", "id: expected 32 hex characters");
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(id.slice(2 * i, 2 * i + 2), 16));
}
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function u32le(bytes: Uint8Array, what: string): Uint32Array {
  if (bytes.length % 4) throw new ProtocolError("LENGTH_MISMATCH", `${what}: not a whole number of u32`);
  const out = new Uint32Array(bytes.length / 4);
  if (LE) new Uint8Array(out.buffer).set(bytes);
  else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getUint32(4 * i, true);
  }
  return out;
}
function le(a: Uint32Array, out: Uint8Array, at: number): void {
  if (LE) out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
  else {
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < a.length; i++) dv.setUint32(at + 4 * i, a[i], true);
  }
}

/** A word array as little-endian bytes (frames that carry only words: live bits, openings). */
export function encodeWords(a: Uint32Array): Uint8Array {
  const out = new Uint8Array(a.byteLength);
  le(a, out, 0);
  return out;
}
/** Little-endian bytes as a word array (LENGTH_MISMATCH when not a whole number of words). */
export const decodeWords = (bytes: Uint8Array, what = "words"): Uint32Array => u32le(bytes, what);

export function encodeDedupBundle(b: DedupBundle): Uint8Array {
  const corr = b.role === "P1" ? b.corrections : undefined;
  if (b.role === "P1" && !(corr instanceof Uint32Array)) throw new ProtocolError("BAD_BUNDLE", "P1's bundle without corrections");
  const out = new Uint8Array(HEADER + (corr ? corr.byteLength : 0));
  out.set([0x50, 0x46, 0x44, 1, b.role === "P0" ? 0 : 1]);
  out.set(idBytes(b.id), 8);
  const dv = new DataView(out.buffer);
  dv.setUint32(24, b.epoch);
  dv.setUint32(28, b.count);
  if (corr) le(corr, out, HEADER);
  return out;
}

export function decodeDedupBundle(bytes: Uint8Array): DedupBundle {
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER || bytes[0] !== 0x50 || bytes[1] !== 0x46 || bytes[2] !== 0x44) throw new ProtocolError("BAD_BUNDLE", "not a dedup bundle");
  if (bytes[3] !== 1) throw new ProtocolError("BAD_VERSION", `dedup bundle version ${bytes[3]}`);
  if (bytes[4] > 1) throw new ProtocolError("BAD_BUNDLE", "role");
  const role: PartyName = bytes[4] === 0 ? "P0" : "P1";
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = hex(bytes.subarray(8, 24)), epoch = dv.getUint32(24), count = dv.getUint32(28);
  if (role === "P0") {
    if (bytes.length !== HEADER) throw new ProtocolError("LENGTH_MISMATCH", "P0's dedup bundle carries no corrections");
    return { id, role, epoch, count };
  }
  return { id, role, epoch, count, corrections: u32le(bytes.subarray(HEADER), "corrections") };
}

/** The id of an encoded dedup bundle, without decoding the rest. */
export function dedupBundleIdOf(bytes: Uint8Array): string {
  return decodeDedupBundle(bytes.subarray(0, HEADER)).id;
}

export function encodeDedupMessage(m: DedupMsg): Uint8Array {
  if (m.step === 1) {
    const e = m as DedupEpsMsg;
    const out = new Uint8Array(16 + e.eps.byteLength);
    out.set(idBytes(e.id));
    le(e.eps, out, 16);
    return out;
  }
  return encodeWords(m.step === 2 ? (m as DedupZMsg).z : (m as DedupAndMsg).de);
}

export function decodeDedupMessage(payload: Uint8Array, o: { step: number; from: PartyName }): DedupMsg {
  if (!(payload instanceof Uint8Array)) throw new ProtocolError("LENGTH_MISMATCH", "payload: expected bytes");
  if (o.step === 1) {
    if (payload.length < 16) throw new ProtocolError("LENGTH_MISMATCH", "step 1: too short");
    return { step: 1, from: o.from, id: hex(payload.subarray(0, 16)), eps: u32le(payload.subarray(16), "eps") };
  }
  if (o.step === 2) return { step: 2, from: o.from, z: u32le(payload, "z") };
  return { step: o.step, from: o.from, de: u32le(payload, "de") };
}
