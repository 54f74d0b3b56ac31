/**
 * What the gateway's service modules share (service.ts assembles them): the settings (the options
 * with their defaults), the store, the challenge, replay and rate-limit state (in the shared state:
 * this process, or one Redis for several replicas), the identity
 * keys, the audit sink, the log and the clock, plus the three records every module writes: a
 * decision, a re-check (degraded mode, R35) and an operator query (R26).
 */
import type { AuditRecord } from "@privface/audit";
import type { Log } from "@privface/config";
import type { DataKey, Signer } from "@privface/crypto";
import { MODEL, PARTIES, type PartyClient, type PartyName } from "@privface/contracts";
import type { Db } from "@privface/db";
import { ChallengeStore } from "./_challenges.ts";
import { randomId } from "./_crypto.ts";
import { makeIdentityKeys, type IdentityKeys } from "./_identity.ts";
import { RateLimiter, type RateLimits } from "./_limits.ts";
import { Store, type DecisionRow, type DeviceRow, type PersonRow } from "./_store.ts";
import { memoryState, type SharedState } from "./shared-state.ts";

/** A party's sealing public key, handed to devices with each challenge. */
export interface PartyKey {
  suite: "INTL" | "GM";
  /** base64url */
  publicKey: string;
}

/** R27's three roles, and "monitor": a metrics scraper, which may only read GET /metrics. */
export type OperatorRole = "admin" | "operator" | "auditor" | "monitor";
export interface Operator {
  id: string;
  role: OperatorRole;
}

/**
 * One record of the gateway's audit trail (no personal data: ids are opaque, never names or numbers;
 * an operator's free-text reason is kept in the gateway database's `operator_queries`, not here).
 */
export interface AuditEvent {
  /** "device:<id>", "operator:<id>", "system" */
  actor: string;
  /** e.g. "enrol", "verify", "verify.upgrade", "person.view" */
  action: string;
  /** the person, device, merchant or notice acted on */
  subject?: string;
  templateId?: string;
  requestId?: string;
  /** "ok", "accept", "reject", "error" */
  outcome: string;
  /** reason code, e.g. "MATCH", "MPC_UNAVAILABLE" */
  code?: string;
}
export interface AuditSink {
  append(event: AuditEvent): Promise<void> | void;
  /** the chain's incremental check (@privface/audit `check`), exported as a metric */
  check?(): Promise<{ ok: boolean; records: number }>;
  /** the log's newest record and the record at a seq: sent to both parties as an audit anchor (server.ts) */
  anchorSource?: { headRecord(): Promise<AuditRecord | null>; recordAt(seq: number): Promise<AuditRecord | null> };
}

/** The part of the servers' pino logger the service calls (@privface/config). */
export type { Log };

export interface ServiceOptions {
  db: Db;
  parties: Record<PartyName, PartyClient>;
  /** Sealing public keys handed to devices with each challenge. */
  partyKeys: Record<PartyName, PartyKey>;
  /** The gateway signing key for party authorisations. */
  signer: Signer;
  /** Data keys for identity attributes at rest; the first encrypts. */
  dataKeys: readonly DataKey[];
  /**
   * The key of the ID-number blind index (≥ 32 bytes), independent of the data keys so that they can
   * rotate. Without it the index key is derived from the first data key, and a rotation would break
   * duplicate detection: give one in production (the config does, `INDEX_KEY`).
   */
  indexKey?: Uint8Array;
  /** The model version new enrolments use (and verifications upgrade to, R5). */
  modelVersion: string;
  audit?: AuditSink;
  log?: Log;
  challengeTtlMs?: number;
  authorisationTtlMs?: number;
  limits?: Partial<RateLimits>;
  /** Consecutive failed verifications after which a person is locked (default 5). */
  personLockAfter?: number;
  /** Consecutive failed verifications from one device after which it is locked (default 20). */
  deviceLockAfter?: number;
  /** Failed verifications of one person per UTC day after which it is locked; a success does not reset the count (default 10, R24). */
  personDailyFailures?: number;
  /** Failed verifications from one device per UTC day after which it is locked; a success does not reset the count (default 30, R24). */
  deviceDailyFailures?: number;
  /** How recent a successful verification must be for a deregistration (default 5 min, R14). */
  reverifyWindowMs?: number;
  /** Minimum device-reported liveness score (default: the model's, R22). */
  livenessThreshold?: number;
  /** Active liveness (issue 17): actions drawn per enrol / verify challenge, 0 = off (default 0), at most LIVENESS_STEPS.max. */
  livenessActions?: number;
  /**
   * The enrolment policy for duplicates (issue 15): `reject` runs the parties' 1:N search of every
   * valid new template against their dedup gallery and refuses a match (DUPLICATE_ENROLMENT, counted
   * as a failure of the person and the device, like a failed verification); `hold` runs the same search,
   * asks the parties for the matching template ids too, and on a match commits the template but holds
   * the person (no verification, ENROLMENT_HELD) until two operators decide (HELD_FOR_REVIEW, counted
   * the same way); `off` (default) does not search.
   */
  enrolDedup?: "off" | "reject" | "hold";
  /** Sensitive records an operator may view per day (default 100, R26). */
  operatorDailyQuota?: number;
  /** How long a deregistered person's identity attributes are kept before the re-check job erases them (default 30 days). */
  identityRetentionMs?: number;
  /**
   * Challenges, the replay cache, rate limits and busy persons (issue 16): `redisState(url)` for several
   * replicas; default `memoryState(now)`, this process only. The gateway closes it on shutdown.
   */
  shared?: SharedState;
  /**
   * Cache device rows in this process (default: only when `shared` is not given). A replica must not:
   * a device revoked through another replica would still be accepted here.
   */
  cacheDevices?: boolean;
  now?: () => number;
}

export const DEFAULT_LIMITS: RateLimits = { perPersonPerMinute: 30, perDevicePerMinute: 300, perMerchantPerMinute: 3000, perSourcePerMinute: 600 };

/** The options with every default filled in. */
export type Settings = Required<Omit<ServiceOptions, "audit" | "log" | "limits" | "now" | "shared" | "cacheDevices" | "indexKey">> & { limits: RateLimits };

export interface GatewayContext {
  readonly o: Settings;
  readonly store: Store;
  readonly shared: SharedState;
  readonly challenges: ChallengeStore;
  readonly limiter: RateLimiter;
  readonly identity: IdentityKeys;
  readonly audit: AuditSink | undefined;
  readonly log: Log | undefined;
  readonly now: () => number;
}

export function createContext(options: ServiceOptions): GatewayContext {
  if (!options.modelVersion) throw new TypeError("GatewayService: modelVersion is required");
  for (const p of PARTIES) if (!options.parties?.[p]) throw new TypeError(`GatewayService: parties.${p} is required`);
  const o = {
    challengeTtlMs: 60_000,
    authorisationTtlMs: 30_000,
    personLockAfter: 5,
    deviceLockAfter: 20,
    personDailyFailures: 10,
    deviceDailyFailures: 30,
    reverifyWindowMs: 5 * 60_000,
    livenessThreshold: MODEL.livenessThreshold,
    livenessActions: 0,
    enrolDedup: "off",
    operatorDailyQuota: 100,
    identityRetentionMs: 30 * 86_400_000,
    ...options,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
  } as Settings;
  if (!Number.isInteger(o.livenessActions) || o.livenessActions < 0 || o.livenessActions > 3) throw new RangeError("GatewayService: livenessActions must be an integer in [0, 3]");
  const now = options.now ?? Date.now;
  const shared = options.shared ?? memoryState(now);
  return {
    o,
    store: new Store(options.db, { cacheDevices: options.cacheDevices ?? options.shared === undefined }),
    shared,
    challenges: new ChallengeStore(shared, o.challengeTtlMs),
    limiter: new RateLimiter(shared, o.limits),
    identity: makeIdentityKeys(options.dataKeys, options.indexKey),
    audit: options.audit,
    log: options.log,
    now,
  };
}

/**
 * One decision of a device operation: the history row and its audit record, issued in one event-loop
 * turn with the writes the caller issued for it, so that they share one group commit (one WAL flush
 * instead of one per write; the audit record joins it unless an earlier audit write is still in
 * flight), then a log line.
 */
export async function recordDecision(
  c: GatewayContext,
  d: { requestId: string; person: PersonRow; device: DeviceRow; op: string; decision: string; reason: string; modelVersion: string; t0: number },
  /** writes already issued (in this turn) that belong with this decision: awaited with it */
  writes: Promise<void>[] = [],
  /** how the decision row is written (default `insertDecision`; an accepted verification writes its person's rows with it) */
  store: (row: DecisionRow) => Promise<void> = (row) => c.store.insertDecision(row),
): Promise<void> {
  const us = Math.round((performance.now() - d.t0) * 1000);
  const stored = store({
    id: d.requestId,
    person_id: d.person.id,
    merchant_id: d.person.merchant_id,
    device_id: d.device.id,
    op: d.op,
    decision: d.decision,
    reason: d.reason,
    model_version: d.modelVersion,
    at: c.now(),
    us,
  });
  const audited = c.audit?.append({ actor: `device:${d.device.id}`, action: d.op, subject: d.person.id, outcome: d.decision, code: d.reason, requestId: d.requestId });
  await Promise.all([stored, ...writes, audited]);
  c.log?.info({ event: "decision", op: d.op, requestId: d.requestId, decision: d.decision, reason: d.reason, ms: us / 1000 }, "decision");
}

/** Something degraded mode left behind, for `runRechecks` and the operators (R35). */
export async function recordRecheck(
  c: GatewayContext,
  op: string,
  personId: string,
  templateId: string | null,
  reason: string,
  /** an upgrade to finish: the verification's session and the new model version */
  upgrade?: { session: string; modelVersion: string },
): Promise<string> {
  const id = randomId("chk");
  await c.store.insertRecheck({
    id,
    op,
    person_id: personId,
    template_id: templateId,
    reason,
    at: c.now(),
    resolved_at: null,
    session: upgrade?.session ?? null,
    model_version: upgrade?.modelVersion ?? null,
  });
  return id;
}

/** R26: every operator query or action on a person/device is recorded with operator and reason. */
export async function recordOperatorQuery(c: GatewayContext, op: Operator, action: string, subject: string, reason: string): Promise<void> {
  await c.store.insertOperatorQuery({ id: randomId("opq"), operator_id: op.id, role: op.role, action, subject, reason, at: c.now() });
  await c.audit?.append({ actor: `operator:${op.id}`, action, subject, outcome: "ok" });
}
