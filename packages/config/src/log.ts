/**
 * The servers' one logger: pino, JSON lines on stderr (`createLogger({ name })`). Logs carry no C3
 * data and no personal data (R20, R30, PFI-09): servers never log request bodies, and as a second
 * line of defence every path that could hold a share, a signature, a key or an identity attribute is
 * removed by pino's redaction — explicit paths, because pino's `*.x` wildcards reach one level only.
 * The gateway's log-scanner test gate (packages/gateway/test/_logscan.ts) and the parties' loopback
 * suite check the result over real runs.
 */
import pino, { type DestinationStream, type Logger } from "pino";

export type { DestinationStream, Logger };

const SENSITIVE = ["shares", "sealedShare", "signature", "authorisation", "upgrade", "idNumber", "phone", "name", "token", "publicKey", "privateKey", "key"];

/** Paths removed from every log line (top level and two levels down). */
export const REDACT_PATHS: readonly string[] = Object.freeze([
  "req.headers.authorization",
  "req.headers.cookie",
  "req.body",
  "body",
  ...SENSITIVE,
  ...SENSITIVE.map((k) => `*.${k}`),
  ...SENSITIVE.map((k) => `*.*.${k}`),
]);

/** The part of a pino logger that the servers' modules call (tests may pass a stub). */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A `Log` that drops everything (the default of modules whose caller passes none). */
export const silentLog: Log = Object.freeze({ info() {}, warn() {}, error() {} });

export interface LoggerOptions {
  /** the server: `name` and `role` of every line ("helper", "p0", "p1", "gateway") */
  name: string;
  /** pino level (default "info"); an unknown level throws */
  level?: string;
  /** default: stderr (fd 2, asynchronous; flushed on exit) */
  destination?: DestinationStream;
}

/**
 * A server's pino logger with the redaction above.
 * @example const log = createLogger({ name: "p0" }); log.warn({ event: "refill_failed", reason }, "pool");
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? "info",
      redact: { paths: [...REDACT_PATHS], remove: true },
      base: { role: options.name },
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
