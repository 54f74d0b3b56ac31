/**
 * A small HTTP(S) client of the gateway API for the CLI, the demo and the benchmarks: keep-alive
 * connections, JSON in and out, the deployment CA for HTTPS, an optional operator token. It does not
 * throw on 4xx/5xx: it returns `{ status, body, ms }` so callers can show the error code. `fetch`
 * lends the same connections to the device SDK.
 *
 * Built on undici's `Pool` (the HTTP client inside Node's fetch) rather than node:https: measured in
 * `bench e2e`, it costs the simulated devices about half the CPU per request of node's https client
 * (docs/benchmarks-history.md, e2e).
 */
import { Pool, type Dispatcher } from "undici";

export interface GatewayAnswer<T = any> {
  status: number;
  body: T;
  ms: number;
}

/** The part of `fetch` the device SDK uses (@privface/device `FetchLike`). */
export type FetchLike = (url: string, init: { method: string; headers?: Record<string, string>; body?: string }) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

export interface GatewayClient {
  readonly url: string;
  /** The same connections as a `fetch` for the device SDK (`FaceDevice`): bodies pass through as text. */
  readonly fetch: FetchLike;
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
  const send = (method: string, path: string, payload: string | undefined, headers: Record<string, string>): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let status = 0;
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => {},
        onResponseStart: (_c, statusCode) => void (status = statusCode),
        onResponseData: (_c, chunk) => void chunks.push(chunk),
        onResponseEnd: () => resolve({ status, text: Buffer.concat(chunks).toString("utf8") }),
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
  const call = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<GatewayAnswer<T>> => {
    const t0 = performance.now();
    const r = await send(method, path, body === undefined ? undefined : JSON.stringify(body), headers);
    let parsed: unknown = r.text;
    try {
      parsed = r.text ? JSON.parse(r.text) : undefined;
    } catch {
      /* keep text */
    }
    return { status: r.status, body: parsed as T, ms: performance.now() - t0 };
  };
  const fetch: FetchLike = async (url, init) => {
    const u = new URL(url);
    if (u.origin !== base.origin) throw new TypeError(`this client talks to ${base.origin}, not ${u.origin}`);
    const r = await send(init.method, u.pathname + u.search, init.body, {});
    return { ok: r.status >= 200 && r.status < 300, status: r.status, text: async () => r.text };
  };
  return {
    url: o.url.replace(/\/+$/, ""),
    fetch,
    call,
    admin: (method, path, body, reason) =>
      call(method, path, body, { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(reason ? { "x-privface-reason": reason } : {}) }),
    close: () => void pool.destroy().catch(() => {}),
  };
}
