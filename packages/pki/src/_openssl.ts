/**
 * Thin wrapper over the `openssl` command-line tool (OpenSSL 3.x). Output on stderr is kept for
 * error messages; key material is passed through files with mode 0600 and never logged.
 */
import { execFile } from "node:child_process";

export class PkiError extends Error {
  readonly code: "OPENSSL_FAILED" | "OPENSSL_MISSING" | "BAD_INPUT" | "CA_MISSING";
  constructor(code: PkiError["code"], message: string) {
    super(`${code}: ${message}`);
    this.name = "PkiError";
    this.code = code;
  }
}

export function openssl(args: string[], opts: { cwd?: string; input?: string } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile("openssl", args, { cwd: opts.cwd, encoding: "buffer", maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === "ENOENT") return reject(new PkiError("OPENSSL_MISSING", "the openssl command is not installed"));
        // first line of stderr only: never echo inputs
        const lines = Buffer.from(stderr).toString("utf8").split("\n").filter((l) => l.trim() && !l.startsWith("Using configuration"));
        const msg = lines.slice(0, 3).join(" | ") || String(err.message);
        return reject(new PkiError("OPENSSL_FAILED", `openssl ${args[0]}: ${msg}`));
      }
      resolve(Buffer.from(stdout));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
