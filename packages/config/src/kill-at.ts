/**
 * Named protocol steps a test can kill a server at (issue 16: process kills at every step of enrol,
 * verify, upgrade and delete). `killAt("party:commit:stored")` does nothing unless the process was
 * started with `PRIVFACE_KILL_AT` naming that step (a comma-separated list); then it writes
 * `{"killed-at":step}` to stderr and SIGKILLs itself — no clean-up, no answer, as a crash would.
 * Never set in production; the variable is read at every call so a test may restart the process
 * without it.
 */
export function killAt(step: string, env: NodeJS.ProcessEnv = process.env): void {
  const at = env.PRIVFACE_KILL_AT;
  if (!at || !at.split(",").includes(step)) return;
  process.stderr.write(`${JSON.stringify({ "killed-at": step })}\n`);
  process.kill(process.pid, "SIGKILL");
}
