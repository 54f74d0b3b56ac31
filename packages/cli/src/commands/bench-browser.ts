/**
 * `privface bench browser --actions N [--runs R] [--fps F]` — the POS app's whole capture with active
 * liveness (issue 17: < 3 s for a cooperative person) in headless Chromium on a generated person
 * performing N actions drawn as the gateway draws them; one JSON line
 * {"suite":"browser-capture","capture_ms_p50":..,"capture_ms_max":..,"synthetic_ms":..,…}.
 *
 * `--backend wasm|webgl|webgpu` (every form): onnxruntime-web's execution provider (default wasm).
 * `privface bench browser --embed-only [--backend B] [--runs N]` — the embedding net alone:
 * {"suite":"browser-embed","backend":..,"load_ms":..,"first_run_ms":..,"ms_p50":..,"ms_max":..}.
 *
 * `privface bench browser [--dataset DIR] [--limit N] [--repeat N] [--image-side PX]` — the POS app's face pipeline in
 * headless Chromium (/usr/bin/chromium) on a face set: model load, guidance ms per frame, the first
 * decision on a warm page, and the false-reject rate of the guided capture; one JSON line
 * {"suite":"browser-face","backend":"wasm","model_load_ms":..,"ms_per_frame_p50":..,"ms_per_frame_p99":..,"first_decision_ms":..,…}.
 * Default dataset: ../shared/data/faces/dev when present.
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("browser")
    .description("POS app face pipeline in headless Chromium (wasm, or --backend webgl|webgpu): time per frame, first decision, false rejects")
    .option("--backend <wasm|webgl|webgpu>", "onnxruntime-web's execution provider (default wasm; webgl and webgpu on Chromium's SwiftShader here, docs/benchmarks.md \"## browser\")", "wasm")
    .option("--dataset <dir>", "folder with one sub-folder of images per person (default ../shared/data/faces/dev)")
    .option("--limit <n>", "use at most n images", (v) => Number.parseInt(v, 10))
    .option("--repeat <n>", "frames fed per image at most (a still camera)", (v) => Number.parseInt(v, 10))
    .option("--image-side <px>", "the larger side of each image in the 640×480 camera frame (default 220; 640 for lfw-dev)", (v) => Number.parseInt(v, 10))
    .option("--embed-only", "instead: the embedding net alone on the backend (--runs, default 12)")
    .option("--actions <n>", "instead: the whole capture with n active liveness actions (1–3) on a generated person", (v) => Number.parseInt(v, 10))
    .option("--runs <n>", "with --actions: captures timed (default 5, after one warm-up)", (v) => Number.parseInt(v, 10))
    .option("--fps <n>", "with --actions: the camera's frame rate (default 15)", (v) => Number.parseInt(v, 10))
    .action(async (opts: { backend: string; embedOnly?: boolean; dataset?: string; limit?: number; repeat?: number; imageSide?: number; actions?: number; runs?: number; fps?: number }) => {
      const { runBrowserBench, runBrowserCaptureBench, runBrowserEmbedBench } = await import("@privface/devstack/bench");
      if (opts.backend !== "wasm" && opts.backend !== "webgl" && opts.backend !== "webgpu") throw new RangeError("--backend must be wasm, webgl or webgpu");
      const backend = opts.backend;
      if (opts.embedOnly) return void process.stdout.write(JSON.stringify(await runBrowserEmbedBench({ backend, runs: opts.runs })) + "\n");
      if (opts.actions !== undefined) return void process.stdout.write(JSON.stringify(await runBrowserCaptureBench({ backend, actions: opts.actions, runs: opts.runs, fps: opts.fps })) + "\n");
      const r = await runBrowserBench({ backend, dataset: opts.dataset, limit: opts.limit, repeat: opts.repeat, imageSide: opts.imageSide });
      process.stdout.write(JSON.stringify(r) + "\n");
    });
}
