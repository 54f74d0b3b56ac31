/**
 * `privface bench capture [--actions N] [--runs R] [--fps F]` — time of a live capture (active
 * liveness + passive stage + embedding) on a generated sequence played at camera pace. Prints one
 * JSON line: {"suite":"capture","actions":N,"runs":R,"fps":F,"ms_p50":..,"ms_max":..,
 * "synthetic_ms":..,"frames_mean":..,"model":..}. Driver: `runCaptureBench` of @privface/devstack/bench.
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("capture")
    .description("time of a live capture (active + passive + embedding) on a generated sequence at camera pace")
    .option("--actions <n>", "actions per capture, 1..3 (default 2)", (v) => Number.parseInt(v, 10))
    .option("--runs <n>", "captures (default 3)", (v) => Number.parseInt(v, 10))
    .option("--fps <n>", "camera frames a second (default 8)", (v) => Number.parseFloat(v))
    .action(async (opts: { actions?: number; runs?: number; fps?: number }) => {
      const { runCaptureBench } = await import("@privface/devstack/bench");
      process.stdout.write(JSON.stringify(await runCaptureBench(opts)) + "\n");
    });
}
