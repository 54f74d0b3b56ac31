/**
 * Quantisation and protocol parameters.
 *
 * Features are L2-normalised and quantised to int8: q_i = round(v_i·Q) (half away from zero), clamped
 * to [−127, 127], with Q = 256. For a unit vector of d ≥ 128 no honest coordinate comes near ±127,
 * the squared norm of a valid vector is near Q² = 65,536 (honest vectors: 64,864–66,221), and the
 * score of two valid vectors is ≈ cos·Q². Bounds used by the protocol (d ≤ 1024): every coordinate a
 * device can express is in [−128, 127], so |score| ≤ d·128² ≤ 2^24 and 0 ≤ norm ≤ 2^24.
 */

/** int8 scale: q = round(x·Q), valid range [−127, 127] (the protocol tolerates −128 too). */
export const Q = 256;
/** Largest supported dimension (keeps |score|, norm ≤ 2^24, inside the 26-bit comparison domain). */
export const MAX_D = 1024;
/**
 * Default squared-norm bounds: [64,750, 66,400] ≈ Q²·[0.988, 1.013] (issue 12 item 10). Honest squared
 * norms are Q² + d/12 on average with a standard deviation of ≈ 148 whatever d (rounding errors);
 * measured: 600,000 random unit vectors of d = 128, 512, 1024 span 64,864–66,221, lfw-dev embeddings
 * 65,044–66,120. The window sits ≥ 5.3 σ from the mean for every d in [128, 1024] (an honest vector
 * is invalid with probability ≈ 1e-7), and bounds what a device gains by inflating its vector: at
 * most √(66,400 / 65,536) − 1 ≈ 0.66 % of the score (threshold 27,200 ≈ cos 0.415 acts as ≥ cos 0.412),
 * where Q²·[0.95, 1.05] allowed ≈ 2.5 %.
 */
export const DEFAULT_NORM_LO = 64_750;
export const DEFAULT_NORM_HI = 66_400;

/** Protocol parameters, one typed object. `threshold`: match ⇔ score ≥ threshold (non-strict). */
export interface Params {
  readonly d: number;
  readonly threshold: number;
  readonly normLo: number;
  readonly normHi: number;
}

/**
 * Builds and checks a parameter object. `valid` ⇔ normLo ≤ Σx² ≤ normHi; `match` ⇔ valid ∧ ⟨x,y⟩ ≥ threshold.
 * @throws RangeError naming the bad field.
 * The threshold belongs to the recognition model (the deployed one: `modelParams()` of
 * @privface/contracts), so it has no default here.
 * @example makeParams({ d: 512, threshold: 27_200 }) // { d: 512, threshold: 27200, normLo: 64750, normHi: 66400 }
 */
export function makeParams(p: { d: number; threshold: number; normLo?: number; normHi?: number }): Params {
  const out: Params = {
    d: p.d,
    threshold: p.threshold,
    normLo: p.normLo ?? DEFAULT_NORM_LO,
    normHi: p.normHi ?? DEFAULT_NORM_HI,
  };
  checkParams(out);
  return Object.freeze(out);
}

export function checkParams(p: Params): void {
  if (p === null || typeof p !== "object") throw new TypeError("params: expected an object");
  if (!Number.isInteger(p.d) || p.d < 1 || p.d > MAX_D) throw new RangeError(`params.d: expected an integer in [1, ${MAX_D}], got ${p.d}`);
  if (!Number.isInteger(p.threshold) || Math.abs(p.threshold) >= 2 ** 24)
    throw new RangeError(`params.threshold: expected an integer with |t| < 2^24, got ${p.threshold}`);
  if (!Number.isInteger(p.normLo) || p.normLo < 0 || p.normLo >= 2 ** 24) throw new RangeError(`params.normLo: expected an integer in [0, 2^24), got ${p.normLo}`);
  if (!Number.isInteger(p.normHi) || p.normHi < p.normLo || p.normHi >= 2 ** 24)
    throw new RangeError(`params.normHi: expected an integer in [normLo, 2^24), got ${p.normHi}`);
}

export function sameParams(a: Params, b: Params): boolean {
  return a.d === b.d && a.threshold === b.threshold && a.normLo === b.normLo && a.normHi === b.normHi;
}

/**
 * L2-normalises `v` and quantises to int8: round(v_i/‖v‖·Q) half away from zero, clamped to ±127.
 * @throws RangeError if `v` is empty, has a non-finite entry, or is the zero vector.
 * @example quantise([3, 4]) // Int8Array [127, 127] (0.6·256 and 0.8·256 clamp)
 */
export function quantise(v: ArrayLike<number>): Int8Array {
  if (v == null || typeof v.length !== "number") throw new TypeError("v: expected an array of numbers");
  if (v.length === 0) throw new RangeError("v: expected a non-empty vector");
  let ss = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== "number" || !Number.isFinite(x)) throw new RangeError(`v[${i}]: expected a finite number, got ${x}`);
    ss += x * x;
  }
  if (ss === 0) throw new RangeError("v: the zero vector cannot be normalised");
  const scale = Q / Math.sqrt(ss);
  const out = new Int8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const y = v[i] * scale;
    const r = Math.sign(y) * Math.floor(Math.abs(y) + 0.5);
    out[i] = r > 127 ? 127 : r < -127 ? -127 : r;
  }
  return out;
}
