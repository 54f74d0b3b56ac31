import type { Command } from "commander";

/** The `privface bench` group, created by whichever bench-* command registers first. */
export function benchGroup(program: Command): Command {
  return program.commands.find((c) => c.name() === "bench") ?? program.command("bench").description("benchmarks: one JSON line per result");
}
