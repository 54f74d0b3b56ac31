/**
 * The on-device face engine: RGBA frame → detect → choose the face → 68 landmarks (two passes) →
 * 5-point similarity alignment to 112×112 → liveness / anti-spoofing → 512-d embedding (mean of the
 * crop and its mirror) → L2-normalised Float32Array.
 *
 * Nets (all from the npm package faceplugin-face-recognition-js, MIT, run by onnxruntime-web's
 * wasm backend in Node and in the browser):
 * - `fr_detect.onnx`   face boxes (see `_detect.ts`), input 320×240 RGB (v−127)/128;
 * - `fr_landmark.onnx` 68 iBUG points on a 64×64 grey crop of the face box (v/256), output in crop
 *   units [0, 1]; run a second time on a crop re-centred from the first pass's points;
 * - `fr_liveness.onnx` 3-way anti-spoofing classifier on a 128×128 BGR (raw 0…255) crop 2.7× the
 *   face box; its live probability (softmax class 0) is fused with a screen / photo border cue
 *   computed on the frame (`_pad.ts`) into the frame's live score;
 * - `fr_feature.onnx`  512-d embedding of the aligned 112×112 RGB (v−127)/128 crop.
 *
 * Only what matching needs is computed (R10): no age, gender, expression or pose. Frames, crops and
 * embeddings stay inside the caller's process; this module has no network code besides loading the
 * model files.
 */
import type * as Ort from "onnxruntime-web";
import { ARCFACE_REF, fivePoints, similarityTransform, type Point } from "./_align.ts";
import { chooseFace, decodeDetections, type Box } from "./_detect.ts";
import { borderCue, padScore } from "./_pad.ts";
import { measuresFromLandmarks } from "./actions.ts";
import { cropGrey, downscaleToPlanar, resizeToPlanar, rgbToPlanar, warpAffineRgb, type Frame } from "./_image.ts";
import { MODEL } from "@privface/contracts";

/** Why a frame gave no embedding. */
export type FaceErrorCode = "NO_FACE" | "MULTIPLE_FACES" | "FACE_TOO_SMALL" | "LIVENESS_FAILED" | "BAD_FRAME";

/** The passive presentation-attack evidence of a frame: the net's live probability and the border cue (docs/face-model.md). */
export interface PadEvidence {
  net: number;
  /** screen / photo border cue in [0, 1] (absent when `padCue` is off) */
  border?: number;
}

export type FaceResult =
  | { ok: true; embedding: Float32Array; liveness: number; pad?: PadEvidence; box: Box; faces: number }
  | { ok: false; error: FaceErrorCode; liveness?: number; pad?: PadEvidence; faces: number };

/** onnxruntime-web's execution provider: wasm (CPU, the default), or the GPU through WebGL or WebGPU (a runtime build that has it: `onnxruntime-web/all`). */
export type FaceBackend = "wasm" | "webgl" | "webgpu";

export interface FaceEngineOptions {
  /** the execution provider (default wasm); no fallback: a backend the browser cannot run fails the load */
  backend?: FaceBackend;
  /**
   * Where the .onnx files come from. Node default: read from the installed
   * faceplugin-face-recognition-js package. Browser: a URL prefix ending in "/" under which
   * `fr_detect.onnx`, `fr_landmark.onnx`, `fr_liveness.onnx`, `fr_feature.onnx` are served.
   */
  modelBaseUrl?: string;
  /** custom loader (overrides modelBaseUrl): returns the bytes of e.g. "fr_feature.onnx" */
  loadModel?: (file: string) => Promise<Uint8Array>;
  /** where onnxruntime-web's .wasm/.mjs files are (Node default: the package's dist folder) */
  wasmPaths?: string;
  /** detector confidence threshold (default 0.6) */
  detectThreshold?: number;
  /** smallest face box side in frame pixels (default 48) */
  minFaceSize?: number;
  /**
   * "refuse": a second face at least `rivalRatio` as large as the chosen one makes the frame fail
   * with MULTIPLE_FACES (at the till, default); "largest": use the chosen face anyway (benchmarks on
   * news photos).
   */
  multipleFaces?: "refuse" | "largest";
  /** side ratio above which another face counts as a rival (default 0.6) */
  rivalRatio?: number;
  /** live score below which the frame fails with LIVENESS_FAILED (default MODEL.livenessThreshold, 0.5); 0 disables */
  livenessThreshold?: number;
  /**
   * fuse the screen / photo border cue (`_pad.ts`) with the anti-spoofing net (default true): the
   * live score is then `padScore(net, border)`; false: the net's live probability alone
   */
  padCue?: boolean;
  /** embed the mirrored crop too and average (default true; MODEL.id assumes it) */
  flip?: boolean;
  /** landmark passes, 1 or 2 (default 2) */
  landmarkPasses?: 1 | 2;
  /** retry detection inside a grey border when no face is found (default true) */
  padRetry?: boolean;
  /** also run the landmark net on the mirrored crop and average the five points (default false) */
  landmarkFlip?: boolean;
}

export interface FaceEngine {
  readonly model: typeof MODEL;
  /** Runs the whole pipeline on one RGBA frame (4 bytes a pixel, row-major). */
  processFrame(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Promise<FaceResult>;
  /**
   * Active liveness: the face's yaw, eye and mouth measures on one frame (`actions.ts`), from the
   * detector and the landmark net only (no liveness net, no embedding: fast enough for every
   * camera frame). NO_FACE / MULTIPLE_FACES / FACE_TOO_SMALL as in `processFrame`.
   */
  measureFrame?(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Promise<MeasureResult>;
  /** Frees the ONNX sessions. */
  release(): Promise<void>;
}

export type MeasureResult =
  | { ok: true; yaw: number; eye: number; mouth: number; box: Box; faces: number; /** the 5 alignment points: eye centres, nose tip, mouth corners (frame pixels) */ points: Point[] }
  | { ok: false; error: FaceErrorCode; faces: number };

const MODEL_FILES = {
  detect: "fr_detect.onnx",
  landmark: "fr_landmark.onnx",
  liveness: "fr_liveness.onnx",
  feature: "fr_feature.onnx",
} as const;

const isNode = typeof process !== "undefined" && process.versions?.node !== undefined && typeof window === "undefined";

async function nodeDefaults(): Promise<{ load: (file: string) => Promise<Uint8Array>; wasm: string }> {
  // Kept behind a dynamic import so that browser bundles never see node:* modules.
  const { nodeModelLoader } = await import("#node-defaults");
  return nodeModelLoader();
}

/** Loads the four nets (≈ 9 MB) and returns a ready engine. */
export async function createFaceEngine(options: FaceEngineOptions = {}): Promise<FaceEngine> {
  const config = engineConfig(options);
  let load = options.loadModel;
  let wasmPaths = options.wasmPaths;
  if (isNode && (!load || !wasmPaths)) {
    const d = await nodeDefaults();
    if (!load && options.modelBaseUrl === undefined) load = d.load;
    wasmPaths ??= d.wasm;
  }
  if (!load) {
    const base = options.modelBaseUrl;
    if (base === undefined) throw new TypeError("createFaceEngine: options.modelBaseUrl or options.loadModel is required in the browser");
    load = async (file) => {
      const res = await fetch(base + file);
      if (!res.ok) throw new Error(`createFaceEngine: cannot load ${file}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    };
  }
  // Loaded lazily: importing @privface/device for the request builders must not load the runtime.
  const ort: typeof Ort = await import("onnxruntime-web");
  if (wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasmPaths;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = "error";

  const backend = options.backend ?? "wasm";
  if (backend !== "wasm" && backend !== "webgl" && backend !== "webgpu") throw new RangeError('createFaceEngine: options.backend must be "wasm", "webgl" or "webgpu"');
  const so: Ort.InferenceSession.SessionOptions = { executionProviders: [backend], graphOptimizationLevel: "all" };
  const sessions: Record<keyof typeof MODEL_FILES, Ort.InferenceSession> = {} as never;
  for (const [k, f] of Object.entries(MODEL_FILES) as [keyof typeof MODEL_FILES, string][]) {
    sessions[k] = await ort.InferenceSession.create(await load(f), so);
  }
  return new Engine(ort, sessions, config);
}

/** Calibration of the landmark re-crop: box side and centre offset relative to the 68 points' extent. */
const RECROP = { side: 1.33, dx: 0.0, dy: -0.176 };

type EngineConfig = Required<Pick<FaceEngineOptions, "detectThreshold" | "minFaceSize" | "multipleFaces" | "rivalRatio" | "livenessThreshold" | "flip" | "landmarkPasses" | "landmarkFlip" | "padRetry" | "padCue">>;

/** Defaults and range checks of the engine options (before any model is loaded). */
function engineConfig(o: FaceEngineOptions): EngineConfig {
  const c: EngineConfig = {
    detectThreshold: o.detectThreshold ?? 0.6,
    minFaceSize: o.minFaceSize ?? 48,
    multipleFaces: o.multipleFaces ?? "refuse",
    rivalRatio: o.rivalRatio ?? 0.6,
    livenessThreshold: o.livenessThreshold ?? MODEL.livenessThreshold,
    flip: o.flip ?? true,
    landmarkPasses: o.landmarkPasses ?? 2,
    landmarkFlip: o.landmarkFlip ?? false,
    padRetry: o.padRetry ?? true,
    padCue: o.padCue ?? true,
  };
  for (const k of ["detectThreshold", "rivalRatio", "livenessThreshold"] as const) {
    const v = c[k];
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) throw new RangeError(`createFaceEngine: options.${k} must be a number in [0, 1], got ${v}`);
  }
  if (typeof c.minFaceSize !== "number" || !(c.minFaceSize >= 0)) throw new RangeError(`createFaceEngine: options.minFaceSize must be a number ≥ 0, got ${c.minFaceSize}`);
  if (c.multipleFaces !== "refuse" && c.multipleFaces !== "largest") throw new RangeError('createFaceEngine: options.multipleFaces must be "refuse" or "largest"');
  if (c.landmarkPasses !== 1 && c.landmarkPasses !== 2) throw new RangeError("createFaceEngine: options.landmarkPasses must be 1 or 2");
  return c;
}

class Engine implements FaceEngine {
  readonly model = MODEL;
  private readonly detectThreshold: number;
  private readonly minFaceSize: number;
  private readonly multipleFaces: "refuse" | "largest";
  private readonly rivalRatio: number;
  private readonly livenessThreshold: number;
  private readonly flip: boolean;
  private readonly passes: 1 | 2;
  private readonly landmarkFlip: boolean;
  private readonly padRetry: boolean;
  private readonly padCue: boolean;

  constructor(
    private readonly ort: typeof Ort,
    private readonly s: Record<keyof typeof MODEL_FILES, Ort.InferenceSession>,
    c: EngineConfig,
  ) {
    this.detectThreshold = c.detectThreshold;
    this.minFaceSize = c.minFaceSize;
    this.multipleFaces = c.multipleFaces;
    this.rivalRatio = c.rivalRatio;
    this.livenessThreshold = c.livenessThreshold;
    this.flip = c.flip;
    this.passes = c.landmarkPasses;
    this.landmarkFlip = c.landmarkFlip;
    this.padRetry = c.padRetry;
    this.padCue = c.padCue;
  }

  async release(): Promise<void> {
    for (const s of Object.values(this.s)) await s.release();
  }

  /** Frames are processed one at a time (an ONNX session runs one inference at a time). */
  private queue: Promise<unknown> = Promise.resolve();

  processFrame(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Promise<FaceResult> {
    const run = this.queue.then(() => this.process(rgba, width, height));
    this.queue = run.catch(() => undefined);
    return run;
  }

  measureFrame(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Promise<MeasureResult> {
    const run = this.queue.then(() => this.measure(rgba, width, height));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async measure(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Promise<MeasureResult> {
    const frame = checkFrame(rgba, width, height, "measureFrame");
    const found = await this.findFace(frame);
    if (!found.ok) return found;
    const { box, faces } = found;
    const { x, y, side } = await this.landmarkSquare(frame, box);
    const lm = await this.landmarkPass(frame, x, y, side, false);
    const m = measuresFromLandmarks(lm);
    const points = fivePoints(lm);
    lm.fill(0);
    return { ok: true, yaw: m.yaw, eye: m.eye, mouth: m.mouth, box, faces, points };
  }

  /** Detect, choose the face, refuse rivals and small faces (the first steps of both pipelines). */
  private async findFace(frame: Frame): Promise<{ ok: true; box: Box; faces: number } | { ok: false; error: FaceErrorCode; faces: number }> {
    const faces = await this.detect(frame);
    if (faces.length === 0) return { ok: false, error: "NO_FACE", faces: 0 };
    const { index, rival } = chooseFace(faces, frame.width, frame.height, this.rivalRatio);
    if (rival && this.multipleFaces === "refuse") return { ok: false, error: "MULTIPLE_FACES", faces: faces.length };
    const box = faces[index];
    const side = Math.max(box.x2 - box.x1, box.y2 - box.y1);
    if (side < this.minFaceSize) return { ok: false, error: "FACE_TOO_SMALL", faces: faces.length };
    return { ok: true, box, faces: faces.length };
  }

  private async process(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Promise<FaceResult> {
    const frame = checkFrame(rgba, width, height, "processFrame");
    const found = await this.findFace(frame);
    if (!found.ok) return found;
    const { box, faces } = found;

    const net = await this.liveness(frame, box);
    const pad: PadEvidence = this.padCue ? { net, border: borderCue(frame, box).score } : { net };
    const liveness = pad.border === undefined ? net : padScore(net, pad.border);
    if (this.livenessThreshold > 0 && liveness < this.livenessThreshold) return { ok: false, error: "LIVENESS_FAILED", liveness, pad, faces };

    const pts = await this.landmarks(frame, box);
    const m = similarityTransform(pts, ARCFACE_REF);
    const crop = warpAffineRgb(frame, m, 112, 112);
    const e = await this.embed(crop);
    if (this.flip) {
      const e2 = await this.embed(crop, true);
      for (let i = 0; i < e.length; i++) e[i] += e2[i];
    }
    crop.fill(0); // the aligned face does not outlive this call (JS cannot promise more: see SECURITY.md)
    l2normaliseInPlace(e);
    return { ok: true, embedding: e, liveness, pad, box, faces };
  }

  /**
   * All faces above the threshold, in frame pixels. When none is found the frame is tried once more
   * inside a grey border (a quarter of its larger side on each side): the detector misses faces
   * that fill the whole frame (tight crops) and finds them with some margin around.
   */
  private async detect(f: Frame): Promise<Box[]> {
    const faces = await this.detectOnce(f);
    if (faces.length > 0 || !this.padRetry) return faces;
    const pad = Math.round(Math.max(f.width, f.height) / 4);
    const padded = padFrame(f, pad);
    try {
      return (await this.detectOnce(padded)).map((b) => ({ ...b, x1: b.x1 - pad, y1: b.y1 - pad, x2: b.x2 - pad, y2: b.y2 - pad }));
    } finally {
      padded.data.fill(0);
    }
  }

  private async detectOnce(f: Frame): Promise<Box[]> {
    const input = downscaleToPlanar(f, { x: 0, y: 0, w: f.width, h: f.height, outW: 320, outH: 240, order: [0, 1, 2], sub: 127, div: 128 });
    const out = await this.s.detect.run({ input: new this.ort.Tensor("float32", input, [1, 3, 240, 320]) });
    input.fill(0);
    const scores = out.scores.data as Float32Array;
    const boxes = out.boxes.data as Float32Array;
    return decodeDetections(scores, boxes, f.width, f.height, this.detectThreshold);
  }

  /** The five alignment points in frame pixels, from 68 landmarks found in one or two passes. */
  private async landmarks(f: Frame, box: Box): Promise<Point[]> {
    const { x, y, side } = await this.landmarkSquare(f, box);
    const pts = fivePoints(await this.landmarkPass(f, x, y, side, false));
    if (!this.landmarkFlip) return pts;
    // Mirror test-time augmentation: the mirrored crop's left eye / mouth corner is the right one.
    const m = fivePoints(await this.landmarkPass(f, x, y, side, true));
    const swapped: Point[] = [m[1], m[0], m[2], m[4], m[3]];
    return pts.map((p, i) => [(p[0] + swapped[i][0]) / 2, (p[1] + swapped[i][1]) / 2]);
  }

  /** The square the final landmark pass runs on (after the first pass when there are two). */
  private async landmarkSquare(f: Frame, box: Box): Promise<{ x: number; y: number; side: number }> {
    // Pass 1: square crop on the detector box (side = box height, as the net was used upstream).
    let side = box.y2 - box.y1;
    let cx = (box.x1 + box.x2) / 2;
    let cy = (box.y1 + box.y2) / 2;
    if (this.passes === 2) {
      // Pass 2: re-centre and re-scale the crop on the points found, so that badly framed
      // detector boxes (tight crops, profile faces) get the framing the net expects.
      const lm = await this.landmarkPass(f, cx - side / 2, cy - side / 2, side, false);
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
      for (let i = 0; i < 68; i++) {
        minX = Math.min(minX, lm[2 * i]); maxX = Math.max(maxX, lm[2 * i]);
        minY = Math.min(minY, lm[2 * i + 1]); maxY = Math.max(maxY, lm[2 * i + 1]);
      }
      const ext = Math.max(maxX - minX, maxY - minY);
      side = ext * RECROP.side;
      cx = (minX + maxX) / 2 + RECROP.dx * ext;
      cy = (minY + maxY) / 2 + RECROP.dy * ext;
    }
    return { x: cx - side / 2, y: cy - side / 2, side };
  }

  /** 68 landmarks (flat x, y) in frame pixels from one 64×64 crop; `mirror` runs the net on the mirrored crop. */
  private async landmarkPass(f: Frame, x: number, y: number, side: number, mirror: boolean): Promise<Float32Array> {
    const input = cropGrey(f, x, y, side, 64, mirror);
    const out = await this.s.landmark.run({ input: new this.ort.Tensor("float32", input, [1, 1, 64, 64]) });
    input.fill(0);
    const raw = out.output.data as Float32Array;
    const lm = new Float32Array(136);
    for (let i = 0; i < 68; i++) {
      const u = mirror ? 1 - raw[2 * i] : raw[2 * i];
      lm[2 * i] = x + u * side;
      lm[2 * i + 1] = y + raw[2 * i + 1] * side;
    }
    return lm;
  }

  /** Live probability (softmax class 1) on a 2.7× crop around the face, BGR 0…255, 128×128. */
  private async liveness(f: Frame, box: Box): Promise<number> {
    const bw = box.x2 - box.x1;
    const bh = box.y2 - box.y1;
    const scale = Math.min((f.height - 1) / bh, (f.width - 1) / bw, 2.7);
    const w = bw * scale;
    const h = bh * scale;
    let x = (box.x1 + box.x2) / 2 - w / 2;
    let y = (box.y1 + box.y2) / 2 - h / 2;
    x = Math.min(Math.max(0, x), f.width - 1 - w);
    y = Math.min(Math.max(0, y), f.height - 1 - h);
    const input = resizeToPlanar(f, { x, y, w, h, outW: 128, outH: 128, order: [2, 1, 0], sub: 0, div: 1 });
    const out = await this.s.liveness.run({ input: new this.ort.Tensor("float32", input, [1, 3, 128, 128]) });
    input.fill(0);
    const p = softmax(out.output.data as Float32Array);
    return p[LIVE_CLASS];
  }

  private async embed(crop: Uint8Array, mirror = false): Promise<Float32Array> {
    const input = rgbToPlanar(crop, 112, 112, 127, 128, mirror);
    const out = await this.s.feature.run({ input: new this.ort.Tensor("float32", input, [1, 3, 112, 112]) });
    input.fill(0);
    return new Float32Array(out.output.data as Float32Array);
  }
}

/** Index of the "real face" class of fr_liveness.onnx (measured: class 0 carries the live probability on real photos). */
const LIVE_CLASS = 0;

function checkFrame(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, fn: string): Frame {
  if (!(rgba instanceof Uint8Array || rgba instanceof Uint8ClampedArray)) throw new TypeError(`${fn}: rgba must be a Uint8Array or Uint8ClampedArray`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new RangeError(`${fn}: width and height must be positive integers`);
  if (rgba.length !== width * height * 4) throw new RangeError(`${fn}: rgba must have width*height*4 = ${width * height * 4} bytes, got ${rgba.length}`);
  return { data: rgba, width, height };
}

/** A copy of the frame inside a grey (128) border of `pad` pixels. */
function padFrame(f: Frame, pad: number): Frame {
  const w = f.width + 2 * pad;
  const h = f.height + 2 * pad;
  const data = new Uint8Array(w * h * 4).fill(128);
  for (let y = 0; y < f.height; y++) {
    data.set(f.data.subarray(y * f.width * 4, (y + 1) * f.width * 4), ((y + pad) * w + pad) * 4);
  }
  return { data, width: w, height: h };
}

function softmax(v: Float32Array): number[] {
  const m = Math.max(...v);
  const e = Array.from(v, (x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Scales v to unit L2 norm in place (a zero vector stays zero). */
export function l2normaliseInPlace(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}
