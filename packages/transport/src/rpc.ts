/**
 * The same `App` as http.ts, reached over one persistent WebSocket inside mutual TLS instead of one
 * HTTPS request per call. Measured on this machine (2 KB JSON bodies, 8 in flight): an HTTPS
 * keep-alive request costs ≈ 145 µs of server CPU and ≈ 250 µs of client CPU; the same call as a
 * WebSocket message ≈ 50 + 60 µs. The gateway calls the parties this way (docs/contracts.md).
 *
 * Wire: each WebSocket text message is a JSON array of calls `{id, method, path, body}` or of
 * answers `{id, status, body}`. Calls (and answers) made in the same event-loop turn share one
 * message. The caller's role comes from its client certificate, exactly as for HTTPS; the app does
 * all authorisation. A dropped link fails the calls in flight (the caller sees it as unreachable,
 * as with a reset HTTPS connection) and the next call dials again.
 */
import type https from "node:https";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { ServerRole } from "@privface/contracts";
import WebSocket, { WebSocketServer } from "ws";
import type { App, AppResponse, JsonResult } from "./http.ts";
import { turnBatcher } from "./batch.ts";
import { peerRole, type ExpectedPeer, type TlsMaterial } from "./tls.ts";
import { serverClientOptions } from "./ws.ts";

export const RPC_PATH = "/v1/rpc";

interface Call {
  id: number;
  method: string;
  path: string;
  body?: unknown;
}
interface Answer {
  id: number;
  status: number;
  body?: unknown;
}

const isCall = (c: unknown): c is Call => {
  const o = c as Call;
  return typeof o === "object" && o !== null && Number.isSafeInteger(o.id) && typeof o.method === "string" && typeof o.path === "string";
};

/**
 * Serves `app` on `server` at RPC_PATH to every client with a certificate from the deployment CA —
 * with `roles`, only to those roles: any other is refused at the upgrade, before it can send a message.
 */
export function serveRpc(server: https.Server, app: App, opts: { maxPayload?: number; roles?: readonly ServerRole[] } = {}): { close(): void } {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: opts.maxPayload ?? 1 << 20 });
  const raw = Buffer.alloc(0);
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? "").split("?")[0] !== RPC_PATH) return; // another path's upgrade
    const role = peerRole(req.socket as TLSSocket);
    if (!role || (opts.roles && !opts.roles.includes(role))) {
      const body = JSON.stringify({ error: { code: "FORBIDDEN_ROLE", message: `role ${role ?? "none"} may not open ${RPC_PATH}` } });
      socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const answer = turnBatcher<Answer>((items) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(items)));
      const reply = (id: number, r: AppResponse) => answer({ id, status: r.status, body: r.body });
      ws.on("message", (data, isBinary) => {
        let calls: unknown;
        try {
          calls = isBinary ? null : JSON.parse(data.toString());
        } catch {
          calls = null;
        }
        if (!Array.isArray(calls) || !calls.every(isCall)) {
          ws.close(1008, "expected a JSON array of {id, method, path, body}");
          return;
        }
        for (const c of calls) {
          app({ method: c.method, path: c.path, role, body: c.body, raw }).then(
            (r) => reply(c.id, r.contentType ? { status: 500, body: { error: { code: "INTERNAL", message: "not a JSON route" } } } : r),
            () => reply(c.id, { status: 500, body: { error: { code: "INTERNAL", message: "internal error" } } }),
          );
        }
      });
      ws.on("error", () => {});
    });
  });
  return {
    close: () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

export interface RpcClient {
  /** One call; resolves with status and JSON body, rejects when the link fails or `timeoutMs` passes. */
  request(method: string, path: string, body?: unknown): Promise<JsonResult>;
  /** Drops the open link (calls in flight on it fail); the next call dials again, with the TLS material as it is then. */
  redial(): void;
  close(): void;
}

/** A client of `serveRpc` at `url` (https://host:port): dials on first use and after a drop. */
export function createRpcClient(o: { url: string; tls: TlsMaterial; timeoutMs?: number; connectTimeoutMs?: number; expect?: ExpectedPeer }): RpcClient {
  const target = o.url.replace(/^https:/, "wss:").replace(/\/+$/, "") + RPC_PATH;
  const pending = new Map<number, { ws: WebSocket; resolve: (r: JsonResult) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let link: Promise<WebSocket> | null = null;
  let nextId = 1;
  let closed = false;

  /** Fails the calls in flight on `ws` (all calls when null). */
  const fail = (ws: WebSocket | null, e: Error) => {
    for (const [id, p] of pending) {
      if (ws && p.ws !== ws) continue;
      clearTimeout(p.timer);
      pending.delete(id);
      p.reject(e);
    }
  };

  function dial(): Promise<WebSocket> {
    const ws = new WebSocket(target, serverClientOptions(o.tls, o.connectTimeoutMs ?? 2_000, o.expect));
    const up = new Promise<WebSocket>((resolve, reject) => {
      ws.once("open", () => resolve(ws));
      ws.once("error", (e) => reject(e));
      ws.once("close", () => reject(new Error(`link to ${target} closed`)));
      // the server refused the upgrade (e.g. 403 for a role it does not serve): every call gets that answer
      ws.once("unexpected-response", (req, res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          let body: unknown = Buffer.concat(chunks).toString("utf8");
          try {
            body = JSON.parse(body as string);
          } catch {
            /* keep text */
          }
          reject(Object.assign(new Error(`${target} refused the link: HTTP ${res.statusCode}`), { answer: { status: res.statusCode ?? 0, body } }));
          req.destroy();
        });
      });
    });
    ws.on("error", () => {});
    ws.on("message", (data) => {
      let answers: unknown;
      try {
        answers = JSON.parse(data.toString());
      } catch {
        answers = null;
      }
      if (!Array.isArray(answers)) return void ws.terminate(); // not a server of ours: fail the calls in flight
      for (const a of answers as Answer[]) {
        const p = pending.get(a?.id);
        if (!p) continue;
        pending.delete(a.id);
        clearTimeout(p.timer);
        p.resolve({ status: a.status, body: a.body });
      }
    });
    ws.on("close", () => {
      if (link === current) link = null;
      fail(ws, new Error(`link to ${target} closed`));
    });
    const current = up;
    up.catch(() => {
      if (link === current) link = null;
    });
    return up;
  }

  const send = turnBatcher<{ ws: WebSocket; call: Call }>((items) => {
    const byLink = new Map<WebSocket, Call[]>(); // one link, or two around a re-dial
    for (const { ws, call } of items) {
      const calls = byLink.get(ws);
      if (calls) calls.push(call);
      else byLink.set(ws, [call]);
    }
    for (const [ws, calls] of byLink) if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(calls));
  });

  return {
    async request(method, path, body) {
      if (closed) throw new Error("client closed");
      link ??= dial();
      let ws: WebSocket;
      try {
        ws = await link;
      } catch (e) {
        const answer = (e as { answer?: JsonResult }).answer;
        if (answer) return answer;
        throw e;
      }
      if (ws.readyState !== WebSocket.OPEN) throw new Error(`link to ${target} closed`);
      return new Promise<JsonResult>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${method} ${path} timed out`));
        }, o.timeoutMs ?? 10_000);
        pending.set(id, { ws, resolve, reject, timer });
        send({ ws, call: { id, method, path, body } });
      });
    },
    redial() {
      void link?.then((ws) => ws.terminate(), () => {});
      link = null;
    },
    close() {
      closed = true;
      void link?.then((ws) => ws.close(1001, "client closed"), () => {});
      link = null;
      fail(null, new Error("client closed"));
    },
  };
}
