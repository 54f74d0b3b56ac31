/**
 * Chromium's fake camera for the browser tests (STACK.md (d)): a face frame cut from a photo and
 * written as a one-frame Y4M video, which Chromium loops as the camera
 * (`--use-file-for-fake-video-capture=FILE`).
 */
import { writeFileSync } from "node:fs";

export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** RGB → BT.601 limited-range I420, one frame; width and height must be even. */
export function writeY4m(path: string, img: RgbaImage): void {
  const W = img.width;
  const H = img.height;
  if (W % 2 || H % 2) throw new RangeError("writeY4m: width and height must be even");
  const cl = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  const px = (x: number, y: number) => {
    const o = (y * W + x) * 4;
    return [img.data[o], img.data[o + 1], img.data[o + 2]];
  };
  const Y = Buffer.alloc(W * H);
  const U = Buffer.alloc((W * H) / 4);
  const V = Buffer.alloc((W * H) / 4);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const [r, g, b] = px(x, y);
    Y[y * W + x] = cl(16 + 0.257 * r + 0.504 * g + 0.098 * b);
  }
  for (let y = 0; y < H / 2; y++) for (let x = 0; x < W / 2; x++) {
    let R = 0, G = 0, B = 0;
    for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
      const [r, g, b] = px(2 * x + dx, 2 * y + dy);
      R += r / 4; G += g / 4; B += b / 4;
    }
    U[(y * W) / 2 + x] = cl(128 - 0.148 * R - 0.291 * G + 0.439 * B);
    V[(y * W) / 2 + x] = cl(128 + 0.439 * R - 0.368 * G - 0.071 * B);
  }
  writeFileSync(path, Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F15:1 Ip A1:1 C420jpeg\nFRAME\n`), Y, U, V]));
}

/**
 * A `width`×`height` frame centred on a face box of `src`, scaled so the box's larger side is
 * `side` pixels (bilinear; grey outside the photo).
 */
export function faceFrame(src: RgbaImage, box: { x1: number; y1: number; x2: number; y2: number }, side: number, width = 640, height = 480): RgbaImage {
  const scale = Math.max(box.x2 - box.x1, box.y2 - box.y1) / side;
  const cx = (box.x1 + box.x2) / 2;
  const cy = (box.y1 + box.y2) / 2;
  const out = new Uint8Array(width * height * 4);
  for (let j = 0; j < height; j++)
    for (let i = 0; i < width; i++) {
      const x = cx + (i - width / 2) * scale;
      const y = cy + (j - height / 2) * scale;
      const o = (j * width + i) * 4;
      out[o + 3] = 255;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      if (x0 < 0 || y0 < 0 || x0 + 1 >= src.width || y0 + 1 >= src.height) {
        out[o] = out[o + 1] = out[o + 2] = 128;
        continue;
      }
      const fx = x - x0;
      const fy = y - y0;
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => src.data[(yy * src.width + xx) * 4 + c];
        out[o + c] = Math.round((p(y0, x0) * (1 - fx) + p(y0, x0 + 1) * fx) * (1 - fy) + (p(y0 + 1, x0) * (1 - fx) + p(y0 + 1, x0 + 1) * fx) * fy);
      }
    }
  return { data: out, width, height };
}
