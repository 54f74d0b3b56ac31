/**
 * `node --import tsx packages/helper/src/main.ts` — the helper process: config from the environment
 * (a bad config exits 2 with the list of problems), JSON log lines on stderr, SIGINT/SIGTERM stop it.
 */
import { ConfigError, loadHelperConfig } from "./config.ts";
import { startHelper } from "./server.ts";

const log = (e: Record<string, unknown>) => process.stderr.write(JSON.stringify({ t: new Date().toISOString(), server: "helper", ...e }) + "\n");

try {
  const cfg = loadHelperConfig();
  const h = await startHelper(cfg, { log });
  log({ event: "listening", url: `https://${cfg.host}:${h.port}` });
  process.stdout.write(JSON.stringify({ ready: "helper", port: h.port }) + "\n");
  const stop = async (sig: string) => {
    log({ event: "stopping", signal: sig });
    await h.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`privface helper: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`privface helper: failed to start: ${(e as Error).message}\n`);
  process.exit(1);
}
