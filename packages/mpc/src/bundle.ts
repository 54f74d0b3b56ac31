/**
 * What a bundle of correlated randomness is, and the seed streams the dealer (deal.ts) and the parties
 * (open.ts) both derive from it. Its bytes on the wire: bundle-wire.ts; single use: single-use.ts.
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
 * the bit [s > e]. Intervals (`intervals`): score [threshold + 2^24, N), norm [normLo, normHi + 1).
 * Verify only: an AND triple (a, b, c = a∧b) XOR-shared, and the budget section (budget.ts: a daBit,
 * a mask and two DCF keys for the daily failure counter, from its own seed streams).
 */
import type { BudgetSection } from "./budget.ts";
import type { DcfCw } from "./dcf.ts";
import type { PartyName } from "./messages.ts";
import type { Params } from "./params.ts";
import { expand } from "./prg.ts";
import { secureRng, type Rng } from "./rng.ts";

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
  /** P1 only: corrections (layout in `correctionBytes`) */
  readonly corrections?: Uint8Array;
  /** verify only: the correlated randomness of the failure-budget run that follows the verification (budget.ts) */
  readonly budget?: BudgetSection;
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
  /** verify only: the tail of this party's stream that the budget section uses (`openBudget`) */
  readonly budgetStream?: Uint8Array;
}

/** The parties' long-term 32-byte seeds (the helper holds both). */
export interface Seeds {
  readonly P0: Uint8Array;
  readonly P1: Uint8Array;
}

/** Both halves of one dealt bundle. */
export interface Dealt {
  readonly id: string;
  readonly P0: Bundle;
  readonly P1: Bundle;
}

const LABEL = "privface/mpc/bundle/v1";
const HEX = /^[0-9a-f]{32}$/;

/** A fresh random bundle id (16 bytes as 32 hex characters). */
export function newItemId(rng: Rng = secureRng): string {
  return Array.from(rng(16), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function checkId(id: string): void {
  if (typeof id !== "string" || !HEX.test(id)) throw new RangeError(`itemId: expected 32 lowercase hex characters, got ${JSON.stringify(id)}`);
}

export function checkSeed(name: string, s: Uint8Array): void {
  if (!(s instanceof Uint8Array) || s.length !== 32) throw new RangeError(`${name}: expected a 32-byte Uint8Array`);
}

/** DCF keys per bundle: verify compares score and norm (2 keys each), enrol only the norm. */
export function keyCount(kind: BundleKind): number {
  return kind === "verify" ? 4 : 2;
}

/** The comparison intervals [A, B) of the score and the norm (see the header). */
export function intervals(params: Params): { score: [number, number]; norm: [number, number] } {
  return { score: [params.threshold + SCORE_OFFSET, COMPARE_MOD], norm: [params.normLo, params.normHi + 1] };
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
export class Cursor {
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

/** Bytes at the end of a verify bundle's P0 / P1 stream that the budget section (budget.ts) takes. */
export const BUDGET_P0_STREAM = 42;
export const BUDGET_P1_STREAM = 33;

/** P0 stream: r, rho, a0, a1, q0, q1, [b, z0, z1], rOut(2), table(32d), roots(16K), wrap, and, [budget section]. */
function p0StreamBytes(kind: BundleKind, d: number): number {
  return 4 * d * (kind === "verify" ? 9 : 6) + 8 + 32 * d + 16 * keyCount(kind) + 2 + (kind === "verify" ? BUDGET_P0_STREAM : 0);
}
/** P1 stream: a0, a1, [b], roots(16K), and(a, b), [budget section]. */
function p1StreamBytes(kind: BundleKind, d: number): number {
  return 4 * d * (kind === "verify" ? 3 : 2) + 16 * keyCount(kind) + 1 + (kind === "verify" ? BUDGET_P1_STREAM : 0);
}
/** P1 corrections: r, rho, q0, q1, [z0, z1], rOut(2), table(32d), wrap, and-c. */
export function correctionBytes(kind: BundleKind, d: number): number {
  return 4 * d * (kind === "verify" ? 6 : 4) + 8 + 32 * d + 2;
}

/** A zeroed buffer at offset 0 of its own ArrayBuffer (so Int32Array views are aligned). */
export function aligned(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}

/** P0's whole material, from its seed stream (the dealer computes it too, to derive P1's corrections). */
export function p0Material(seed: Uint8Array, kind: BundleKind, id: string, params: Params, cws: readonly DcfCw[]): Material {
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
  const budgetStream = v ? c.bytes(BUDGET_P0_STREAM) : undefined;
  return { kind, role: "P0", id, params, r, rho, table, a0, a1, q0, q1, b, z0, z1, rOut, roots, wrap, and, cws, budgetStream };
}

/** The part of P1's material that comes from its own seed stream (the rest are the dealer's corrections). */
export interface P1Own {
  a0: Int32Array;
  a1: Int32Array;
  b: Int32Array;
  roots: Uint8Array;
  and: number;
  /** verify only: the tail of the stream for the budget section (budget.ts) */
  budgetStream?: Uint8Array;
}

export function p1Own(seed: Uint8Array, kind: BundleKind, id: string, params: Params): P1Own {
  const d = params.d;
  const v = kind === "verify";
  const buf = expand(seed, LABEL, streamContext(kind, "P1", id, params), p1StreamBytes(kind, d));
  const c = new Cursor(buf);
  const a0 = c.i32(d), a1 = c.i32(d), b = c.i32(v ? d : 0);
  const roots = c.bytes(16 * keyCount(kind));
  const and = v ? c.byte() & 3 : (c.byte(), 0);
  const budgetStream = v ? c.bytes(BUDGET_P1_STREAM) : undefined;
  return { a0, a1, b, roots, and, budgetStream };
}
