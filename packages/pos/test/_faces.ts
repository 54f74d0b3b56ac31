/**
 * The camera faces of the POS tests: near-frontal faces (|yaw| ≤ 0.25, well inside the gate) of two
 * group photos that @vladmandic/face-api ships in its npm package (demo/sample*.jpg, MIT), found
 * once with the face detector; each is cut into a 640×480 frame with the face ≈ 220 px.
 * Face A: sample2 (the person who enrols); face B: sample1 (another person).
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
} as const;

export async function cameraFrame(name: keyof typeof FACES): Promise<RgbaImage> {
  const f = FACES[name];
  const img = await decodeImageFile(join(demoDir, `sample${f.sample}.jpg`));
  return faceFrame(img, { x1: f.x, y1: f.y, x2: f.x + f.side, y2: f.y + f.side }, 220);
}
