/**
 * Assembling and running a gateway: `createGateway` builds the service (migrating its database), the
 * Fastify app (without listening) and the timer of the re-check job — tests use `app.inject()`; `startGateway` also listens (HTTPS
 * when `https` is given) and returns the URL and a `close()` that stops the server, the party clients
 * and the database.
 */
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { createLogger } from "@privface/config";
import { sendAuditHead } from "@privface/audit";
import { closeDb } from "@privface/db";
import { startCheckpointer } from "@privface/db/checkpointer";
import { buildApp, type OperatorCredential } from "./app.ts";
import type { ConsoleOptions } from "./_console.ts";
import { PARTIES } from "@privface/contracts";
import { GatewayService, type ServiceOptions } from "./service.ts";
import type { WebMount } from "./_web.ts";

export interface GatewayOptions extends ServiceOptions {
  operators?: OperatorCredential[];
  logger?: Logger;
  bodyLimit?: number;
  https?: { key: string | Buffer; cert: string | Buffer } | null;
  /** How often the re-check job runs (`runRechecks`: pending deletions, unfinished upgrades; default 60 s; 0 = never, R35). */
  recheckIntervalMs?: number;
  /** How often the gateway's newest audit record goes to both parties, which keep it (an anchor; also at start; default 60 s; 0 = never). */
  auditAnchorIntervalMs?: number;
  /** the operator console's sessions (issue 14; its pages are a web mount, `web`) */
  console?: Omit<ConsoleOptions, "parties">;
  /** static web pages under URL prefixes (PRIVFACE_GATEWAY_WEB; `_web.ts`) */
  web?: readonly WebMount[];
}

export interface Gateway {
  app: FastifyInstance;
  service: GatewayService;
  close(): Promise<void>;
}

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const logger = options.logger ?? createLogger({ name: "gateway" });
  const service = new GatewayService({ ...options, log: options.log ?? logger });
  await service.init();
  const app = await buildApp({
    service,
    logger,
    operators: options.operators,
    bodyLimit: options.bodyLimit,
    https: options.https ?? null,
    web: options.web,
    ...(options.now ? { now: options.now } : {}),
    console: { ...options.console, parties: options.parties },
  });
  await app.ready();
  // SQLite: WAL checkpoints in a worker thread, not inside a request's commit
  const checkpointer = startCheckpointer(options.db, { log: (e) => logger.warn(e, "checkpointer") });
  let closed = false;
  const interval = options.recheckIntervalMs ?? 60_000;
  const recheckTimer =
    interval > 0
      ? setInterval(() => {
          service.runRechecks().catch((e: unknown) => logger.warn({ event: "recheck-failed", errorClass: (e as Error)?.name }, "re-check run failed"));
        }, interval)
      : undefined;
  recheckTimer?.unref();
  // the gateway's audit log anchored at both parties (@privface/audit anchors.ts): a cut or rewritten log is seen there
  const source = options.audit?.anchorSource;
  const anchorEvery = options.auditAnchorIntervalMs ?? 60_000;
  const anchor = () => {
    for (const p of PARTIES) {
      sendAuditHead(source!, async (body) => ({ status: 200, body: await options.parties[p].anchor(body) })).then(
        (r) => r?.outcome === "regressed" && logger.error({ event: "audit_anchor_regressed", party: p }, "the party keeps a newer audit head than this gateway's log holds"),
        (e: unknown) => logger.warn({ event: "audit_anchor_failed", party: p, errorClass: (e as Error)?.name }, "audit anchor not delivered"),
      );
    }
  };
  const anchorTimer = source && anchorEvery > 0 ? setInterval(anchor, anchorEvery) : undefined;
  anchorTimer?.unref();
  if (anchorTimer) anchor();
  return {
    app,
    service,
    async close() {
      if (closed) return;
      closed = true;
      if (recheckTimer) clearInterval(recheckTimer);
      if (anchorTimer) clearInterval(anchorTimer);
      await app.close();
      for (const p of PARTIES) options.parties[p].close();
      await service.shared.close();
      await checkpointer.close();
      await closeDb(options.db);
    },
  };
}

export interface StartGatewayOptions extends GatewayOptions {
  host?: string;
  /** 0 = ephemeral (default 7443) */
  port?: number;
}

export interface RunningGateway extends Gateway {
  url: string;
  port: number;
}

export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const gw = await createGateway(options);
  const host = options.host ?? "127.0.0.1";
  await gw.app.listen({ host, port: options.port ?? 7443 });
  const addr = gw.app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : (options.port ?? 7443);
  const url = `${options.https ? "https" : "http"}://${host}:${port}`;
  return { ...gw, url, port };
}
