/**
 * The gateway's HTTP surface (Fastify): routes map one-to-one onto `GatewayService` methods.
 *
 * - Validation: Ajv with `removeAdditional: false` — an unknown field is a 400 INVALID_INPUT, never
 *   silently dropped; response schemas make Fastify serialise only declared fields.
 * - Bodies: JSON only (the text/plain parser is removed, so images and anything else get 415), at most
 *   `bodyLimit` bytes (413).
 * - Errors: one handler. `ApiError` → `{ error: { code, message, details? } }` with its status;
 *   Fastify's own errors map onto catalogue codes; anything else → a bare 500 INTERNAL without
 *   internals (the error is logged by class name and code only).
 * - Operators authenticate with `Authorization: Bearer <token>`, or with a console session (cookie
 *   and CSRF header, `_sessions.ts`, `_console.ts`); each operator has exactly one role
 *   (admin, operator or auditor, R27), and queries of personal data need an `x-privface-reason` (R26).
 *   A fourth role, monitor, is a metrics scraper's: it may read `GET /metrics` and nothing else.
 * - `/openapi.json` is the OpenAPI 3.1 document generated from the same schemas (@fastify/swagger).
 */
import { createHash } from "node:crypto";
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Logger } from "pino";
import { Type } from "typebox";
import { ApiError } from "./errors.ts";
import { createGatewayMetrics, type GatewayMetrics } from "./metrics.ts";
import { registerConsole, type ConsoleOptions } from "./_console.ts";
import { CSRF_HEADER, sessionCookie, Sessions } from "./_sessions.ts";
import * as S from "./schemas.ts";
import { registerWeb, type WebMount } from "./_web.ts";
import type { GatewayService, Operator, OperatorRole } from "./service.ts";

export interface OperatorCredential {
  id: string;
  role: OperatorRole;
  /** the bearer token (or give `tokenSha256`) */
  token?: string;
  /** base64url SHA-256 of the token */
  tokenSha256?: string;
  /** when the token stops working: ISO 8601 or ms since the epoch (required: operator tokens expire) */
  expiresAt: string | number;
}

export interface AppOptions {
  service: GatewayService;
  logger: Logger;
  operators?: OperatorCredential[];
  bodyLimit?: number;
  https?: { key: string | Buffer; cert: string | Buffer } | null;
  /** the clock operator token expiry is checked against (default Date.now) */
  now?: () => number;
  /** the Prometheus metrics (default: a registry of its own) */
  metrics?: GatewayMetrics;
  /** the operator console's sessions and views (issue 14); its pages are a web mount (`web`) */
  console?: ConsoleOptions;
  /** static web pages served under URL prefixes (`_web.ts`) */
  web?: readonly WebMount[];
}

export const DEFAULT_BODY_LIMIT = 64 * 1024;
const OPERATOR_ROLES: readonly OperatorRole[] = ["admin", "operator", "auditor", "monitor"];

declare module "fastify" {
  interface FastifyRequest {
    operator?: Operator;
  }
  interface FastifyInstance {
    /** "METHOD /path" of every route, for the OpenAPI completeness test. */
    routeList: string[];
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { service } = options;
  const metrics = options.metrics ?? createGatewayMetrics({ auditCheck: service.auditCheck });
  const operators = new Map<string, Operator & { expiresAt: number }>();
  const now = options.now ?? Date.now;
  const sessions = new Sessions(now, service.shared, options.console?.sessions);
  for (const o of options.operators ?? []) {
    const h = o.tokenSha256 ?? (o.token ? createHash("sha256").update(o.token).digest("base64url") : undefined);
    if (!h) throw new TypeError(`operator ${o.id}: token or tokenSha256 is required`);
    if (!OPERATOR_ROLES.includes(o.role)) throw new TypeError(`operator ${o.id}: role must be one of ${OPERATOR_ROLES.join(", ")}`);
    const expiresAt = operatorExpiry(o.expiresAt);
    if (expiresAt === undefined) throw new TypeError(`operator ${o.id}: expiresAt is required (an ISO 8601 date or ms since the epoch): operator tokens expire`);
    operators.set(h, { id: o.id, role: o.role, expiresAt });
  }

  const opts = {
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    // requests log through the app's logger itself: a pino child per request (Fastify's default, to
    // bind a request id we do not use) re-runs the redaction setup each time, measurable in bench e2e
    childLoggerFactory: (logger: Logger) => logger,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    ...(options.https ? { https: options.https } : {}),
    forceCloseConnections: true,
    return503OnClosing: true,
    requestIdHeader: false,
  };
  // (cast: with `https` in a variable, Fastify's overloads would pick the http2 server type)
  const app = (Fastify as unknown as (o: object) => FastifyInstance)(opts).withTypeProvider<TypeBoxTypeProvider>();

  app.removeContentTypeParser("text/plain");
  // Issue 12 item 6: the cheap per-source limit runs on every device API request first — before the
  // body is read and parsed, before any database read or signature check.
  app.addHook("onRequest", async (req) => {
    if (req.method === "POST" && req.url.startsWith("/v1/") && !req.url.startsWith("/v1/admin/")) await service.takeSource(req.ip);
  });
  app.addHook("onResponse", async (req, reply) => {
    metrics.request(req.routeOptions?.url ?? "unknown", reply.statusCode, reply.elapsedTime / 1000);
  });
  const routes: string[] = [];
  app.decorate("routeList", routes);
  app.addHook("onRoute", (r) => {
    for (const m of ([] as string[]).concat(r.method)) if (m !== "HEAD") routes.push(`${m} ${r.url}`);
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "privface gateway",
        version: "0.1.0",
        description:
          "The acquirer's gateway: devices get a challenge, then enrol, verify or deregister with sealed shares the gateway relays to P0 and P1 unopened. Decisions only, never scores. Error codes: docs/api.md.",
      },
      components: {
        securitySchemes: {
          operatorToken: { type: "http", scheme: "bearer" },
          consoleSession: { type: "apiKey", in: "cookie", name: "privface_console", description: "with the x-privface-csrf header of the session" },
        },
      },
    },
  });

  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = err as { code?: string; statusCode?: number; validation?: { instancePath?: string; keyword?: string }[]; name?: string };
    let api: ApiError;
    if (err instanceof ApiError) api = err;
    else if (e.validation && (e as { validationContext?: string }).validationContext === "headers") api = new ApiError("REASON_REQUIRED");
    else if (e.validation) {
      const v = e.validation[0];
      api = new ApiError("INVALID_INPUT", { field: v?.instancePath || "/", rule: v?.keyword ?? "schema" });
    } else if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE") api = new ApiError("BODY_TOO_LARGE");
    else if (e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || e.code === "FST_ERR_CTP_INVALID_CONTENT_LENGTH") api = new ApiError("UNSUPPORTED_MEDIA_TYPE");
    else if (e.statusCode === 400 || (typeof e.code === "string" && e.code.startsWith("FST_ERR_CTP"))) api = new ApiError("INVALID_INPUT");
    else {
      req.log.error({ event: "internal-error", errorClass: e.name ?? "unknown", errorCode: typeof e.code === "string" ? e.code : undefined }, "unhandled error");
      metrics.error("INTERNAL");
      return reply.status(500).send({ error: { code: "INTERNAL", message: "internal error" } });
    }
    if (api.status >= 500 || api.code === "SIGNATURE_INVALID" || api.code === "REPLAYED_REQUEST" || api.code.startsWith("CHALLENGE_")) {
      req.log.warn({ event: "refused", code: api.code, route: req.routeOptions?.url }, "request refused");
    }
    metrics.error(api.code);
    if (api.details && typeof api.details.retryAfterS === "number") reply.header("retry-after", String(api.details.retryAfterS));
    return reply
      .status(api.status)
      .send({ error: { code: api.code, message: api.message, ...(api.details ? { details: api.details } : {}) } });
  });
  app.setNotFoundHandler((_req, reply) => {
    reply.status(404).send({ error: { code: "NOT_FOUND", message: "no such route" } });
  });

  const auth =
    (...roles: OperatorRole[]) =>
    async (req: FastifyRequest): Promise<void> => {
      const h = req.headers.authorization;
      const sid = h === undefined ? sessionCookie(req.headers.cookie) : undefined;
      let op: Operator;
      if (sid) {
        const csrf = req.headers[CSRF_HEADER];
        op = await sessions.authenticate(sid, typeof csrf === "string" ? csrf : undefined);
      } else {
        const m = typeof h === "string" ? /^Bearer ([\x21-\x7e]{8,256})$/.exec(h) : null;
        const cred = m ? credential(m[1]) : undefined;
        if (!cred) throw new ApiError("UNAUTHENTICATED");
        if (now() >= cred.expiresAt) throw new ApiError("TOKEN_EXPIRED");
        op = { id: cred.id, role: cred.role };
      }
      if (!roles.includes(op.role)) throw new ApiError("FORBIDDEN_ROLE");
      req.operator = op;
    };
  const credential = (token: string) => operators.get(createHash("sha256").update(token).digest("base64url"));
  const reasonOf = (req: FastifyRequest): string => {
    const raw = req.headers["x-privface-reason"];
    // headers are Latin-1: a reason in another script comes percent-encoded UTF-8 (as the console sends it)
    const r = typeof raw === "string" ? percentDecoded(raw) : undefined;
    if (typeof r !== "string" || r.trim().length < 3 || r.length > 200) throw new ApiError("REASON_REQUIRED");
    return r.trim();
  };
  const security = [{ operatorToken: [] }];

  // ---- public / device routes -------------------------------------------------------------------

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  app.get("/metrics", { onRequest: auth("monitor"), schema: { hide: true } }, async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  app.get("/v1/health", { schema: { tags: ["device"], response: { 200: S.Health } } }, async () => service.health());

  app.get("/v1/notices/current", { schema: { tags: ["device"], summary: "the privacy notice to show before any capture (R9)", response: { 200: S.Notice } } }, async () =>
    service.currentNotice(),
  );

  app.post(
    "/v1/challenges",
    { schema: { tags: ["device"], summary: "a single-use challenge bound to device, person and purpose (≤ 60 s)", body: S.ChallengeRequest, response: { 201: S.ChallengeResponse, ...S.errors(400, 403, 404, 409, 423, 429) } } },
    async (req, reply) => reply.status(201).send(await service.challenge(req.body)),
  );

  app.post(
    "/v1/consents",
    { schema: { tags: ["device"], summary: "record a consent receipt for the current notice", body: S.ConsentRequest, response: { 201: S.ConsentReceipt, ...S.errors(400, 401, 403, 404, 409) } } },
    async (req, reply) => reply.status(201).send(await service.giveConsent(req.body)),
  );

  app.post(
    "/v1/consents/withdrawals",
    {
      schema: {
        tags: ["device"],
        summary: "opt out: withdraw consent and delete the template at both parties (R13)",
        body: S.SignedPersonRequest,
        response: { 200: Type.Object({ requestId: Type.String(), status: S.DeletionResponse.properties.status, consent: S.ConsentReceipt }), ...S.errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => service.withdrawConsent(req.body),
  );

  app.post(
    "/v1/enrolments",
    { schema: { tags: ["device"], summary: "enrol the person's face template at P0 and P1", body: S.FaceRequest, response: { 200: S.EnrolmentResponse, ...S.errors(400, 401, 403, 404, 409, 422, 423, 503) } } },
    async (req) => {
      const out = await service.enrol(req.body);
      metrics.decision("enrol", out.decision, out.reason);
      return out;
    },
  );

  app.post(
    "/v1/verifications",
    { schema: { tags: ["device"], summary: "1:1 verification: a decision and a reason code, never a score", body: S.FaceRequest, response: { 200: S.VerificationResponse, ...S.errors(400, 401, 403, 404, 409, 422, 423, 503) } } },
    async (req) => {
      const out = await service.verify(req.body);
      metrics.decision("verify", out.decision, out.reason);
      return out;
    },
  );

  app.post(
    "/v1/deregistrations",
    { schema: { tags: ["device"], summary: "delete the template at both parties; needs a fresh successful verification (R14)", body: S.SignedPersonRequest, response: { 200: S.DeletionResponse, ...S.errors(400, 401, 403, 404, 409) } } },
    async (req) => service.deregister(req.body),
  );

  // ---- operator routes --------------------------------------------------------------------------

  app.post(
    "/v1/admin/merchants",
    { onRequest: auth("admin"), schema: { tags: ["operator"], security, body: S.MerchantCreate, response: { 201: S.Merchant, ...S.errors(400, 401, 403) } } },
    async (req, reply) => reply.status(201).send(await service.addMerchant(req.body.name, req.operator!)),
  );
  app.post(
    "/v1/admin/merchants/:merchantId/persons",
    {
      onRequest: auth("admin"),
      schema: { tags: ["operator"], security, params: S.PathMerchant, body: S.PersonCreate, response: { 201: S.PersonView, ...S.errors(400, 401, 403, 404, 409) } },
    },
    async (req, reply) => reply.status(201).send(await service.addPerson(req.params.merchantId, req.body, req.operator!)),
  );
  app.post(
    "/v1/admin/merchants/:merchantId/devices",
    {
      onRequest: auth("admin"),
      schema: { tags: ["operator"], security, params: S.PathMerchant, body: S.DeviceCreate, response: { 201: S.DeviceView, ...S.errors(400, 401, 403, 404, 409) } },
    },
    async (req, reply) => reply.status(201).send(await service.addDevice(req.params.merchantId, req.body, req.operator!)),
  );
  app.post(
    "/v1/admin/devices/:deviceId/approve",
    {
      onRequest: auth("admin", "operator"),
      schema: { tags: ["operator"], security, summary: "the second approver of a device registration: another operator than the one who registered it (R27)", params: S.PathDevice, response: { 200: S.DeviceView, ...S.errors(401, 403, 409) } },
    },
    async (req) => service.approveDevice(req.params.deviceId, req.operator!),
  );
  app.post(
    "/v1/admin/persons/:personId/identity-checks",
    {
      onRequest: auth("operator"),
      schema: { tags: ["operator"], security, summary: "request an identity check of the person (dual control: another operator approves)", params: S.PathPerson, headers: S.ReasonHeader, response: { 201: S.IdentityCheck, ...S.errors(400, 401, 403, 404) } },
    },
    async (req, reply) => reply.status(201).send(await service.requestIdentityCheck(req.params.personId, req.operator!, reasonOf(req))),
  );
  app.post(
    "/v1/admin/identity-checks/:checkId/approve",
    {
      onRequest: auth("operator"),
      schema: { tags: ["operator"], security, summary: "approve an identity check (another operator than the requester); records a notice to the person", params: S.PathCheck, headers: S.ReasonHeader, response: { 200: S.IdentityCheck, ...S.errors(400, 401, 403, 409) } },
    },
    async (req) => service.approveIdentityCheck(req.params.checkId, req.operator!, reasonOf(req)),
  );
  app.post(
    "/v1/admin/devices/:deviceId/revoke",
    { onRequest: auth("admin"), schema: { tags: ["operator"], security, params: S.PathDevice, response: { 200: S.DeviceView, ...S.errors(401, 403) } } },
    async (req) => service.revokeDevice(req.params.deviceId, req.operator!),
  );
  app.post(
    "/v1/admin/notices",
    { onRequest: auth("admin"), schema: { tags: ["operator"], security, body: S.NoticeCreate, response: { 201: S.Notice, ...S.errors(400, 401, 403, 409) } } },
    async (req, reply) => reply.status(201).send(await service.addNotice(req.body, req.operator!)),
  );
  app.post(
    "/v1/admin/persons/:personId/unlock",
    {
      onRequest: auth("operator"),
      schema: { tags: ["operator"], security, summary: "request a person's unlock: done when another operator approves it (POST /v1/admin/approvals/{approvalId}/approve, R27)", params: S.PathPerson, headers: S.ReasonHeader, response: { 202: S.Approval, ...S.errors(400, 401, 403, 404) } },
    },
    async (req, reply) => reply.status(202).send(await service.unlockPerson(req.params.personId, req.operator!, reasonOf(req))),
  );
  app.post(
    "/v1/admin/devices/:deviceId/unlock",
    { onRequest: auth("operator"), schema: { tags: ["operator"], security, params: S.PathDevice, headers: S.ReasonHeader, response: { 200: S.Ok, ...S.errors(400, 401, 403) } } },
    async (req) => service.unlockDevice(req.params.deviceId, req.operator!, reasonOf(req)),
  );
  app.get(
    "/v1/admin/persons/:personId",
    {
      onRequest: auth("operator", "auditor"),
      schema: { tags: ["operator"], security, summary: "a masked person record (R26 quota)", params: S.PathPerson, headers: S.ReasonHeader, response: { 200: S.PersonView, ...S.errors(400, 401, 403, 404, 429) } },
    },
    async (req) => service.viewPerson(req.params.personId, req.operator!, reasonOf(req)),
  );
  app.get(
    "/v1/admin/persons/:personId/decisions",
    {
      onRequest: auth("operator", "auditor"),
      schema: {
        tags: ["operator"],
        security,
        summary: "decision history, newest first, at most 100 rows",
        params: S.PathPerson,
        querystring: S.LimitQuery,
        headers: S.ReasonHeader,
        response: { 200: S.DecisionList, ...S.errors(400, 401, 403, 404, 429) },
      },
    },
    async (req) => service.history(req.params.personId, req.operator!, reasonOf(req), req.query.limit ? Number(req.query.limit) : 100),
  );
  app.get(
    "/v1/admin/rechecks",
    { onRequest: auth("operator", "auditor"), schema: { tags: ["operator"], security, summary: "requests degraded mode recorded for re-check (R35)", response: { 200: S.RecheckList, ...S.errors(401, 403) } } },
    async () => service.rechecks(),
  );
  app.post(
    "/v1/admin/rechecks/run",
    { onRequest: auth("operator"), schema: { tags: ["operator"], security, response: { 200: Type.Object({ resolved: Type.Integer(), open: Type.Integer() }), ...S.errors(401, 403) } } },
    async () => service.runRechecks(),
  );

  await registerConsole(app, { service, metrics, sessions, credential, auth, reasonOf, now, options: options.console ?? {} });

  if (options.web?.length) registerWeb(app, options.web);
  return app;
}

/** `s` with %XX escapes decoded as UTF-8, or `s` itself if it is not valid percent-encoding. */
function percentDecoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** An operator credential's expiry in ms since the epoch, or undefined if missing or not a date. */
export function operatorExpiry(v: unknown): number | undefined {
  const t = typeof v === "number" ? v : typeof v === "string" && /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : undefined;
}
