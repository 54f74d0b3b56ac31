/**
 * `node --import tsx packages/helper/src/main.ts` — the helper process, run by the servers' one
 * bootstrap (@privface/config `runServer`): config from PRIVFACE_HELPER_* (a bad config exits 2 with
 * the list of problems), pino JSON log lines on stderr, `{"ready":"helper","port":N}` on stdout,
 * SIGINT/SIGTERM stop it cleanly.
 */
import { runServer } from "@privface/config";
import { loadHelperConfig } from "./config.ts";
import { startHelper } from "./server.ts";

await runServer("helper", async (log) => {
  const cfg = loadHelperConfig();
  const h = await startHelper(cfg, { log });
  return { ...h, url: `https://${cfg.host}:${h.port}` };
});
