/**
 * The gateway's pino logger. Logs carry no C3 data and no personal data (R20, R30, PFI-09): request
 * bodies are never logged, and as a second line of defence every path that could hold a share, a
 * signature, a key or an identity attribute is removed by pino's redaction (explicit paths: pino's
 * `*.x` wildcards reach one level only). The log-scanner test gate (test/_logscan.ts) checks the
 * result over every test run's logs.
 */
import pino, { type DestinationStream, type Logger } from "pino";

const SENSITIVE = ["shares", "sealedShare", "signature", "authorisation", "upgrade", "idNumber", "phone", "name", "token", "publicKey", "privateKey", "key"];

export const REDACT_PATHS: string[] = [
  "req.headers.authorization",
  "req.headers.cookie",
  "req.body",
  "body",
  ...SENSITIVE,
  ...SENSITIVE.map((k) => `*.${k}`),
  ...SENSITIVE.map((k) => `*.*.${k}`),
];

export function createLogger(options: { level?: string; destination?: DestinationStream; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? "gateway",
      level: options.level ?? "info",
      redact: { paths: REDACT_PATHS, remove: true },
      base: { role: "gateway" },
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
