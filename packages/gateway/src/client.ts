/**
 * A small HTTP(S) client of the gateway API for the CLI, the demo and the benchmarks: keep-alive
 * connections, JSON in and out, the deployment CA for HTTPS, an optional operator token. It does not
 * throw on 4xx/5xx: it returns `{ status, body, ms }` so callers can show the error code.
 *
 * Built on undici's `Pool` (the HTTP client inside Node's fetch) rather than node:https: measured in
 * `bench e2e`, it costs the simulated devices about half the CPU per request of node's https client
 * (docs/benchmarks.md, e2e).
 */
import { Pool, type Dispatcher } from "undici";

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
  const timeoutMs = o.timeoutMs ?? 30_000;
  const pool = new Pool(base.origin, {
    connections: o.maxSockets ?? 64,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    ...(base.protocol === "https:" && o.ca ? { connect: { ca: o.ca } } : {}),
  });
  // dispatch() with a handler that collects the body: cheaper than request(), which wraps every
  // response in a Readable stream
  const call = <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<GatewayAnswer<T>> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const chunks: Buffer[] = [];
      let status = 0;
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => {},
        onResponseStart: (_c, statusCode) => void (status = statusCode),
        onResponseData: (_c, chunk) => void chunks.push(chunk),
        onResponseEnd: () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* keep text */
          }
          resolve({ status, body: parsed as T, ms: performance.now() - t0 });
        },
        onResponseError: (_c, e) => reject(e),
      };
      pool.dispatch(
        {
          method: method as Dispatcher.HttpMethod,
          path,
          headers: { accept: "application/json", ...(payload !== undefined ? { "content-type": "application/json" } : {}), ...headers },
          body: payload,
        },
        handler,
      );
    });
  return {
    url: o.url.replace(/\/+$/, ""),
    call,
    admin: (method, path, body, reason) =>
      call(method, path, body, { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(reason ? { "x-privface-reason": reason } : {}) }),
    close: () => void pool.destroy().catch(() => {}),
  };
}
