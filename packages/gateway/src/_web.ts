/**
 * Static web pages on the gateway's origin (issue 14): each mount serves the files of one directory
 * under a URL prefix (`/pos/` → a built front end), read-only, GET and HEAD only. The gateway knows
 * nothing about what it serves — the directory is built elsewhere (the devstack builds the POS app)
 * and named by configuration (`PRIVFACE_GATEWAY_WEB=/pos/=/abs/dir[,/other/=/dir]`).
 *
 * Every answer carries the pages' security headers: a Content-Security-Policy that allows only this
 * origin (scripts, fetches, the WebAssembly of the face runtime through 'wasm-unsafe-eval'; no inline
 * script or style, no third-party origin, no framing), nosniff, no referrer, camera for this origin
 * only. A path with `..`, a NUL, a backslash or a dot-file, or a file outside the directory is 404.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";

export interface WebMount {
  /** URL prefix, `/name/` */
  prefix: string;
  /** absolute directory served under it */
  dir: string;
}

export const WEB_PREFIX_RE = /^\/[a-z0-9][a-z0-9-]{0,31}\/$/;

/** The headers of every web page and asset (exported for the tests). */
export const WEB_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "connect-src 'self'",
    "img-src 'self' data: blob:",
    "style-src 'self'",
    "media-src 'self' blob:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "permissions-policy": "camera=(self), microphone=(), geolocation=(), payment=()",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "x-frame-options": "DENY",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".onnx": "application/octet-stream",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

/** Parses `/pos/=/abs/dir,/x/=/dir`; problems are pushed onto `problems`. */
export function parseWebMounts(raw: string | undefined, problems: string[], name: string): WebMount[] {
  if (!raw) return [];
  const out: WebMount[] = [];
  for (const item of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const i = item.indexOf("=");
    const prefix = i > 0 ? item.slice(0, i) : "";
    const dir = i > 0 ? item.slice(i + 1) : "";
    if (!WEB_PREFIX_RE.test(prefix) || prefix === "/v1/") problems.push(`${name}: expected /name/=/absolute/dir, got ${JSON.stringify(item)}`);
    else if (!dir.startsWith("/")) problems.push(`${name}: ${prefix} needs an absolute directory, got ${JSON.stringify(dir)}`);
    else if (out.some((m) => m.prefix === prefix)) problems.push(`${name}: ${prefix} is given twice`);
    else out.push({ prefix, dir: resolve(dir) });
  }
  return out;
}

/** Registers one GET route per mount (`/pos` redirects to `/pos/`, `/pos/` is its index.html). */
export function registerWeb(app: FastifyInstance, mounts: readonly WebMount[]): void {
  for (const m of mounts) {
    const base = m.prefix.slice(0, -1);
    app.get(base, { schema: { hide: true } }, async (_req, reply) => reply.headers(WEB_HEADERS).redirect(m.prefix, 308));
    app.get(`${m.prefix}*`, { schema: { hide: true } }, async (req, reply) => {
      const rest = (req.params as { "*": string })["*"] || "index.html";
      return serveFile(reply, m.dir, rest, req.headers["if-none-match"]);
    });
  }
}

async function serveFile(reply: FastifyReply, dir: string, rest: string, ifNoneMatch: string | undefined): Promise<FastifyReply> {
  reply.headers(WEB_HEADERS);
  const notFound = () => reply.status(404).send({ error: { code: "NOT_FOUND", message: "no such route" } });
  let rel: string;
  try {
    rel = decodeURIComponent(rest.split("?")[0]);
  } catch {
    return notFound();
  }
  if (rel.includes("\0") || rel.includes("\\") || rel.split("/").some((s) => s === ".." || s.startsWith("."))) return notFound();
  const file = join(dir, rel);
  if (!file.startsWith(dir + sep)) return notFound();
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) return notFound();
  const etag = `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  reply.header("etag", etag).header("cache-control", "no-cache");
  if (ifNoneMatch === etag) return reply.status(304).send();
  return reply.type(TYPES[extname(file)] ?? "application/octet-stream").header("content-length", st.size).send(createReadStream(file));
}
