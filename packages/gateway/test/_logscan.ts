/**
 * The log-scanner gate (PFI-07, PFI-09): every gateway test captures its logs through `LogCapture`
 * (also appended to $TMPDIR/privface-test-logs/, the run's log directory) and asserts at the end that
 * `scanLog` finds nothing: no 18-character ID-card number, no 11-digit mobile number, no base64 /
 * base64url / hex blob long enough to be a share, a sealed share or a key, and none of the test's known
 * secrets (plaintext shares, identity values) in any encoding.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

export const LOG_DIR = join(tmpdir(), "privface-test-logs");

const PATTERNS: [string, RegExp][] = [
  ["id-card number", /(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])/],
  ["mobile number", /(?<![0-9])1[3-9][0-9]{9}(?![0-9])/],
  ["base64 blob", /[A-Za-z0-9+/_-]{44,}={0,2}/],
  ["hex blob", /(?<![0-9a-fA-F])[0-9a-fA-F]{32,}(?![0-9a-fA-F])/],
];

export interface LogHit {
  kind: string;
  line: number;
  excerpt: string;
}

/** Scans log text; `secrets` are exact byte strings or strings that must not appear in any encoding. */
export function scanLog(text: string, secrets: (string | Uint8Array)[] = []): LogHit[] {
  const hits: LogHit[] = [];
  const needles: [string, string][] = [];
  for (const s of secrets) {
    const b = typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s);
    if (typeof s === "string") needles.push(["secret", s]);
    if (b.length >= 8) needles.push(["secret (base64url)", b.toString("base64url").slice(0, 16)], ["secret (base64)", b.toString("base64").slice(0, 16)], ["secret (hex)", b.toString("hex").slice(0, 24)]);
  }
  text.split("\n").forEach((line, i) => {
    for (const [kind, re] of PATTERNS) {
      const m = re.exec(line);
      if (m) hits.push({ kind, line: i + 1, excerpt: m[0].slice(0, 12) + "…" });
    }
    for (const [kind, n] of needles) if (n.length >= 6 && line.includes(n)) hits.push({ kind, line: i + 1, excerpt: "(redacted)" });
  });
  return hits;
}

/** A pino destination that keeps every line in memory and appends it to the run's log directory. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  readonly file: string;

  constructor(name: string) {
    super();
    mkdirSync(LOG_DIR, { recursive: true });
    this.file = join(LOG_DIR, `gateway-${name}-${process.pid}.log`);
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const s = chunk.toString();
    this.lines.push(s.trimEnd());
    try {
      appendFileSync(this.file, s);
    } catch {
      /* the in-memory copy is what the assertions use */
    }
    cb();
  }

  get text(): string {
    return this.lines.join("\n");
  }
}
