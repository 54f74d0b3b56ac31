/**
 * The camera faces of the POS tests: faces of
 * the group photos that @vladmandic/face-api ships in its npm package (demo/sample*.jpg, MIT), found
 * once with the face detector; each is cut into a 640×480 frame with the face ≈ 220 px.
 * Face A: sample2 (the person who enrols); face B: sample1 (another person); face L: sample3, the
 * person of the active-liveness test, whose photo the synthetic warps (`@privface/device`
 * `actionFrame`) make perform every action well enough for the tracker. "A photo": face A's
 * frame as a photo held up in front of a white wall (70 % of the frame, the photo's edges in view),
 * which the passive liveness check refuses (spoof suspected).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { decodeImageFile } from "@privface/device/decode";
import { faceFrame, type RgbaImage } from "@privface/devstack";

const require = createRequire(import.meta.url);
const demoDir = join(dirname(require.resolve("@vladmandic/face-api/package.json")), "demo");

export const FACES = {
  A: { sample: 2, x: 890, y: 265, side: 178 },
  B: { sample: 1, x: 1456, y: 208, side: 248 },
  L: { sample: 3, x: 1037, y: 200, side: 265 },
} as const;

export async function cameraFrame(name: keyof typeof FACES | "A photo"): Promise<RgbaImage> {
  if (name === "A photo") return photoOf(await cameraFrame("A"), 0.7, 230);
  const f = FACES[name];
  const img = await decodeImageFile(join(demoDir, `sample${f.sample}.jpg`));
  return faceFrame(img, { x1: f.x, y1: f.y, x2: f.x + f.side, y2: f.y + f.side }, name === "L" ? 200 : 220);
}

/** `f` shrunk by `k` into the middle of a frame of one grey level `bg` (a photo held up to the camera). */
function photoOf(f: RgbaImage, k: number, bg: number): RgbaImage {
  const { width: W, height: H } = f;
  const out = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 4;
      const sx = Math.floor((x - (W * (1 - k)) / 2) / k);
      const sy = Math.floor((y - (H * (1 - k)) / 2) / k);
      const inside = sx >= 0 && sy >= 0 && sx < W && sy < H;
      for (let c = 0; c < 3; c++) out[o + c] = inside ? f.data[(sy * W + sx) * 4 + c] : bg;
      out[o + 3] = 255;
    }
  return { data: out, width: W, height: H };
}
