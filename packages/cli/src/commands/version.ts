import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("version")
    .description("print the privface version and the Node.js it runs on")
    .action(() => {
      process.stdout.write(`privface 0.1.0 (node ${process.version})\n`);
    });
}
