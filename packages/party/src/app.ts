/**
 * The party's route table (request → response; no sockets here): the gateway API of
 * docs/contracts.md (enrol, commit, abort, verify[+upgrade], delete, health, metrics), the peer's
 * session-status query used by recovery, and (P1) the helper's pool delivery. Per request: the
 * caller's role (from its certificate), the body checked into typed input (_requests.ts), one call
 * into the service (service.ts), its answer or its `PartyError` as JSON; request durations and error
 * counts in the metrics; and every refused gateway operation in the audit log.
 */
import { silentLog, type Log } from "@privface/config";
import { dedupSessionOf, ID, PARTY_ROUTES, PartyError, peerOf, resultMac, serverRoleOf, type AuditRecordsRequest, type AuditRecordsResponse, type Bit, type ResultKey, type ServerRole } from "@privface/contracts";
import type { Admission, App, AppRequest, AppResponse, RequestHead } from "@privface/transport";
import type { PartyMetrics } from "./metrics.ts";
import { dedupInput, deleteInput, deviceRegistration, enrolInput, nonceCount, mpcRequest, poolBatch, sessionInput, sessionList, verifyInput } from "./_requests.ts";
import { AuditError, type AnchorReceipt } from "@privface/audit";
import { toPartyError, type PartyAuditSink, type PartyService } from "./service.ts";
import type { DedupStock } from "./session.ts";

export interface PartyAppDeps {
  service: PartyService;
  metrics: PartyMetrics;
  /** where refusals are recorded (the service records the operations it carries out) */
  audit: PartyAuditSink;
  /** P1: the spot-check of dealt batches P0 runs with it (spotcheck.ts); once a batch failed, helper deliveries are refused */
  spotCheck?: { handle(body: unknown): Promise<unknown>; blocked(): boolean };
  /**
   * The MAC key shared with the gateway (@privface/contracts `resultKey`): each enrol / verify answer
   * carries `resultMac`, binding its result share to the request (issue 12 item 9). The servers
   * always set it; without it (in-process tests) answers carry no MAC and a gateway refuses them.
   */
  resultKey?: ResultKey;
  /**
   * Keeps an audit head sent by the peer party or the gateway (@privface/audit `keepAnchor`; the
   * sender's role from its certificate). Absent: no such route.
   */
  keepAnchor?: (from: ServerRole, body: { record?: unknown; at?: unknown }) => Promise<AnchorReceipt>;
  /**
   * The party's audit records of face operations in a time range, for the gateway's cross-party
   * reconciliation (the auditor's view). Absent: no such route.
   */
  auditRecords?: (req: AuditRecordsRequest) => Promise<AuditRecordsResponse>;
  /** P1: the helper's dedup deliveries (session.ts DedupStock); absent: no such route */
  dedupStock?: DedupStock;
  /**
   * P0 with several P1 workers (workers.ts): the enrol / verify body's `peer` names the P1 worker the
   * gateway sent this session to. Absent: a body with `peer` is refused.
   */
  bindPeer?: (session: string, worker: string) => void;
  log?: Log;
}

/** Operations whose refusals are audited. */
const AUDITED = new Set(["enrol", "commit", "abort", "verify", "dedup", "delete", "devices"]);

/** The largest body a route reads: 1 MiB (a few KB in practice) … */
export const MAX_BODY_BYTES = 1 << 20;
/** … except P1's pool delivery: up to 1024 items (POOL_BATCH ≤ 1024) of ≈ 30 KB (d = 512: 30,034 B) = 29.3 MiB. */
export const MAX_POOL_BODY_BYTES = 40 << 20;
/** … and P0's spot-check verdict: its openings of ⌈n/16⌉ sampled items (≤ 64 at POOL_BATCH 1024), ≈ 48 KB each in base64 at d = 512, ≈ 97 KB at d = 1024. */
export const MAX_SPOTCHECK_BODY_BYTES = 8 << 20;
/** … and P1's dedup deliveries: a few dealt queries of ≈ 8.5 B per gallery slot (≈ 8.5 MB each at N = 1e6). */
export const MAX_DEDUP_BODY_BYTES = 64 << 20;

/** The party's app, plus its admission: route and caller's role checked before the body is read. */
export type PartyApp = App & { admit(head: RequestHead): Admission };

interface Route {
  roles: readonly ServerRole[];
  /** largest body this route reads (default MAX_BODY_BYTES) */
  maxBodyBytes?: number;
  /** the metrics and audit name */
  route: string;
  run(req: AppRequest): Promise<AppResponse>;
}

const ok = (body: unknown): AppResponse => ({ status: 200, body });

export function createPartyApp(deps: PartyAppDeps): PartyApp {
  const { service, metrics } = deps;
  const log = deps.log ?? silentLog;
  const peer = serverRoleOf(peerOf(service.party));
  const anyServer: ServerRole[] = ["gateway", "helper", "p0", "p1"];
  /** health and metrics: any server, and a metrics scraper's "monitor" certificate */
  const observers: ServerRole[] = [...anyServer, "monitor"];

  /** enrol / verify: once the session id is known, a body refused here is aborted at the peer too. */
  async function mpc<I, O extends { resultShare: Record<string, Bit> }>(body: unknown, kind: "enrol" | "verify", parse: (b: Record<string, unknown>, session: string) => I, run: (input: I) => Promise<O>): Promise<AppResponse> {
    const { b, session, peer } = mpcRequest(body, kind);
    let input: I;
    try {
      if (peer !== undefined) {
        if (!deps.bindPeer) throw new PartyError("INVALID_INPUT", "peer: this party serves no several peer workers");
        deps.bindPeer(session, peer);
      }
      input = parse(b, session);
    } catch (e) {
      await service.abandon(session, toPartyError(e).code, b.upgrade !== undefined);
      throw e;
    }
    const out = await run(input);
    if (!deps.resultKey) return ok(out);
    // the share, bound to the request it answers (op, party, session, template, authorisation)
    const binding = { op: kind, party: service.party, session, templateId: b.templateId as string, authorisation: b.authorisation as { payload: string }, resultShare: out.resultShare };
    return ok({ ...out, resultMac: await resultMac(deps.resultKey, binding) });
  }

  const routes: Record<string, Route> = {
    "POST /v1/enrol": { roles: ["gateway"], route: "enrol", run: (r) => mpc(r.body, "enrol", enrolInput, service.enrol) },
    "POST /v1/commit": { roles: ["gateway"], route: "commit", run: async (r) => ok(await service.commit(sessionInput(r.body))) },
    "POST /v1/abort": { roles: ["gateway"], route: "abort", run: async (r) => ok(await service.abort(sessionInput(r.body))) },
    "POST /v1/verify": { roles: ["gateway"], route: "verify", run: (r) => mpc(r.body, "verify", verifyInput, service.verify) },
    "POST /v1/dedup": {
      roles: ["gateway"],
      route: "dedup",
      run: async (r) => {
        let input;
        try {
          input = dedupInput(r.body);
        } catch (e) {
          const s = (r.body as { session?: unknown } | null)?.session;
          if (typeof s === "string" && ID.session.test(s)) await service.abandon(dedupSessionOf(s), toPartyError(e).code, false);
          throw e;
        }
        const out = await service.dedup(input);
        if (!deps.resultKey) return ok(out);
        const binding = { op: "dedup" as const, party: service.party, session: input.session, templateId: input.templateId, authorisation: input.authorisation as { payload: string }, resultShare: out.resultShare, matches: out.matches };
        return ok({ ...out, resultMac: await resultMac(deps.resultKey, binding) });
      },
    },
    "POST /v1/delete": { roles: ["gateway"], route: "delete", run: async (r) => ok(await service.delete(deleteInput(r.body))) },
    "POST /v1/peer/sessions": { roles: [peer], route: "peer_sessions", run: async (r) => ok({ sessions: await service.sessionStatus(sessionList(r.body)) }) },
    "GET /v1/health": { roles: observers, route: "health", run: async () => ok(await service.health()) },
    "GET /v1/keys": { roles: anyServer, route: "keys", run: async () => ok(await service.keys()) },
    "POST /v1/nonces": { roles: ["gateway"], route: "nonces", run: async (r) => ok(await service.nonces(...nonceCount(r.body))) },
    "POST /v1/devices": { roles: ["gateway"], route: "devices", run: async (r) => ok(await service.registerDevice(deviceRegistration(r.body))) },
    "GET /metrics": { roles: observers, route: "metrics", run: async () => ({ status: 200, body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }) },
  };
  if (deps.keepAnchor) {
    const keep = deps.keepAnchor;
    routes["POST /v1/audit/anchor"] = {
      roles: [peer, "gateway", "helper"],
      route: "audit_anchor",
      run: async (r) => {
        const body = (r.body ?? {}) as { record?: unknown; at?: unknown };
        try {
          return ok(await keep(r.role!, { record: body.record, at: body.at }));
        } catch (e) {
          if (e instanceof AuditError && e.code === "BAD_ANCHOR") throw new PartyError("INVALID_INPUT", e.message);
          throw e;
        }
      },
    };
  }
  if (deps.auditRecords) {
    const read = deps.auditRecords;
    routes[PARTY_ROUTES.auditRecords] = { roles: ["gateway"], route: "audit_records", run: async (r) => ok(await read(auditRange(r.body))) };
  }
  if (service.party === "P1") {
    const sc = deps.spotCheck;
    routes["POST /v1/pool/items"] = {
      roles: ["helper"],
      route: "pool_items",
      maxBodyBytes: MAX_POOL_BODY_BYTES,
      run: async (r) => {
        if (sc?.blocked()) throw new PartyError("HELPER_UNAVAILABLE", "a batch of this helper failed the spot-check: deliveries refused until an operator restarts the party");
        return ok(await service.addPoolItems(poolBatch(r.raw)));
      },
    };
    const stock = deps.dedupStock;
    if (stock) {
      routes["POST /v1/dedup/items"] = {
        roles: ["helper"],
        route: "dedup_items",
        maxBodyBytes: MAX_DEDUP_BODY_BYTES,
        run: async (r) => {
          if (service.dedupBlocked()) throw new PartyError("HELPER_UNAVAILABLE", "a dealt dedup query of this helper failed the spot-check: deliveries refused until an operator restarts the party");
          return ok({ added: stock.add(poolBatch(r.raw)) });
        },
      };
    }
    if (sc) routes["POST /v1/peer/spotcheck"] = { roles: [peer], route: "peer_spotcheck", maxBodyBytes: MAX_SPOTCHECK_BODY_BYTES, run: async (r) => ok(await sc.handle(r.body)) };
  }

  const refusal = (err: PartyError): AppResponse => ({ status: err.status, body: { error: { code: err.code, message: err.message } } });

  /** The route and the caller's role, from the request line and the certificate alone. */
  function admit(head: RequestHead): Admission {
    const r = routes[`${head.method} ${head.path}`];
    if (r && head.role && r.roles.includes(head.role)) return { ok: true, maxBodyBytes: r.maxBodyBytes ?? MAX_BODY_BYTES };
    const err = r ? new PartyError("FORBIDDEN_ROLE", `role ${head.role ?? "none"} may not call ${head.path}`) : new PartyError("NOT_FOUND", `no route ${head.method} ${head.path}`);
    metrics.errors.inc({ code: err.code });
    if (r && AUDITED.has(r.route)) {
      deps.audit
        .append({ op: r.route, session: null, templateId: null, requester: head.role ?? "unauthenticated", purpose: null, outcome: "refused", code: err.code })
        .catch(() => log.error({ event: "audit_failed", op: r.route }));
    }
    return { ok: false, response: refusal(err) };
  }

  const app: App = async (req) => {
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
      if (err.code === "INTERNAL" || err.code === "DB_UNAVAILABLE") log.error({ event: err.code === "INTERNAL" ? "internal_error" : "db_unavailable", route, error: (e as Error)?.name, code: (e as { code?: string })?.code });
      metrics.errors.inc({ code: err.code });
      if (AUDITED.has(route)) {
        const b = (req.body ?? {}) as Record<string, unknown>;
        const pick = (v: unknown, re: RegExp) => (typeof v === "string" && re.test(v) ? v : null);
        await deps.audit
          .append({ op: route, session: pick(b.session, ID.session), templateId: pick(b.templateId, ID.template), requester: req.role ?? "unauthenticated", purpose: null, outcome: "refused", code: err.code })
          .catch(() => log.error({ event: "audit_failed", op: route }));
      }
      res = refusal(err);
    }
    metrics.duration.observe({ route, status: String(res.status) }, (performance.now() - t0) / 1000);
    return res;
  };
  return Object.assign(app, { admit });
}

/** The body of `POST /v1/audit/records`: epoch-ms bounds and a limit of 1..1000. */
function auditRange(body: unknown): AuditRecordsRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  const ms = (v: unknown, f: string) => {
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw new PartyError("INVALID_INPUT", `${f}: epoch milliseconds`);
    return v as number;
  };
  const from = ms(b.from, "from");
  const to = ms(b.to, "to");
  if (to < from) throw new PartyError("INVALID_INPUT", "to: not before from");
  if (!Number.isSafeInteger(b.limit) || (b.limit as number) < 1 || (b.limit as number) > 1000) throw new PartyError("INVALID_INPUT", "limit: 1..1000");
  return { from, to, limit: b.limit as number };
}
