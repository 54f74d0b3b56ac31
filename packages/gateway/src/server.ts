/**
 * Assembling and running a gateway: `createGateway` builds the service (migrating its database), the
 * Fastify app (without listening) and the timer of the re-check job — tests use `app.inject()`; `startGateway` also listens (HTTPS
 * when `https` is given) and returns the URL and a `close()` that stops the server, the party clients
 * and the database.
 */
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { createLogger } from "@privface/config";
import { closeDb } from "@privface/db";
import { startCheckpointer } from "@privface/db/checkpointer";
import { buildApp, type OperatorCredential } from "./app.ts";
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
  const app = await buildApp({ service, logger, operators: options.operators, bodyLimit: options.bodyLimit, https: options.https ?? null, web: options.web, ...(options.now ? { now: options.now } : {}) });
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
  return {
    app,
    service,
    async close() {
      if (closed) return;
      closed = true;
      if (recheckTimer) clearInterval(recheckTimer);
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
