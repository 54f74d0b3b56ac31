/**
 * Device-side input sharing (R2, R23). An int8 vector x is shared as bytes in Z_256:
 *   x0 = expandSeedShare(seed0, ctx, d)  (P0 receives only the 16-byte seed0),
 *   x1 = (x − x0) mod 256                (P1 receives d bytes),
 * so every value the parties can reconstruct is an int8 (two's-complement byte): the range of each
 * coordinate holds by construction, whatever a malicious device sends.
 * Seed expansion is domain-separated by label "privface/mpc/input-share/v1/P0" and the encoded
 * ShareContext plus d (prg.ts), so a seed bound to one challenge cannot be replayed under another.
 */
import { expand } from "./prg.ts";
import { MAX_D } from "./params.ts";
import { secureRng, type Rng } from "./rng.ts";

export interface ShareContext {
  purpose: string;
  challenge: string;
  templateId: string;
  modelVersion: string;
}

const enc = new TextEncoder();
const SHARE_LABEL = "privface/mpc/input-share/v1/P0";
const CONTEXT_TAG = "privface/share-context/v1";

/**
 * Canonical bytes of a share context: tag and the four fields in fixed order, each as
 * u16be(byte length) ‖ UTF-8 bytes.
 * @throws TypeError if a field is not a string; RangeError if a field exceeds 1024 bytes.
 */
export function encodeShareContext(ctx: ShareContext): Uint8Array {
  if (ctx === null || typeof ctx !== "object") throw new TypeError("ctx: expected a ShareContext object");
  const parts: Uint8Array[] = [enc.encode(CONTEXT_TAG)];
  for (const k of ["purpose", "challenge", "templateId", "modelVersion"] as const) {
    const v = ctx[k];
    if (typeof v !== "string") throw new TypeError(`ctx.${k}: expected a string, got ${typeof v}`);
    const b = enc.encode(v);
    if (b.length > 1024) throw new RangeError(`ctx.${k}: expected at most 1024 bytes, got ${b.length}`);
    parts.push(b);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + 2 + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out[o] = p.length >>> 8;
    out[o + 1] = p.length & 255;
    out.set(p, o + 2);
    o += 2 + p.length;
  }
  return out;
}

function checkD(d: number): void {
  if (!Number.isInteger(d) || d < 1 || d > MAX_D) throw new RangeError(`d: expected an integer in [1, ${MAX_D}], got ${d}`);
}

/**
 * P0's byte share x0 (d bytes) from the 16-byte seed the device sent it.
 * @example const x0 = expandSeedShare(seed0, ctx, 512);
 */
export function expandSeedShare(seed0: Uint8Array, ctx: ShareContext, d: number): Uint8Array {
  if (!(seed0 instanceof Uint8Array)) throw new TypeError("seed0: expected a Uint8Array");
  if (seed0.length !== 16) throw new RangeError(`seed0: expected 16 bytes, got ${seed0.length}`);
  checkD(d);
  const c = encodeShareContext(ctx);
  const context = new Uint8Array(c.length + 4);
  context.set(c);
  new DataView(context.buffer).setUint32(c.length, d);
  return expand(seed0, SHARE_LABEL, context, d);
}

/**
 * Shares an int8 vector: P0 gets `seed0` (16 B), P1 gets `share1` (d bytes), with
 * (expandSeedShare(seed0) + share1) mod 256 = x as two's-complement bytes.
 * @example const { seed0, share1 } = shareInput(quantise(v), ctx);
 */
export function shareInput(x: Int8Array, ctx: ShareContext, rng: Rng = secureRng): { seed0: Uint8Array; share1: Uint8Array } {
  if (!(x instanceof Int8Array)) throw new TypeError("x: expected an Int8Array");
  checkD(x.length);
  const seed0 = rng(16);
  if (seed0.length !== 16) throw new RangeError("rng: returned the wrong number of bytes");
  const x0 = expandSeedShare(seed0, ctx, x.length);
  const share1 = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) share1[i] = (x[i] - x0[i]) & 255;
  x0.fill(0);
  return { seed0, share1 };
}

/** Reconstructs an int8 vector from two byte shares (tests, plaintext twins). */
export function reconstructBytes(x0: Uint8Array, x1: Uint8Array): Int8Array {
  if (x0.length !== x1.length) throw new RangeError(`x1: expected length ${x0.length}, got ${x1.length}`);
  const out = new Int8Array(x0.length);
  for (let i = 0; i < x0.length; i++) out[i] = (x0[i] + x1[i]) << 24 >> 24;
  return out;
}
