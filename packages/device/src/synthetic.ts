/**
 * Generated frame sequences of a face performing liveness actions, for tests and benchmarks (no
 * camera, no video file): one still photograph of a face is warped frame by frame.
 *
 * - turn-left / turn-right: a smooth horizontal displacement of the face around the nose (the middle
 *   of the face moves, its outline stays), as the nose moves between the cheeks when a head turns;
 * - blink: each eye is painted over with the skin colour below it and a dark lid line;
 * - open-mouth: the chin and lower lip are pulled down and a dark opening drawn between the lips.
 *
 * They are crude: they move the landmark measures the way the real action does, which is what the
 * tracker reads, and nothing more. A sequence is neutral frames, then per action a ramp in, a hold,
 * a ramp out and neutral frames again, at `fps` frames a second. Pure (typed arrays only).
 */
import type { LivenessAction } from "@privface/contracts";

export type Point = [number, number];

/** Where the face's parts are in the base frame (the 5 alignment points: eyes, nose tip, mouth corners). */
export interface FaceGeometry {
  eyes: [Point, Point];
  nose: Point;
  mouth: [Point, Point];
}

export interface RgbaFrameLike {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

function bilinear(src: RgbaFrameLike, x: number, y: number, c: number): number {
  const w = src.width;
  const h = src.height;
  x = Math.min(Math.max(x, 0), w - 1.001);
  y = Math.min(Math.max(y, 0), h - 1.001);
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const d = src.data;
  const p = (yy: number, xx: number) => d[(yy * w + xx) * 4 + c];
  return (p(y0, x0) * (1 - fx) + p(y0, x0 + 1) * fx) * (1 - fy) + (p(y0 + 1, x0) * (1 - fx) + p(y0 + 1, x0 + 1) * fx) * fy;
}

/** The face in `base` doing `action` at strength `amount` (0 = neutral, 1 = full). */
export function actionFrame(base: RgbaFrameLike, g: FaceGeometry, action: LivenessAction, amount: number): { data: Uint8Array; width: number; height: number } {
  const { width: w, height: h } = base;
  const out = new Uint8Array(base.data);
  if (amount <= 0) return { data: out, width: w, height: h };
  const iod = Math.hypot(g.eyes[1][0] - g.eyes[0][0], g.eyes[1][1] - g.eyes[0][1]);
  const eyeY = (g.eyes[0][1] + g.eyes[1][1]) / 2;
  const mouthC: Point = [(g.mouth[0][0] + g.mouth[1][0]) / 2, (g.mouth[0][1] + g.mouth[1][1]) / 2];
  const mw = Math.hypot(g.mouth[1][0] - g.mouth[0][0], g.mouth[1][1] - g.mouth[0][1]);
  if (action === "turn-left" || action === "turn-right") {
    // + moves the nose towards the right of the picture (the person turns to their own left)
    const shift = (action === "turn-left" ? 1 : -1) * amount * 1.0 * iod;
    const rx = 1.25 * iod;
    const y0 = eyeY - 1.3 * iod;
    const y1 = mouthC[1] + 1.2 * iod;
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(h, Math.ceil(y1)); y++) {
      const vy = Math.sin((Math.PI * (y - y0)) / (y1 - y0));
      for (let x = Math.max(0, Math.floor(g.nose[0] - rx)); x < Math.min(w, Math.ceil(g.nose[0] + rx)); x++) {
        const u = (x - g.nose[0]) / rx;
        const dx = shift * Math.cos((Math.PI / 2) * u) * vy;
        const o = (y * w + x) * 4;
        for (let c = 0; c < 3; c++) out[o + c] = bilinear(base, x - dx, y, c);
      }
    }
    return { data: out, width: w, height: h };
  }
  if (action === "blink") {
    for (const e of g.eyes) {
      // skin colour: mean of a patch 0.4 IOD below the eye
      const sk = [0, 0, 0];
      let n = 0;
      for (let y = Math.round(e[1] + 0.35 * iod); y < e[1] + 0.45 * iod; y++)
        for (let x = Math.round(e[0] - 0.1 * iod); x < e[0] + 0.1 * iod; x++) {
          if (x < 0 || y < 0 || x >= w || y >= h) continue;
          for (let c = 0; c < 3; c++) sk[c] += base.data[(y * w + x) * 4 + c];
          n++;
        }
      for (let c = 0; c < 3; c++) sk[c] /= Math.max(1, n);
      const ax = 0.34 * iod;
      const ay = 0.2 * iod;
      for (let y = Math.floor(e[1] - ay); y <= e[1] + ay; y++) {
        for (let x = Math.floor(e[0] - ax); x <= e[0] + ax; x++) {
          if (x < 0 || y < 0 || x >= w || y >= h) continue;
          const q = ((x - e[0]) / ax) ** 2 + ((y - e[1]) / ay) ** 2;
          if (q > 1) continue;
          const lid = Math.abs(y - (e[1] + 0.03 * iod)) < Math.max(1, 0.025 * iod) && q < 0.8;
          const o = (y * w + x) * 4;
          for (let c = 0; c < 3; c++) {
            const target = lid ? sk[c] * 0.45 : sk[c];
            out[o + c] = out[o + c] * (1 - amount) + target * amount;
          }
        }
      }
    }
    return { data: out, width: w, height: h };
  }
  // open-mouth: pull everything below the mouth line down, then draw the opening
  const drop = amount * 0.8 * mw;
  const rx = 1.1 * iod;
  const yTop = mouthC[1];
  const yBot = mouthC[1] + 1.6 * iod;
  for (let y = Math.max(0, Math.floor(yTop)); y < Math.min(h, Math.ceil(yBot)); y++) {
    const vy = y < yTop + drop ? (y - yTop) / Math.max(1, drop) : Math.max(0, 1 - (y - yTop - drop) / (yBot - yTop - drop));
    for (let x = Math.max(0, Math.floor(mouthC[0] - rx)); x < Math.min(w, Math.ceil(mouthC[0] + rx)); x++) {
      const u = (x - mouthC[0]) / rx;
      const dy = drop * Math.cos((Math.PI / 2) * u) * Math.min(1, vy + 0.0);
      const o = (y * w + x) * 4;
      for (let c = 0; c < 3; c++) out[o + c] = bilinear(base, x, y - dy, c);
    }
  }
  const ax = 0.5 * mw;
  const ay = drop / 2;
  const cy = mouthC[1] + ay;
  for (let y = Math.floor(cy - ay); y <= cy + ay; y++) {
    for (let x = Math.floor(mouthC[0] - ax); x <= mouthC[0] + ax; x++) {
      if (x < 0 || y < 0 || x >= w || y >= h) continue;
      if (((x - mouthC[0]) / ax) ** 2 + ((y - cy) / Math.max(1, ay)) ** 2 > 1) continue;
      const o = (y * w + x) * 4;
      out[o] = 60;
      out[o + 1] = 25;
      out[o + 2] = 30;
    }
  }
  return { data: out, width: w, height: h };
}

export interface SequenceOptions {
  /** frames a second (default 8) */
  fps?: number;
  /** neutral frames at the start, and after each action (default 3 / 2) */
  lead?: number;
  rest?: number;
  /** frames ramping in and out, and held at full strength (default 1 / 2) */
  ramp?: number;
  hold?: number;
  /** time of the first frame, ms (default 0) */
  t0?: number;
}

export interface TimedFrame {
  frame: { data: Uint8Array; width: number; height: number };
  t: number;
}

/** The face in `base` performing `actions` in order (see the module comment). */
export function actionSequence(base: RgbaFrameLike, g: FaceGeometry, actions: readonly LivenessAction[], o: SequenceOptions = {}): TimedFrame[] {
  const fps = o.fps ?? 8;
  const lead = o.lead ?? 3;
  const rest = o.rest ?? 2;
  const ramp = o.ramp ?? 1;
  const hold = o.hold ?? 2;
  const out: TimedFrame[] = [];
  const push = (a: LivenessAction | undefined, amount: number) => {
    out.push({ frame: a ? actionFrame(base, g, a, amount) : actionFrame(base, g, "blink", 0), t: (o.t0 ?? 0) + Math.round((out.length * 1000) / fps) });
  };
  for (let i = 0; i < lead; i++) push(undefined, 0);
  for (const a of actions) {
    for (let i = 1; i <= ramp; i++) push(a, i / (ramp + 1));
    for (let i = 0; i < hold; i++) push(a, 1);
    for (let i = ramp; i >= 1; i--) push(a, i / (ramp + 1));
    for (let i = 0; i < rest; i++) push(undefined, 0);
  }
  return out;
}
