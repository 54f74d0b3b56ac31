/**
 * The browser benchmark's page (`privface bench browser`; built only with `buildPosApp({ bench: true })`,
 * never served by the gateway): the app's engine and guided capture (`capture.ts`) on frames fetched
 * from the benchmark's own loopback server (raw RGBA, one file per camera frame), each frame fed
 * `repeat` times as a still camera would. Returns timings and the embeddings (the benchmark scores
 * them against each other in Node).
 */
import { createFaceEngine, type FaceEngine } from "@privface/device/engine";
import { DeviceError, liveCapture } from "@privface/device";
import type { LivenessAction } from "@privface/contracts";
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

export interface BenchLiveResult {
  ok: boolean;
  code?: string;
  /** from the first frame to the embedding (active + passive + embedding), ms */
  captureMs: number;
  /** frames the capture read (the camera's others were dropped while the page was busy) */
  frames: number;
  steps: number;
  /** from the end of the actions (the "hold still" prompt) to the embedding: passive stage and the two embeddings, ms */
  tailMs?: number;
}

declare global {
  interface Window {
    privfaceBench: {
      load(backend?: "wasm" | "webgl" | "webgpu"): Promise<number>;
      embedOnly(backend: "wasm" | "webgl" | "webgpu", runs: number): Promise<{ loadMs: number; ms: number[] }>;
      run(url: string, width: number, height: number, repeat: number): Promise<BenchImageResult>;
      live(url: string, width: number, height: number, names: string[], fps: number, actions: LivenessAction[], timing: { reactMs: number; rampMs: number; holdMs: number }): Promise<BenchLiveResult>;
    };
  }
}

let engine: FaceEngine | undefined;
const base = new URL(".", location.href);

window.privfaceBench = {
  /**
   * The embedding net alone (fr_feature.onnx, 1×3×112×112) on `backend`, `runs` times on one random
   * input: what a backend costs where the whole pipeline does not run on it (docs/benchmarks.md "## browser").
   */
  async embedOnly(backend, runs) {
    const ort = await import("onnxruntime-web");
    ort.env.wasm.wasmPaths = new URL("ort/", base).href;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = "error";
    const t0 = performance.now();
    const model = new Uint8Array(await (await fetch(new URL("models/fr_feature.onnx", base))).arrayBuffer());
    const session = await ort.InferenceSession.create(model, { executionProviders: [backend], graphOptimizationLevel: "all" });
    const loadMs = performance.now() - t0;
    const x = new ort.Tensor("float32", Float32Array.from({ length: 3 * 112 * 112 }, () => Math.random()), [1, 3, 112, 112]);
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await session.run({ [session.inputNames[0]]: x });
      ms.push(performance.now() - t);
    }
    await session.release();
    return { loadMs, ms };
  },
  async load(backend = "wasm") {
    const t0 = performance.now();
    engine = await createFaceEngine({ modelBaseUrl: new URL("models/", base).href, wasmPaths: new URL("ort/", base).href, backend });
    return performance.now() - t0;
  },
  /**
   * Active liveness as the app runs it (`liveCapture`, issue 17) with a generated person who follows
   * the prompts: `url` holds the frames named in `names` (neutral, and each action at half and full
   * strength); a camera at `fps` shows, from the moment a prompt asks for an action plus `reactMs`,
   * that action ramping in (`rampMs`), held (`holdMs`), ramping out, then the neutral face. A read
   * returns the newest camera frame not yet read, waiting for the next one if need be (a camera does
   * not queue the frames a busy page missed). Gives up after 30 s of camera time.
   */
  async live(url, width, height, names, fps, actions, timing) {
    const all = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const size = width * height * 4;
    const frameOf = (name: string) => all.subarray(names.indexOf(name) * size, (names.indexOf(name) + 1) * size);
    let plan: { start: number; action: string } | undefined;
    let last = -1;
    let frames = 0;
    const t0 = performance.now();
    const at = (ms: number): string => {
      if (!plan) return "neutral";
      const d = ms - plan.start;
      if (d < 0 || d >= 2 * timing.rampMs + timing.holdMs) return "neutral";
      return d < timing.rampMs || d >= timing.rampMs + timing.holdMs ? `${plan.action}:0.5` : `${plan.action}:1`;
    };
    const source = async () => {
      let k = Math.floor(((performance.now() - t0) * fps) / 1000);
      if (k <= last) {
        k = last + 1;
        await new Promise((r) => setTimeout(r, Math.max(0, t0 + (k * 1000) / fps - performance.now())));
      }
      if (k >= 30 * fps) return null;
      last = k;
      frames++;
      return { data: frameOf(at((k * 1000) / fps)).slice(), width, height, t: performance.now() };
    };
    let doneAt = 0;
    const onPrompt = (p: string) => {
      if (names.includes(`${p}:1`)) plan = { start: performance.now() - t0 + timing.reactMs, action: p };
      if (p === "hold-still") doneAt = performance.now() - t0;
    };
    try {
      const r = await liveCapture(engine!, actions, source, { onPrompt });
      const captureMs = performance.now() - t0;
      r.embedding.fill(0);
      r.frame.data.fill(0);
      return { ok: true, captureMs, frames, steps: r.steps.length, tailMs: captureMs - doneAt };
    } catch (e) {
      return { ok: false, code: e instanceof DeviceError ? e.code : String(e), captureMs: performance.now() - t0, frames, steps: 0 };
    } finally {
      all.fill(0);
    }
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
