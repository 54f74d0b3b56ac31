/**
 * Test images: the six group photos that @vladmandic/face-api ships in its npm package
 * (demo/sample1.jpg … sample6.jpg, MIT), decoded with jpeg-js, and frames made from them by
 * cropping, scaling, mirroring and changing brightness (bilinear resampling). Nothing is read from
 * ../shared.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { decodeImageFile, type RgbaImage } from "../src/decode.ts";

const require = createRequire(import.meta.url);
const demoDir = join(dirname(require.resolve("@vladmandic/face-api/package.json")), "demo");

const cache = new Map<number, Promise<RgbaImage>>();

export function sample(n: 1 | 2 | 3 | 4 | 5 | 6): Promise<RgbaImage> {
  let p = cache.get(n);
  if (!p) {
    p = decodeImageFile(join(demoDir, `sample${n}.jpg`));
    cache.set(n, p);
  }
  return p;
}

export interface FrameSpec {
  /** centre of the region in the source, in source pixels */
  cx: number;
  cy: number;
  /** source pixels per output pixel */
  scale: number;
  width: number;
  height: number;
  mirror?: boolean;
  /** multiply every channel (clamped) */
  gain?: number;
  /** rotation in degrees around the centre */
  rotate?: number;
}

/** Resamples a region of `src` into a new RGBA frame (bilinear, grey outside the source). */
export function makeFrame(src: RgbaImage, s: FrameSpec): RgbaImage {
  const out = new Uint8Array(s.width * s.height * 4);
  const cos = Math.cos(((s.rotate ?? 0) * Math.PI) / 180);
  const sin = Math.sin(((s.rotate ?? 0) * Math.PI) / 180);
  const gain = s.gain ?? 1;
  for (let j = 0; j < s.height; j++) {
    for (let i = 0; i < s.width; i++) {
      let u = (i - s.width / 2) * s.scale;
      const v = (j - s.height / 2) * s.scale;
      if (s.mirror) u = -u;
      const x = s.cx + cos * u - sin * v;
      const y = s.cy + sin * u + cos * v;
      const o = (j * s.width + i) * 4;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      if (x0 < 0 || y0 < 0 || x0 + 1 >= src.width || y0 + 1 >= src.height) {
        out[o] = out[o + 1] = out[o + 2] = 128;
        out[o + 3] = 255;
        continue;
      }
      const fx = x - x0;
      const fy = y - y0;
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => src.data[(yy * src.width + xx) * 4 + c];
        const val = (p(y0, x0) * (1 - fx) + p(y0, x0 + 1) * fx) * (1 - fy) + (p(y0 + 1, x0) * (1 - fx) + p(y0 + 1, x0 + 1) * fx) * fy;
        out[o + c] = Math.max(0, Math.min(255, Math.round(val * gain)));
      }
      out[o + 3] = 255;
    }
  }
  return { data: out, width: s.width, height: s.height };
}

/** A frame with no face: a smooth colour gradient plus seeded noise. */
export function blankFrame(width: number, height: number, seed = 1): RgbaImage {
  const out = new Uint8Array(width * height * 4);
  let x = seed >>> 0 || 1;
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const n = (x >>> 0) % 17;
      const o = (j * width + i) * 4;
      out[o] = (i * 255) / width + n;
      out[o + 1] = (j * 255) / height;
      out[o + 2] = 160 + n;
      out[o + 3] = 255;
    }
  }
  return { data: out, width, height };
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return s / Math.sqrt(na * nb);
}

/**
 * A presentation attack made from a test photo: `face` (a frame showing a face) shown on a phone
 * screen (`sw`×`sh` pixels, a 12-pixel black bezel, tilted by `tilt` degrees) held in front of a
 * plain wall, in a 640×480 camera frame.
 */
export function phoneReplay(face: RgbaImage, sw: number, sh: number, tilt = 0): RgbaImage {
  const W = 640;
  const H = 480;
  const data = new Uint8Array(W * H * 4);
  const x0 = W / 2 - sw / 2;
  const y0 = H / 2 - sh / 2 + 20;
  const c = Math.cos((tilt * Math.PI) / 180);
  const s = Math.sin((tilt * Math.PI) / 180);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 4;
      const u = c * (x - W / 2) + s * (y - H / 2) + W / 2;
      const v = -s * (x - W / 2) + c * (y - H / 2) + H / 2;
      const wall = 200 - y / 10 + ((x * 7 + y * 13) % 5);
      let col = [wall, wall - 4, wall - 12];
      const sx = Math.round(((u - x0) * face.width) / sw);
      const sy = Math.round(((v - y0) * face.height) / sh);
      const bx = u - x0;
      const by = v - y0;
      if (bx >= -12 && bx < sw + 12 && by >= -12 && by < sh + 12) col = [20, 20, 22];
      if (bx >= 0 && bx < sw && by >= 0 && by < sh && sx < face.width && sy < face.height) {
        const p = (sy * face.width + sx) * 4;
        col = [face.data[p], face.data[p + 1], face.data[p + 2]];
      }
      data[o] = col[0];
      data[o + 1] = col[1];
      data[o + 2] = col[2];
      data[o + 3] = 255;
    }
  }
  return { data, width: W, height: H };
}

/** A frontal face of sample6.jpg (the second woman from the right), centred in a `width`×`height` frame with a face box of ≈ `side` pixels. */
export async function frontalFace(width = 480, height = 480, side = 200): Promise<RgbaImage> {
  return makeFrame(await sample(6), { cx: 1262, cy: 427, scale: 223 / side, width, height });
}
