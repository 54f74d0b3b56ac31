/**
 * Correlated randomness ("bundles") dealt by the helper, and its expansion at the parties.
 *
 * Each party shares a long-term 32-byte seed with the helper. For bundle `id` the party derives a stream
 * expand(seed, "privface/mpc/bundle/v1", kind ‖ role ‖ id ‖ params) (prg.ts); P0 takes *all* its material
 * from its stream, P1 takes its independent material (Beaver masks a, b, DCF roots, AND-triple a, b)
 * from its stream and receives corrections for the correlated parts. So only P1's corrections and the
 * DCF correction words (sent to both) travel.
 *
 * Per coordinate k (helper-chosen r_k ∈ [0,256), ρ_k ∈ {0,1}; a^(0), a^(1), b from the seeds):
 *   ⟦r⟧, ⟦ρ⟧ arithmetic in Z_2^32 (byte share of r = ⟦r⟧ mod 256);
 *   T0 ⊕ T1 = table(c ↦ [c < r_k] ⊕ ρ_k), c ∈ [0, 256), bit c at byte c>>3, bit c&7;
 *   ⟦q^(j)⟧ = ⟦(a^(j))²⟧ (square triples, both branches j ∈ {0,1});
 *   verify only: ⟦z^(j)⟧ = ⟦a^(j)·b⟧ (dot-product triples with the fresh template mask b).
 * Comparison (n = 26 bits, N = 2^26): masks r_out (score, norm) uniform in Z_N as Z_2^32 shares; DCF keys
 * [x < s], [x < e] with s = (r_out + A) mod N, e = (r_out + B) mod N per interval [A, B), plus XOR shares of
 * the bit [s > e]. Intervals: score [threshold + 2^24, N), norm [normLo, normHi + 1).
 * Verify only: an AND triple (a, b, c = a∧b) XOR-shared.
 * `deal` implements the helper; `openBundle` the party side; `UsedIds` the single-use check.
 */
import { dcfCwBytes, dcfGen, decodeDcfCw, encodeDcfCw, type DcfCw } from "./dcf.ts";
import { ProtocolError } from "./errors.ts";
import { checkParams, sameParams, type Params } from "./params.ts";
import { expand } from "./prg.ts";
import { secureRng, type Rng } from "./rng.ts";
import type { PartyName } from "./messages.ts";

export type BundleKind = "verify" | "enrol";

/** Bits of the comparison domain and the score offset that makes scores non-negative. */
export const COMPARE_BITS = 26;
export const COMPARE_MOD = 2 ** COMPARE_BITS;
export const SCORE_OFFSET = 2 ** 24;

/** A party's bundle as it travels from the helper (and is stored in the party's pool). */
export interface Bundle {
  readonly v: 1;
  readonly kind: BundleKind;
  readonly role: PartyName;
  /** 32 lowercase hex characters (16 random bytes) */
  readonly id: string;
  readonly params: Params;
  /** DCF correction words: verify [score s, score e, norm s, norm e]; enrol [norm s, norm e] */
  readonly cws: readonly DcfCw[];
  /** P1 only: corrections (layout in `correctionLayout`) */
  readonly corrections?: Uint8Array;
}

/** A party's expanded material for one run (what the step functions consume). Ring elements of Z_2^32 are
 * held as int32 bit patterns (Int32Array) so the hot loops stay in int32 arithmetic. */
export interface Material {
  readonly kind: BundleKind;
  readonly role: PartyName;
  readonly id: string;
  readonly params: Params;
  readonly r: Int32Array;
  readonly rho: Int32Array;
  readonly table: Uint8Array;
  readonly a0: Int32Array;
  readonly a1: Int32Array;
  readonly q0: Int32Array;
  readonly q1: Int32Array;
  /** verify only (zero-length for enrol) */
  readonly b: Int32Array;
  readonly z0: Int32Array;
  readonly z1: Int32Array;
  /** [score mask, norm mask] shares in Z_2^32 */
  readonly rOut: Int32Array;
  /** DCF root seeds, 16 B per key */
  readonly roots: Uint8Array;
  /** bit0 = share of [s > e] for the score interval, bit1 = for the norm interval */
  readonly wrap: number;
  /** AND triple share: bit0 = a, bit1 = b, bit2 = c */
  readonly and: number;
  readonly cws: readonly DcfCw[];
}

export interface Seeds {
  readonly P0: Uint8Array;
  readonly P1: Uint8Array;
}

const LABEL = "privface/mpc/bundle/v1";
const HEX = /^[0-9a-f]{32}$/;

/** A fresh random bundle id (16 bytes as 32 hex characters). */
export function newItemId(rng: Rng = secureRng): string {
  return Array.from(rng(16), (b) => b.toString(16).padStart(2, "0")).join("");
}

function checkId(id: string): void {
  if (typeof id !== "string" || !HEX.test(id)) throw new RangeError(`itemId: expected 32 lowercase hex characters, got ${JSON.stringify(id)}`);
}

function checkSeed(name: string, s: Uint8Array): void {
  if (!(s instanceof Uint8Array) || s.length !== 32) throw new RangeError(`${name}: expected a 32-byte Uint8Array`);
}

function keyCount(kind: BundleKind): number {
  return kind === "verify" ? 4 : 2;
}

function streamContext(kind: BundleKind, role: PartyName, id: string, p: Params): Uint8Array {
  const out = new Uint8Array(2 + 16 + 16);
  out[0] = kind === "verify" ? 1 : 2;
  out[1] = role === "P0" ? 0 : 1;
  for (let i = 0; i < 16; i++) out[2 + i] = parseInt(id.slice(2 * i, 2 * i + 2), 16);
  const dv = new DataView(out.buffer);
  dv.setUint32(18, p.d);
  dv.setInt32(22, p.threshold);
  dv.setUint32(26, p.normLo);
  dv.setUint32(30, p.normHi);
  return out;
}

/** Reads consecutive fields out of a byte buffer (all u32 fields are 4-byte aligned). */
class Cursor {
  private o = 0;
  constructor(private readonly buf: Uint8Array) {}
  i32(n: number): Int32Array {
    if (n === 0) return new Int32Array(0);
    const v = new Int32Array(this.buf.buffer, this.buf.byteOffset + this.o, n);
    this.o += 4 * n;
    return v;
  }
  bytes(n: number): Uint8Array {
    const v = this.buf.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  byte(): number {
    return this.buf[this.o++];
  }
  get offset(): number {
    return this.o;
  }
}

/** P0 stream: r, rho, a0, a1, q0, q1, [b, z0, z1], rOut(2), table(32d), roots(16K), wrap, and. */
function p0StreamBytes(kind: BundleKind, d: number): number {
  return 4 * d * (kind === "verify" ? 9 : 6) + 8 + 32 * d + 16 * keyCount(kind) + 2;
}
/** P1 stream: a0, a1, [b], roots(16K), and(a, b). */
function p1StreamBytes(kind: BundleKind, d: number): number {
  return 4 * d * (kind === "verify" ? 3 : 2) + 16 * keyCount(kind) + 1;
}
/** P1 corrections: r, rho, q0, q1, [z0, z1], rOut(2), table(32d), wrap, and-c. */
export function correctionBytes(kind: BundleKind, d: number): number {
  return 4 * d * (kind === "verify" ? 6 : 4) + 8 + 32 * d + 2;
}

function aligned(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}

function p0Material(seed: Uint8Array, kind: BundleKind, id: string, params: Params, cws: readonly DcfCw[]): Material {
  const d = params.d;
  const v = kind === "verify";
  const buf = expand(seed, LABEL, streamContext(kind, "P0", id, params), p0StreamBytes(kind, d));
  const c = new Cursor(buf);
  const r = c.i32(d), rho = c.i32(d), a0 = c.i32(d), a1 = c.i32(d), q0 = c.i32(d), q1 = c.i32(d);
  const b = c.i32(v ? d : 0), z0 = c.i32(v ? d : 0), z1 = c.i32(v ? d : 0);
  const rOut = c.i32(2);
  const table = c.bytes(32 * d);
  const roots = c.bytes(16 * keyCount(kind));
  const wrap = c.byte() & 3;
  const and = v ? c.byte() & 7 : (c.byte(), 0);
  return { kind, role: "P0", id, params, r, rho, table, a0, a1, q0, q1, b, z0, z1, rOut, roots, wrap, and, cws };
}

interface P1Own {
  a0: Int32Array;
  a1: Int32Array;
  b: Int32Array;
  roots: Uint8Array;
  and: number;
}

function p1Own(seed: Uint8Array, kind: BundleKind, id: string, params: Params): P1Own {
  const d = params.d;
  const v = kind === "verify";
  const buf = expand(seed, LABEL, streamContext(kind, "P1", id, params), p1StreamBytes(kind, d));
  const c = new Cursor(buf);
  const a0 = c.i32(d), a1 = c.i32(d), b = c.i32(v ? d : 0);
  const roots = c.bytes(16 * keyCount(kind));
  const and = v ? c.byte() & 3 : 0;
  return { a0, a1, b, roots, and };
}

function p1Material(seed: Uint8Array, bundle: Bundle): Material {
  const { kind, id, params, cws } = bundle;
  const d = params.d;
  const v = kind === "verify";
  const own = p1Own(seed, kind, id, params);
  const corr = bundle.corrections;
  if (!corr || corr.length !== correctionBytes(kind, d)) throw new ProtocolError("BAD_BUNDLE", "P1 bundle without valid corrections");
  // opening takes ownership of the bundle's bytes: used in place when aligned (and wiped after the run)
  const buf = corr.byteOffset % 4 === 0 ? corr : aligned(corr.length);
  if (buf !== corr) buf.set(corr);
  const c = new Cursor(buf);
  const r = c.i32(d), rho = c.i32(d), q0 = c.i32(d), q1 = c.i32(d);
  const z0 = c.i32(v ? d : 0), z1 = c.i32(v ? d : 0);
  const rOut = c.i32(2);
  const table = c.bytes(32 * d);
  const wrap = c.byte() & 3;
  const cBit = c.byte() & 1;
  return {
    kind, role: "P1", id, params, r, rho, table, a0: own.a0, a1: own.a1, q0, q1, b: own.b, z0, z1, rOut,
    roots: own.roots, wrap, and: v ? own.and | (cBit << 2) : 0, cws,
  };
}

/** Thresholds of the DCF keys for one masked value with mask rOut and interval [A, B): s, e and [s > e]. */
function intervalKeys(rOut: number, A: number, B: number): { s: number; e: number; wrap: number } {
  const s = (rOut + A) % COMPARE_MOD;
  const e = (rOut + B) % COMPARE_MOD;
  return { s, e, wrap: s > e ? 1 : 0 };
}

export function intervals(params: Params): { score: [number, number]; norm: [number, number] } {
  return { score: [params.threshold + SCORE_OFFSET, COMPARE_MOD], norm: [params.normLo, params.normHi + 1] };
}

export interface Dealt {
  readonly id: string;
  readonly P0: Bundle;
  readonly P1: Bundle;
}

/**
 * The helper's dealer: bundles for P0 and P1 for one run (`kind` "verify" or "enrol") with id `itemId`.
 * `seeds` are the parties' long-term 32-byte seeds; `rng` supplies the helper's own randomness
 * (r, ρ, output masks). The helper never sees data.
 * @example const { P0, P1 } = deal(makeParams({ d: 512, threshold: 27_200 }), newItemId(), seeds);
 */
export function deal(params: Params, itemId: string, seeds: Seeds, rng: Rng = secureRng, kind: BundleKind = "verify"): Dealt {
  checkParams(params);
  checkId(itemId);
  checkSeed("seeds.P0", seeds?.P0);
  checkSeed("seeds.P1", seeds?.P1);
  if (kind !== "verify" && kind !== "enrol") throw new RangeError(`kind: expected "verify" or "enrol", got ${String(kind)}`);
  const d = params.d;
  const v = kind === "verify";
  const m0 = p0Material(seeds.P0, kind, itemId, params, []);
  const own1 = p1Own(seeds.P1, kind, itemId, params);
  // helper randomness: r (d bytes), rho (d bytes, low bit), rOut (2 × 4 bytes)
  const hr = rng(2 * d + 8);
  const hrOut = new DataView(hr.buffer, hr.byteOffset + 2 * d, 8);
  const rOut = [hrOut.getUint32(0, true) % COMPARE_MOD, hrOut.getUint32(4, true) % COMPARE_MOD];
  const corr = aligned(correctionBytes(kind, d));
  const c = new Cursor(corr);
  const r1 = c.i32(d), rho1 = c.i32(d), q01 = c.i32(d), q11 = c.i32(d);
  const z01 = c.i32(v ? d : 0), z11 = c.i32(v ? d : 0);
  const rOut1 = c.i32(2);
  const t1 = c.bytes(32 * d);
  const wrapAt = c.offset;
  for (let k = 0; k < d; k++) {
    const rk = hr[k];
    const rhok = hr[d + k] & 1;
    r1[k] = rk - m0.r[k];
    rho1[k] = rhok - m0.rho[k];
    const a0 = (m0.a0[k] + own1.a0[k]) >>> 0;
    const a1 = (m0.a1[k] + own1.a1[k]) >>> 0;
    q01[k] = Math.imul(a0, a0) - m0.q0[k];
    q11[k] = Math.imul(a1, a1) - m0.q1[k];
    if (v) {
      const b = (m0.b[k] + own1.b[k]) >>> 0;
      z01[k] = Math.imul(a0, b) - m0.z0[k];
      z11[k] = Math.imul(a1, b) - m0.z1[k];
    }
    // table bits: [c < r] ⊕ ρ for c in [0,256)
    const base = 32 * k;
    const fill = rhok ? 0xff : 0;
    for (let j = 0; j < 32; j++) {
      const lo = 8 * j;
      const cnt = Math.max(0, Math.min(8, rk - lo)); // bits c in [lo, lo+8) with c < r
      const bits = ((1 << cnt) - 1) ^ fill;
      t1[base + j] = m0.table[base + j] ^ bits;
    }
  }
  rOut1[0] = rOut[0] - m0.rOut[0];
  rOut1[1] = rOut[1] - m0.rOut[1];
  const iv = intervals(params);
  const alphas: number[] = [];
  let wrap = 0;
  if (v) {
    const sc = intervalKeys(rOut[0], iv.score[0], iv.score[1]);
    alphas.push(sc.s, sc.e);
    wrap |= sc.wrap;
  }
  const nm = intervalKeys(rOut[1], iv.norm[0], iv.norm[1]);
  alphas.push(nm.s, nm.e);
  wrap |= nm.wrap << 1;
  corr[wrapAt] = wrap ^ m0.wrap;
  if (v) {
    const a = (m0.and & 1) ^ (own1.and & 1);
    const b = ((m0.and >>> 1) & 1) ^ ((own1.and >>> 1) & 1);
    corr[wrapAt + 1] = (a & b) ^ ((m0.and >>> 2) & 1);
  }
  const cws = dcfGen(COMPARE_BITS, alphas, m0.roots, own1.roots);
  hr.fill(0);
  return {
    id: itemId,
    P0: { v: 1, kind, role: "P0", id: itemId, params, cws },
    P1: { v: 1, kind, role: "P1", id: itemId, params, cws, corrections: corr },
  };
}

/**
 * Party side: expands bundle `bundle` with the party's long-term seed into its material.
 * @throws ProtocolError WRONG_ROLE if the bundle is for the other party, BAD_BUNDLE if malformed.
 */
export function openBundle(role: PartyName, seed: Uint8Array, bundle: Bundle): Material {
  checkSeed("seed", seed);
  if (bundle.role !== role) throw new ProtocolError("WRONG_ROLE", `bundle for ${bundle.role}, opened by ${role}`);
  checkId(bundle.id);
  if (bundle.cws.length !== keyCount(bundle.kind)) throw new ProtocolError("BAD_BUNDLE", `expected ${keyCount(bundle.kind)} DCF keys`);
  return role === "P0" ? p0Material(seed, bundle.kind, bundle.id, bundle.params, bundle.cws) : p1Material(seed, bundle);
}

/** Refuses a bundle id used before (R25). Back it by durable storage in a server. */
export interface UsedIdsLike {
  has(id: string): boolean;
  add(id: string): void;
}

export class UsedIds implements UsedIdsLike {
  private readonly ids = new Set<string>();
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
  }
  get size(): number {
    return this.ids.size;
  }
}

/** Marks `id` consumed; throws ProtocolError ITEM_REUSED if it was consumed already. */
export function consume(used: UsedIdsLike, id: string): void {
  if (used.has(id)) throw new ProtocolError("ITEM_REUSED", `correlated randomness ${id} was already used`);
  used.add(id);
}

// ---- bundle bytes ----
// "PFB" | v=1 | kind(1: verify, 2: enrol) | role(0/1) | n | K | id(16) | d u16be | threshold i32be |
// normLo u32be | normHi u32be | 0 0 | K × CW | [corrections]   (the padding aligns the corrections to 4 bytes)
const BUNDLE_HEADER = 3 + 5 + 16 + 2 + 12 + 2;

/** The id of an encoded bundle (bytes 8..24, as 32 hex characters) without decoding the rest. */
export function bundleIdOf(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array) || bytes.length < BUNDLE_HEADER || bytes[0] !== 0x50 || bytes[1] !== 0x46 || bytes[2] !== 0x42) throw new ProtocolError("BAD_MAGIC", "not an encoded bundle");
  let id = "";
  for (let i = 8; i < 24; i++) id += bytes[i].toString(16).padStart(2, "0");
  return id;
}

export function bundleBytes(kind: BundleKind, role: PartyName, d: number): number {
  return BUNDLE_HEADER + keyCount(kind) * dcfCwBytes(COMPARE_BITS) + (role === "P1" ? correctionBytes(kind, d) : 0);
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
  if (b.role === "P1") out.set(b.corrections!, o);
  return out;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

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
  const corrections = role === "P1" ? bytes.subarray(o) : undefined;
  const out: Bundle = corrections ? { v: 1, kind, role, id, params: Object.freeze(params), cws, corrections } : { v: 1, kind, role, id, params: Object.freeze(params), cws };
  return out;
}

export function checkBundleParams(m: Material, params: Params, kind: BundleKind, role: PartyName): void {
  if (m.kind !== kind) throw new ProtocolError("BUNDLE_MISMATCH", `bundle for ${m.kind}, used for ${kind}`);
  if (m.role !== role) throw new ProtocolError("WRONG_ROLE", `material for ${m.role}, used by ${role}`);
  if (!sameParams(m.params, params)) throw new ProtocolError("PARAMS_MISMATCH", "bundle was dealt for other parameters");
}
