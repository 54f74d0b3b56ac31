/**
 * Bytes of a bundle (bundle.ts), as the helper sends it and a party's pool stores it. Layout:
 *   "PFB" | v=1 | kind u8 (1 verify, 2 enrol) | role u8 (0 P0, 1 P1) | n u8 (comparison bits) | K u8 (DCF keys) |
 *   id (16 B) | d u16be | threshold i32be | normLo u32be | normHi u32be | 0 0 | K × DCF correction word |
 *   [P1: corrections] | verify only: 2 × budget DCF correction word (n = 16) | [P1: budget corrections (9 B)]
 * The two zero bytes align the corrections to 4 bytes. `decodeBundle` returns views into the given bytes
 * (no copy): hand them over. Errors: ProtocolError BAD_BUNDLE, BAD_MAGIC, BAD_VERSION, LENGTH_MISMATCH.
 */
import { dcfCwBytes, decodeDcfCw, encodeDcfCw, type DcfCw } from "./dcf.ts";
import { ProtocolError } from "./errors.ts";
import type { PartyName } from "./messages.ts";
import { checkParams, type Params } from "./params.ts";
import { COMPARE_BITS, correctionBytes, keyCount, type Bundle, type BundleKind } from "./bundle.ts";
import { BUDGET_BITS, BUDGET_CORRECTION_BYTES, BUDGET_CW_BYTES, type BudgetSection } from "./budget.ts";

const BUNDLE_HEADER = 3 + 5 + 16 + 2 + 12 + 2;
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** The id of an encoded bundle (bytes 8..24, as 32 hex characters) without decoding the rest. */
export function bundleIdOf(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array) || bytes.length < BUNDLE_HEADER || bytes[0] !== 0x50 || bytes[1] !== 0x46 || bytes[2] !== 0x42) throw new ProtocolError("BAD_MAGIC", "not an encoded bundle");
  let id = "";
  for (let i = 8; i < 24; i++) id += HEX_BYTE[bytes[i]];
  return id;
}

/** Encoded size of a bundle of this kind for this party at dimension d. */
export function bundleBytes(kind: BundleKind, role: PartyName, d: number): number {
  const main = BUNDLE_HEADER + keyCount(kind) * dcfCwBytes(COMPARE_BITS) + (role === "P1" ? correctionBytes(kind, d) : 0);
  return kind === "verify" ? main + BUDGET_CW_BYTES + (role === "P1" ? BUDGET_CORRECTION_BYTES : 0) : main;
}

export function encodeBundle(b: Bundle): Uint8Array {
  const out = new Uint8Array(bundleBytes(b.kind, b.role, b.params.d));
  out.set([0x50, 0x46, 0x42, 1, b.kind === "verify" ? 1 : 2, b.role === "P0" ? 0 : 1, COMPARE_BITS, b.cws.length]);
  for (let i = 0; i < 16; i++) out[8 + i] = parseInt(b.id.slice(2 * i, 2 * i + 2), 16);
  const dv = new DataView(out.buffer);
  dv.setUint16(24, b.params.d);
  dv.setInt32(26, b.params.threshold);
  dv.setUint32(30, b.params.normLo);
  dv.setUint32(34, b.params.normHi);
  let o = BUNDLE_HEADER;
  for (const cw of b.cws) o = encodeDcfCw(cw, out, o);
  if (b.role === "P1") {
    out.set(b.corrections!, o);
    o += b.corrections!.length;
  }
  if (b.kind === "verify") {
    if (!b.budget || b.budget.cws.length !== 2) throw new ProtocolError("BAD_BUNDLE", "verify bundle without its budget section");
    for (const cw of b.budget.cws) o = encodeDcfCw(cw, out, o);
    if (b.role === "P1") out.set(b.budget.corrections!, o);
  }
  return out;
}

export function decodeBundle(bytes: Uint8Array): Bundle {
  if (!(bytes instanceof Uint8Array) || bytes.length < BUNDLE_HEADER) throw new ProtocolError("BAD_BUNDLE", "too short");
  if (bytes[0] !== 0x50 || bytes[1] !== 0x46 || bytes[2] !== 0x42) throw new ProtocolError("BAD_BUNDLE", "bad magic");
  if (bytes[3] !== 1) throw new ProtocolError("BAD_VERSION", `bundle version ${bytes[3]}`);
  const kind: BundleKind | undefined = bytes[4] === 1 ? "verify" : bytes[4] === 2 ? "enrol" : undefined;
  const role: PartyName | undefined = bytes[5] === 0 ? "P0" : bytes[5] === 1 ? "P1" : undefined;
  if (!kind || !role) throw new ProtocolError("BAD_BUNDLE", "bad kind or role");
  if (bytes[6] !== COMPARE_BITS || bytes[7] !== keyCount(kind) || bytes[38] !== 0 || bytes[39] !== 0) throw new ProtocolError("BAD_BUNDLE", "bad comparison domain or key count");
  let id = "";
  for (let i = 8; i < 24; i++) id += HEX_BYTE[bytes[i]];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const params: Params = { d: dv.getUint16(24), threshold: dv.getInt32(26), normLo: dv.getUint32(30), normHi: dv.getUint32(34) };
  try {
    checkParams(params);
  } catch (e) {
    throw new ProtocolError("BAD_BUNDLE", (e as Error).message);
  }
  if (bytes.length !== bundleBytes(kind, role, params.d)) throw new ProtocolError("LENGTH_MISMATCH", `bundle: expected ${bundleBytes(kind, role, params.d)} bytes, got ${bytes.length}`);
  const cws: DcfCw[] = [];
  let o = BUNDLE_HEADER;
  for (let k = 0; k < keyCount(kind); k++) {
    cws.push(decodeDcfCw(COMPARE_BITS, bytes, o));
    o += dcfCwBytes(COMPARE_BITS);
  }
  const corrections = role === "P1" ? bytes.subarray(o, o + correctionBytes(kind, params.d)) : undefined;
  if (corrections) o += corrections.length;
  let budget: BudgetSection | undefined;
  if (kind === "verify") {
    const bcws = [decodeDcfCw(BUDGET_BITS, bytes, o), decodeDcfCw(BUDGET_BITS, bytes, o + BUDGET_CW_BYTES / 2)];
    o += BUDGET_CW_BYTES;
    budget = role === "P1" ? { cws: bcws, corrections: bytes.subarray(o, o + BUDGET_CORRECTION_BYTES) } : { cws: bcws };
  }
  const base = { v: 1 as const, kind, role, id, params: Object.freeze(params), cws };
  const out: Bundle = { ...base, ...(corrections ? { corrections } : {}), ...(budget ? { budget } : {}) };
  return out;
}
