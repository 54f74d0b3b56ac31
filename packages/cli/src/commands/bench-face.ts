/**
 * `privface bench face [--dataset DIR] [--limit N]` — times the device pipeline in Node on this
 * machine (detect + liveness + landmarks + embed with mirror + quantise + share + seal) per image and
 * prints one JSON line: {"suite":"face","images":N,"ms_per_image_p50":..,"ms_per_image_p99":..,"model":..}.
 * Default dataset: ../shared/data/faces/dev (8 people × 5 crops) when present.
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("face")
    .description("device pipeline time per image (Node, this machine)")
    .option("--dataset <dir>", "folder with one sub-folder of images per person (default ../shared/data/faces/dev)")
    .option("--limit <n>", "use at most n images", (v) => Number.parseInt(v, 10))
    .action(async (opts: { dataset?: string; limit?: number }) => {
      const { runFaceBench } = await import("@privface/devstack/bench");
      const r = await runFaceBench({ dataset: opts.dataset, limit: opts.limit });
      process.stdout.write(JSON.stringify(r) + "\n");
    });
}
