/**
 * Secrets on the command line (issue 12 item 10): ID-card numbers, phone numbers and operator tokens
 * are never taken from argv, where process lists and shell history keep them. They come from a file
 * (`--<name>-file`), from the environment, or from a prompt on a terminal. `main.ts` refuses the
 * argv forms (`--token`, `--id-number`, `--phone`, with or without `=value`) before parsing anything.
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";

/** The flags that would put a secret on the command line, and where the secret comes from instead. */
export const SECRET_FLAGS: Record<string, { file: string; env: string }> = {
  "--token": { file: "--token-file", env: "PRIVFACE_GATEWAY_TOKEN" },
  "--id-number": { file: "--id-number-file", env: "PRIVFACE_ID_NUMBER" },
  "--phone": { file: "--phone-file", env: "PRIVFACE_PHONE" },
};

/** The first argv entry that carries a secret flag (`--token x` or `--token=x`), or undefined. */
export function secretFlagIn(argv: readonly string[]): string | undefined {
  for (const a of argv) {
    if (a === "--") return undefined;
    const flag = a.split("=", 1)[0];
    if (Object.prototype.hasOwnProperty.call(SECRET_FLAGS, flag)) return flag;
  }
  return undefined;
}

/** The message for a refused flag: names the flag and the alternatives, never the value. */
export function refusal(flag: string): string {
  const s = SECRET_FLAGS[flag];
  return `${flag}: secrets are never taken from the command line (process lists, shell history); use ${s.file} FILE, $${s.env} or the prompt`;
}

/** A secret from `file` (trimmed), else the environment variable, else a prompt on a terminal; throws if none. */
export async function readSecret(what: string, o: { file?: string; env: string }): Promise<string> {
  if (o.file) return readFileSync(o.file, "utf8").trim();
  const v = process.env[o.env];
  if (v) return v;
  if (process.stdin.isTTY && process.stderr.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    try {
      return (await rl.question(`${what}: `)).trim();
    } finally {
      rl.close();
    }
  }
  throw new Error(`${what} needed: give a file, $${o.env}, or run on a terminal to be asked`);
}
