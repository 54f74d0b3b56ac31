/**
 * Named protocol steps a test can kill a server at (issue 16: process kills at every step of enrol,
 * verify, upgrade and delete). `killAt("party:commit:stored")` does nothing unless the process was
 * started with `PRIVFACE_KILL_AT` naming that step (a comma-separated list), or with
 * `PRIVFACE_KILL_AT_FILE` naming a file that does (one step a line, or `<pid> <step>` for this
 * process only; read at every step, so a test arms a running server by writing the file). Then it
 * writes `{"killed-at":step}` to stderr and SIGKILLs itself — no clean-up, no answer, as a crash
 * would. Never set in production.
 */
import { readFileSync } from "node:fs";

export function killAt(step: string, env: NodeJS.ProcessEnv = process.env): void {
  const list = env.PRIVFACE_KILL_AT;
  const file = env.PRIVFACE_KILL_AT_FILE;
  if (!list && !file) return;
  let armed = (list ?? "").split(",");
  if (file) {
    try {
      armed = armed.concat(readFileSync(file, "utf8").split("\n"));
    } catch {
      // no file: nothing armed
    }
  }
  armed = armed.map((s) => s.trim());
  if (!armed.includes(step) && !armed.includes(`${process.pid} ${step}`)) return;
  process.stderr.write(`${JSON.stringify({ "killed-at": step })}\n`);
  process.kill(process.pid, "SIGKILL");
}
