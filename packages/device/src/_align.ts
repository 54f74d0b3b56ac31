/**
 * Face alignment: the least-squares 2-D similarity transform (rotation, uniform scale, translation)
 * that maps five facial points (eye centres, nose tip, mouth corners) onto the standard ArcFace
 * 112×112 reference points — Umeyama, "Least-squares estimation of transformation parameters between
 * two point patterns", IEEE TPAMI 13(4), 1991, restricted to 2-D without reflection (what
 * `skimage.transform.SimilarityTransform.estimate` and insightface's `norm_crop` compute).
 *
 * `fivePoints` reduces the 68-point iBUG layout to those five points.
 */
import type { Affine } from "./_image.ts";

/** The ArcFace reference points for a 112×112 crop (insightface `arcface_dst`). */
export const ARCFACE_REF: ReadonlyArray<readonly [number, number]> = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

export type Point = [number, number];

/**
 * Five alignment points from 68 iBUG landmarks (flat [x0, y0, x1, y1, …]): eye centres = mean of
 * points 36–41 and 42–47, nose tip = 30, mouth corners = 48 and 54.
 */
export function fivePoints(lm: ArrayLike<number>): Point[] {
  if (lm.length !== 136) throw new RangeError(`fivePoints: lm must have 136 values, got ${lm.length}`);
  const mean = (from: number, to: number): Point => {
    let x = 0;
    let y = 0;
    for (let i = from; i <= to; i++) {
      x += lm[2 * i];
      y += lm[2 * i + 1];
    }
    const n = to - from + 1;
    return [x / n, y / n];
  };
  const pt = (i: number): Point => [lm[2 * i], lm[2 * i + 1]];
  return [mean(36, 41), mean(42, 47), pt(30), pt(48), pt(54)];
}

/** Least-squares similarity transform mapping `src` onto `dst` (same length ≥ 2). */
export function similarityTransform(src: ReadonlyArray<readonly [number, number]>, dst: ReadonlyArray<readonly [number, number]>): Affine {
  const n = src.length;
  if (n < 2 || dst.length !== n) throw new RangeError("similarityTransform: need ≥ 2 point pairs of equal count");
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i][0]; sy += src[i][1]; dx += dst[i][0]; dy += dst[i][1];
  }
  sx /= n; sy /= n; dx /= n; dy /= n;
  // For a 2-D similarity without reflection the least-squares solution is closed-form:
  // a = Σ(x·u + y·v)/Σ|p|², b = Σ(x·v − y·u)/Σ|p|² with p = src − mean, q = (u, v) = dst − mean.
  let num1 = 0, num2 = 0, den = 0;
  for (let i = 0; i < n; i++) {
    const x = src[i][0] - sx;
    const y = src[i][1] - sy;
    const u = dst[i][0] - dx;
    const v = dst[i][1] - dy;
    num1 += x * u + y * v;
    num2 += x * v - y * u;
    den += x * x + y * y;
  }
  if (den === 0) throw new RangeError("similarityTransform: source points coincide");
  const a = num1 / den;
  const b = num2 / den;
  // [u v]ᵀ = [[a, −b], [b, a]] [x y]ᵀ + t
  return [a, -b, dx - (a * sx - b * sy), b, a, dy - (b * sx + a * sy)];
}
