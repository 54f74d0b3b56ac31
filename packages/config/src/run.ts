/**
 * One server bootstrap for every server process (`main.ts` of the helper, P0/P1 and the gateway):
 * `runServer(name, start)` creates the server's logger, starts it, prints the ready line
 * `{"ready":"<name>","port":N}` on stdout (the development stack waits for it), and stops it cleanly on
 * SIGINT or SIGTERM (close, then exit 0; exit 1 if closing fails). A start that throws a
 * `ConfigError` exits 2 with the list of problems on stderr; any other failure to start exits 1.
 * Nothing else is written to stdout; log lines go to stderr (log.ts).
 */
import { ConfigError } from "./errors.ts";
import { createLogger, type Logger } from "./log.ts";

/** What `start` returns: the bound port and how to stop. */
export interface RunningServer {
  port: number;
  /** where it listens (logged with the `listening` event) */
  url?: string;
  close(): Promise<void>;
}

export interface RunServerOptions {
  /** the process's streams and exit (tests of this module inject them) */
  stdout?: { write(s: string): unknown };
  stderr?: { write(s: string): unknown };
  exit?: (code: number) => void;
  /** the logger `start` receives (default: `createLogger({ name })`, JSON lines on stderr) */
  logger?: Logger;
}

/**
 * Runs one server process. `start` receives the server's logger (it may set `logger.level` from its
 * configuration) and resolves once the server listens.
 * @example await runServer("helper", async (log) => startHelper(loadHelperConfig(), { log }));
 */
export async function runServer(name: string, start: (logger: Logger) => Promise<RunningServer>, options: RunServerOptions = {}): Promise<void> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let logger: Logger;
  let server: RunningServer;
  try {
    logger = options.logger ?? createLogger({ name });
    server = await start(logger);
  } catch (e) {
    if (e instanceof ConfigError) {
      stderr.write(`privface ${name}: ${e.message}\n`);
      exit(2);
      return;
    }
    stderr.write(`privface ${name}: failed to start: ${(e as Error)?.message ?? String(e)}\n`);
    exit(1);
    return;
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: "stopping", signal });
    server.close().then(
      () => exit(0),
      (e: unknown) => {
        logger.error({ event: "close_failed", reason: (e as Error)?.message });
        exit(1);
      },
    );
  };
  // the handlers are in place before anyone can read the ready line and signal us
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  logger.info({ event: "listening", port: server.port, ...(server.url ? { url: server.url } : {}) });
  stdout.write(JSON.stringify({ ready: name, port: server.port }) + "\n");
}
