/**
 * Thin JSON-over-HTTPS adapter for the servers: an app is a function from an `AppRequest`
 * (method, path, authenticated peer role, parsed JSON body) to an `AppResponse`; `nodeHandler(app)`
 * binds it to node's https server (admission, body limit, JSON parsing, one error shape), and
 * `requestJson` is the matching keep-alive client.
 *
 * Admission (`opts.admit`) runs on the request line and the client certificate's role BEFORE any
 * byte of the body is read: a refused request is answered at once and its connection closed without
 * reading the body; an admitted one is read up to the route's own limit (a declared
 * `content-length` above it is refused at once, a longer stream as soon as it passes the limit).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import type { ServerRole } from "@privface/contracts";
import { peerRole } from "./tls.ts";

export interface AppRequest {
  method: string;
  path: string;
  /** ServerRole from the client certificate, or null when none / unknown. */
  role: ServerRole | null;
  body: unknown;
  /** Raw body bytes (for binary endpoints). */
  raw: Buffer;
}

export interface AppResponse {
  status: number;
  body?: unknown;
  /** When set, `body` is sent as is (string/Buffer) with this content type. */
  contentType?: string;
}

export type App = (req: AppRequest) => Promise<AppResponse>;

/** What a server knows of a request before reading its body. */
export interface RequestHead {
  method: string;
  path: string;
  /** ServerRole from the client certificate, or null when none / unknown. */
  role: ServerRole | null;
}

/** Decided on the head alone: refuse with `response` (the body is never read), or admit up to `maxBodyBytes`. */
export type Admission = { ok: true; maxBodyBytes: number } | { ok: false; response: AppResponse };

export function nodeHandler(app: App, opts: { maxBodyBytes?: number; admit?: (head: RequestHead) => Admission } = {}) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const head: RequestHead = { method: req.method ?? "GET", path: q >= 0 ? url.slice(0, q) : url, role: peerRole(req.socket as TLSSocket) };
    const send = (r: AppResponse, close = false) => {
      let payload: string | Buffer;
      let type: string;
      if (r.contentType) {
        payload = r.body as string | Buffer;
        type = r.contentType;
      } else {
        payload = r.body === undefined ? "" : JSON.stringify(r.body);
        type = "application/json";
      }
      const headers: Record<string, string | number> = { "content-type": type, "content-length": Buffer.byteLength(payload), "cache-control": "no-store" };
      if (close) headers.connection = "close";
      res.writeHead(r.status, headers);
      res.end(payload);
    };
    /** Answers without reading (more of) the body: reading stops, the connection closes after the answer. */
    const refuse = (r: AppResponse) => {
      chunks.length = 0;
      req.removeAllListeners("data");
      req.removeAllListeners("end");
      req.on("data", () => {}); // marks the body consumed so node does not drain it …
      req.pause(); // … and stops reading from the socket
      send(r, true);
    };
    const chunks: Buffer[] = [];
    let max = opts.maxBodyBytes ?? 1 << 20;
    if (opts.admit) {
      const a = opts.admit(head);
      if (!a.ok) return refuse(a.response);
      max = a.maxBodyBytes;
    }
    const tooBig = (): AppResponse => ({ status: 413, body: { error: { code: "INVALID_INPUT", message: `body larger than ${max} bytes` } } });
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > max) return refuse(tooBig());
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) refuse(tooBig());
      else chunks.push(c);
    });
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      let body: unknown = undefined;
      const ct = String(req.headers["content-type"] ?? "");
      if (raw.length > 0 && ct.startsWith("application/json")) {
        try {
          body = JSON.parse(raw.toString("utf8"));
        } catch {
          return send({ status: 400, body: { error: { code: "INVALID_INPUT", message: "body is not valid JSON" } } });
        }
      }
      app({ ...head, body, raw }).then((r) => send(r), () =>
        send({ status: 500, body: { error: { code: "INTERNAL", message: "internal error" } } }),
      );
    });
  };
}

export interface JsonResult {
  status: number;
  body: any;
}

/** One HTTPS request with a JSON (or raw) body through `agent`; resolves with status and the parsed JSON body (a Buffer for application/octet-stream, else text). */
export function requestJson(agent: https.Agent, url: string, method: string, body?: unknown, opts: { timeoutMs?: number; raw?: Buffer } = {}): Promise<JsonResult> {
  return new Promise((resolve, reject) => {
    const payload = opts.raw ?? (body === undefined ? undefined : Buffer.from(JSON.stringify(body)));
    const req = https.request(
      url,
      {
        method,
        agent,
        headers: payload
          ? { "content-type": opts.raw ? "application/octet-stream" : "application/json", "content-length": payload.length }
          : {},
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const buf = Buffer.concat(chunks);
          const type = String(res.headers["content-type"] ?? "");
          if (type.startsWith("application/octet-stream")) return resolve({ status: res.statusCode ?? 0, body: buf });
          const text = buf.toString("utf8");
          let parsed: unknown = text;
          if (type.startsWith("application/json") && text.length > 0) {
            try {
              parsed = JSON.parse(text);
            } catch {
              /* keep text */
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}
