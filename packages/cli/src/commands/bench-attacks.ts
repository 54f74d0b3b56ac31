/**
 * `privface bench attacks` — runs each attack of issue 12 against a real stack on loopback (helper,
 * P0, P1 processes and the real gateway, temporary home) and prints one JSON line with what the
 * attacker got (measured; null = not measured, reason on stderr). The driver is @privface/devstack's
 * `runAttacksBench`; docs/benchmarks.md section "attacks".
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("attacks")
    .description("the issue 12 attacks against a real stack on loopback: one JSON line of what each attack achieved")
    .option("--failure-budget <n>", "the parties' daily failure budget per template for this run", "20")
    .option("--json", "print only the JSON line on stdout (the default; progress goes to stderr)")
    .option("--keep", "keep the temporary home")
    .action(async (o: { failureBudget: string; keep?: boolean }) => {
      const { runAttacksBench } = await import("@privface/devstack/bench");
      const { result } = await runAttacksBench({
        failureBudget: Number(o.failureBudget),
        keep: o.keep,
        log: (l) => process.stderr.write(`bench attacks: ${l}\n`),
      });
      process.stdout.write(JSON.stringify(result) + "\n");
    });
}
