/**
 * Verification accuracy from exact integer scores (int8 dot products): genuine and impostor score
 * lists → equal error rate, TAR at fixed FARs, and the operating threshold for a FAR.
 *
 * Decision rule everywhere: match ⇔ score ≥ threshold (non-strict, as in the MPC comparison).
 * - FAR(t) = #{impostor ≥ t} / #impostor, FRR(t) = #{genuine < t} / #genuine.
 * - `thresholdAtFar(f)`: the smallest integer t with FAR(t) ≤ f.
 * - `tarAtFar(f)` = 1 − FRR(thresholdAtFar(f)).
 * - EER: the mean of FAR and FRR at the candidate threshold where |FAR − FRR| is smallest.
 * Pure; runs in Node and the browser.
 */

export interface AccuracyReport {
  genuine: number;
  impostor: number;
  eer: number;
  eerThreshold: number;
  tarAtFar: Record<string, number>;
  thresholdAtFar: Record<string, number>;
}

/** Sorted copy (ascending) as an Int32Array. */
function sorted(a: ArrayLike<number>): Int32Array {
  const s = Int32Array.from(a);
  s.sort();
  return s;
}

/** Number of entries of ascending `s` that are ≥ t. */
function countAtLeast(s: Int32Array, t: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return s.length - lo;
}

/** Smallest integer threshold whose FAR on `impostorsSorted` is ≤ far. */
function thresholdFor(impostorsSorted: Int32Array, far: number): number {
  const n = impostorsSorted.length;
  const allowed = Math.floor(far * n); // at most this many impostors may be ≥ t
  if (allowed >= n) return impostorsSorted[0];
  // t must exceed the (allowed+1)-th largest impostor score
  return impostorsSorted[n - 1 - allowed] + 1;
}

export function accuracy(genuine: ArrayLike<number>, impostor: ArrayLike<number>, fars: number[] = [1e-2, 1e-3, 1e-4]): AccuracyReport {
  if (genuine.length === 0 || impostor.length === 0) throw new RangeError("accuracy: need at least one genuine and one impostor score");
  const g = sorted(genuine);
  const im = sorted(impostor);
  const far = (t: number) => countAtLeast(im, t) / im.length;
  const frr = (t: number) => 1 - countAtLeast(g, t) / g.length;
  // EER: scan candidate thresholds (every distinct score + 1 and the scores themselves) by bisection
  // on FAR − FRR, which is non-increasing in t.
  let lo = Math.min(g[0], im[0]);
  let hi = Math.max(g[g.length - 1], im[im.length - 1]) + 1;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (far(mid) > frr(mid)) lo = mid;
    else hi = mid;
  }
  const cand = [lo, hi];
  let best = cand[0];
  for (const t of cand) if (Math.abs(far(t) - frr(t)) < Math.abs(far(best) - frr(best))) best = t;
  const eer = (far(best) + frr(best)) / 2;
  const tarAtFar: Record<string, number> = {};
  const thresholdAtFar: Record<string, number> = {};
  for (const f of fars) {
    const t = thresholdFor(im, f);
    thresholdAtFar[farKey(f)] = t;
    tarAtFar[farKey(f)] = 1 - frr(t);
  }
  return { genuine: g.length, impostor: im.length, eer, eerThreshold: best, tarAtFar, thresholdAtFar };
}

/** FAR and FRR at one threshold. */
export function ratesAt(genuine: ArrayLike<number>, impostor: ArrayLike<number>, threshold: number): { far: number; frr: number } {
  let fa = 0;
  for (let i = 0; i < impostor.length; i++) if (impostor[i] >= threshold) fa++;
  let fr = 0;
  for (let i = 0; i < genuine.length; i++) if (genuine[i] < threshold) fr++;
  return { far: fa / impostor.length, frr: fr / genuine.length };
}

/** "1e-2", "1e-3", … */
export function farKey(f: number): string {
  return f.toExponential();
}
