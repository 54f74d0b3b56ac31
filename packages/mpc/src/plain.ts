/**
 * Plaintext twins of the secure computations (what the MPC must reproduce exactly):
 *   dotPlain(x, y) = Σ x_i·y_i (exact integer), normPlain(x) = Σ x_i²,
 *   validatePlain: valid ⇔ normLo ≤ Σ y_i² ≤ normHi,
 *   verifyPlain:   valid ⇔ normLo ≤ Σ x_i² ≤ normHi (probe), match ⇔ valid ∧ Σ x_i·y_i ≥ threshold.
 * lessThanPlain (dcf.ts) is the twin of the DCF.
 */
import { checkParams, type Params } from "./params.ts";

export { lessThanPlain } from "./dcf.ts";

export function dotPlain(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`y: expected length ${x.length}, got ${y.length}`);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

export function normPlain(x: ArrayLike<number>): number {
  return dotPlain(x, x);
}

function checkVec(name: string, v: Int8Array, d: number): void {
  if (!(v instanceof Int8Array)) throw new TypeError(`${name}: expected an Int8Array`);
  if (v.length !== d) throw new RangeError(`${name}: expected length ${d}, got ${v.length}`);
}

export function validatePlain(params: Params, y: Int8Array): { valid: 0 | 1; norm: number } {
  checkParams(params);
  checkVec("y", y, params.d);
  const norm = normPlain(y);
  return { valid: norm >= params.normLo && norm <= params.normHi ? 1 : 0, norm };
}

export function verifyPlain(params: Params, x: Int8Array, y: Int8Array): { valid: 0 | 1; match: 0 | 1; score: number; norm: number } {
  checkParams(params);
  checkVec("x", x, params.d);
  checkVec("y", y, params.d);
  const norm = normPlain(x);
  const score = dotPlain(x, y);
  const valid = norm >= params.normLo && norm <= params.normHi ? 1 : 0;
  return { valid, match: valid && score >= params.threshold ? 1 : 0, score, norm };
}
