/**
 * The capture's quality gate and live guidance (pure: no DOM, no I/O; unit-tested in Node).
 *
 * For each camera frame the engine's `measureFrame` gives the face box and yaw; `assessFrame` adds
 * what the box's pixels say and returns the first thing the person should fix, in this order:
 * no face / several faces → face size (closer, farther) → position (centre) → pose (face the camera)
 * → light (too dark, too bright) → sharpness (hold still: the variance of the Laplacian of the face,
 * resampled to 96 px so the figure does not depend on the face's size) → motion since the previous
 * frame. A frame with nothing to fix is a candidate; the capture keeps the sharpest of
 * `BEST_OF` candidates (`pickBest`) and only that one is embedded.
 */

import { DEFAULT_ACTION_THRESHOLDS } from "@privface/device";

export type Guidance = "no-face" | "multiple-faces" | "closer" | "farther" | "center" | "face-camera" | "too-dark" | "too-bright" | "hold-still" | "good";

export interface FaceBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface Assessment {
  guidance: Guidance;
  /** face side / shorter frame side */
  size: number;
  /** mean luma of the face box, 0..255 */
  light: number;
  /** variance of the Laplacian of the face at 96 px */
  sharpness: number;
}

export const QUALITY = {
  minSize: 0.25,
  maxSize: 0.85,
  /** largest offset of the face centre from the frame centre, as a fraction of the frame side */
  maxOffset: 0.2,
  /** the SDK's own bound of "facing the camera" (the active-liveness baseline, `actions.ts`) */
  maxYaw: DEFAULT_ACTION_THRESHOLDS.maxBaselineYaw,
  minLight: 60,
  maxLight: 215,
  minSharpness: 20,
  /** largest move of the face centre between consecutive frames, as a fraction of the face side */
  maxMotion: 0.08,
} as const;

/** Frames that pass before one is chosen. */
export const BEST_OF = 3;

/** Luma of the face box resampled to 96×96 (nearest), as a Float32Array. */
function faceLuma(rgba: ArrayLike<number>, width: number, height: number, b: FaceBox): Float32Array {
  const n = 96;
  const out = new Float32Array(n * n);
  const w = Math.max(1, b.x2 - b.x1);
  const h = Math.max(1, b.y2 - b.y1);
  for (let j = 0; j < n; j++) {
    const y = Math.min(height - 1, Math.max(0, Math.floor(b.y1 + ((j + 0.5) * h) / n)));
    for (let i = 0; i < n; i++) {
      const x = Math.min(width - 1, Math.max(0, Math.floor(b.x1 + ((i + 0.5) * w) / n)));
      const o = (y * width + x) * 4;
      out[j * n + i] = 0.299 * rgba[o] + 0.587 * rgba[o + 1] + 0.114 * rgba[o + 2];
    }
  }
  return out;
}

/** Mean luma and variance of the 4-neighbour Laplacian of the 96×96 face. */
export function lightAndSharpness(rgba: ArrayLike<number>, width: number, height: number, b: FaceBox): { light: number; sharpness: number } {
  const n = 96;
  const g = faceLuma(rgba, width, height, b);
  let sum = 0;
  for (const v of g) sum += v;
  let s = 0;
  let s2 = 0;
  let k = 0;
  for (let j = 1; j < n - 1; j++)
    for (let i = 1; i < n - 1; i++) {
      const c = j * n + i;
      const l = g[c - 1] + g[c + 1] + g[c - n] + g[c + n] - 4 * g[c];
      s += l;
      s2 += l * l;
      k++;
    }
  g.fill(0);
  const mean = s / k;
  return { light: sum / (n * n), sharpness: s2 / k - mean * mean };
}

/**
 * What to tell the person about one frame. `measure` is the engine's measureFrame result;
 * `previous` the face box of the frame before (for motion).
 */
export function assessFrame(
  frame: { data: ArrayLike<number>; width: number; height: number },
  measure: { ok: true; box: FaceBox; yaw: number } | { ok: false; error: string },
  previous?: FaceBox,
): Assessment {
  if (!measure.ok) {
    const guidance: Guidance = measure.error === "MULTIPLE_FACES" ? "multiple-faces" : measure.error === "FACE_TOO_SMALL" ? "closer" : "no-face";
    return { guidance, size: 0, light: 0, sharpness: 0 };
  }
  const b = measure.box;
  const side = Math.max(b.x2 - b.x1, b.y2 - b.y1);
  const short = Math.min(frame.width, frame.height);
  const size = side / short;
  const { light, sharpness } = lightAndSharpness(frame.data, frame.width, frame.height, b);
  const out = (guidance: Guidance): Assessment => ({ guidance, size, light, sharpness });
  if (size < QUALITY.minSize) return out("closer");
  if (size > QUALITY.maxSize) return out("farther");
  const cx = (b.x1 + b.x2) / 2;
  const cy = (b.y1 + b.y2) / 2;
  if (Math.abs(cx - frame.width / 2) > QUALITY.maxOffset * frame.width || Math.abs(cy - frame.height / 2) > QUALITY.maxOffset * frame.height) return out("center");
  if (Math.abs(measure.yaw) > QUALITY.maxYaw) return out("face-camera");
  if (light < QUALITY.minLight) return out("too-dark");
  if (light > QUALITY.maxLight) return out("too-bright");
  if (sharpness < QUALITY.minSharpness) return out("hold-still");
  if (previous) {
    const moved = Math.hypot(cx - (previous.x1 + previous.x2) / 2, cy - (previous.y1 + previous.y2) / 2);
    if (moved > QUALITY.maxMotion * side) return out("hold-still");
  }
  return out("good");
}

/** Index of the sharpest of the candidates (ties: the earliest). */
export function pickBest(candidates: readonly Assessment[]): number {
  let best = 0;
  for (let i = 1; i < candidates.length; i++) if (candidates[i].sharpness > candidates[best].sharpness) best = i;
  return best;
}
