/**
 * `privface bench browser` — the POS app's face pipeline in headless Chromium (/usr/bin/chromium):
 * the app's engine (onnxruntime-web, wasm backend, one thread) and guided capture
 * (`@privface/pos` `capture.ts`) on a face set. Each image is framed as a camera would show it
 * (scaled so its larger side is `imageSide` px, centred in a 640×480 grey frame) and fed as a still camera's frames
 * (at most `repeat` of them) to the capture: guidance step per frame (detector + landmarks +
 * quality), then the whole pipeline on the best of three good frames.
 *
 * Prints `{"suite":"browser-face","backend":"wasm",…}`: model load, guidance ms per frame (p50 /
 * p99), pipeline ms on the chosen frame, the first decision on a warm page (first frame → embedding
 * of the first image, no network), how many captures gave an embedding, and — with the embeddings
 * scored in Node (int8, MODEL.threshold) — the false-reject rate over all genuine pairs (a capture
 * that gave no embedding counts as a reject for each of its pairs; `frr_captured`: among the pairs
 * whose captures both gave one) and the false-accept rate.
 */
import { createServer, type Server } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";
import { chromium, type Page } from "playwright-core";
import { drawActions, LIVENESS_ACTIONS, MODEL, type LivenessAction } from "@privface/contracts";
import { actionFrame, createFaceEngine, type FaceGeometry } from "@privface/device";
import { decodeImageFile } from "@privface/device/decode";
import { faceFrame } from "../fake-camera.ts";
import { quantise, dotPlain } from "@privface/mpc";
import { buildPosApp } from "@privface/pos/build";
import { defaultDataset, listDataset } from "./face.ts";

export type BrowserBackend = "wasm" | "webgl" | "webgpu";

/**
 * Chromium's switches per backend: wasm runs without a GPU (`--disable-gpu`); WebGL and WebGPU need
 * one, which this machine's headless Chromium has only as SwiftShader (a CPU rasteriser / Vulkan
 * implementation), so that is what they are measured on.
 */
export const BACKEND_SWITCHES: Record<BrowserBackend, string[]> = {
  wasm: ["--disable-gpu"],
  webgl: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
  webgpu: ["--enable-unsafe-webgpu", "--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--use-webgpu-adapter=swiftshader", "--enable-features=Vulkan", "--ignore-gpu-blocklist"],
};

export interface BrowserBenchOptions {
  /** onnxruntime-web's execution provider (default wasm) */
  backend?: BrowserBackend;
  dataset?: string;
  limit?: number;
  /** frames fed per image at most (default 8) */
  repeat?: number;
  /** the larger side of each image in the 640×480 frame, px (default 220: the dev set's tight 150 px crops become a 220 px face; loosely cropped sets need more, e.g. 640 for lfw-dev's 250 px images) */
  imageSide?: number;
}

const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };

function pct(v: number[], p: number): number {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const r1 = (x: number) => Math.round(x * 10) / 10;

/** The image scaled so its larger side is `side` px, centred in a 640×480 grey RGBA frame. */
function frameOf(img: { data: Uint8Array | Uint8ClampedArray; width: number; height: number }, side: number): Uint8Array {
  const W = 640;
  const H = 480;
  const out = new Uint8Array(W * H * 4).fill(128);
  const k = Math.max(img.width, img.height) / side;
  const w = img.width / k;
  const h = img.height / k;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const sx = Math.floor((x - (W - w) / 2) * k);
      const sy = Math.floor((y - (H - h) / 2) * k);
      const o = (y * W + x) * 4;
      out[o + 3] = 255;
      if (sx < 0 || sy < 0 || sx >= img.width || sy >= img.height) continue;
      const i = (sy * img.width + sx) * 4;
      out[o] = img.data[i];
      out[o + 1] = img.data[i + 1];
      out[o + 2] = img.data[i + 2];
    }
  return out;
}

export async function runBrowserBench(o: BrowserBenchOptions = {}): Promise<Record<string, unknown>> {
  const dataset = o.dataset ?? defaultDataset("dev");
  if (!dataset) throw new RangeError("bench browser: no dataset given and ../shared/data/faces/dev not found; pass --dataset DIR");
  let images = listDataset(dataset);
  if (o.limit !== undefined) images = images.slice(0, o.limit);
  if (images.length === 0) throw new RangeError(`bench browser: no images in ${dataset}`);
  const repeat = o.repeat ?? 8;
  const backend = o.backend ?? "wasm";
  return withBenchPage(
    backend,
    (dir) => {
      mkdirSync(join(dir, "frames"));
      return Promise.all(images.map(async (im, i) => writeFileSync(join(dir, "frames", `${i}.rgba`), frameOf(await decodeImageFile(im.path), o.imageSide ?? 220)))).then(() => undefined);
    },
    async (page, browserVersion) => {
      const modelLoadMs = await page.evaluate((b) => window.privfaceBench.load(b), backend);
      const results = [];
      for (let i = 0; i < images.length; i++) results.push(await page.evaluate(([u, rep]) => window.privfaceBench.run(u, 640, 480, rep), [`/frames/${i}.rgba`, repeat] as const));
      const guidance = results.flatMap((r) => r.guidanceMs);
      const embed = results.filter((r) => r.embedMs !== undefined).map((r) => r.embedMs!);
      const q = results.map((r) => (r.ok ? quantise(Float32Array.from(r.embedding!)) : null));
      let genuine = 0, falseRejects = 0, impostor = 0, falseAccepts = 0, bothCaptured = 0, capturedRejects = 0;
      for (let i = 0; i < images.length; i++)
        for (let j = i + 1; j < images.length; j++) {
          const same = images[i].person === images[j].person;
          const match = q[i] !== null && q[j] !== null && dotPlain(q[i]!, q[j]!) >= MODEL.threshold;
          if (same) {
            genuine++;
            if (!match) falseRejects++;
            if (q[i] !== null && q[j] !== null) {
              bothCaptured++;
              if (!match) capturedRejects++;
            }
          } else {
            impostor++;
            if (match) falseAccepts++;
          }
        }
      const refusals: Record<string, number> = {};
      for (const r of results) {
        const k = r.code === "CAPTURE_TIMEOUT" ? `${r.code}:${r.lastGuidance}` : r.code!;
        if (!r.ok) refusals[k] = (refusals[k] ?? 0) + 1;
      }
      return {
        suite: "browser-face",
        image_side: o.imageSide ?? 220,
        backend,
        browser: browserVersion,
        images: images.length,
        model_load_ms: r1(modelLoadMs),
        ms_per_frame_p50: r1(pct(guidance, 50)),
        ms_per_frame_p99: r1(pct(guidance, 99)),
        embed_ms_p50: r1(pct(embed, 50)),
        first_decision_ms: r1(results[0].captureMs),
        capture_ms_p50: r1(pct(results.map((r) => r.captureMs), 50)),
        captures_ok: results.filter((r) => r.ok).length,
        refusals,
        genuine_pairs: genuine,
        frr: genuine ? Math.round((falseRejects / genuine) * 1e4) / 1e4 : null,
        /** among the genuine pairs whose two captures both gave an embedding: the matcher's share of the rejects */
        frr_captured: bothCaptured ? Math.round((capturedRejects / bothCaptured) * 1e4) / 1e4 : null,
        impostor_pairs: impostor,
        far: impostor ? Math.round((falseAccepts / impostor) * 1e6) / 1e6 : null,
        threshold: MODEL.threshold,
      };
    },
  );
}

/**
 * Builds the bench page into a temporary folder (`prepare` adds the frames), serves it on loopback
 * and runs `fn` on it in headless Chromium (wasm, one thread).
 */
async function withBenchPage<T>(backend: BrowserBackend, prepare: (dir: string) => Promise<void>, fn: (page: Page, browserVersion: string) => Promise<T>): Promise<T> {
  if (!(backend in BACKEND_SWITCHES)) throw new RangeError("bench browser: --backend wasm|webgl|webgpu");
  const dir = mkdtempSync(join(tmpdir(), "privface-bench-browser-"));
  let server: Server | undefined;
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", ...BACKEND_SWITCHES[backend], "--disable-background-networking", "--no-first-run"] });
  try {
    // the pipeline needs no roots: placeholders (nothing is sealed here)
    await buildPosApp({ outDir: dir, roots: { P0: "A".repeat(43), P1: "A".repeat(43) }, bench: true, benchRuntime: backend === "wasm" ? "wasm" : "all" });
    await prepare(dir);
    server = createServer((req, res) => {
      const file = normalize(join(dir, new URL(req.url ?? "/", "http://x").pathname));
      if (!file.startsWith(dir + "/")) return void res.writeHead(404).end();
      try {
        const body = readFileSync(file);
        res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/bench.html`);
    await page.waitForFunction(() => typeof window.privfaceBench === "object");
    return await fn(page, browser.version());
  } finally {
    await browser.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `privface bench browser --embed-only [--backend B] [--runs N]`: the embedding net alone on one
 * backend (the first run, which compiles the kernels, apart): `{"suite":"browser-embed",…}`.
 */
export async function runBrowserEmbedBench(o: { backend?: BrowserBackend; runs?: number } = {}): Promise<Record<string, unknown>> {
  const backend = o.backend ?? "wasm";
  const runs = o.runs ?? 12;
  if (!(runs >= 2)) throw new RangeError("bench browser: --runs ≥ 2");
  return withBenchPage(
    backend,
    async () => undefined,
    async (page, browserVersion) => {
      const r = await page.evaluate(([b, n]) => window.privfaceBench.embedOnly(b, n), [backend, runs] as const);
      const warm = r.ms.slice(1);
      return { suite: "browser-embed", backend, browser: browserVersion, runs, load_ms: r1(r.loadMs), first_run_ms: r1(r.ms[0]), ms_p50: r1(pct(warm, 50)), ms_max: r1(Math.max(...warm)) };
    },
  );
}

export interface BrowserCaptureBenchOptions {
  /** onnxruntime-web's execution provider (default wasm) */
  backend?: BrowserBackend;
  /** actions per capture (default 2, the gateway's default) */
  actions?: number;
  runs?: number;
  /** the camera's frame rate (default 15) */
  fps?: number;
}

/**
 * `privface bench browser --actions N`: the whole capture of the POS app with active liveness (issue
 * 17 target: under 3 s for a cooperative person) — the app's `liveCapture` in Chromium on a generated
 * person who follows the prompts: the frontal face of sample3.jpg (@vladmandic/face-api/demo, the POS
 * tests' face L) warped (`actionFrame`) to perform N actions drawn as the gateway draws them; 0.2 s
 * after each prompt the person ramps into the action (0.2 s), holds it (0.4 s) and ramps back (0.2 s).
 * A camera at `fps` plays this at its pace; the page reads the newest frame whenever it is ready.
 * Time: first frame → embedding (tracking, passive stage, the two embeddings of the same-face check),
 * after a warm-up capture. `person_ms`: the person's own time if the page reacted at once (the first
 * three frames facing the camera, then per action reaction + action).
 */
export async function runBrowserCaptureBench(o: BrowserCaptureBenchOptions = {}): Promise<Record<string, unknown>> {
  const n = o.actions ?? 2;
  const runs = o.runs ?? 5;
  const fps = o.fps ?? 15;
  if (!(n >= 1 && n <= 3) || !(runs >= 1) || !(fps > 0)) throw new RangeError("bench browser: --actions 1..3, --runs ≥ 1, --fps > 0");
  const timing = { reactMs: 200, rampMs: 200, holdMs: 400 };
  const img = await decodeImageFile(join(dirname(createRequire(import.meta.url).resolve("@vladmandic/face-api/package.json")), "demo", "sample3.jpg"));
  const base = faceFrame(img, { x1: 1037.5, y1: 199.5, x2: 1302.5, y2: 464.5 }, 200);
  const engine = await createFaceEngine();
  const m = await engine.measureFrame!(base.data, base.width, base.height);
  await engine.release();
  if (!m.ok) throw new Error(`bench browser: no face in the base frame (${m.error})`);
  const p = m.points as [number, number][];
  const g: FaceGeometry = { eyes: [p[0], p[1]], nose: p[2], mouth: [p[3], p[4]] };
  const names = ["neutral", ...LIVENESS_ACTIONS.flatMap((a) => [`${a}:0.5`, `${a}:1`])];
  const backend = o.backend ?? "wasm";
  return withBenchPage(
    backend,
    async (dir) => {
      const all = new Uint8Array(names.length * base.data.length);
      names.forEach((name, i) => {
        const [a, k] = name.split(":");
        all.set(name === "neutral" ? base.data : actionFrame(base, g, a as LivenessAction, Number(k)).data, i * base.data.length);
      });
      writeFileSync(join(dir, "faces.rgba"), all);
    },
    async (page, browserVersion) => {
      const modelLoadMs = await page.evaluate((b) => window.privfaceBench.load(b), backend);
      const results = [];
      for (let r = 0; r <= runs; r++) {
        const actions = drawActions(n, (b) => new Uint8Array(randomBytes(b)));
        const res = await page.evaluate(([nm, f, a, tm]) => window.privfaceBench.live("/faces.rgba", 640, 480, nm, f, a, tm), [names, fps, actions, timing] as const);
        if (r > 0) results.push(res); // run 0 warms the page up
      }
      const ok = results.filter((r) => r.ok);
      const refusals: Record<string, number> = {};
      for (const r of results) if (!r.ok) refusals[r.code!] = (refusals[r.code!] ?? 0) + 1;
      return {
        suite: "browser-capture",
        backend,
        browser: browserVersion,
        actions: n,
        runs,
        fps,
        model_load_ms: r1(modelLoadMs),
        ok: ok.length,
        refusals,
        capture_ms_p50: r1(pct(ok.map((r) => r.captureMs), 50)),
        capture_ms_max: r1(Math.max(...ok.map((r) => r.captureMs))),
        /** of which after the last action: passive stage and the two embeddings of the same-face check */
        tail_ms_p50: r1(pct(ok.map((r) => r.tailMs!), 50)),
        person_ms: Math.round((3 * 1000) / fps + n * (timing.reactMs + 2 * timing.rampMs + timing.holdMs)),
        frames_read_mean: r1(ok.reduce((a, r) => a + r.frames, 0) / Math.max(1, ok.length)),
      };
    },
  );
}
