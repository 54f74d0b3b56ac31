/**
 * Transport over WebSocket (ws) inside mutual TLS 1.3. Each server accepts links on an existing
 * HTTPS server (upgrade path `/v1/link`) from an allow-list of roles and dials the peers it is
 * configured with; a link is persistent and re-dialled with back-off when it drops. The peer's role
 * comes from its certificate; a frame that claims another sender closes the link (code 1008).
 */
import type https from "node:https";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { PeerCertificate, TLSSocket } from "node:tls";
import WebSocket, { WebSocketServer } from "ws";
import { Mailbox } from "./_mailbox.ts";
import { turnBatcher } from "./batch.ts";
import { decodeFrame, encodeFrame, packFrames, unpackFrames } from "./_frame.ts";
import { TransportError, type Frame, type OutFrame, type ReceiveOptions, type Transport } from "./_types.ts";
import type { ServerRole } from "@privface/contracts";
import { crlOption, expectPeer, roleOfCertificate, type ExpectedPeer, type TlsMaterial } from "./tls.ts";

export const LINK_PATH = "/v1/link";
/**
 * Frames sent in one event-loop turn travel as one message, up to this many: a longer burst (a party
 * answering many sessions' rounds at once) leaves in pieces, so the peer starts on the first while
 * this side computes the rest. Without the cap the two parties took turns — one computing a whole
 * batch while the other waited — and the machine stayed ≈ 30 % idle at 32–64 verifications in flight
 * (docs/benchmarks-history.md, evening of 2026-12-01).
 */
export const MAX_FRAMES_PER_MESSAGE = 16;

/**
 * WebSocket clients mask their frames so that a browser's script cannot steer bytes on the wire
 * (proxy cache poisoning). Between two servers inside mutual TLS there is no such script; an
 * all-zero mask makes ws skip the masking and unmasking passes (a copy of every payload each side).
 */
export const zeroMask = (mask: Uint8Array): void => void mask.fill(0);

/**
 * Options of a WebSocket that one server opens to another: mutual TLS 1.3, no compression, zero
 * mask; with `expect`, only a server whose certificate names that role.
 */
export function serverClientOptions(tls: TlsMaterial, handshakeTimeoutMs: number, expect?: ExpectedPeer): WebSocket.ClientOptions {
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    ...crlOption(tls),
    minVersion: "TLSv1.3",
    perMessageDeflate: false,
    maxPayload: 16 << 20,
    handshakeTimeout: handshakeTimeoutMs,
    generateMask: zeroMask,
    // passed through to tls.connect, which takes node's signature (ws's typings say boolean)
    ...(expect ? { checkServerIdentity: expectPeer(expect) as unknown as WebSocket.ClientOptions["checkServerIdentity"] } : {}),
  };
}

export interface WsTransportOptions {
  role: ServerRole;
  /** this server's TLS material (its server certificate, for accepting links) */
  tls: TlsMaterial;
  /** its client certificate, presented when dialling a peer (default `tls`) */
  clientTls?: TlsMaterial;
  /** HTTPS (mTLS) server to accept links on; required when `accept` is non-empty. */
  server?: https.Server;
  /** Roles allowed to open a link to this server. */
  accept?: ServerRole[];
  /** Peers this endpoint dials: role → wss URL of the peer's server (path defaults to /v1/link). */
  dial?: Partial<Record<ServerRole, string>>;
  roleOf?: (cert: PeerCertificate) => ServerRole | null;
  /** How long `send` waits for a link to come up (default 1000 ms). */
  connectTimeoutMs?: number;
  receiveTimeoutMs?: number;
  /** keep-alive ping interval (default 10 s): two missed pongs close the link; each pong measures its RTT */
  pingEveryMs?: number;
  /** Test/diagnostic hook: sees every encoded frame sent or received (what TLS carries). Off by default. */
  capture?: (direction: "in" | "out", peer: ServerRole, frame: Uint8Array) => void;
  /**
   * Roles of which several processes link here at once (the worker processes of the other party over
   * one database): every accepted link of such a role is kept (otherwise a new link replaces the
   * old), and frames of a session go back over the link that session's frames arrived on.
   */
  several?: ServerRole[];
  /** The session a session's related runs are matched by (e.g. an upgrade run by its verification); default: itself. */
  sessionKey?: (session: string) => string;
  /** Observer for link events (metrics, logs). Never receives payloads. */
  onEvent?: (e: { type: "up" | "down" | "refused"; role: ServerRole | null; reason?: string }) => void;
}

export interface WsTransport extends Transport {
  /** Frames refused (wrong sender, undecodable), frames sent and received, link messages received. */
  readonly stats: { refused: number; sent: number; received: number; messages: number };
  /** The round-trip time of the last keep-alive ping on the link to `role` (every `pingEveryMs`), ms; undefined before the first pong. */
  rttMs(role: ServerRole): number | undefined;
  /** Drops every open link (sessions in flight on them fail); the dialling side dials again, with the TLS material as it is then. */
  redial(): void;
}

export function createWsTransport(o: WsTransportOptions): WsTransport {
  const roleOf = o.roleOf ?? roleOfCertificate;
  const mailbox = new Mailbox({ receiveTimeoutMs: o.receiveTimeoutMs ?? 5_000 });
  const links = new Map<ServerRole, WebSocket>();
  const waiters = new Map<ServerRole, Set<() => void>>();
  const stats = { refused: 0, sent: 0, received: 0, messages: 0 };
  // per link: the frames of one event-loop turn leave as one message, at most MAX_FRAMES_PER_MESSAGE
  const outboxes = new WeakMap<WebSocket, (frame: Buffer) => void>();
  const outbox = (ws: WebSocket): ((frame: Buffer) => void) => {
    let push = outboxes.get(ws);
    if (!push) {
      push = turnBatcher<Buffer>((frames) => ws.readyState === WebSocket.OPEN && ws.send(packFrames(frames)), MAX_FRAMES_PER_MESSAGE);
      outboxes.set(ws, push);
    }
    return push;
  };
  const accept = new Set(o.accept ?? []);
  // several links per role (`several`): all of them, and the link each session (by `sessionKey`) came in on
  const several = new Set(o.several ?? []);
  const all = new Map<ServerRole, Set<WebSocket>>();
  const bound = new Map<string, { ws: WebSocket; at: number }>();
  const keyOf = o.sessionKey ?? ((s: string) => s);
  const open = (ws: WebSocket | undefined) => !!ws && ws.readyState === WebSocket.OPEN;
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  let wss: WebSocketServer | null = null;

  const event = (type: "up" | "down" | "refused", role: ServerRole | null, reason?: string) => o.onEvent?.({ type, role, reason });

  function attach(role: ServerRole, ws: WebSocket): void {
    if (closed) {
      ws.terminate();
      return;
    }
    const old = links.get(role);
    if (several.has(role)) {
      const set = all.get(role) ?? new Set();
      all.set(role, set.add(ws));
    } else if (old && old !== ws) old.terminate();
    links.set(role, ws);
    event("up", role);
    for (const w of waiters.get(role) ?? []) w();
    waiters.delete(role);
    ws.on("message", (data, isBinary) => {
      if (!isBinary) {
        stats.refused++;
        ws.close(1003, "binary frames only");
        return;
      }
      let chunks: Uint8Array[];
      let frames: Frame[];
      try {
        chunks = unpackFrames(data as Buffer);
        frames = chunks.map(decodeFrame);
      } catch {
        stats.refused++;
        ws.close(1008, "invalid frame");
        return;
      }
      if (frames.some((f) => f.from !== role)) {
        stats.refused++;
        event("refused", role, `frame claims a sender other than ${role}`);
        ws.close(1008, "frame sender does not match certificate role");
        return;
      }
      stats.messages++;
      if (several.has(role)) for (const f of frames) bound.set(keyOf(f.session), { ws, at: Date.now() });
      frames.forEach((f, i) => {
        stats.received++;
        o.capture?.("in", role, chunks[i]);
        mailbox.deliver(f);
      });
    });
    ws.on("close", () => {
      const set = all.get(role);
      if (set?.delete(ws)) {
        // the sessions of this link fail; another link of the role carries on
        const sessions = new Set<string>();
        for (const [k, b] of bound) if (b.ws === ws) (bound.delete(k), sessions.add(k));
        mailbox.failSessions((s) => sessions.has(keyOf(s)), role, new TransportError("PEER_UNAVAILABLE", `link to ${role} closed`));
        const next = [...set].find(open);
        if (next && links.get(role) === ws) links.set(role, next);
        if (next) return;
      }
      if (links.get(role) === ws) {
        links.delete(role);
        event("down", role);
        mailbox.failPeer(role, new TransportError("PEER_UNAVAILABLE", `link to ${role} closed`));
      }
    });
    ws.on("error", () => {});
  }

  if (accept.size > 0) {
    if (!o.server) throw new TypeError("server: required when accept is non-empty");
    wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 << 20 });
    o.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = req.url ?? "";
      if (url.split("?")[0] !== LINK_PATH) return; // someone else's upgrade
      const tlsSocket = req.socket as TLSSocket;
      const role = tlsSocket.authorized ? roleOf(tlsSocket.getPeerCertificate()) : null;
      if (closed || !role || !accept.has(role)) {
        stats.refused++;
        event("refused", role, closed ? "closed" : "role not allowed on the link");
        socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      wss!.handleUpgrade(req, socket, head, (ws) => attach(role, ws));
    });
  }

  function dial(role: ServerRole, url: string, delay = 0): void {
    if (closed) return;
    const t = setTimeout(() => {
      timers.delete(t);
      if (closed) return;
      const target = new URL(url);
      if (target.pathname === "/" || target.pathname === "") target.pathname = LINK_PATH;
      const ws = new WebSocket(target, serverClientOptions(o.clientTls ?? o.tls, 5_000, role));
      let opened = false;
      ws.on("upgrade", (res) => {
        const peer = roleOf((res.socket as TLSSocket).getPeerCertificate());
        if (peer !== role) {
          stats.refused++;
          event("refused", peer, `dialled ${role}, server certificate says ${peer}`);
          ws.terminate();
        }
      });
      ws.on("open", () => {
        if (ws.readyState !== WebSocket.OPEN) return;
        opened = true;
        attach(role, ws);
      });
      ws.on("error", () => {});
      ws.on("close", () => {
        if (!closed) dial(role, url, opened ? 50 : Math.min(Math.max(delay * 2, 100), 2_000));
      });
    }, delay);
    t.unref();
    timers.add(t);
  }
  for (const [role, url] of Object.entries(o.dial ?? {})) if (url) dial(role as ServerRole, url);

  function waitUp(role: ServerRole, ms: number): Promise<WebSocket | null> {
    const ws = links.get(role);
    if (ws && ws.readyState === WebSocket.OPEN) return Promise.resolve(ws);
    if (ms <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      const set = waiters.get(role) ?? new Set();
      waiters.set(role, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        const l = links.get(role);
        resolve(l && l.readyState === WebSocket.OPEN ? l : null);
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  // keep-alive: a silent link is closed (and re-dialled) after two missed pongs; each pong gives the link's round-trip time
  const alive = new WeakMap<WebSocket, number>();
  const rtts = new Map<ServerRole, number>();
  const pinger = setInterval(() => {
    const cutoff = Date.now() - 60_000;
    for (const [k, b] of bound) if (b.at < cutoff) bound.delete(k);
    const every: [ServerRole, WebSocket][] = [...links].flatMap(([role, ws]) => (all.has(role) ? [...all.get(role)!].map((w) => [role, w] as [ServerRole, WebSocket]) : [[role, ws]]));
    for (const [role, ws] of every) {
      const missed = alive.get(ws) ?? 0;
      if (missed >= 2) {
        ws.terminate();
        continue;
      }
      alive.set(ws, missed + 1);
      const t0 = performance.now();
      ws.once("pong", () => {
        alive.set(ws, 0);
        if (links.get(role) === ws) rtts.set(role, performance.now() - t0);
      });
      ws.ping();
    }
  }, o.pingEveryMs ?? 10_000);
  pinger.unref();

  return {
    role: o.role,
    stats,
    async send(to: ServerRole, frame: OutFrame): Promise<void> {
      if (closed) throw new TransportError("CLOSED", "transport closed");
      const buf = encodeFrame(o.role, frame);
      if (several.has(to)) {
        const b = bound.get(keyOf(frame.session))?.ws;
        // a session not heard of yet: an abort (step 0) goes to every link of the role, other frames to the newest
        const targets = open(b) ? [b!] : frame.step === 0 ? [...(all.get(to) ?? [])].filter(open) : [];
        if (targets.length > 0) {
          for (const ws of targets) {
            stats.sent++;
            o.capture?.("out", to, buf);
            outbox(ws)(buf);
          }
          return;
        }
      }
      let ws = links.get(to);
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        ws = (await waitUp(to, o.connectTimeoutMs ?? 1_000)) ?? undefined;
        if (!ws) throw new TransportError("PEER_UNAVAILABLE", `no link to ${to}`);
      }
      stats.sent++;
      o.capture?.("out", to, buf);
      outbox(ws)(buf);
    },
    receive(session: string, opts: ReceiveOptions): Promise<Frame> {
      return mailbox.receive(session, opts);
    },
    closeSession(session: string): void {
      mailbox.closeSession(session);
    },
    isUp(role: ServerRole): boolean {
      return links.get(role)?.readyState === WebSocket.OPEN;
    },
    rttMs: (role) => rtts.get(role),
    redial() {
      for (const ws of links.values()) ws.terminate();
      for (const set of all.values()) for (const ws of set) ws.terminate();
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(pinger);
      for (const t of timers) clearTimeout(t);
      mailbox.close();
      const every = new Set([...links.values(), ...[...all.values()].flatMap((s) => [...s])]);
      links.clear();
      all.clear();
      await Promise.all(
        [...every].map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) return resolve();
              ws.once("close", () => resolve());
              ws.close(1001, "shutting down");
              setTimeout(() => {
                ws.terminate();
                resolve();
              }, 500).unref();
            }),
        ),
      );
      wss?.close();
    },
  };
}
