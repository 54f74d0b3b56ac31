/**
 * `privface bench capture [--actions N] [--runs R] [--fps F]`: how long a live capture takes on this
 * machine (issue 17 target: the whole capture — active + passive + embedding — under 3 s for a
 * cooperative person). A generated sequence of a face from the npm-shipped test photo performing N
 * random actions (`actionSequence`: 3 frames facing the camera, then per action ramp, 2 frames held,
 * ramp, 2 frames back, ≈ 0.75 s an action at 8 frames a second) is played at camera pace: frame k is
 * handed over no earlier than k / fps seconds after the start. The time is from the first frame to
 * the embedding (`liveCapture`: tracking, the passive stage, two embeddings for the same-face check).
 * The person's own speed is the synthetic one: a real person takes about as long per action or more.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { drawActions, type LivenessAction } from "@privface/contracts";
import { actionSequence, createFaceEngine, liveCapture, type FaceEngine, type FaceGeometry } from "@privface/device";
import { decodeImageFile } from "@privface/device/decode";
import { randomBytes } from "node:crypto";

export interface CaptureBenchOptions {
  /** actions per capture (default 2) */
  actions?: number;
  runs?: number;
  fps?: number;
  engine?: FaceEngine;
}

/** The frontal face of sample6.jpg (@vladmandic/face-api/demo) and the actions its warps render well (see device/test/live.slow.test.ts). */
const FACE = { file: "sample6.jpg", cx: 1262, cy: 427, side: 223, actions: ["turn-left", "turn-right", "blink"] as LivenessAction[] };

export async function runCaptureBench(o: CaptureBenchOptions = {}): Promise<Record<string, unknown>> {
  const n = o.actions ?? 2;
  const runs = o.runs ?? 3;
  const fps = o.fps ?? 8;
  if (!(n >= 1 && n <= 3) || !(runs >= 1) || !(fps > 0)) throw new RangeError("bench capture: --actions 1..3, --runs ≥ 1, --fps > 0");
  const dir = join(dirname(createRequire(import.meta.url).resolve("@vladmandic/face-api/package.json")), "demo");
  const img = await decodeImageFile(join(dir, FACE.file));
  const engine = o.engine ?? (await createFaceEngine());
  // the base frame: the face centred, box ≈ 200 px, in a 480×480 frame (nearest-neighbour crop)
  const W = 480;
  const s = FACE.side / 200;
  const data = new Uint8Array(W * W * 4);
  for (let y = 0; y < W; y++)
    for (let x = 0; x < W; x++) {
      const sx = Math.min(img.width - 1, Math.max(0, Math.round(FACE.cx + (x - W / 2) * s)));
      const sy = Math.min(img.height - 1, Math.max(0, Math.round(FACE.cy + (y - W / 2) * s)));
      data.set(img.data.subarray((sy * img.width + sx) * 4, (sy * img.width + sx) * 4 + 4), (y * W + x) * 4);
    }
  const base = { data, width: W, height: W };
  const m = await engine.measureFrame!(data, W, W);
  if (!m.ok) throw new Error(`bench capture: no face in the base frame (${m.error})`);
  const p = m.points as [number, number][];
  const g: FaceGeometry = { eyes: [p[0], p[1]], nose: p[2], mouth: [p[3], p[4]] };
  const times: number[] = [];
  const frameCounts: number[] = [];
  for (let r = 0; r < runs; r++) {
    // actions this face renders well, drawn like the gateway draws them
    let actions: LivenessAction[];
    do actions = drawActions(n, (k) => new Uint8Array(randomBytes(k)));
    while (!actions.every((a) => FACE.actions.includes(a)));
    const seq = actionSequence(base, g, actions, { fps });
    const frames = [...seq.map((x) => x.frame), base, base, base];
    let i = 0;
    const t0 = performance.now();
    const source = async () => {
      if (i >= frames.length) return null;
      const due = t0 + (i * 1000) / fps;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      return { ...frames[i++], t: Math.round(performance.now() - t0) };
    };
    const cap = await liveCapture(engine, actions, source);
    times.push(performance.now() - t0);
    frameCounts.push(cap.frames);
    cap.embedding.fill(0);
  }
  if (!o.engine) await engine.release();
  const sorted = [...times].sort((a, b) => a - b);
  return {
    suite: "capture",
    actions: n,
    runs,
    fps,
    ms_p50: Math.round(sorted[Math.floor((sorted.length - 1) / 2)]),
    ms_max: Math.round(sorted[sorted.length - 1]),
    synthetic_ms: Math.round(((3 + 6 * n) * 1000) / fps),
    frames_mean: Math.round(frameCounts.reduce((a, b) => a + b, 0) / frameCounts.length),
    model: engine.model.version,
  };
}
