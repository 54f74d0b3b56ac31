/**
 * Pixel helpers for the face pipeline: everything turns an RGBA frame (row-major, 4 bytes a pixel, as
 * `ImageData.data` or a decoded JPEG/PNG gives it) into the planar float tensors the ONNX nets take.
 *
 * - `resizeToPlanar` — bilinear resize of a rectangle of the frame to W×H, channel order and value
 *   mapping chosen by the caller (detector: RGB (v−127)/128; liveness: BGR raw 0…255).
 * - `cropGrey` — bilinear square crop to W×H grey, v/256 (landmark net input).
 * - `warpAffine` — inverse-mapped bilinear warp through a 2×3 matrix (face alignment to 112×112);
 *   samples outside the frame read as black, as OpenCV's `warpAffine` does with its default border.
 *
 * Pure functions over typed arrays; no canvas, so they run the same in Node and the browser.
 */

export interface Frame {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** A 2×3 affine matrix [a, b, c, d, e, f]: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type Affine = [number, number, number, number, number, number];

/** Bilinear sample of channel `c` at (x, y); coordinates are clamped to the frame (edge replicate). */
function sampleClamped(f: Frame, x: number, y: number, c: number): number {
  const w = f.width;
  const h = f.height;
  if (x < 0) x = 0;
  else if (x > w - 1) x = w - 1;
  if (y < 0) y = 0;
  else if (y > h - 1) y = h - 1;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const x1 = x0 + 1 < w ? x0 + 1 : x0;
  const y1 = y0 + 1 < h ? y0 + 1 : y0;
  const fx = x - x0;
  const fy = y - y0;
  const d = f.data;
  const p00 = d[(y0 * w + x0) * 4 + c];
  const p01 = d[(y0 * w + x1) * 4 + c];
  const p10 = d[(y1 * w + x0) * 4 + c];
  const p11 = d[(y1 * w + x1) * 4 + c];
  return (p00 * (1 - fx) + p01 * fx) * (1 - fy) + (p10 * (1 - fx) + p11 * fx) * fy;
}

export interface PlanarOptions {
  /** source rectangle in frame pixels (may extend past the frame: edges are replicated) */
  x: number;
  y: number;
  w: number;
  h: number;
  outW: number;
  outH: number;
  /** channel order of the output planes: indices into RGBA, e.g. [0,1,2] for RGB, [2,1,0] for BGR */
  order: [number, number, number];
  /** value mapping v → (v − sub) / div */
  sub: number;
  div: number;
}

/** Bilinear resize of a frame rectangle into a planar float32 [3, outH, outW] tensor. */
export function resizeToPlanar(f: Frame, o: PlanarOptions): Float32Array {
  const out = new Float32Array(3 * o.outW * o.outH);
  const plane = o.outW * o.outH;
  const sx = o.w / o.outW;
  const sy = o.h / o.outH;
  for (let j = 0; j < o.outH; j++) {
    const y = o.y + (j + 0.5) * sy - 0.5;
    for (let i = 0; i < o.outW; i++) {
      const x = o.x + (i + 0.5) * sx - 0.5;
      const k = j * o.outW + i;
      for (let c = 0; c < 3; c++) {
        out[c * plane + k] = (sampleClamped(f, x, y, o.order[c]) - o.sub) / o.div;
      }
    }
  }
  return out;
}

/**
 * Area-averaging downscale when the source is much larger than the output would otherwise alias;
 * used for the detector input, where a 1280-wide frame goes to 320. Falls back to bilinear when the
 * scale is below 2.
 */
export function downscaleToPlanar(f: Frame, o: PlanarOptions): Float32Array {
  const sx = o.w / o.outW;
  const sy = o.h / o.outH;
  if (sx < 2 && sy < 2) return resizeToPlanar(f, o);
  const out = new Float32Array(3 * o.outW * o.outH);
  const plane = o.outW * o.outH;
  const d = f.data;
  for (let j = 0; j < o.outH; j++) {
    const ya = Math.max(0, Math.floor(o.y + j * sy));
    const yb = Math.min(f.height, Math.max(ya + 1, Math.floor(o.y + (j + 1) * sy)));
    for (let i = 0; i < o.outW; i++) {
      const xa = Math.max(0, Math.floor(o.x + i * sx));
      const xb = Math.min(f.width, Math.max(xa + 1, Math.floor(o.x + (i + 1) * sx)));
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let n = 0;
      for (let y = ya; y < yb; y++) {
        for (let x = xa; x < xb; x++) {
          const p = (y * f.width + x) * 4;
          s0 += d[p + o.order[0]];
          s1 += d[p + o.order[1]];
          s2 += d[p + o.order[2]];
          n++;
        }
      }
      const k = j * o.outW + i;
      if (n === 0) n = 1;
      out[k] = (s0 / n - o.sub) / o.div;
      out[plane + k] = (s1 / n - o.sub) / o.div;
      out[2 * plane + k] = (s2 / n - o.sub) / o.div;
    }
  }
  return out;
}

/** Square crop resized to out×out grey (BT.601 luma), values v/256: the landmark net's input (optionally mirrored). */
export function cropGrey(f: Frame, x: number, y: number, side: number, out: number, mirror = false): Float32Array {
  const res = new Float32Array(out * out);
  const s = side / out;
  for (let j = 0; j < out; j++) {
    const sy = y + (j + 0.5) * s - 0.5;
    for (let i = 0; i < out; i++) {
      const sx = x + ((mirror ? out - 1 - i : i) + 0.5) * s - 0.5;
      const r = sampleClamped(f, sx, sy, 0);
      const g = sampleClamped(f, sx, sy, 1);
      const b = sampleClamped(f, sx, sy, 2);
      res[j * out + i] = (0.299 * r + 0.587 * g + 0.114 * b) / 256;
    }
  }
  return res;
}

/** Inverse of a 2×3 affine matrix. */
export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (det === 0 || !Number.isFinite(det)) throw new RangeError("invertAffine: matrix is singular");
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/**
 * Warps the frame through `m` (frame → output coordinates) into an RGBA out×out image; pixels that
 * map outside the frame are black. Returns interleaved RGBA bytes so it can be flipped and reused.
 */
export function warpAffineRgb(f: Frame, m: Affine, outW: number, outH: number): Uint8Array {
  const inv = invertAffine(m);
  const res = new Uint8Array(outW * outH * 3);
  const w = f.width;
  const h = f.height;
  const d = f.data;
  for (let j = 0; j < outH; j++) {
    for (let i = 0; i < outW; i++) {
      const x = inv[0] * i + inv[1] * j + inv[2];
      const y = inv[3] * i + inv[4] * j + inv[5];
      const o = (j * outW + i) * 3;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let dy = 0; dy < 2; dy++) {
          const yy = y0 + dy;
          if (yy < 0 || yy >= h) continue;
          const wy = dy === 0 ? 1 - fy : fy;
          for (let dx = 0; dx < 2; dx++) {
            const xx = x0 + dx;
            if (xx < 0 || xx >= w) continue;
            const wx = dx === 0 ? 1 - fx : fx;
            acc += d[(yy * w + xx) * 4 + c] * wx * wy;
          }
        }
        res[o + c] = Math.round(acc);
      }
    }
  }
  return res;
}

/** RGB bytes [H, W, 3] → planar float32 [3, H, W] with (v − 127.5)/128-style mapping, optionally mirrored. */
export function rgbToPlanar(rgb: Uint8Array, w: number, h: number, sub: number, div: number, mirror: boolean): Float32Array {
  const out = new Float32Array(3 * w * h);
  const plane = w * h;
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      const src = (j * w + (mirror ? w - 1 - i : i)) * 3;
      const k = j * w + i;
      out[k] = (rgb[src] - sub) / div;
      out[plane + k] = (rgb[src + 1] - sub) / div;
      out[2 * plane + k] = (rgb[src + 2] - sub) / div;
    }
  }
  return out;
}
