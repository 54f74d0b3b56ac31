/**
 * The ring Z_2^32 on plain numbers and `Uint32Array`s. Every operation wraps modulo 2^32 (`>>> 0`,
 * `Math.imul`); `signed` maps an element to the integer in [−2^31, 2^31). Values of the protocol
 * (scores, squared norms) are exact integers with |value| < 2^24 for d ≤ 1024, so they never wrap.
 */

export const ring = {
  bits: 32,
  zero: 0,
  one: 1,
  /** Element of Z_2^32 for any safe integer n. */
  from(n: number): number {
    if (!Number.isSafeInteger(n)) throw new RangeError(`n: expected a safe integer, got ${n}`);
    return Number(BigInt.asUintN(32, BigInt(n)));
  },
  add: (a: number, b: number): number => (a + b) >>> 0,
  sub: (a: number, b: number): number => (a - b) >>> 0,
  neg: (a: number): number => -a >>> 0,
  mul: (a: number, b: number): number => Math.imul(a, b) >>> 0,
  /** Signed representative in [−2^31, 2^31). */
  signed: (a: number): number => a | 0,
  addVec(a: Uint32Array, b: Uint32Array): Uint32Array {
    sameLength(a, b);
    const out = new Uint32Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
    return out;
  },
  subVec(a: Uint32Array, b: Uint32Array): Uint32Array {
    sameLength(a, b);
    const out = new Uint32Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = a[i] - b[i];
    return out;
  },
  /** Σ a_i·b_i mod 2^32. */
  dot(a: Uint32Array, b: Uint32Array): number {
    sameLength(a, b);
    let s = 0;
    for (let i = 0; i < a.length; i++) s = (s + Math.imul(a[i], b[i])) | 0;
    return s >>> 0;
  },
};

function sameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`b: expected length ${a.length}, got ${b.length}`);
}

/** Additive 2-out-of-2 sharing of ring vectors: x = x0 + x1 mod 2^32, x0 uniform. */
export function shareRing(x: Uint32Array, random: Uint8Array): [Uint32Array, Uint32Array] {
  if (random.length !== 4 * x.length) throw new RangeError(`random: expected ${4 * x.length} bytes, got ${random.length}`);
  const x0 = new Uint32Array(random.slice().buffer);
  return [x0, ring.subVec(x, x0)];
}

export function reconstructRing(x0: Uint32Array, x1: Uint32Array): Uint32Array {
  return ring.addVec(x0, x1);
}
