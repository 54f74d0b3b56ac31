/**
 * The party's route table (request → response; no sockets here): the gateway API of
 * docs/contracts.md (enrol, commit, abort, verify[+upgrade], delete, health, metrics), the peer's
 * session-status query used by recovery, and (P1) the helper's pool delivery. Per request: the
 * caller's role (from its certificate), the body checked into typed input (_requests.ts), one call
 * into the service (service.ts), its answer or its `PartyError` as JSON; request durations and error
 * counts in the metrics; and every refused gateway operation in the audit log.
 */
import { silentLog, type Log } from "@privface/config";
import { ID, PartyError, peerOf, serverRoleOf, type ServerRole } from "@privface/contracts";
import type { App, AppRequest, AppResponse } from "@privface/transport";
import type { PartyMetrics } from "./metrics.ts";
import { deleteInput, deviceRegistration, enrolInput, nonceCount, mpcRequest, poolBatch, sessionInput, sessionList, verifyInput } from "./_requests.ts";
import { toPartyError, type PartyAuditSink, type PartyService } from "./service.ts";

export interface PartyAppDeps {
  service: PartyService;
  metrics: PartyMetrics;
  /** where refusals are recorded (the service records the operations it carries out) */
  audit: PartyAuditSink;
  log?: Log;
}

/** Operations whose refusals are audited. */
const AUDITED = new Set(["enrol", "commit", "abort", "verify", "delete", "devices"]);

interface Route {
  roles: readonly ServerRole[];
  /** the metrics and audit name */
  route: string;
  run(req: AppRequest): Promise<AppResponse>;
}

const ok = (body: unknown): AppResponse => ({ status: 200, body });

export function createPartyApp(deps: PartyAppDeps): App {
  const { service, metrics } = deps;
  const log = deps.log ?? silentLog;
  const peer = serverRoleOf(peerOf(service.party));
  const anyServer: ServerRole[] = ["gateway", "helper", "p0", "p1"];

  /** enrol / verify: once the session id is known, a body refused here is aborted at the peer too. */
  async function mpc<I, O>(body: unknown, kind: "enrol" | "verify", parse: (b: Record<string, unknown>, session: string) => I, run: (input: I) => Promise<O>): Promise<AppResponse> {
    const { b, session } = mpcRequest(body, kind);
    let input: I;
    try {
      input = parse(b, session);
    } catch (e) {
      await service.abandon(session, toPartyError(e).code, b.upgrade !== undefined);
      throw e;
    }
    return ok(await run(input));
  }

  const routes: Record<string, Route> = {
    "POST /v1/enrol": { roles: ["gateway"], route: "enrol", run: (r) => mpc(r.body, "enrol", enrolInput, service.enrol) },
    "POST /v1/commit": { roles: ["gateway"], route: "commit", run: async (r) => ok(await service.commit(sessionInput(r.body))) },
    "POST /v1/abort": { roles: ["gateway"], route: "abort", run: async (r) => ok(await service.abort(sessionInput(r.body))) },
    "POST /v1/verify": { roles: ["gateway"], route: "verify", run: (r) => mpc(r.body, "verify", verifyInput, service.verify) },
    "POST /v1/delete": { roles: ["gateway"], route: "delete", run: async (r) => ok(await service.delete(deleteInput(r.body))) },
    "POST /v1/peer/sessions": { roles: [peer], route: "peer_sessions", run: async (r) => ok({ sessions: await service.sessionStatus(sessionList(r.body)) }) },
    "GET /v1/health": { roles: anyServer, route: "health", run: async () => ok(await service.health()) },
    "GET /v1/keys": { roles: anyServer, route: "keys", run: async () => ok(await service.keys()) },
    "POST /v1/nonces": { roles: ["gateway"], route: "nonces", run: async (r) => ok(await service.nonces(nonceCount(r.body))) },
    "POST /v1/devices": { roles: ["gateway"], route: "devices", run: async (r) => ok(await service.registerDevice(deviceRegistration(r.body))) },
    "GET /metrics": { roles: anyServer, route: "metrics", run: async () => ({ status: 200, body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }) },
  };
  if (service.party === "P1") routes["POST /v1/pool/items"] = { roles: ["helper"], route: "pool_items", run: async (r) => ok(await service.addPoolItems(poolBatch(r.raw))) };

  return async (req) => {
    const t0 = performance.now();
    const r = routes[`${req.method} ${req.path}`];
    let res: AppResponse;
    let route = "unknown";
    try {
      if (!r) throw new PartyError("NOT_FOUND", `no route ${req.method} ${req.path}`);
      route = r.route;
      if (!req.role || !r.roles.includes(req.role)) throw new PartyError("FORBIDDEN_ROLE", `role ${req.role ?? "none"} may not call ${req.path}`);
      res = await r.run(req);
    } catch (e) {
      const err = toPartyError(e);
      if (err.code === "INTERNAL") log.error({ event: "internal_error", route, error: (e as Error)?.name, code: (e as { code?: string })?.code });
      metrics.errors.inc({ code: err.code });
      if (AUDITED.has(route)) {
        const b = (req.body ?? {}) as Record<string, unknown>;
        const pick = (v: unknown, re: RegExp) => (typeof v === "string" && re.test(v) ? v : null);
        await deps.audit
          .append({ op: route, session: pick(b.session, ID.session), templateId: pick(b.templateId, ID.template), requester: req.role ?? "unauthenticated", purpose: null, outcome: "refused", code: err.code })
          .catch(() => log.error({ event: "audit_failed", op: route }));
      }
      res = { status: err.status, body: { error: { code: err.code, message: err.message } } };
    }
    metrics.duration.observe({ route, status: String(res.status) }, (performance.now() - t0) / 1000);
    return res;
  };
}
