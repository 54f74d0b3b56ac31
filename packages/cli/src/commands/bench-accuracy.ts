/**
 * `privface bench accuracy --dataset DIR [--pairs FILE] [--cache FILE] [--plot FILE] [--threshold N]`
 * — embeds every image once with the device pipeline, decides every pair on exact int8 scores, and
 * checks all genuine pairs and ≥ 10,000 impostor pairs through the MPC protocol too. Prints one JSON
 * line: {"suite":"accuracy","images":..,"genuine":..,"impostor":..,"eer":..,"tar_at_far_1e-2":..,
 * "tar_at_far_1e-3":..,"tar_at_far_1e-4":..,"threshold_far_1e-4":..,"threshold":..,"far_at_threshold":..,
 * "frr_at_threshold":..,"mpc_checked":..,"mpc_agrees":..,"model":..}. Progress goes to stderr.
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("accuracy")
    .description("EER and TAR at FAR of the device pipeline on a face dataset (int8 scores, MPC cross-check)")
    .option("--dataset <dir>", "folder with one sub-folder of images per person (default ../shared/data/faces/lfw-dev)")
    .option("--pairs <file>", "LFW-format pairs file (default: all genuine and impostor pairs)")
    .option("--cache <file>", "cache embeddings in this JSON file (reruns skip the pipeline)")
    .option("--plot <file>", "write a DET curve (SVG)")
    .option("--threshold <n>", "operating threshold to report (default MODEL.threshold)", (v) => Number.parseInt(v, 10))
    .option("--mpc-impostors <n>", "impostor pairs to also run through MPC (default 10000, 0 = none)", (v) => Number.parseInt(v, 10))
    .action(async (opts: { dataset?: string; pairs?: string; cache?: string; plot?: string; threshold?: number; mpcImpostors?: number }) => {
      const { runAccuracyBench, defaultDataset } = await import("@privface/devstack/bench");
      const dataset = opts.dataset ?? defaultDataset("lfw-dev");
      if (!dataset) throw new Error("bench accuracy: no --dataset given and ../shared/data/faces/lfw-dev not found");
      let last = 0;
      const r = await runAccuracyBench({
        dataset,
        pairsFile: opts.pairs,
        cacheFile: opts.cache,
        plotFile: opts.plot,
        threshold: opts.threshold,
        mpcImpostors: opts.mpcImpostors,
        onProgress: (done, total) => {
          if (process.stderr.isTTY || done - last >= 100 || done === total) {
            last = done;
            process.stderr.write(`embedded ${done}/${total}\r${done === total ? "\n" : ""}`);
          }
        },
      });
      process.stdout.write(JSON.stringify(r) + "\n");
    });
}
