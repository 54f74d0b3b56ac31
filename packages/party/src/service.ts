/**
 * The party's operations, with no HTTP in sight: enrol (validation in MPC, then prepare), commit and
 * abort of a prepared session, verify (and the model upgrade riding on it), delete, health, the peer's
 * session-status question, one recovery pass, and the intake of pool items from the helper. Each
 * takes typed input whose shape the route table (app.ts) has checked and returns the Party API's typed
 * answer, or throws a `PartyError` (codes: @privface/contracts `PARTY_ERRORS`).
 *
 * What the service checks itself: the gateway's signed authorisation (op, party, session, template,
 * model version, digest of the sealed bytes, expiry; single use through the store), that the sealed
 * share opens for this party and its context, and the state of sessions and templates. It opens the
 * share with the party's sealing key, runs the MPC with the peer (session.ts), changes the store in
 * single transactions and appends an audit entry — an operation whose audit append fails fails. P0
 * leads every session: it takes the pool item and names it to P1. A session this party gives up on
 * before its MPC starts is aborted at the peer at once (`sendAbort`), so the peer does not wait.
 * A verification whose challenge carries P0's item nonce (decision 012) names its pool item up front:
 * P0 uses the item it reserved for that nonce, P1 reads the id from the statement and both start at
 * once (P1 no longer waits for P0's first frame to learn it).
 */
import { randomInt } from "node:crypto";
import { killAt, silentLog, type Log } from "@privface/config";
import {
  dedupSessionOf, challengeNonce, checkStatement, checkStatementMac, contextAad, isPartyErrorCode, PartyError, partyMacKey, peerOf, serverRoleOf, signKeyList, upgradeSessionOf,
  type AbortResponse, type CommitResponse, type DedupMatches, type DedupResponse, type DeleteResponse, type DeviceRegistration, type DeviceRegistrationResponse, type DeviceStatement,
  type EnrolResponse, type KeyListResponse, type NonceBatch, type PartyErrorCode, type PartyHealth, type PartyName, type ShareContext, type VerifyResponse,
} from "@privface/contracts";
import { createAuthorisationChecker, shareDigest, type AuthPayload, type Op } from "@privface/contracts/auth";
import { checkNonce, issueNonce, nonceItem, type NonceKey } from "@privface/contracts/nonce";
import { fromBase64url, open, type KeyPair, type PublicKey, type SignedJson } from "@privface/crypto";
import {
  decodeBundle, decodeDedupBundle, expandSeedShare, openBudget, openBundle, ProtocolError,
  type BudgetInput, type BudgetMaterial, type EnrolOutput, type Material, type Params,
} from "@privface/mpc";
import { DbError } from "@privface/db";
import type { Transport } from "@privface/transport";
import type { PartyMetrics } from "./metrics.ts";
import { runDedup, runMpc, sendAbort, type DedupStock, type VerifyRunResult } from "./session.ts";
import { epochOf, nextShare, runShare, storedShare } from "./share-epoch.ts";
import type { GalleryHooks, PartyGallery } from "./gallery.ts";
import { StoreError, type BeginVerifyResult, type PartyStore, type TxnSession, type UseMark } from "./store/index.ts";

/** Default daily failure budget per template (PRIVFACE_P0/P1_FAILURE_BUDGET; docs/protocol.md section 12). */
export const DEFAULT_FAILURE_BUDGET = 5;

/** The day number (days since 1970-01-01 UTC) a verification at `t` (epoch ms) counts against. */
export function budgetDay(t: number): number {
  return Math.floor(t / 86_400_000);
}

/** A sealed share as the device made it for this party, and the context it is bound to. */
export interface SealedShare {
  sealed: Uint8Array;
  context: ShareContext;
}

export interface EnrolInput {
  session: string;
  templateId: string;
  modelVersion: string;
  /** the device's envelope for this party */
  sealed: Uint8Array;
  /** the device's statement (parsed) and its MAC for this party: the share context is built from it */
  statement: DeviceStatement;
  mac: string;
  /** the gateway's signed authorisation as received: the service verifies it */
  authorisation: unknown;
}

export interface VerifyInput extends EnrolInput {
  /** the same capture under another model version, to stage (R5) */
  upgrade?: { modelVersion: string; sealed: Uint8Array };
}

/** commit and abort */
export interface SessionInput {
  session: string;
  templateId: string;
  authorisation: unknown;
}

export interface DeleteInput {
  templateId: string;
  authorisation: unknown;
}

/** the 1:N duplicate search of a prepared enrolment */
export interface DedupInput {
  session: string;
  templateId: string;
  authorisation: unknown;
  /** answer with `matches` too (DedupRequest.matches) */
  matches?: boolean;
}

/** What the 1:N duplicate search needs (absent: the route answers GALLERY_UNAVAILABLE). */
export interface DedupDeps {
  /** the gallery in use (GalleryKeeper.current), or null */
  gallery: () => PartyGallery | null;
  /** P0: `n` freshly dealt queries over the first `count` slots of gallery `epoch` (P0's halves; the helper delivered P1's first) */
  bundles?: (epoch: number, count: number, n: number, p1Url?: string) => Promise<Uint8Array[]>;
  /**
   * A coordinator of gallery shards (shards.ts): runs the search of the probe (the party's ring share,
   * its `valid` share; wiped by the caller after) on the shard workers as session `session`.
   */
  shards?: (q: { session: string; share: Uint32Array; valid: 0 | 1; modelVersion: string }) => Promise<{ resultShare: DedupResponse["resultShare"]; gallery: number }>;
  /** P1: where the helper's deliveries wait */
  stock?: DedupStock;
  /** dealt queries sacrificed to the spot-check per search (default 1: a helper that cheats on one query of a pair is caught with probability ½) */
  checks?: number;
}

/** One entry of the party's audit log (the adapter in server.ts writes it to @privface/audit). */
export interface PartyAuditEntry {
  op: string;
  session: string | null;
  templateId: string | null;
  requester: string;
  purpose: string | null;
  outcome: string;
  modelVersion?: string | null;
  /** Error code of a refused operation. */
  code?: string | null;
}
export interface PartyAuditSink {
  append(entry: PartyAuditEntry): Promise<void>;
}

/** What a party says about one of its sessions when the peer's recovery pass asks. */
export interface PeerSessionStatus {
  session: string;
  state: "prepared" | "committed" | "aborted" | "unknown";
  committable: boolean;
}

export interface RecoveryResult {
  committed: number;
  aborted: number;
  waiting: number;
}

export interface PartyServiceDeps {
  party: PartyName;
  params: Params;
  sealKey: KeyPair;
  poolSeed: Uint8Array;
  /**
   * The 32-byte seed P0 and P1 share and the helper never sees: stored template shares are
   * re-randomised with a zero-sharing derived from it (share-epoch.ts). Absent: shares are stored as
   * the enrolment run leaves them (the helper's seeds plus one party's database rebuild them).
   */
  pairSeed?: Uint8Array;
  /** the gateway's authorisation key; with a rotation, the new one and the ones being retired */
  gatewayKey: PublicKey | PublicKey[];
  /** the id of `sealKey` (@privface/contracts `sealingKeyId`): devices name it in their statements */
  sealKeyId: string;
  /**
   * Sealing keys being retired (rotation): still listed after the current one in the signed key list,
   * and envelopes sealed to them still open, until they are removed from the configuration.
   */
  retiredSealKeys?: { key: KeyPair; id: string }[];
  /** the institution root that signs the sealing-key list (development: keys/<party>/root.json) */
  rootKey: KeyPair;
  /** the root handovers that led to `rootKey`, oldest first: sent inside every key list (root-chain.ts) */
  rootHandovers?: SignedJson[];
  /** how a registration forwarded by the gateway becomes active: a party operator's approval, or at once (development) */
  devicePolicy: "operator" | "auto";
  /** how long a signed key list is valid (default 7 days) */
  keyListTtlMs?: number;
  /** the key of this party's nonces (decision 010 §3): ≥ 32 bytes, known to this party only */
  nonceKey: NonceKey;
  /** how long an issued nonce is valid (default 5 min) */
  nonceTtlMs?: number;
  /** per-template verification volume budgets (decision 010 §4; default 10 per minute, 200 per day) */
  volume?: { perMinute: number; perDay: number };
  store: PartyStore;
  audit: PartyAuditSink;
  transport: Transport;
  metrics: PartyMetrics;
  /** P0: one fresh "enrol" bundle (P0's half, encoded) from the helper, P1's half already delivered. */
  enrolBundle?: () => Promise<Uint8Array>;
  helperUp: () => boolean;
  poolTarget: number;
  commitWindowMs: number;
  mpcTimeoutMs: number;
  /** failures per template per UTC day before verifications of it are refused (BUDGET_EXHAUSTED); both parties must use the same */
  failureBudget?: number;
  log?: Log;
  now?: () => number;
  /** the in-memory dedup gallery (gallery.ts), told of every commit, promotion and erasure */
  gallery?: GalleryHooks;
  /** the 1:N duplicate search (Party API `dedup`) */
  dedup?: DedupDeps;
  /**
   * P1: start round 1 on the gateway's request when the challenge names the item (decision 012;
   * default true). False for one of several P1 workers: its link to the P0 worker of a session is
   * known only from that worker's first frame (workers.ts), so it waits for it, as with a plain nonce.
   */
  startOnNamedItem?: boolean;
  /** several worker processes of this party (workers.ts): the template's lock across them, taken after the in-process one */
  templateLock?: (templateId: string) => Promise<() => Promise<void>>;
}

export interface PartyService {
  readonly party: PartyName;
  enrol(input: EnrolInput): Promise<EnrolResponse>;
  commit(input: SessionInput): Promise<CommitResponse>;
  abort(input: SessionInput): Promise<AbortResponse>;
  verify(input: VerifyInput): Promise<VerifyResponse>;
  /** the 1:N duplicate search of the template prepared by an enrolment session (once per session) */
  dedup(input: DedupInput): Promise<DedupResponse>;
  /** a gallery shard worker's search (shards.ts): `probe` over this party's gallery as MPC session `dsession`, P1's dealt halves to `p1Url` */
  searchGallery(dsession: string, probe: { share: Uint32Array; valid: 0 | 1; modelVersion: string }, p1Url?: string): Promise<{ duplicate: 0 | 1; count: number }>;
  /** true once a dealt dedup query failed the spot-check: no dedup material is taken from the helper until a restart */
  dedupBlocked(): boolean;
  delete(input: DeleteInput): Promise<DeleteResponse>;
  health(): Promise<PartyHealth>;
  /**
   * `count` fresh nonces of this party (the single use is checked when one comes back). With `items`
   * (verification challenges, decision 012) P0 reserves a pool item for each and issues item nonces
   * naming them (plain nonces for any its pool cannot cover); P1 issues plain nonces.
   */
  nonces(count: number, items?: boolean): Promise<NonceBatch>;
  /** The signed sealing-key list (re-signed with a higher version once a day). */
  keys(): Promise<KeyListResponse>;
  /** A registration (or revocation) the gateway forwards. */
  registerDevice(req: DeviceRegistration | { deviceId: string; revoke: true }): Promise<DeviceRegistrationResponse>;
  /** A party operator's approval of a pending device (policy `operator`). */
  approveDevice(deviceId: string): Promise<DeviceRegistrationResponse>;
  /** The peer's question during its recovery pass. */
  sessionStatus(sessions: readonly string[]): Promise<PeerSessionStatus[]>;
  /** One recovery pass over sessions left prepared past the commit window, asking the peer how they ended. */
  recover(peerStatus: (sessions: string[]) => Promise<PeerSessionStatus[]>): Promise<RecoveryResult>;
  /** P1: stores P1's halves of a batch the helper dealt (each must be a bundle for this party). */
  addPoolItems(items: readonly Uint8Array[]): Promise<{ added: number }>;
  /** Tells the peer this party will not run `session` (nor, with `upgrade`, its upgrade run): for requests refused before they reach the service. */
  abandon(session: string, code: PartyErrorCode, upgrade: boolean): Promise<void>;
  /**
   * One re-randomisation pass: every stored share (all, or with `onlyUnrandomised` those still at
   * epoch 0) moves one epoch on, one transaction per share. Audited; nothing to do without a pair seed.
   */
  rerandomise(opts?: { onlyUnrandomised?: boolean }): Promise<{ scanned: number; updated: number }>;
}

const STORE_TO_API: Record<string, PartyErrorCode> = {
  SESSION_EXISTS: "INVALID_INPUT",
  SESSION_STATE: "INVALID_INPUT",
  ITEM_UNKNOWN: "INVALID_INPUT",
  ITEM_REUSED: "INVALID_INPUT",
  KEY_UNKNOWN: "INTERNAL",
  KEY_DESTROYED: "UNKNOWN_TEMPLATE", // erased: its key is gone (a row of a restored older backup)
  INTEGRITY: "INTERNAL",
  UNSUPPORTED: "INTERNAL",
  DEVICE_EXISTS: "INVALID_INPUT",
};

/**
 * The `PartyError` a failure answers with: store codes mapped, a lost database DB_UNAVAILABLE (503,
 * retry later), anything unknown INTERNAL (no internals in the message).
 */
export function toPartyError(e: unknown): PartyError {
  if (e instanceof PartyError) return e;
  if (e instanceof DbError) return new PartyError("DB_UNAVAILABLE", "database unavailable");
  if (e instanceof StoreError) {
    const code = isPartyErrorCode(e.code) ? e.code : (STORE_TO_API[e.code] ?? "INTERNAL");
    return new PartyError(code, code === "INTERNAL" ? "storage error" : e.message);
  }
  return new PartyError("INTERNAL", "internal error");
}

/** a uniform index in [0, n) */
function randomIndex(n: number): number {
  return n <= 1 ? 0 : randomInt(n);
}

const u8 = (a: Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** This party's material, or (P1) how to get it once P0 names the bundle. */
type MaterialSource = Material | ((bundleId: string) => Promise<Material>);

export function createPartyService(deps: PartyServiceDeps): PartyService {
  const { party, params, store, transport, metrics } = deps;
  const role = serverRoleOf(party);
  const peer = serverRoleOf(peerOf(party));
  const now = deps.now ?? Date.now;
  const log = deps.log ?? silentLog;
  const checkAuthorisation = createAuthorisationChecker(deps.gatewayKey);

  async function audit(entry: PartyAuditEntry): Promise<void> {
    try {
      await deps.audit.append(entry);
    } catch (e) {
      log.error({ event: "audit_failed", op: entry.op, reason: (e as Error).message });
      throw new PartyError("INTERNAL", "audit log unavailable: operation refused");
    }
  }

  // ---------------------------------------------------------------- devices and their statements
  const keyListTtlMs = deps.keyListTtlMs ?? 7 * 86_400_000;
  let keyList: { signed: SignedJson; refreshAt: number } | null = null;
  /** MAC keys of active devices (deviceId|keyId), each remembered for a minute; registry changes through this service drop them at once. */
  const macKeys = new Map<string, { key: Uint8Array; until: number }>();
  const MAC_KEY_CACHE = 10_000;

  const nonceTtlMs = deps.nonceTtlMs ?? 300_000;
  const volume = deps.volume ?? { perMinute: 10, perDay: 200 };

  async function nonces(count: number, items = false): Promise<NonceBatch> {
    if (!Number.isSafeInteger(count) || count < 1 || count > 256) throw new PartyError("INVALID_INPUT", "count: expected 1..256");
    const expiresAt = now() + nonceTtlMs;
    // the reservations are durable before any nonce naming them leaves (a crash after it only wastes them)
    const ids = items && party === "P0" ? await store.reserveItems(count, expiresAt) : [];
    return { nonces: Array.from({ length: count }, (_, i) => issueNonce(deps.nonceKey, party, expiresAt, undefined, ids[i])), expiresAt };
  }

  /**
   * Freshness the gateway cannot manufacture (decision 010 §3): the statement's challenge carries a
   * nonce this party issued and that has not expired. Returns the single-use marks (the nonce and the
   * envelope digests) the store consumes with the authorisation, and the pool item an item nonce of
   * this party names (P0, decision 012: its tag binds the item to the nonce).
   */
  function freshness(s: DeviceStatement): { marks: UseMark[]; itemId?: string } {
    const n = challengeNonce(s.challenge, party);
    if (n === null) throw new PartyError("NONCE_INVALID", "the challenge carries no nonce of this party");
    const c = checkNonce(deps.nonceKey, party, n, now());
    if (!c.ok) throw new PartyError(c.reason, c.reason === "NONCE_EXPIRED" ? "this party's nonce has expired" : "the challenge's nonce was not issued by this party");
    const marks: UseMark[] = [{ kind: "nonce", value: n, expires: c.expiresAt }];
    if (s.shares) marks.push({ kind: "envelope", value: s.shares[party].digest, expires: c.expiresAt });
    if (s.upgrade) marks.push({ kind: "envelope", value: s.upgrade.shares[party].digest, expires: c.expiresAt });
    return { marks, itemId: c.itemId };
  }

  async function keys(): Promise<KeyListResponse> {
    const t = now();
    if (!keyList || t >= keyList.refreshAt) {
      const signed = await signKeyList(deps.rootKey, {
        party,
        version: Math.floor(t / 1000),
        issuedAt: t,
        expiresAt: t + keyListTtlMs,
        // the current key first (devices seal to it), then the ones being retired
        keys: sealKeys.map((s) => ({ id: s.id, suite: s.key.suite, publicKey: Buffer.from(s.key.publicKey).toString("base64url") })),
        ...(deps.rootHandovers?.length ? { handovers: deps.rootHandovers } : {}),
      });
      keyList = { signed, refreshAt: t + Math.min(86_400_000, keyListTtlMs / 2) };
    }
    return { keyList: keyList.signed };
  }

  function forgetDevice(deviceId: string): void {
    for (const k of macKeys.keys()) if (k.startsWith(`${deviceId}|`)) macKeys.delete(k);
  }

  async function registerDevice(req: DeviceRegistration | { deviceId: string; revoke: true }): Promise<DeviceRegistrationResponse> {
    forgetDevice(req.deviceId);
    if ("revoke" in req) {
      const d = await store.setDeviceStatus(req.deviceId, "revoked");
      await audit({ op: "device.revoke", session: null, templateId: null, requester: "gateway", purpose: null, outcome: d.status });
      return { deviceId: d.deviceId, status: d.status };
    }
    const d = await store.putDevice({ ...req, status: deps.devicePolicy === "auto" ? "active" : "pending" });
    await audit({ op: "device.register", session: null, templateId: null, requester: "gateway", purpose: null, outcome: d.status });
    return { deviceId: d.deviceId, status: d.status };
  }

  async function approveDevice(deviceId: string): Promise<DeviceRegistrationResponse> {
    forgetDevice(deviceId);
    const d = await store.setDeviceStatus(deviceId, "active");
    await audit({ op: "device.approve", session: null, templateId: null, requester: "operator", purpose: null, outcome: d.status });
    return { deviceId: d.deviceId, status: d.status };
  }

  const sealKeys = [{ key: deps.sealKey, id: deps.sealKeyId }, ...(deps.retiredSealKeys ?? [])];
  /** The sealing key a statement names (checkStatement accepted only these ids). */
  const sealKeyOf = (keyId: string): KeyPair => {
    const k = sealKeys.find((s) => s.id === keyId);
    if (!k) throw new PartyError("STATEMENT_INVALID", "statement: names a sealing key this party does not hold");
    return k.key;
  };

  async function macKeyOf(deviceId: string, keyId: string): Promise<Uint8Array> {
    const id = `${deviceId}|${keyId}`;
    const t = now();
    const hit = macKeys.get(id);
    if (hit && hit.until > t) return hit.key;
    const d = await store.getDevice(deviceId);
    if (!d || d.status !== "active") throw new PartyError("DEVICE_UNKNOWN", d ? `device is ${d.status} at ${party}` : `device is not registered at ${party}`);
    if (d.suite !== deps.sealKey.suite) throw new PartyError("DEVICE_UNKNOWN", "device suite differs from this party's");
    const key = await partyMacKey(sealKeyOf(keyId), keyId, { suite: d.suite, kind: "seal", publicKey: fromBase64url(d.authKey) }, deviceId, party);
    if (macKeys.size >= MAC_KEY_CACHE) macKeys.delete(macKeys.keys().next().value as string);
    macKeys.set(id, { key, until: t + 60_000 });
    return key;
  }

  /**
   * The party's own checks of the device (decision 010 §2): the statement names this operation,
   * template, model version, this party's key and the digest of the envelope(s) received, and its MAC
   * verifies under the key this party shares with the registered, active device. Returns the share
   * contexts built from the statement.
   */
  async function admitStatement(input: EnrolInput & { upgrade?: VerifyInput["upgrade"] }, op: "enrol" | "verify") {
    const checked = await checkStatement(input.statement, { party, op, templateId: input.templateId, modelVersion: input.modelVersion, sealed: input.sealed, upgrade: input.upgrade, keyIds: sealKeys.map((s) => s.id) });
    const key = await macKeyOf(input.statement.deviceId, checked.keyId);
    if (!(await checkStatementMac(deps.sealKey.suite, key, input.statement, input.mac))) throw new PartyError("STATEMENT_INVALID", "statement: the MAC does not verify for this device and party");
    return checked;
  }

  /** Opens this party's sealed share and returns its d byte shares (P0 expands its 16-byte seed). */
  async function openShare(sealed: Uint8Array, context: ShareContext, keyId: string): Promise<Uint8Array> {
    let plain: Uint8Array;
    try {
      plain = await open(sealKeyOf(keyId), sealed, contextAad({ ...context, party }));
    } catch {
      throw new PartyError("INVALID_INPUT", "sealedShare: does not open for this party and context");
    }
    if (party === "P0") {
      if (plain.length !== 16) throw new PartyError("INVALID_INPUT", "sealedShare: P0 expects a 16-byte seed");
      const x = expandSeedShare(plain, context, params.d);
      plain.fill(0);
      return x;
    }
    if (plain.length !== params.d) throw new PartyError("INVALID_INPUT", `sealedShare: P1 expects ${params.d} bytes`);
    return plain;
  }

  function material(bundle: Uint8Array, kind: "verify" | "enrol"): Material {
    const b = decodeBundle(bundle);
    if (b.kind !== kind) throw new PartyError("INTERNAL", `pool item is a ${b.kind} bundle, ${kind} needed`);
    return openBundle(party, deps.poolSeed, b);
  }

  /** A verify pool item's material for the verification and (own copies) for the budget run after it. */
  function verifyMaterial(bundle: Uint8Array): { mat: Material; budget: BudgetMaterial } {
    const b = decodeBundle(bundle);
    if (b.kind !== "verify") throw new PartyError("INTERNAL", `pool item is a ${b.kind} bundle, verify needed`);
    const mat = openBundle(party, deps.poolSeed, b);
    return { mat, budget: openBudget(party, deps.poolSeed, b, mat) }; // from the stream openBundle expanded
  }

  // ---------------------------------------------------------------- daily failure budget
  const failureBudget = deps.failureBudget ?? DEFAULT_FAILURE_BUDGET;
  /** Per template: the tail of the chain of verifications (one at a time per template). */
  const tails = new Map<string, Promise<void>>();

  /** Waits until the template's previous verification has ended; returns the release. */
  async function lockTemplate(templateId: string): Promise<() => void> {
    const prev = tails.get(templateId) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    tails.set(templateId, tail);
    void tail.then(() => {
      if (tails.get(templateId) === tail) tails.delete(templateId);
    });
    await prev;
    let unlock: (() => Promise<void>) | null = null;
    try {
      if (deps.templateLock) unlock = await deps.templateLock(templateId);
    } catch (e) {
      release();
      throw e;
    }
    let done = false;
    return () => {
      if (!done) void (unlock ? unlock().finally(release) : release());
      done = true;
    };
  }

  /** Templates refused today (UTC day `exhaustedDay`): refused at once, before the peer is waited for. */
  let exhaustedDay = -1;
  const exhaustedIds = new Set<string>();
  function markExhausted(templateId: string, day: number): void {
    if (day !== exhaustedDay) {
      exhaustedIds.clear();
      exhaustedDay = day;
    }
    exhaustedIds.add(templateId);
  }
  const isExhausted = (templateId: string, day: number) => day === exhaustedDay && exhaustedIds.has(templateId);

  /** The budget run found the budget exhausted, or the counters cannot be brought in step: refused for the day. */
  async function exhaust(session: string, templateId: string, day: number, outcome: "exhausted" | "counter-mismatch"): Promise<never> {
    metrics.budgetRuns.inc({ outcome: outcome === "exhausted" ? "exhausted" : "mismatch" });
    await store.markBudgetExhausted(templateId, day);
    log.warn({ event: "budget_exhausted", templateId, outcome });
    await audit({ op: "budget", session, templateId, requester: "mpc", purpose: null, outcome });
    throw new PartyError("BUDGET_EXHAUSTED", "the template's daily failure budget is used up: refused until the day ends (UTC)");
  }

  /** P0's or P1's material for an enrolment-validation run. */
  async function enrolMaterial(session: string): Promise<MaterialSource> {
    if (party === "P0") {
      if (!deps.enrolBundle) throw new PartyError("INTERNAL", "no helper configured");
      let bytes: Uint8Array;
      try {
        bytes = await deps.enrolBundle();
      } catch {
        throw new PartyError("PEER_UNAVAILABLE", "the helper did not deal an enrolment bundle");
      }
      return material(bytes, "enrol");
    }
    return async (id: string) => {
      const item = await store.markUsed(id, session).catch((e) => {
        throw toPartyError(e);
      });
      // the material may view the item's bytes: they are wiped by the protocol when the run ends
      return material(item.bytes, "enrol");
    };
  }

  const authFields = (p: AuthPayload) => ({ nonce: p.nonce, expires: p.expires });

  async function abandon(session: string, code: PartyErrorCode, upgrade: boolean): Promise<void> {
    await sendAbort(transport, party, session, code);
    if (upgrade) await sendAbort(transport, party, upgradeSessionOf(session), code);
  }

  // ---------------------------------------------------------------- enrol
  async function enrol(input: EnrolInput): Promise<EnrolResponse> {
    const { session, templateId, modelVersion, sealed } = input;
    let started = false;
    try {
      const auth = await checkAuthorisation(input.authorisation, { ops: ["enrol"], party, session, templateId, modelVersion, digest: shareDigest(deps.sealKey.suite, sealed) }, now());
      const { ctx, keyId } = await admitStatement(input, "enrol");
      const { marks } = freshness(input.statement);
      const share = await openShare(sealed, ctx, keyId);
      const existing = await store.templateVersions(templateId);
      if (existing.length > 0) throw new PartyError("TEMPLATE_EXISTS", "template id already used");
      await store.consumeAuthorisation(auth.nonce, auth.expires, marks);
      const mat = await enrolMaterial(session);
      killAt("party:enrol:material");
      started = true;
      const out = await runMpc({ kind: "enrol", transport, role: party, session, params, timeoutMs: deps.mpcTimeoutMs, share, material: mat });
      share.fill(0);
      metrics.mpcRuns.inc({ kind: "enrol", outcome: "ok" });
      killAt("party:enrol:computed");
      const stored = storedShare(party, deps.pairSeed, { templateId, modelVersion }, out.templateShare);
      if (deps.dedup) keepProbe(session, { templateId, modelVersion, share: out.templateShare.slice(), valid: out.valid, until: now() + deps.commitWindowMs });
      out.templateShare.fill(0);
      await store.prepare(session, templateId, modelVersion, stored);
      stored.fill(0);
      await audit({ op: "enrol", session, templateId, requester: `gateway/device:${input.statement.deviceId}`, purpose: ctx.purpose, outcome: "prepared", modelVersion });
      killAt("party:enrol:prepared");
      return { session, resultShare: { valid: out.valid } };
    } catch (e) {
      const err = toPartyError(e);
      if (!started) await abandon(session, err.code, false);
      throw err;
    }
  }

  // ---------------------------------------------------------------- commit / abort
  async function commit(input: SessionInput): Promise<CommitResponse> {
    const { session, templateId } = input;
    const ops: Op[] = ["commit", "upgrade"];
    const auth = await checkAuthorisation(input.authorisation, { ops, party, session, templateId }, now());
    const s = await store.getSession(session);
    if (!s) throw new PartyError("SESSION_UNKNOWN", "no prepared session with this id");
    if (s.templateId !== templateId) throw new PartyError("AUTH_INVALID", "session is for another template");
    if ((s.kind === "enrol") !== (auth.op === "commit")) throw new PartyError("AUTH_INVALID", `session is an ${s.kind}; authorisation is for ${auth.op}`);
    if (auth.modelVersion !== "" && auth.modelVersion !== s.modelVersion) throw new PartyError("AUTH_INVALID", "authorisation is for another model version");
    if (s.state === "prepared" && now() - s.createdAt > deps.commitWindowMs) throw new PartyError("SESSION_UNKNOWN", "the commit window of this session has passed");
    if (s.state === "aborted") throw new PartyError("SESSION_UNKNOWN", "session was aborted");
    killAt(`party:${s.kind === "enrol" ? "commit" : "upgrade"}:checked`);
    const c = await store.commit(session, { templateId, auth: authFields(auth) });
    dropProbe(session);
    deps.gallery?.committed(templateId, c.modelVersion);
    await audit({ op: s.kind === "enrol" ? "commit" : "upgrade", session, templateId, requester: "gateway", purpose: null, outcome: "active", modelVersion: s.modelVersion });
    killAt(`party:${s.kind === "enrol" ? "commit" : "upgrade"}:stored`);
    return { templateId, status: "active" };
  }

  async function abort(input: SessionInput): Promise<AbortResponse> {
    const { session, templateId } = input;
    const auth = await checkAuthorisation(input.authorisation, { ops: ["abort"], party, session, templateId }, now());
    const s = await store.getSession(session);
    if (s && s.templateId !== templateId) throw new PartyError("AUTH_INVALID", "session is for another template");
    if (s && s.state === "committed") throw new PartyError("TEMPLATE_EXISTS", "session already committed: delete the template instead");
    await store.abort(session, { templateId, auth: authFields(auth) });
    dropProbe(session);
    await audit({ op: "abort", session, templateId, requester: "gateway", purpose: null, outcome: "aborted", modelVersion: s?.modelVersion ?? null });
    return { templateId, status: "aborted" };
  }

  // ---------------------------------------------------------------- verify
  async function verify(input: VerifyInput): Promise<VerifyResponse> {
    const { session, templateId, modelVersion, sealed, upgrade: up } = input;
    const upSession = upgradeSessionOf(session);
    let started = false;
    let release: (() => void) | null = null;
    try {
      const digest = up ? shareDigest(deps.sealKey.suite, sealed, up.sealed) : shareDigest(deps.sealKey.suite, sealed);
      const auth = await checkAuthorisation(input.authorisation, { ops: ["verify"], party, session, templateId, modelVersion, digest }, now());
      const { ctx, upCtx, keyId } = await admitStatement(input, "verify");
      const { marks, itemId: own } = freshness(input.statement);
      // decision 012: the pool item P0's item nonce names — P0's own (its tag checked), or read by P1
      // from the challenge (unchecked: P1's ledger uses it once, and P0's round 1 must name the same)
      const named = party === "P0" ? own : (nonceItem(challengeNonce(input.statement.challenge, "P0")) ?? undefined);
      // One verification at a time per template: each carries the budget run that counts the one
      // before it, so at most `failureBudget` failures are ever answered per day.
      release = await lockTemplate(templateId);
      const day = budgetDay(now());
      if (isExhausted(templateId, day)) throw new PartyError("BUDGET_EXHAUSTED", "the template's daily failure budget is used up: refused until the day ends (UTC)");
      const probe = await openShare(sealed, ctx, keyId);
      const upShare = up && upCtx ? await openShare(up.sealed, upCtx, keyId) : null;
      // the per-template volume budgets and the failure budget's record (decision 010 §4) are checked
      // in the store's transaction with the nonce marks: a refused template consumes nothing
      const begin = { session, templateId, modelVersion, nonce: auth.nonce, expires: auth.expires, marks, volume, budget: { day } };
      let template: Uint32Array | null = null;
      const itemBytes: Uint8Array[] = []; // pool items in use: zeroed when the runs end
      let budgetIn: (() => Omit<BudgetInput, "role" | "session">) | null = null;
      const begun = (r: BeginVerifyResult): Material => {
        killAt("party:verify:begun");
        template = runShare(party, deps.pairSeed, { templateId, modelVersion }, r.share);
        r.share.fill(0);
        itemBytes.push(r.item.bytes);
        const m = verifyMaterial(r.item.bytes);
        const rec = r.budget!;
        const counter = { runs: rec.runs, share: rec.share, prevRuns: rec.prevRuns, prevShare: rec.prevShare };
        budgetIn = () => ({ budget: failureBudget, day, matchShare: rec.pending, counter, verifications: rec.verifications, material: m.budget });
        return m.mat;
      };
      let mat: MaterialSource;
      if (party === "P0" || (named && deps.startOnNamedItem !== false)) mat = begun(await store.beginVerify({ ...begin, itemId: named }));
      else {
        mat = async (itemId: string) =>
          begun(
            await store.beginVerify({ ...begin, itemId }).catch((e) => {
              throw toPartyError(e);
            }),
          );
      }
      // The upgrade needs an enrolment bundle from the helper (P0 fetches it). Without one the
      // verification still runs and the upgrade is skipped at both parties (P1 learns it from the abort).
      let upMat: MaterialSource | null = null;
      if (up) {
        try {
          upMat = await enrolMaterial(upSession);
        } catch (e) {
          log.warn({ event: "upgrade_skipped", reason: toPartyError(e).code });
          await sendAbort(transport, party, upSession, "HELPER_UNAVAILABLE");
        }
      }
      started = true;
      let runs: [VerifyRunResult, EnrolOutput | null];
      try {
        runs = await Promise.all([
          runMpc({ kind: "verify", transport, role: party, session, params, timeoutMs: deps.mpcTimeoutMs, share: probe, templateShare: () => template!, material: mat, budget: () => budgetIn!() }),
          up && upShare && upMat
            ? runMpc({ kind: "enrol", transport, role: party, session: upSession, params, timeoutMs: deps.mpcTimeoutMs, share: upShare, material: upMat }).catch((e) => {
                log.warn({ event: "upgrade_skipped", reason: toPartyError(e).code });
                return null;
              })
            : Promise.resolve(null),
        ]).finally(() => {
          probe.fill(0);
          upShare?.fill(0);
          for (const b of itemBytes) b.fill(0);
          (template as Uint32Array | null)?.fill(0);
        });
      } catch (e) {
        // the two counters cannot be brought in step: refuse the template for the day (fail closed)
        if (e instanceof ProtocolError && e.code === "COUNTER_MISMATCH") return await exhaust(session, templateId, day, "counter-mismatch");
        throw e;
      }
      const [{ output: v, budget: b }, u] = runs;
      if (!v) return await exhaust(session, templateId, day, "exhausted");
      metrics.mpcRuns.inc({ kind: "verify", outcome: "ok" });
      metrics.budgetRuns.inc({ outcome: "ok" });
      killAt("party:verify:computed");
      // one transaction before the answer: the budget run's counter and this answer with its match share
      // (the next verification of the template counts it; a party that crashes before it never answers)
      const finished = store.finishVerify(templateId, day, b!.counter, v.match);
      const record = () => audit({ op: "verify", session, templateId, requester: `gateway/device:${input.statement.deviceId}`, purpose: ctx.purpose, outcome: up ? "computed-staged" : "computed", modelVersion });
      const resultShare: VerifyResponse["resultShare"] = { valid: v.valid, match: v.match };
      if (u && up) {
        await finished;
        const stored = storedShare(party, deps.pairSeed, { templateId, modelVersion: up.modelVersion }, u.templateShare);
        u.templateShare.fill(0);
        await store.stageUpgrade(session, templateId, up.modelVersion, stored);
        stored.fill(0);
        killAt("party:upgrade:staged");
        resultShare.upgradeValid = u.valid;
        await record();
      } else {
        // issued in the same turn: the counter and the audit record share one group commit (one WAL flush)
        await Promise.all([finished, record()]);
      }
      killAt("party:verify:answering");
      return { session, resultShare };
    } catch (e) {
      const err = toPartyError(e);
      if (!started) await abandon(session, err.code, up !== undefined);
      if (err.code === "BUDGET_EXHAUSTED") {
        metrics.budgetRefusals.inc(); // the route table audits the refusal with its code
        markExhausted(templateId, budgetDay(now()));
      }
      throw err;
    } finally {
      release?.();
    }
  }

  // ---------------------------------------------------------------- dedup (issue 15)
  /**
   * The probes of prepared enrolments (this party's ring share of the new template and of `valid`), in
   * memory from the enrolment run until its dedup search, commit, abort or the end of the commit window.
   */
  const probes = new Map<string, { templateId: string; modelVersion: string; share: Uint32Array; valid: 0 | 1; until: number }>();
  function keepProbe(session: string, p: { templateId: string; modelVersion: string; share: Uint32Array; valid: 0 | 1; until: number }): void {
    const t = now();
    for (const [k, v] of probes) if (v.until <= t) dropProbe(k);
    probes.set(session, p);
  }
  function dropProbe(session: string): void {
    probes.get(session)?.share.fill(0);
    probes.delete(session);
  }

  let dedupCheat = false;
  /** A sacrificed query was wrong: the alert of the pool spot-check (spotcheck.ts), and no more dedup material from this helper. */
  async function onCheat(failures: string[]): Promise<void> {
    dedupCheat = true;
    metrics.spotChecks.inc({ outcome: "failed" });
    log.error({ event: "helper_cheat_detected", kind: "dedup", failures: failures.join(",") });
    await deps.audit.append({ op: "spotcheck", session: null, templateId: null, requester: "helper", purpose: null, outcome: "failed", code: "SPOTCHECK_FAILED" }).catch(() => log.error({ event: "audit_failed", op: "spotcheck" }));
  }

  async function dedup(input: DedupInput): Promise<DedupResponse> {
    const { session, templateId } = input;
    const dsession = dedupSessionOf(session);
    let started = false;
    try {
      const auth = await checkAuthorisation(input.authorisation, { ops: ["dedup"], party, session, templateId }, now());
      // a coordinator of gallery shards (shards.ts) holds no gallery: its workers do
      const shards = deps.dedup?.shards;
      // which templates matched (hold for review) needs every slot's share in one place: not over shards
      if (shards && input.matches === true) throw new PartyError("GALLERY_UNAVAILABLE", "which templates matched (matches: true) is not served over gallery shards: use the one-bit search (ENROL_DEDUP=reject)");
      if (!shards) readyGallery();
      const p = probes.get(session);
      if (!p || p.until <= now()) throw new PartyError("SESSION_UNKNOWN", "no prepared enrolment with this session whose search is still to run");
      if (p.templateId !== templateId) throw new PartyError("AUTH_INVALID", "session is for another template");
      if (!shards) readyGallery(p.modelVersion);
      await store.consumeAuthorisation(auth.nonce, auth.expires);
      probes.delete(session); // one search per enrolment
      started = true;
      let out: Pick<DedupResponse, "resultShare" | "gallery" | "matches">;
      if (shards) {
        out = await shards({ session: dsession, share: p.share, valid: p.valid, modelVersion: p.modelVersion }).finally(() => p.share.fill(0));
      } else {
        const r = await searchGallery(dsession, p, () => (started = false), undefined, input.matches === true);
        out = { resultShare: { duplicate: r.duplicate }, gallery: r.count, ...(r.matches ? { matches: r.matches } : {}) };
      }
      metrics.mpcRuns.inc({ kind: "dedup", outcome: "ok" });
      await audit({ op: "dedup", session, templateId, requester: "gateway", purpose: null, outcome: "computed", modelVersion: p.modelVersion });
      return { session, ...out };
    } catch (e) {
      const err = toPartyError(e);
      if (!started) await sendAbort(transport, party, dsession, err.code);
      throw err;
    }
  }

  /** The gallery ready for a search (of `modelVersion`, when given), else GALLERY_UNAVAILABLE; HELPER_UNAVAILABLE after a cheat. */
  function readyGallery(modelVersion?: string): PartyGallery {
    const g = deps.dedup?.gallery() ?? null;
    if (!g || !g.ready) throw new PartyError("GALLERY_UNAVAILABLE", g?.stale ? "the dedup gallery is stale: it is being rebuilt" : "no dedup gallery is ready at this party");
    if (modelVersion !== undefined && modelVersion !== g.modelVersion) throw new PartyError("GALLERY_UNAVAILABLE", `the gallery holds model ${g.modelVersion}, the enrolment is for ${modelVersion}`);
    if (dedupCheat) throw new PartyError("HELPER_UNAVAILABLE", "a dealt dedup query of this helper failed the spot-check: searches refused until an operator restarts the party");
    return g;
  }

  /**
   * One search of `probe` (wiped here) over this party's gallery as MPC session `dsession` with the
   * peer: P0 asks the helper for fresh dealt queries (P1's halves to `p1Url`, default the configured
   * P1) and draws which one is used. `notStarted` runs when the MPC never started (nothing sent yet).
   */
  async function searchGallery(dsession: string, p: { share: Uint32Array; valid: 0 | 1; modelVersion: string }, notStarted?: () => void, p1Url?: string, matches = false): Promise<{ duplicate: 0 | 1; count: number; matches?: DedupMatches }> {
    const o = deps.dedup!;
    let g: PartyGallery;
    let bundles;
    try {
      g = readyGallery(p.modelVersion);
      if (party === "P0") {
        const checks = o.checks ?? 1;
        let bytes: Uint8Array[];
        try {
          bytes = await o.bundles!(g.epoch, g.count, 1 + checks, p1Url);
        } catch {
          throw new PartyError("HELPER_UNAVAILABLE", "the helper did not deal the dedup query");
        }
        bundles = bytes.map((b) => decodeDedupBundle(b));
        // which of the dealt queries is used is drawn here, after the helper dealt them all
        const i = randomIndex(bundles.length);
        [bundles[0], bundles[i]] = [bundles[i], bundles[0]];
      }
    } catch (e) {
      p.share.fill(0);
      notStarted?.();
      throw e;
    }
    return runDedup({
      transport, role: party, session: dsession, params, timeoutMs: deps.mpcTimeoutMs, seed: deps.poolSeed, gallery: g, probe: p.share, valid: p.valid, bundles, stock: o.stock,
      onCheat, matches,
    }).finally(() => p.share.fill(0));
  }

  // ---------------------------------------------------------------- delete
  async function del(input: DeleteInput): Promise<DeleteResponse> {
    const { templateId } = input;
    const auth = await checkAuthorisation(input.authorisation, { ops: ["delete"], party, templateId }, now());
    killAt("party:delete:authorised");
    const { existed } = await store.erase(templateId, { auth: authFields(auth) });
    killAt("party:delete:erased");
    deps.gallery?.erased(templateId);
    await audit({ op: "delete", session: auth.session || null, templateId, requester: "gateway", purpose: null, outcome: existed ? "erased" : "absent" });
    return { templateId, deleted: true, existed };
  }

  // ---------------------------------------------------------------- health, peer, helper
  async function health(): Promise<PartyHealth> {
    return { role, peer: transport.isUp(peer) ? "up" : "down", helper: deps.helperUp() ? "up" : "down", pool: { level: await store.poolLevel(), target: deps.poolTarget } };
  }

  async function sessionStatus(sessions: readonly string[]): Promise<PeerSessionStatus[]> {
    const out: PeerSessionStatus[] = [];
    for (const session of sessions) {
      const s = await store.getSession(session);
      const state = s ? s.state : "unknown";
      out.push({ session, state, committable: !!s && s.state === "prepared" && now() - s.createdAt <= deps.commitWindowMs });
    }
    return out;
  }

  async function addPoolItems(items: readonly Uint8Array[]): Promise<{ added: number }> {
    const decoded = items.map((bytes) => {
      let b;
      try {
        b = decodeBundle(bytes);
      } catch {
        throw new PartyError("INVALID_INPUT", "batch: an item is not a bundle");
      }
      if (b.role !== party) throw new PartyError("INVALID_INPUT", `batch: an item is for ${b.role}`);
      return { id: b.id, bytes };
    });
    const { added } = await store.addItems(decoded);
    return { added };
  }

  async function recover(peerStatus: (sessions: string[]) => Promise<PeerSessionStatus[]>): Promise<RecoveryResult> {
    const res = { committed: 0, aborted: 0, waiting: 0 };
    const pending: TxnSession[] = await store.pendingOlderThan(deps.commitWindowMs + Math.min(5_000, deps.commitWindowMs / 2));
    if (pending.length === 0) return res;
    const statuses = new Map((await peerStatus(pending.map((p) => p.session))).map((s) => [s.session, s]));
    for (const p of pending) {
      const st = statuses.get(p.session);
      if (!st) continue;
      if (st.state === "committed") {
        const c = await store.commit(p.session, { templateId: p.templateId });
        deps.gallery?.committed(p.templateId, c.modelVersion);
        await audit({ op: p.kind === "enrol" ? "commit" : "upgrade", session: p.session, templateId: p.templateId, requester: "recovery", purpose: null, outcome: "active", modelVersion: p.modelVersion });
        metrics.recovery.inc({ action: "commit" });
        res.committed++;
      } else if (st.state === "prepared" && st.committable) {
        res.waiting++;
      } else {
        await store.abort(p.session, { templateId: p.templateId });
        await audit({ op: "abort", session: p.session, templateId: p.templateId, requester: "recovery", purpose: null, outcome: "aborted", modelVersion: p.modelVersion });
        metrics.recovery.inc({ action: "abort" });
        res.aborted++;
      }
    }
    return res;
  }

  async function rerandomise(opts: { onlyUnrandomised?: boolean } = {}): Promise<{ scanned: number; updated: number }> {
    if (!deps.pairSeed) return { scanned: 0, updated: 0 };
    const r = await store.updateShares((slot, bytes) => (opts.onlyUnrandomised && epochOf(bytes) > 0 ? null : nextShare(party, deps.pairSeed, slot, bytes)));
    if (r.updated > 0) await audit({ op: "rerandomise", session: null, templateId: null, requester: "schedule", purpose: null, outcome: "done" });
    return r;
  }

  return { party, enrol, commit, abort, verify, dedup, searchGallery: (dsession, probe, p1Url) => searchGallery(dsession, probe, undefined, p1Url), dedupBlocked: () => dedupCheat, delete: del, health, nonces, keys, registerDevice, approveDevice, sessionStatus, recover, addPoolItems, abandon, rerandomise };
}
