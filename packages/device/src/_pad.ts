/**
 * A cheap passive presentation-attack cue computed on the frame: the straight border of a phone
 * screen, a tablet or a printed photograph around the face.
 *
 * A replayed or printed face is shown inside a rectangle (the screen's bezel, the paper's edge) that
 * sits close around the head, while a live face has no such frame of its own. The cue looks, on each
 * of the four sides of the face box, for the strongest straight line roughly parallel to that side
 * (within ±`maxTiltDeg`) in a band outside the face: the strength of a line is the share of its
 * length made of edge pixels oriented across it (so a line of texture or a face contour does not
 * count). A rectangle shows on at least two sides, a chance door frame or shelf edge behind a live
 * person usually on one: the cue is the second-strongest side, in [0, 1].
 *
 * Everything runs on a grey copy of the region around the face scaled so that the face box is
 * `faceSide` pixels wide (≈ 0.3 ms per frame). Pure function over typed arrays (Node and browser).
 */
import type { Box } from "./_detect.ts";
import type { Frame } from "./_image.ts";

export interface BorderCueOptions {
  /** face box width after scaling, in pixels (default 48) */
  faceSide?: number;
  /** how far from the face box a border is looked for, in face widths: [near, far] (default [0.12, 1.6]) */
  band?: [number, number];
  /** largest tilt of a border line from the vertical / horizontal, degrees (default 12) */
  maxTiltDeg?: number;
  /** minimum grey-level step across an edge pixel (Sobel / 8, default 10) */
  minStep?: number;
}

export interface BorderCue {
  /** the cue: second-strongest side, 0 (no frame) … 1 (a full rectangle around the face) */
  score: number;
  /** strength of the best line on each side */
  sides: { left: number; right: number; top: number; bottom: number };
}

interface Grey {
  g: Float32Array;
  w: number;
  h: number;
  /** scale: region pixels per frame pixel */
  s: number;
  /** region origin in frame pixels */
  ox: number;
  oy: number;
}

/** Grey (BT.601) copy of a frame rectangle, area-averaged to scale `s` (nearest rows/cols, box filter). */
function greyRegion(f: Frame, x0: number, y0: number, x1: number, y1: number, s: number): Grey {
  const ox = Math.max(0, Math.floor(x0));
  const oy = Math.max(0, Math.floor(y0));
  const ex = Math.min(f.width, Math.ceil(x1));
  const ey = Math.min(f.height, Math.ceil(y1));
  const w = Math.max(1, Math.floor((ex - ox) * s));
  const h = Math.max(1, Math.floor((ey - oy) * s));
  const g = new Float32Array(w * h);
  const step = 1 / s;
  const k = Math.max(1, Math.floor(step));
  const d = f.data;
  for (let j = 0; j < h; j++) {
    const sy = Math.min(ey - k, Math.floor(oy + j * step));
    for (let i = 0; i < w; i++) {
      const sx = Math.min(ex - k, Math.floor(ox + i * step));
      let acc = 0;
      for (let yy = 0; yy < k; yy++) {
        let p = ((sy + yy) * f.width + sx) * 4;
        for (let xx = 0; xx < k; xx++, p += 4) acc += 0.299 * d[p] + 0.587 * d[p + 1] + 0.114 * d[p + 2];
      }
      g[j * w + i] = acc / (k * k);
    }
  }
  return { g, w, h, s, ox, oy };
}

/**
 * Strength of the borders around the face box `box` in `f` (see the module comment).
 */
export function borderCue(f: Frame, box: Box, o: BorderCueOptions = {}): BorderCue {
  const faceSide = o.faceSide ?? 48;
  const [near, far] = o.band ?? [0.12, 1.6];
  const maxTilt = Math.tan(((o.maxTiltDeg ?? 12) * Math.PI) / 180);
  const minStep = (o.minStep ?? 10) * 8;
  const bw = box.x2 - box.x1;
  const bh = box.y2 - box.y1;
  const s = faceSide / bw;
  const r = greyRegion(f, box.x1 - (far + 0.1) * bw, box.y1 - (far + 0.1) * bw, box.x2 + (far + 0.1) * bw, box.y2 + (far + 0.1) * bw, s);
  const { g, w, h } = r;
  // Sobel: vertical-edge pixels (strong |gx|, dominant) and horizontal-edge pixels.
  const ev = new Uint8Array(w * h);
  const eh = new Uint8Array(w * h);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const gx = g[i - w + 1] + 2 * g[i + 1] + g[i + w + 1] - g[i - w - 1] - 2 * g[i - 1] - g[i + w - 1];
      const gy = g[i + w - 1] + 2 * g[i + w] + g[i + w + 1] - g[i - w - 1] - 2 * g[i - w] - g[i - w + 1];
      const ax = Math.abs(gx);
      const ay = Math.abs(gy);
      if (ax >= minStep && ax >= 2 * ay) ev[i] = 1;
      if (ay >= minStep && ay >= 2 * ax) eh[i] = 1;
    }
  }
  // Face box in region pixels.
  const fx1 = (box.x1 - r.ox) * s;
  const fx2 = (box.x2 - r.ox) * s;
  const fy1 = (box.y1 - r.oy) * s;
  const fy2 = (box.y2 - r.oy) * s;
  const fw = fx2 - fx1;
  const fh = fy2 - fy1;
  // Vertical lines (left / right): rows from 0.3 face heights above the box to 0.6 below it.
  const vSpan: [number, number] = [fy1 - 0.3 * fh, fy2 + 0.6 * fh];
  const hSpan: [number, number] = [fx1 - 0.4 * fw, fx2 + 0.4 * fw];
  const left = bestLine(ev, w, h, "v", [fx1 - far * fw, fx1 - near * fw], vSpan, maxTilt);
  const right = bestLine(ev, w, h, "v", [fx2 + near * fw, fx2 + far * fw], vSpan, maxTilt);
  const top = bestLine(eh, w, h, "h", [fy1 - far * fh, fy1 - near * fh], hSpan, maxTilt);
  const bottom = bestLine(eh, w, h, "h", [fy2 + near * fh, fy2 + far * fh], hSpan, maxTilt);
  const sorted = [left, right, top, bottom].sort((a, b) => b - a);
  return { score: sorted[1], sides: { left, right, top, bottom } };
}

/**
 * Best share of edge pixels along a straight line. `dir` "v": lines x = c + t·(y − yc) for c in
 * `across` and rows in `along`; "h": the transpose. A pixel counts when it or a neighbour across
 * the line is an edge pixel. Lines whose in-frame part is under half the span score 0; a line on the
 * region's outermost pixel (the frame border) is skipped.
 */
function bestLine(e: Uint8Array, w: number, h: number, dir: "v" | "h", across: [number, number], along: [number, number], maxTilt: number): number {
  const [A, L] = dir === "v" ? [w, h] : [h, w];
  const at = (a: number, l: number): number => (dir === "v" ? e[l * w + a] : e[a * w + l]);
  const l0 = Math.max(1, Math.round(along[0]));
  const l1 = Math.min(L - 2, Math.round(along[1]));
  const span = Math.round(along[1]) - Math.round(along[0]) + 1;
  if (l1 - l0 + 1 < span / 2) return 0;
  const c0 = Math.max(2, Math.round(across[0]));
  const c1 = Math.min(A - 3, Math.round(across[1]));
  const lc = (l0 + l1) / 2;
  const tilts = 13; // 2° steps over ±12°
  let best = 0;
  for (let t = 0; t < tilts; t++) {
    const slope = -maxTilt + (2 * maxTilt * t) / (tilts - 1);
    for (let c = c0; c <= c1; c++) {
      let hit = 0;
      let n = 0;
      for (let l = l0; l <= l1; l++) {
        const a = Math.round(c + slope * (l - lc));
        if (a < 1 || a > A - 2) continue;
        n++;
        if (at(a, l) || at(a - 1, l) || at(a + 1, l)) hit++;
      }
      if (n >= span / 2) {
        const v = hit / span;
        if (v > best) best = v;
      }
    }
  }
  return best;
}

/**
 * The fusion of the anti-spoofing net and the border cue, chosen on the development sets from a
 * measured DET curve (docs/face-model.md): z = log10(net + 1e-7) − 7 · border + 6.6, and the
 * reported liveness score is the logistic 1 / (1 + e^(−1.5 z)), so that the operating threshold
 * `MODEL.livenessThreshold` = 0.5 is z = 0. The net's live probability is used on a log scale
 * because on live webcam frames it is often 10⁻³…10⁻² (it was trained on other cameras) while
 * attacks sit at 10⁻⁷…10⁻⁴; a frame with a clear border needs a confident net to pass.
 */
export const PAD_FUSION = Object.freeze({ borderWeight: 7, offset: 6.6, slope: 1.5, floor: 1e-7, veto: 0.9 });

/**
 * The fused live score in [0, 1]. A border cue ≥ `veto` (a clear rectangle on at least two sides;
 * the highest cue of a live frame on the development sets was 0.76, generated phone replays score
 * ≥ 0.97) caps z at −1 whatever the net says: the net alone accepted a face shown on a generated
 * phone screen with 0.995.
 */
export function padScore(net: number, border: number): number {
  let z = Math.log10(Math.max(0, net) + PAD_FUSION.floor) - PAD_FUSION.borderWeight * border + PAD_FUSION.offset;
  if (border >= PAD_FUSION.veto) z = Math.min(z, -1);
  return 1 / (1 + Math.exp(-PAD_FUSION.slope * z));
}
