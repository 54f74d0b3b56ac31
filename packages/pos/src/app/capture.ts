/**
 * The guided capture, independent of where frames come from (the camera in the app, files in the
 * browser benchmark): each frame is measured (`engine.measureFrame`: detector + landmarks) and
 * assessed (`quality.ts`); `onGuidance` gets every assessment; after BEST_OF consecutive good frames
 * the sharpest runs through the whole pipeline (passive liveness, embedding). Every frame is
 * overwritten once used; the caller wipes the embedding.
 *
 * @throws DeviceError CANCELLED, CAPTURE_TIMEOUT (no decision within `maxMs` or `maxFrames`),
 *   LIVENESS_FAILED (spoof suspected), MULTIPLE_FACES
 */
import { DeviceError, type FaceEngine } from "@privface/device";
import { assessFrame, BEST_OF, pickBest, type Assessment, type FaceBox } from "./quality.ts";

export interface CaptureFrame {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export interface CaptureOptions {
  maxMs?: number;
  maxFrames?: number;
  onGuidance?: (a: Assessment) => void;
  cancelled?: () => boolean;
}

export interface CaptureResult {
  embedding: Float32Array;
  liveness: number;
  /** frames read */
  frames: number;
  /** time of each frame's guidance step (measure + assess), ms */
  guidanceMs: number[];
  /** time of the pipeline run on the chosen frame, ms */
  embedMs: number;
}

export async function guidedCapture(engine: FaceEngine, next: () => Promise<CaptureFrame>, o: CaptureOptions = {}): Promise<CaptureResult> {
  if (!engine.measureFrame) throw new DeviceError("ENGINE_UNSUPPORTED", "the face engine cannot measure frames");
  const maxMs = o.maxMs ?? 20_000;
  const maxFrames = o.maxFrames ?? Infinity;
  let kept: { a: Assessment; f: CaptureFrame }[] = [];
  const wipeKept = () => {
    for (const k of kept) k.f.data.fill(0);
    kept = [];
  };
  const guidanceMs: number[] = [];
  const t0 = performance.now();
  let frames = 0;
  let prev: FaceBox | undefined;
  try {
    while (performance.now() - t0 < maxMs && frames < maxFrames) {
      if (o.cancelled?.()) throw new DeviceError("CANCELLED", "cancelled");
      const f = await next();
      frames++;
      const g0 = performance.now();
      const m = await engine.measureFrame(f.data, f.width, f.height);
      const a = assessFrame(f, m.ok ? { ok: true, box: m.box, yaw: m.yaw } : m, prev);
      guidanceMs.push(performance.now() - g0);
      prev = m.ok ? m.box : undefined;
      o.onGuidance?.(a);
      if (a.guidance !== "good") {
        f.data.fill(0);
        wipeKept();
        continue;
      }
      kept.push({ a, f });
      if (kept.length < BEST_OF) continue;
      const best = kept[pickBest(kept.map((k) => k.a))].f;
      const e0 = performance.now();
      const r = await engine.processFrame(best.data, best.width, best.height);
      const embedMs = performance.now() - e0;
      wipeKept();
      if (r.ok) return { embedding: r.embedding, liveness: r.liveness, frames, guidanceMs, embedMs };
      if (r.error === "LIVENESS_FAILED" || r.error === "MULTIPLE_FACES") throw new DeviceError(r.error, r.error);
    }
    throw new DeviceError("CAPTURE_TIMEOUT", "no good frame");
  } finally {
    wipeKept();
  }
}
