/**
 * The browser benchmark's page (`privface bench browser`; built only with `buildPosApp({ bench: true })`,
 * never served by the gateway): the app's engine and guided capture (`capture.ts`) on frames fetched
 * from the benchmark's own loopback server (raw RGBA, one file per camera frame), each frame fed
 * `repeat` times as a still camera would. Returns timings and the embeddings (the benchmark scores
 * them against each other in Node).
 */
import { createFaceEngine, type FaceEngine } from "@privface/device/engine";
import { DeviceError } from "@privface/device";
import { guidedCapture } from "./capture.ts";

export interface BenchImageResult {
  ok: boolean;
  code?: string;
  embedding?: number[];
  frames: number;
  guidanceMs: number[];
  embedMs?: number;
  /** from the first frame to the embedding (or the refusal) */
  captureMs: number;
  /** the last frame's guidance (why a capture gave nothing) */
  lastGuidance?: string;
}

declare global {
  interface Window {
    privfaceBench: {
      load(): Promise<number>;
      run(url: string, width: number, height: number, repeat: number): Promise<BenchImageResult>;
    };
  }
}

let engine: FaceEngine | undefined;
const base = new URL(".", location.href);

window.privfaceBench = {
  async load() {
    const t0 = performance.now();
    engine = await createFaceEngine({ modelBaseUrl: new URL("models/", base).href, wasmPaths: new URL("ort/", base).href });
    return performance.now() - t0;
  },
  async run(url, width, height, repeat) {
    const rgba = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const t0 = performance.now();
    const guidanceMs: number[] = [];
    let frames = 0;
    let lastGuidance = "";
    try {
      const r = await guidedCapture(engine!, async () => ({ data: rgba.slice(), width, height }), {
        maxFrames: repeat,
        onGuidance: (a) => {
          frames++;
          lastGuidance = a.guidance;
        },
      });
      const out = { ok: true, embedding: Array.from(r.embedding), frames: r.frames, guidanceMs: r.guidanceMs, embedMs: r.embedMs, captureMs: performance.now() - t0 };
      r.embedding.fill(0);
      return out;
    } catch (e) {
      return { ok: false, code: e instanceof DeviceError ? e.code : String(e), frames, guidanceMs, captureMs: performance.now() - t0, lastGuidance };
    } finally {
      rgba.fill(0);
    }
  },
};
