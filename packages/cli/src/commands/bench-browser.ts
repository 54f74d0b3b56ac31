/**
 * `privface bench browser --actions N [--runs R] [--fps F]` — the POS app's whole capture with active
 * liveness (issue 17: < 3 s for a cooperative person) in headless Chromium on a generated person
 * performing N actions drawn as the gateway draws them; one JSON line
 * {"suite":"browser-capture","capture_ms_p50":..,"capture_ms_max":..,"synthetic_ms":..,…}.
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
    .description("POS app face pipeline in headless Chromium (wasm): time per frame, first decision, false rejects")
    .option("--dataset <dir>", "folder with one sub-folder of images per person (default ../shared/data/faces/dev)")
    .option("--limit <n>", "use at most n images", (v) => Number.parseInt(v, 10))
    .option("--repeat <n>", "frames fed per image at most (a still camera)", (v) => Number.parseInt(v, 10))
    .option("--image-side <px>", "the larger side of each image in the 640×480 camera frame (default 220; 640 for lfw-dev)", (v) => Number.parseInt(v, 10))
    .option("--actions <n>", "instead: the whole capture with n active liveness actions (1–3) on a generated person", (v) => Number.parseInt(v, 10))
    .option("--runs <n>", "with --actions: captures timed (default 5, after one warm-up)", (v) => Number.parseInt(v, 10))
    .option("--fps <n>", "with --actions: the camera's frame rate (default 15)", (v) => Number.parseInt(v, 10))
    .action(async (opts: { dataset?: string; limit?: number; repeat?: number; imageSide?: number; actions?: number; runs?: number; fps?: number }) => {
      const { runBrowserBench, runBrowserCaptureBench } = await import("@privface/devstack/bench");
      if (opts.actions !== undefined) return void process.stdout.write(JSON.stringify(await runBrowserCaptureBench({ actions: opts.actions, runs: opts.runs, fps: opts.fps })) + "\n");
      const r = await runBrowserBench({ dataset: opts.dataset, limit: opts.limit, repeat: opts.repeat, imageSide: opts.imageSide });
      process.stdout.write(JSON.stringify(r) + "\n");
    });
}
