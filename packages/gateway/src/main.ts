/**
 * `node --import tsx packages/gateway/src/main.ts` (or `privface start`): reads PRIVFACE_GATEWAY_*
 * (see config.ts), starts the gateway, prints where it listens (and `{"ready":"gateway","port":N}` on
 * stdout, like the other servers), stops cleanly on SIGINT/SIGTERM.
 * A bad configuration exits with code 2 and the list of problems.
 */
import { ConfigError, loadGatewayConfig, openGatewayOptions } from "./config.ts";
import { createLogger } from "./log.ts";
import { startGateway, type RunningGateway } from "./server.ts";

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<RunningGateway> {
  const cfg = loadGatewayConfig(env);
  const options = await openGatewayOptions(cfg);
  const gw = await startGateway({ ...options, logger: createLogger({ level: cfg.logLevel }) });
  process.stderr.write(`privface gateway listening on ${gw.url} (operators: ${options.operatorsFile})\n`);
  process.stdout.write(JSON.stringify({ ready: "gateway", port: gw.port }) + "\n");
  return gw;
}

if (process.argv[1] && /gateway[/\\]src[/\\]main\.ts$/.test(process.argv[1])) {
  try {
    const gw = await main();
    const stop = () => {
      gw.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`privface gateway: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
