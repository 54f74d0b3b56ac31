/**
 * `privface bench pad --live DIR --spoof DIR [--plot FILE] [--threshold T] [--net-only]` — the
 * device's passive presentation-attack detection on labelled live and spoof images (every image
 * below each folder is one frame). Prints one JSON line:
 * {"suite":"pad","live":N,"spoof":M,"threshold":t,"apcer":..,"bpcer":..,"eer":..,"eer_threshold":..,
 * "no_face":..,"by_attack"?:{..},"cue":..,"model":..}; `--plot` writes the DET curve (SVG).
 * Progress goes to stderr. Driver: `runPadBench` of @privface/devstack/bench.
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("pad")
    .description("presentation-attack detection (APCER, BPCER, EER) of the device's passive stage on live and spoof images")
    .requiredOption("--live <dir>", "folder of live (bona fide) face images")
    .requiredOption("--spoof <dir>", "folder of attack images (sub-folders named by attack type are reported separately)")
    .option("--plot <file>", "write a DET curve (SVG)")
    .option("--threshold <t>", "operating threshold on the live score (default MODEL.livenessThreshold)", (v) => Number.parseFloat(v))
    .option("--net-only", "the anti-spoofing net alone, without the border cue (comparison)")
    .action(async (opts: { live: string; spoof: string; plot?: string; threshold?: number; netOnly?: boolean }) => {
      const { runPadBench } = await import("@privface/devstack/bench");
      let last = 0;
      const r = await runPadBench({
        live: opts.live,
        spoof: opts.spoof,
        plotFile: opts.plot,
        threshold: opts.threshold,
        netOnly: opts.netOnly,
        onProgress: (done, total) => {
          if (done - last >= 100 || done === total) {
            last = done;
            process.stderr.write(`scored ${done}/${total}\n`);
          }
        },
      });
      process.stdout.write(JSON.stringify(r) + "\n");
    });
}
