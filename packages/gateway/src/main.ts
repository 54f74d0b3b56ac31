/**
 * `node --import tsx packages/gateway/src/main.ts` (or `privface start`): the gateway process, run by
 * the servers' one bootstrap (@privface/config `runServer`): reads PRIVFACE_GATEWAY_* (config.ts),
 * logs with pino on stderr at PRIVFACE_GATEWAY_LOG_LEVEL, prints `{"ready":"gateway","port":N}` on
 * stdout like the other servers, stops cleanly on SIGINT/SIGTERM. A bad configuration exits with
 * code 2 and the list of problems.
 */
import { runServer } from "@privface/config";
import { loadGatewayConfig, openGatewayOptions } from "./config.ts";
import { startGateway } from "./server.ts";

await runServer("gateway", async (logger) => {
  const cfg = loadGatewayConfig();
  logger.level = cfg.logLevel;
  const options = await openGatewayOptions(cfg);
  const gw = await startGateway({ ...options, logger });
  logger.info({ event: "operators", file: options.operatorsFile });
  return gw;
});
