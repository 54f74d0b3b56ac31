/**
 * `privface` — the command line. Every file in `./commands/` exports `register(program)` and adds
 * one command (or a command group). Command modules keep their heavy imports inside the action
 * (`await import(...)`), so `privface --help` stays fast and one broken command cannot break others.
 */
import { Command } from "commander";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { refusal, secretFlagIn } from "./commands/_secrets.ts";

export interface CommandModule {
  register(program: Command): void;
}

export async function buildProgram(): Promise<Command> {
  const program = new Command("privface")
    .description("privface: face verification where no institution holds a face template")
    .showHelpAfterError()
    .exitOverride((err) => {
      throw err;
    });
  const dir = join(dirname(fileURLToPath(import.meta.url)), "commands");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.startsWith("_")).sort()) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as CommandModule;
    mod.register(program);
  }
  return program;
}

async function main(argv: string[]): Promise<void> {
  // secrets never from argv (issue 12 item 10): refused before anything is parsed
  const flag = secretFlagIn(argv.slice(2));
  if (flag) {
    process.stderr.write(`privface: ${refusal(flag)}\n`);
    process.exitCode = 2;
    return;
  }
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === "string" && e.code.startsWith("commander.")) {
      process.exitCode = e.exitCode ?? 1;
      return;
    }
    process.stderr.write(`privface: ${e.message ?? String(err)}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && /privface(\.js)?$|main\.ts$/.test(process.argv[1])) {
  await main(process.argv);
}
