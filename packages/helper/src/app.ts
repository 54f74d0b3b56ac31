/**
 * The helper as an app (request → response): P0 asks for a batch of correlated randomness
 * (`POST /v1/pool/refill { kind, count, params }`); the helper deals `count` bundles with fresh ids
 * (mpc `deal`), delivers P1's halves to P1 first (`POST /v1/pool/items`, binary batch) and only when
 * P1 has stored them returns P0's halves. So every id P0 holds is also held by P1, and P0 (the
 * leader) picks the id for each session. The helper keeps no data and sees no shares.
 * `POST /v1/dedup/refill { epoch, count, n, params }` deals n 1:N queries (mpc dedup.ts) the same way
 * (P1's halves to P1's `/v1/dedup/items` first); for them it keeps the masks of the current gallery
 * epoch, derived from the seeds alone.
 */
import { auditChainGauges } from "@privface/config/metrics";
import type https from "node:https";
import { killAt, silentLog, type Log } from "@privface/config";
import {
  deal, dealDedupBatch, encodeBundle, jsRowStore, makeParams, newItemId,
  type BundleKind, type HelperGallery, type Params, type RowStoreFactory,
} from "@privface/mpc";
import { requestJson, type Admission, type App, type AppResponse, type RequestHead } from "@privface/transport";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { packItems } from "@privface/contracts";

export interface HelperDeps {
  seeds: { P0: Uint8Array; P1: Uint8Array };
  /** Base URL of P1's API (https://host:port). */
  p1Url: string;
  /**
   * Several P1 worker processes over one database (issue 16): deliveries go to them in turn, the next
   * when one cannot be reached (default: `p1Url` alone).
   */
  p1Urls?: string[];
  /** mTLS agent presenting the helper's certificate. */
  agent: https.Agent;
  maxBatch?: number;
  /**
   * Enrolment bundles kept dealt ahead (P1's halves already delivered to P1, P0's held here), so an
   * enrolment does not wait for a deal and a delivery to P1. 0 = deal every enrolment on demand.
   * The pool is for the parameters of the last enrolment request (a change of parameters empties it).
   */
  enrolPool?: number;
  /** Audit log of the helper: one record per batch dealt (a failing append fails the batch). */
  audit?: (e: { op: string; outcome: string; code?: string | null }) => Promise<void>;
  /** the audit log's incremental chain check (@privface/audit `check`), exported as a metric at each scrape */
  auditCheck?: () => Promise<{ ok: boolean; records: number }>;
  /** pino logger (or a stub); default silent */
  log?: Log;
  /** row storage of the helper's copy of the dedup masks (default plain JS; @privface/scan `wasmRowStore`) */
  dedupRows?: RowStoreFactory;
  /** the largest gallery the helper deals dedup queries for (default 2,000,000 slots) */
  maxDedupSlots?: number;
}

export interface HelperApp {
  app: App;
  /** route and caller's role from the request line and the certificate, before the body is read */
  admit(head: RequestHead): Admission;
  registry: Registry;
  /** Last known reachability of P1 (from deliveries and health probes). */
  p1Up(): boolean;
  probeP1(): Promise<boolean>;
}

const err = (status: number, code: string, message: string): AppResponse => ({ status, body: { error: { code, message } } });

function parseParams(p: Record<string, unknown> | undefined): Params | string {
  if (!p || typeof p !== "object") return "params: expected an object";
  try {
    return makeParams({ d: p.d as number, threshold: p.threshold as number, normLo: p.normLo as number, normHi: p.normHi as number });
  } catch (e) {
    return `params: ${(e as Error).message}`;
  }
}

/**
 * `{ epoch, count, n, params, p1Url? }`: n (1..8) dedup queries over the first `count` slots of gallery
 * `epoch`; `p1Url` (https origin) names the P1 process to deliver to — a gallery shard worker (party
 * shards.ts) — instead of the configured P1: the delivery still goes only to a server whose
 * certificate names P1 (the helper's agent expects that role).
 */
function parseDedupRefill(body: unknown, maxSlots: number): { epoch: number; count: number; n: number; params: Params; p1Url?: string } | string {
  if (!body || typeof body !== "object" || Array.isArray(body)) return "body: expected an object";
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!["epoch", "count", "n", "params", "p1Url"].includes(k)) return `body.${k}: unknown field`;
  if (b.p1Url !== undefined && (typeof b.p1Url !== "string" || !/^https:\/\/[A-Za-z0-9.:[\]-]{1,255}$/.test(b.p1Url))) return "p1Url: expected an https origin";
  if (!Number.isInteger(b.epoch) || (b.epoch as number) < 0 || (b.epoch as number) >= 2 ** 32) return "epoch: expected a u32";
  if (!Number.isInteger(b.count) || (b.count as number) < 0 || (b.count as number) > maxSlots) return `count: expected 0..${maxSlots}`;
  if (!Number.isInteger(b.n) || (b.n as number) < 1 || (b.n as number) > 8) return "n: expected 1..8";
  const params = parseParams(b.params as Record<string, unknown> | undefined);
  if (typeof params === "string") return params;
  return { epoch: b.epoch as number, count: b.count as number, n: b.n as number, params, ...(b.p1Url ? { p1Url: b.p1Url as string } : {}) };
}

function parseRefill(body: unknown, maxBatch: number): { kind: BundleKind; count: number; params: Params } | string {
  if (!body || typeof body !== "object" || Array.isArray(body)) return "body: expected an object";
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!["kind", "count", "params"].includes(k)) return `body.${k}: unknown field`;
  if (b.kind !== "verify" && b.kind !== "enrol") return "kind: expected verify or enrol";
  if (!Number.isInteger(b.count) || (b.count as number) < 1 || (b.count as number) > maxBatch) return `count: expected 1..${maxBatch}`;
  const params = parseParams(b.params as Record<string, unknown> | undefined);
  if (typeof params === "string") return params;
  return { kind: b.kind, count: b.count as number, params };
}

/** gallery epochs whose masks the helper keeps (one per gallery shard and worker pair) */
const MAX_DEDUP_EPOCHS = 16;

export function createHelperApp(deps: HelperDeps): HelperApp {
  const maxBatch = deps.maxBatch ?? 1024;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "privface_helper_" });
  if (deps.auditCheck) auditChainGauges(registry, "privface_helper_", deps.auditCheck);
  const dealt = new Counter({ name: "privface_helper_items_dealt_total", help: "bundles dealt", labelNames: ["kind"], registers: [registry] });
  const failures = new Counter({ name: "privface_helper_delivery_failures_total", help: "batches P1 did not accept", registers: [registry] });
  const duration = new Histogram({
    name: "privface_helper_request_duration_seconds",
    help: "helper request durations",
    labelNames: ["route", "status"],
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
    registers: [registry],
  });
  let p1Up = false;
  const log = deps.log ?? silentLog;
  const enrolTarget = deps.enrolPool ?? 0;
  // pre-dealt enrolment bundles: P0's halves of bundles whose P1 halves P1 has stored
  let enrolReady: Uint8Array[] = [];
  let enrolParams = "";
  let enrolFilling: Promise<void> | null = null;
  // the dedup masks of the latest gallery epochs P0 asked about (one per gallery shard), from the seeds (nothing from the parties)
  const dedupMasks = new Map<number, HelperGallery>();
  const maxDedupSlots = deps.maxDedupSlots ?? 2_000_000;

  /**
   * Deals `n` dedup queries over the first `count` slots of gallery `epoch`, delivers P1's halves to P1
   * (`POST /v1/dedup/items`) and returns P0's. The masks are the seeds' (dedup.ts `maskShares`): the
   * helper extends its copy to `count` slots, and starts a new one for a new epoch.
   */
  async function dedupRefill(body: unknown): Promise<AppResponse> {
    const req = parseDedupRefill(body, maxDedupSlots);
    if (typeof req === "string") return err(400, "INVALID_INPUT", req);
    const { epoch, count, n, params, p1Url } = req;
    const dealt = dealDedupBatch(dedupMasks.get(epoch) ?? null, { params, seeds: deps.seeds, epoch, count, n, rows: deps.dedupRows ?? jsRowStore });
    dedupMasks.delete(epoch);
    dedupMasks.set(epoch, dealt.masks);
    for (const e of dedupMasks.keys()) if (dedupMasks.size > MAX_DEDUP_EPOCHS) dedupMasks.delete(e); // the least recently used go first
    return (await deliver("/v1/dedup/items", dealt.P1, "dedup", 60_000, p1Url)) ?? { status: 200, body: poolBatch(dealt.P0), contentType: "application/octet-stream" };
  }

  /** Deals `count` bundles, delivers P1's halves to P1 and audits; P0's halves, or an error response. */
  async function dealAndDeliver(kind: BundleKind, count: number, params: Params): Promise<Uint8Array[] | AppResponse> {
    const p0: Uint8Array[] = [];
    const p1: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const d = deal(params, newItemId(), deps.seeds, { kind });
      p0.push(encodeBundle(d.P0));
      p1.push(encodeBundle(d.P1));
    }
    return (await deliver("/v1/pool/items", p1, kind, 30_000)) ?? p0;
  }

  /**
   * One POST to P1: to the process P0 named (a gallery shard's worker) when it named one, else to P1's
   * workers in turn from the one that answered last, the next when one cannot be reached.
   */
  const p1Urls = deps.p1Urls?.length ? deps.p1Urls : [deps.p1Url];
  let p1At = 0;
  async function toP1(path: string, raw: Buffer, timeoutMs: number, named?: string) {
    if (named) return requestJson(deps.agent, `${named}${path}`, "POST", undefined, { raw, timeoutMs });
    for (let i = 0; ; i++) {
      const url = p1Urls[(p1At + i) % p1Urls.length];
      try {
        const r = await requestJson(deps.agent, `${url}${path}`, "POST", undefined, { raw, timeoutMs });
        p1At = (p1At + i) % p1Urls.length;
        return r;
      } catch (e) {
        if (i + 1 >= p1Urls.length) throw e;
      }
    }
  }

  /** P1's halves to P1's `path`, then the audit record: null when both went through, else the error response. */
  async function deliver(path: string, p1: Uint8Array[], kind: string, timeoutMs: number, p1Url?: string): Promise<AppResponse | null> {
    let r;
    try {
      r = await toP1(path, poolBatch(p1), timeoutMs, p1Url);
    } catch (e) {
      p1Up = false;
      failures.inc();
      log.warn({ event: "delivery_failed", reason: (e as Error).message });
      return err(503, "PEER_UNAVAILABLE", "P1 did not take the batch");
    }
    if (r.status !== 200) {
      failures.inc();
      log.warn({ event: "delivery_refused", status: r.status });
      return err(503, "PEER_UNAVAILABLE", `P1 refused the batch (HTTP ${r.status})`);
    }
    p1Up = true;
    killAt("helper:deal:delivered"); // P1 holds the batch, P0 never gets its halves
    try {
      await deps.audit?.({ op: `deal:${kind}`, outcome: "delivered" });
    } catch {
      log.error({ event: "audit_failed" });
      return err(500, "INTERNAL", "audit log unavailable");
    }
    dealt.inc({ kind }, p1.length);
    log.info({ event: "dealt", kind, count: p1.length });
    return null;
  }

  /** Tops the enrolment pool up to its target in the background when half empty (one fill at a time). */
  function fillEnrolPool(params: Params): void {
    if (enrolTarget === 0) return;
    const key = JSON.stringify(params);
    if (enrolFilling) {
      // a fill for other parameters is under way: fill for these once it is done
      if (key !== enrolParams) void enrolFilling.then(() => fillEnrolPool(params));
      return;
    }
    if (key !== enrolParams) {
      enrolParams = key;
      enrolReady = [];
    }
    // refill at half the target, in one batch (one delivery and one audit record per batch)
    if (enrolReady.length > enrolTarget / 2) return;
    const n = Math.min(maxBatch, enrolTarget - enrolReady.length);
    enrolFilling = (async () => {
      try {
        const got = await dealAndDeliver("enrol", n, params);
        if (Array.isArray(got) && key === enrolParams) enrolReady.push(...got);
      } finally {
        enrolFilling = null;
      }
    })().catch(() => {});
  }

  async function refill(body: unknown): Promise<AppResponse> {
    const req = parseRefill(body, maxBatch);
    if (typeof req === "string") return err(400, "INVALID_INPUT", req);
    if (enrolTarget > 0) {
      let items: Uint8Array[] | undefined;
      if (req.kind === "enrol" && JSON.stringify(req.params) === enrolParams && enrolReady.length >= req.count) items = enrolReady.splice(0, req.count);
      // any request from P0 names the parameters: (re)fill the enrolment pool for them in the background
      fillEnrolPool(req.params);
      if (items) return { status: 200, body: poolBatch(items), contentType: "application/octet-stream" };
    }
    const got = await dealAndDeliver(req.kind, req.count, req.params);
    if (!Array.isArray(got)) return got;
    return { status: 200, body: poolBatch(got), contentType: "application/octet-stream" };
  }

  async function probeP1(): Promise<boolean> {
    try {
      const r = await requestJson(deps.agent, `${deps.p1Url}/v1/health`, "GET", undefined, { timeoutMs: 2_000 });
      p1Up = r.status === 200;
    } catch {
      p1Up = false;
    }
    return p1Up;
  }

  const app: App = async (req) => {
    const t0 = performance.now();
    let route = "other";
    let res: AppResponse;
    try {
      if (req.method === "POST" && req.path === "/v1/pool/refill") {
        route = "refill";
        res = req.role === "p0" ? await refill(req.body) : err(403, "FORBIDDEN_ROLE", "only P0 may ask for pool refills");
      } else if (req.method === "POST" && req.path === "/v1/dedup/refill") {
        route = "dedup_refill";
        res = req.role === "p0" ? await dedupRefill(req.body) : err(403, "FORBIDDEN_ROLE", "only P0 may ask for dedup queries");
      } else if (req.method === "GET" && req.path === "/v1/health") {
        route = "health";
        res = req.role ? { status: 200, body: { role: "helper", p1: p1Up ? "up" : "down" } } : err(403, "FORBIDDEN_ROLE", "no role");
      } else if (req.method === "GET" && req.path === "/metrics") {
        route = "metrics";
        res = { status: 200, body: await registry.metrics(), contentType: registry.contentType };
      } else {
        res = err(404, "NOT_FOUND", `no route ${req.method} ${req.path}`);
      }
    } catch (e) {
      log.error({ event: "internal_error", error: (e as Error).name });
      res = err(500, "INTERNAL", "internal error");
    }
    duration.observe({ route, status: String(res.status) }, (performance.now() - t0) / 1000);
    return res;
  };
  /** Only P0 may send a body (a refill request, a few hundred bytes); health and metrics take none. */
  function admit(head: RequestHead): Admission {
    const key = `${head.method} ${head.path}`;
    if (key === "POST /v1/pool/refill" || key === "POST /v1/dedup/refill") {
      return head.role === "p0" ? { ok: true, maxBodyBytes: 64 << 10 } : { ok: false, response: err(403, "FORBIDDEN_ROLE", "only P0 may ask for pool refills") };
    }
    if (key === "GET /v1/health" || key === "GET /metrics") return head.role ? { ok: true, maxBodyBytes: 0 } : { ok: false, response: err(403, "FORBIDDEN_ROLE", "no role") };
    return { ok: false, response: err(404, "NOT_FOUND", `no route ${head.method} ${head.path}`) };
  }
  return { app, admit, registry, p1Up: () => p1Up, probeP1 };
}

/** A pool batch on the wire: the bundles in the one length-prefixed framing (@privface/contracts). */
function poolBatch(items: readonly Uint8Array[]): Buffer {
  const b = packItems(items);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
