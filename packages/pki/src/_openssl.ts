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

/** Runs `openssl args…`; `pass` is handed to it in the environment variable PRIVFACE_PKI_PASS (never argv). */
export function openssl(args: string[], opts: { cwd?: string; input?: string; pass?: string } = {}): Promise<Buffer> {
  const env = opts.pass === undefined ? process.env : { ...process.env, PRIVFACE_PKI_PASS: opts.pass };
  return new Promise((resolve, reject) => {
    const child = execFile("openssl", args, { cwd: opts.cwd, env, encoding: "buffer", maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
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
