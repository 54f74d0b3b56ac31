/**
 * The operator console's server side (issue 14): sign-in with sessions (`_sessions.ts`), the lists
 * and views the console shows, the pending approvals of dual control (R27), the auditor's view of the
 * audit chains and a dashboard read from the Prometheus metrics.
 *
 * Roles (enforced here, never in the page): admin — merchants, devices, approvals of device
 * registrations, dashboard; operator — persons (masked, with a reason, against the daily quota),
 * approvals, held enrolments (ENROL_DEDUP=hold), dashboard; auditor — persons and held enrolments
 * (same rules), the audit view, dashboard. Nothing here changes or deletes personal data: the writes
 * besides signing in and out are approvals and requests for them (a rejected held enrolment's
 * template is deleted at the parties, the person's record stays).
 * The console's pages are static files the gateway serves as a web mount (`_web.ts`, `/console/`).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { AUDIT_TABLE, DECISION_OPS, reconcileDecisions, sendAuditHead, type DecisionRecord } from "@privface/audit";
import { PARTIES, type PartyClient, type PartyName } from "@privface/contracts";
import { ApiError } from "./errors.ts";
import type { GatewayMetrics } from "./metrics.ts";
import * as S from "./schemas.ts";
import type { GatewayService, Operator, OperatorRole } from "./service.ts";
import { cookieHeader, safeEqual, sessionCookie, Sessions, type SessionOptions } from "./_sessions.ts";

export interface ConsoleOptions {
  sessions?: SessionOptions;
  /** the parties, for their metrics (chain check, pool level, link) in the audit view and dashboard, the audit anchors, and their audit records (reconciliation) */
  parties?: Record<PartyName, Pick<PartyClient, "metrics" | "anchor" | "auditRecords">>;
}

export interface ConsoleDeps {
  service: GatewayService;
  metrics: GatewayMetrics;
  sessions: Sessions;
  /** the operator credential of a token (by its SHA-256), as app.ts keeps them */
  credential(token: string): (Operator & { expiresAt: number }) | undefined;
  auth(...roles: OperatorRole[]): (req: FastifyRequest) => Promise<void>;
  reasonOf(req: FastifyRequest): string;
  now(): number;
  options: ConsoleOptions;
}

const security: { [scheme: string]: string[] }[] = [{ operatorToken: [] }, { consoleSession: [] }];
const limitOf = (q: { limit?: string }) => (q.limit ? Number(q.limit) : 100);
/** at most 100 rows per view (R26) */
const PAGE_ROWS = 100;
/** how far beyond a reconciliation page's span the parties' records are read */
const SLACK_MS = 60_000;

export async function registerConsole(app: FastifyInstance, d: ConsoleDeps): Promise<void> {
  const { service, sessions } = d;

  app.post(
    "/v1/console/sessions",
    { schema: { tags: ["console"], summary: "sign in (operator id and credential) for a session cookie", body: S.SignIn, response: { 201: S.Session, ...S.errors(400, 401, 403, 429) } } },
    async (req, reply) => {
      const body = req.body as { operatorId: string; token: string };
      const cred = d.credential(body.token);
      // one answer for an unknown id, a wrong credential, or a credential of another operator
      if (!cred || !safeEqual(cred.id, body.operatorId)) throw new ApiError("UNAUTHENTICATED");
      if (d.now() >= cred.expiresAt) throw new ApiError("TOKEN_EXPIRED");
      if (cred.role === "monitor") throw new ApiError("FORBIDDEN_ROLE");
      const { sid, out } = await sessions.open({ id: cred.id, role: cred.role }, cred.expiresAt);
      await service.consoleEvent({ id: cred.id, role: cred.role }, "console.sign-in");
      reply.header("set-cookie", cookieHeader(sid, (out.expiresAt - d.now()) / 1000));
      reply.header("cache-control", "no-store");
      return reply.status(201).send(out);
    },
  );
  app.get(
    "/v1/console/session",
    { onRequest: d.auth("admin", "operator", "auditor"), schema: { tags: ["console"], security, summary: "the current session (cookie and CSRF header)", response: { 200: S.Session, ...S.errors(401, 403) } } },
    async (req, reply) => {
      const sid = sessionCookie(req.headers.cookie);
      const s = sid ? await sessions.current(sid) : undefined;
      if (!s) throw new ApiError("UNAUTHENTICATED");
      reply.header("cache-control", "no-store");
      return s;
    },
  );
  app.delete(
    "/v1/console/session",
    { onRequest: d.auth("admin", "operator", "auditor"), schema: { tags: ["console"], security, summary: "sign out", response: { 200: S.Ok, ...S.errors(401, 403) } } },
    async (req, reply) => {
      const sid = sessionCookie(req.headers.cookie);
      if (sid) await sessions.close(sid);
      await service.consoleEvent(req.operator!, "console.sign-out");
      reply.header("set-cookie", cookieHeader("", 0));
      return { ok: true };
    },
  );

  app.get(
    "/v1/admin/merchants",
    { onRequest: d.auth("admin", "operator", "auditor"), schema: { tags: ["operator"], security, summary: "merchants, newest first, at most 100", querystring: S.ListQuery, response: { 200: S.MerchantList, ...S.errors(400, 401, 403) } } },
    async (req) => service.listMerchants(limitOf(req.query as { limit?: string })),
  );
  app.get(
    "/v1/admin/devices",
    { onRequest: d.auth("admin", "operator", "auditor"), schema: { tags: ["operator"], security, summary: "devices, newest first, at most 100 (no personal data)", querystring: S.ListQuery, response: { 200: S.DeviceList, ...S.errors(400, 401, 403) } } },
    async (req) => {
      const q = req.query as { merchantId?: string; limit?: string };
      return service.listDevices(q.merchantId ?? null, limitOf(q));
    },
  );
  app.get(
    "/v1/admin/persons",
    {
      onRequest: d.auth("operator", "auditor"),
      schema: {
        tags: ["operator"],
        security,
        summary: "masked persons with enrolment and consent state, at most 100 rows; each row counts against the daily quota (R26)",
        querystring: S.ListQuery,
        headers: S.ReasonHeader,
        response: { 200: S.PersonList, ...S.errors(400, 401, 403, 429) },
      },
    },
    async (req) => {
      const q = req.query as { merchantId?: string; limit?: string };
      return service.listPersons(q.merchantId ?? null, req.operator!, d.reasonOf(req), limitOf(q));
    },
  );
  app.post(
    "/v1/admin/devices/:deviceId/still-image",
    {
      onRequest: d.auth("admin"),
      schema: {
        tags: ["operator"],
        security,
        summary: "request setting or clearing a device's still-image flag (no active liveness actions): made when another operator approves it (POST /v1/admin/approvals/{approvalId}/approve, R27)",
        params: S.PathDevice,
        body: S.StillImageChange,
        headers: S.ReasonHeader,
        response: { 202: S.Approval, ...S.errors(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const { deviceId } = req.params as { deviceId: string };
      return reply.status(202).send(await service.requestStillImage(deviceId, (req.body as { stillImage: boolean }).stillImage, req.operator!, d.reasonOf(req)));
    },
  );
  app.get(
    "/v1/admin/holds",
    {
      onRequest: d.auth("operator", "auditor"),
      schema: {
        tags: ["operator"],
        security,
        summary: "enrolments held for review (ENROL_DEDUP=hold) with the enrolled persons their face matched, masked; each person shown counts against the daily quota (R26)",
        headers: S.ReasonHeader,
        response: { 200: S.HoldList, ...S.errors(400, 401, 403, 429) },
      },
    },
    async (req) => service.listHolds(req.operator!, d.reasonOf(req)),
  );
  app.post(
    "/v1/admin/holds/:holdId/decision",
    {
      onRequest: d.auth("operator"),
      schema: {
        tags: ["operator"],
        security,
        summary: "request the decision on a held enrolment (approve: the person becomes active; reject: the template is deleted at both parties): done when another operator approves it (POST /v1/admin/approvals/{approvalId}/approve, R27)",
        params: S.PathHold,
        body: S.HoldDecision,
        headers: S.ReasonHeader,
        response: { 202: S.Approval, ...S.errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const { holdId } = req.params as { holdId: string };
      return reply.status(202).send(await service.decideHold(holdId, (req.body as { decision: "approve" | "reject" }).decision, req.operator!, d.reasonOf(req)));
    },
  );
  app.get(
    "/v1/admin/approvals",
    { onRequest: d.auth("admin", "operator"), schema: { tags: ["operator"], security, summary: "what awaits a second operator: device registrations, identity checks, unlocks, decisions on held enrolments", response: { 200: S.PendingList, ...S.errors(401, 403) } } },
    async () => service.pending(100),
  );
  app.post(
    "/v1/admin/approvals/:approvalId/approve",
    {
      onRequest: d.auth("operator"),
      schema: { tags: ["operator"], security, summary: "approve a pending critical action (another operator than the requester, R27)", params: S.PathApproval, headers: S.ReasonHeader, response: { 200: S.Approval, ...S.errors(400, 401, 403, 409) } },
    },
    async (req) => service.approve((req.params as { approvalId: string }).approvalId, req.operator!, d.reasonOf(req)),
  );

  const partyStatus = async () => {
    const out: Record<string, PartyState> = {};
    await Promise.all(
      PARTIES.map(async (p) => {
        const client = d.options.parties?.[p];
        if (!client) return void (out[p] = { reachable: false });
        try {
          out[p] = partyState(await withTimeout(client.metrics(), 2000));
        } catch {
          out[p] = { reachable: false };
        }
      }),
    );
    return out;
  };

  /**
   * Cross-party reconciliation of the gateway's chain: its signed head sent to each party now (as the
   * periodic anchor is, @privface/audit sendAuditHead), which checks it against the head it keeps.
   */
  const anchorStatus = async () => {
    const out: Record<string, { outcome: "stored" | "known" | "regressed" | "unreachable" | "empty"; seq: number | null }> = {};
    const source = service.auditAnchorSource;
    await Promise.all(
      PARTIES.map(async (p) => {
        const client = d.options.parties?.[p];
        if (!client || !source) return void (out[p] = { outcome: "unreachable", seq: null });
        try {
          const r = await withTimeout(sendAuditHead(source, async (body) => ({ status: 200, body: await client.anchor(body) })), 2000);
          out[p] = r ? { outcome: r.outcome === "want" ? "regressed" : r.outcome, seq: r.want } : { outcome: "empty", seq: null };
        } catch {
          out[p] = { outcome: "unreachable", seq: null };
        }
      }),
    );
    return out;
  };

  app.get(
    "/v1/admin/audit",
    { onRequest: d.auth("auditor"), schema: { tags: ["operator"], security, summary: "the gateway's audit chain check and newest 50 records; the parties' own chain checks from their metrics; the gateway's head reconciled with what each party keeps of it (audit anchors)", response: { 200: S.AuditView, ...S.errors(401, 403) } } },
    async () => {
      const check = service.auditCheck ? ((await service.auditCheck()) as { ok: boolean; records: number; firstBroken?: { seq: number; reason: string } }) : { ok: false, records: 0 };
      const rows = await service.store.exec.read((tx) =>
        tx.all<{ seq: unknown; time: unknown; requester: string; op: string; outcome: string; code: string | null; session: string | null }>(
          `SELECT seq, time, requester, op, outcome, code, session FROM ${AUDIT_TABLE} ORDER BY seq DESC LIMIT 50`,
        ),
      );
      return {
        gateway: {
          ok: check.ok,
          records: check.records,
          ...(check.firstBroken ? { firstBroken: { seq: check.firstBroken.seq, reason: check.firstBroken.reason } } : {}),
          recent: rows.map((r) => ({ seq: Number(r.seq), time: Number(r.time), actor: r.requester, op: r.op, outcome: r.outcome, code: r.code, subject: r.session })),
        },
        parties: await partyStatus(),
        anchors: await anchorStatus(),
      };
    },
  );
  app.get(
    "/v1/admin/audit/reconciliation",
    {
      onRequest: d.auth("auditor"),
      schema: {
        tags: ["operator"],
        security,
        summary: "cross-party reconciliation, record by record: the gateway's decisions (100 per page, newest first) beside P0's and P1's audit records of the same session, and the parties' sessions the gateway has no decision for",
        querystring: S.ReconciliationQuery,
        response: { 200: S.Reconciliation, ...S.errors(400, 401, 403) },
      },
    },
    async (req) => {
      const before = (req.query as { before?: string }).before;
      const page = PAGE_ROWS;
      const rows = await service.store.exec.read((tx) =>
        tx.all<{ seq: unknown; time: unknown; op: string; outcome: string; code: string | null; session: string }>(
          `SELECT seq, time, op, outcome, code, session FROM ${AUDIT_TABLE} WHERE op IN (${DECISION_OPS.map(() => "?").join(", ")}) AND session IS NOT NULL${before ? " AND seq < ?" : ""} ORDER BY seq DESC LIMIT ?`,
          [...DECISION_OPS, ...(before ? [Number(before)] : []), page],
        ),
      );
      const gateway: DecisionRecord[] = rows.map((r) => ({ seq: Number(r.seq), time: Number(r.time), op: r.op, session: r.session, outcome: r.outcome, code: r.code }));
      // the page spans from its oldest decision (0 on the last page) to the newer page's oldest (now on the first)
      const cursor = before ? await service.store.exec.read((tx) => tx.get<{ time: unknown }>(`SELECT time FROM ${AUDIT_TABLE} WHERE seq = ?`, [Number(before)])) : undefined;
      const full = gateway.length === page;
      // (the newer page holds its oldest decision's millisecond: a party session stamped then is listed there)
      const window = { from: full ? gateway[gateway.length - 1].time : 0, to: cursor ? Number(cursor.time) - 1 : d.now() };
      const status: Record<string, "ok" | "truncated" | "unreachable"> = {};
      const records: Record<PartyName, DecisionRecord[]> = { P0: [], P1: [] };
      await Promise.all(
        PARTIES.map(async (p) => {
          const client = d.options.parties?.[p];
          try {
            if (!client) throw new Error("no party client");
            // a little wider than the window: a decision's records on the page's edge, clocks a little apart
            const r = await withTimeout(client.auditRecords({ from: Math.max(0, window.from - SLACK_MS), to: window.to + SLACK_MS, limit: 1000 }), 3000);
            records[p] = r.records;
            status[p] = r.truncated ? "truncated" : "ok";
          } catch {
            status[p] = "unreachable";
          }
        }),
      );
      const r = reconcileDecisions(gateway, records, window);
      // a party session with no decision on this page may have one on another (a party stamps its records
      // before the gateway records the decision, so those of a page's oldest decision fall in the older
      // page's span): listed only if the gateway has no decision for it at all
      const orphans = r.rows.filter((x) => x.gateway === null).map((x) => x.session);
      const decided = new Set<string>();
      for (let i = 0; i < orphans.length; i += 500) {
        const chunk = orphans.slice(i, i + 500);
        const found = await service.store.exec.read((tx) =>
          tx.all<{ session: string }>(`SELECT DISTINCT session FROM ${AUDIT_TABLE} WHERE session IN (${chunk.map(() => "?").join(", ")}) AND op IN (${DECISION_OPS.map(() => "?").join(", ")})`, [...chunk, ...DECISION_OPS]),
        );
        for (const f of found) decided.add(f.session);
      }
      const rowsHere = r.rows.filter((x) => x.gateway !== null || !decided.has(x.session));
      const shown = rowsHere.slice(0, page);
      const mismatched = shown.filter((x) => x.mismatches.length > 0).length;
      return { reconciled: shown.length - mismatched, mismatched, rows: shown, window, parties: status, more: rowsHere.length > page, next: full ? gateway[gateway.length - 1].seq : null };
    },
  );
  app.get(
    "/v1/admin/dashboard",
    { onRequest: d.auth("admin", "operator", "auditor"), schema: { tags: ["operator"], security, summary: "decisions, errors and verification latency from the gateway's /metrics; the parties' pool and link state", response: { 200: S.Dashboard, ...S.errors(401, 403) } } },
    async () => ({ at: d.now(), ...dashboardOf(parsePrometheus(await d.metrics.registry.metrics())), parties: await partyStatus() }),
  );
}

// ---- metrics ------------------------------------------------------------------------------------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition format → samples (comments and malformed lines are skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, (_s, c: string) => (c === "n" ? "\n" : c));
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

/**
 * The q-quantile of a Prometheus histogram from its cumulative buckets: the upper bound of the first
 * bucket holding it (null without observations; the largest finite bound if it falls in +Inf).
 */
export function histogramQuantile(buckets: { le: number; count: number }[], q: number): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  for (const b of sorted) if (b.count >= rank) return Number.isFinite(b.le) ? b.le : (sorted.filter((x) => Number.isFinite(x.le)).at(-1)?.le ?? null);
  return null;
}

function dashboardOf(samples: Sample[]) {
  const decisions: Record<string, { accept: number; reject: number }> = {};
  const errors: Record<string, number> = {};
  const buckets = new Map<number, number>();
  for (const s of samples) {
    if (s.name === "privface_gateway_decisions_total") {
      const f = (decisions[s.labels.flow] ??= { accept: 0, reject: 0 });
      if (s.labels.decision === "accept" || s.labels.decision === "reject") f[s.labels.decision] += s.value;
    } else if (s.name === "privface_gateway_errors_total") errors[s.labels.code] = (errors[s.labels.code] ?? 0) + s.value;
    else if (s.name === "privface_gateway_request_duration_seconds_bucket" && s.labels.route === "/v1/verifications") {
      const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + s.value);
    }
  }
  const b = [...buckets].map(([le, count]) => ({ le, count }));
  const ms = (q: number) => {
    const v = histogramQuantile(b, q);
    return v === null ? null : v * 1000;
  };
  return { decisions, errors, latencyMs: { count: buckets.get(Infinity) ?? 0, p50: ms(0.5), p95: ms(0.95), p99: ms(0.99) } };
}

interface PartyState {
  reachable: boolean;
  auditChainOk?: boolean;
  auditRecords?: number;
  poolLevel?: number;
  linkUp?: boolean;
  anchorRegressions?: number;
}

const REGRESSIONS = "privface_party_audit_anchor_regressions_total";

function partyState(text: string): PartyState {
  const samples = parsePrometheus(text);
  const one = (name: string) => samples.find((s) => s.name === name)?.value;
  const ok = one("privface_party_audit_chain_ok");
  const records = one("privface_party_audit_records");
  const pool = one("privface_party_pool_level");
  // a counter with labels has no sample before its first count: declared (# TYPE) and none is 0
  const regressions = samples.filter((s) => s.name === REGRESSIONS);
  const declared = text.includes(`# TYPE ${REGRESSIONS} `);
  // the peer link (P0 ⇄ P1); a party's other links (the helper's) have their own alerts
  const links = samples.filter((s) => s.name === "privface_party_link_up" && (s.labels.link ?? "peer") === "peer");
  return {
    reachable: true,
    ...(ok !== undefined ? { auditChainOk: ok === 1 } : {}),
    ...(records !== undefined ? { auditRecords: records } : {}),
    ...(pool !== undefined ? { poolLevel: pool } : {}),
    ...(links.length > 0 ? { linkUp: links.every((s) => s.value === 1) } : {}),
    ...(declared || regressions.length > 0 ? { anchorRegressions: regressions.reduce((n, s) => n + s.value, 0) } : {}),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_r, reject) => (t = setTimeout(() => reject(new Error("timeout")), ms)))]).finally(() => clearTimeout(t));
}
