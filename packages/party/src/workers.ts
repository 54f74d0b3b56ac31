/**
 * Several worker processes per party over one database (issue 16): how the two workers that serve
 * one session find each other, and the peer link they use.
 *
 * - The gateway picks one worker of each party per request and names P0's peer worker in P0's body
 *   (`peer`, a name of `PRIVFACE_P0_PEER_WORKERS`). P0 holds one link per named P1 worker
 *   (`createPeerLinks`) and sends the session's frames — and those of its related runs (upgrade,
 *   dedup) — over the link of the worker it was told.
 * - P1 accepts links from every P0 worker (the `p0` certificate role) and answers each session over
 *   the link its frames came in on (@privface/transport `several`, matched by `baseSessionOf`).
 * - What must be single across processes is in the database: pool items are claimed with
 *   `FOR UPDATE SKIP LOCKED` / a locked row (store pool.ts), authorisations and nonces by primary
 *   keys, the audit chain by its `seq` primary key (@privface/audit), and a template's verification
 *   and budget run by a PostgreSQL advisory lock (`createTemplateLocks`).
 */
import { createHash } from "node:crypto";
import { PartyError, type PartyName, type ServerRole } from "@privface/contracts";
import { createWsTransport, type Frame, type OutFrame, type ReceiveOptions, type WsTransport, type WsTransportOptions } from "@privface/transport";

/** The verification / enrolment session a related run's session belongs to (`-u` upgrade, `-d` dedup; the budget run has no session of its own: it rides in the verification's frames). */
export function baseSessionOf(session: string): string {
  return /-[ud]$/.test(session) ? session.slice(0, -2) : session;
}

/** The peer link of a party with several peer workers: a WsTransport per named worker, routed by session. */
export interface PeerLinks extends WsTransport {
  /** The peer worker that serves `session` (and its related runs); PartyError INVALID_INPUT for a name not configured. */
  bind(session: string, worker: string): void;
}

/**
 * P0's links to the P1 workers `workers` (name → https URL): one WsTransport each, dialled and kept
 * up; a session's frames go over the link `bind` named for it (unbound sessions: the first worker).
 */
export function createPeerLinks(o: Omit<WsTransportOptions, "dial" | "accept"> & { peer: ServerRole; workers: Map<string, string> }): PeerLinks {
  const links = new Map<string, WsTransport>();
  for (const [name, url] of o.workers) links.set(name, createWsTransport({ ...o, dial: { [o.peer]: url.replace(/^https:/, "wss:") + "/v1/link" } }));
  const first = links.values().next().value as WsTransport;
  const bound = new Map<string, { link: WsTransport; at: number }>();
  const sweep = setInterval(() => {
    const cutoff = Date.now() - 120_000;
    for (const [k, b] of bound) if (b.at < cutoff) bound.delete(k);
  }, 10_000);
  sweep.unref();
  const linkOf = (session: string) => bound.get(baseSessionOf(session))?.link ?? first;
  const every = [...links.values()];
  return {
    role: first.role,
    get stats() {
      const s = { refused: 0, sent: 0, received: 0, messages: 0 };
      for (const l of every) for (const k of Object.keys(s) as (keyof typeof s)[]) s[k] += l.stats[k];
      return s;
    },
    bind(session, worker) {
      const link = links.get(worker);
      if (!link) throw new PartyError("INVALID_INPUT", `peer: no peer worker named ${JSON.stringify(worker)} is configured here`);
      bound.set(baseSessionOf(session), { link, at: Date.now() });
    },
    send: (to: ServerRole, frame: OutFrame) => linkOf(frame.session).send(to, frame),
    receive: (session: string, opts: ReceiveOptions): Promise<Frame> => linkOf(session).receive(session, opts),
    closeSession: (session: string) => linkOf(session).closeSession(session),
    isUp: (role: ServerRole) => every.some((l) => l.isUp(role)),
    rttMs: (role: ServerRole) => {
      const r = every.map((l) => l.rttMs(role)).filter((x): x is number => x !== undefined);
      return r.length > 0 ? Math.max(...r) : undefined;
    },
    redial: () => every.forEach((l) => l.redial()),
    async close() {
      clearInterval(sweep);
      await Promise.all(every.map((l) => l.close()));
    },
  };
}

/** The peer link of `party` as one of several workers: P0 dials every P1 worker; P1 accepts every P0 worker. */
export function workerLinkOptions(party: PartyName): Pick<WsTransportOptions, "several" | "sessionKey"> {
  return party === "P1" ? { several: ["p0"], sessionKey: baseSessionOf } : {};
}

/** A pg pool (`Db.pool`). */
type PgConn = { query(q: string, v?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>; release(err?: boolean): void; on(e: "error", f: () => void): unknown };
type PgPool = { connect(): Promise<PgConn> };

/**
 * Per-template locks across the worker processes of one party (PostgreSQL session advisory locks on
 * one connection of this process, kept for the locks alone): a template's verification (with the
 * failure-budget run in its frames) holds it, so the budget counter is read and advanced by one process at a
 * time, as the in-process chain does within one process. A process that dies drops its connection
 * and PostgreSQL frees its locks at once. Waits up to `waitMs`, then PEER_UNAVAILABLE (retry later).
 * The key: 64 bits of SHA-256(namespace, template id), the namespace naming the schema and party.
 */
export function createTemplateLocks(pool: PgPool, namespace: string, o: { waitMs: number; pollMs?: number }) {
  let conn: PgConn | null = null;
  let connecting: Promise<PgConn> | null = null;
  const connection = (): Promise<PgConn> =>
    conn
      ? Promise.resolve(conn)
      : (connecting ??= pool.connect().then(
          (c) => {
            c.on("error", () => {
              if (conn === c) conn = null; // its locks are gone with it: the next lock opens a new one
            });
            conn = c;
            connecting = null;
            return c;
          },
          (e) => {
            connecting = null;
            throw e;
          },
        ));
  const keyOf = (templateId: string): string => createHash("sha256").update(`${namespace}\0${templateId}`).digest().readBigInt64BE(0).toString();
  return {
    /** Waits for the template's lock; resolves with its release. */
    async lock(templateId: string): Promise<() => Promise<void>> {
      const key = keyOf(templateId);
      const until = Date.now() + o.waitMs;
      for (;;) {
        const c = await connection();
        const r = await c.query("SELECT pg_try_advisory_lock($1::bigint) AS ok", [key]);
        if (r.rows[0]?.ok === true) {
          return async () => {
            await c.query("SELECT pg_advisory_unlock($1::bigint)", [key]).catch(() => undefined);
          };
        }
        if (Date.now() >= until) throw new PartyError("PEER_UNAVAILABLE", "another worker of this party is still verifying this template: retry later");
        await new Promise((res) => setTimeout(res, o.pollMs ?? 10));
      }
    },
    close(): void {
      conn?.release(true);
      conn = null;
    },
  };
}
