/**
 * Post-processing of the face detector (`fr_detect.onnx` of faceplugin-face-recognition-js, an
 * Ultra-Light-Fast-Generic-Face-Detector RFB-320 net: input [1,3,240,320] RGB (v−127)/128, outputs
 * `scores` [1,4420,2] (softmax, index 1 = face) and `boxes` [1,4420,4], already decoded to
 * corner form (x1, y1, x2, y2) in [0, 1] image units).
 *
 * `decodeDetections` keeps boxes above the confidence threshold, runs greedy non-maximum suppression
 * (IoU > `iou` suppressed, highest score first) and returns boxes in frame pixels.
 * `chooseFace` picks the face to use: the largest, with a penalty for distance from the frame centre.
 */

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
}

export function boxArea(b: Box): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

function iou(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (boxArea(a) + boxArea(b) - inter);
}

export function decodeDetections(
  scores: Float32Array,
  boxes: Float32Array,
  width: number,
  height: number,
  threshold: number,
  iouThreshold = 0.3,
): Box[] {
  const n = scores.length / 2;
  const cand: Box[] = [];
  for (let i = 0; i < n; i++) {
    const s = scores[2 * i + 1];
    if (s < threshold) continue;
    cand.push({
      x1: boxes[4 * i] * width,
      y1: boxes[4 * i + 1] * height,
      x2: boxes[4 * i + 2] * width,
      y2: boxes[4 * i + 3] * height,
      score: s,
    });
  }
  cand.sort((a, b) => b.score - a.score);
  const kept: Box[] = [];
  for (const c of cand) {
    if (c.x2 <= c.x1 || c.y2 <= c.y1) continue;
    if (kept.every((k) => iou(k, c) <= iouThreshold)) kept.push(c);
  }
  return kept;
}

/** Weight of a face for selection: its side length, reduced by up to half for distance from centre. */
export function faceWeight(b: Box, width: number, height: number): number {
  const cx = (b.x1 + b.x2) / 2 - width / 2;
  const cy = (b.y1 + b.y2) / 2 - height / 2;
  const dist = Math.hypot(cx / width, cy / height) / Math.SQRT1_2; // 0 at centre, 1 at a corner
  return Math.sqrt(boxArea(b)) * (1 - 0.5 * Math.min(1, dist));
}

/** Index of the chosen face (−1 when none), and whether another face is nearly as large. */
export function chooseFace(faces: Box[], width: number, height: number, rivalRatio: number): { index: number; rival: boolean } {
  let best = -1;
  let bestW = -1;
  for (let i = 0; i < faces.length; i++) {
    const w = faceWeight(faces[i], width, height);
    if (w > bestW) {
      bestW = w;
      best = i;
    }
  }
  if (best < 0) return { index: -1, rival: false };
  const side = Math.sqrt(boxArea(faces[best]));
  const rival = faces.some((f, i) => i !== best && Math.sqrt(boxArea(f)) >= rivalRatio * side);
  return { index: best, rival };
}
