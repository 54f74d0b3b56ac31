/**
 * A small HTTP(S) client of the gateway API for the CLI, the demo and the benchmarks: keep-alive
 * connections, JSON in and out, the deployment CA for HTTPS, an optional operator token. It does not
 * throw on 4xx/5xx: it returns `{ status, body, ms }` so callers can show the error code.
 */
import http from "node:http";
import https from "node:https";

export interface GatewayAnswer<T = any> {
  status: number;
  body: T;
  ms: number;
}

export interface GatewayClient {
  readonly url: string;
  call<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<GatewayAnswer<T>>;
  /** The same with `Authorization: Bearer <token>` (and the reason header when given). */
  admin<T = any>(method: string, path: string, body?: unknown, reason?: string): Promise<GatewayAnswer<T>>;
  close(): void;
}

export function createGatewayClient(o: { url: string; ca?: string | Buffer; token?: string; maxSockets?: number; timeoutMs?: number }): GatewayClient {
  const base = new URL(o.url);
  const secure = base.protocol === "https:";
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 64, ...(o.ca ? { ca: o.ca } : {}) })
    : new http.Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 64 });
  const call = <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<GatewayAnswer<T>> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = (secure ? https : http).request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path,
          method,
          agent,
          headers: { accept: "application/json", ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}), ...headers },
          timeout: o.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              /* keep text */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T, ms: performance.now() - t0 });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`timeout after ${o.timeoutMs ?? 30_000} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  return {
    url: o.url.replace(/\/+$/, ""),
    call,
    admin: (method, path, body, reason) =>
      call(method, path, body, { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(reason ? { "x-privface-reason": reason } : {}) }),
    close: () => agent.destroy(),
  };
}
