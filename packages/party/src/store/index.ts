/**
 * Party store: what a compute party (P0 or P1) keeps on disk, behind one typed API over
 * `@privface/db` (SQLite or PostgreSQL, same migrations).
 *
 * - Templates: one row per (pseudonymous template id, model version) with status
 *   pending | active | retired | deleted and the party's share encrypted at rest (AES-256-GCM under the
 *   template's own key, kept wrapped under the party's data key in the template-key register outside
 *   the database, destroyed on erase; AAD binds role, template id and model version).
 * - Two-phase enrolment (`prepare` → `commit` | `abort`), staged model upgrades (`stageUpgrade` →
 *   `promoteUpgrade` | `discardUpgrade`), erasure (`erase`).
 * - The correlated-randomness pool (encrypted at rest under per-item keys wrapped by the data key; each
 *   item used at most once, even across crashes; a used item's key is erased in the transaction that
 *   uses it, its ciphertext deleted later).
 * - Single-use authorisation nonces.
 * - The verify hot path `beginVerify`: one transaction that consumes the authorisation, loads the
 *   active share, takes a pool item and records the session.
 *
 * Every failure the caller can act on is a `StoreError` with a stable `code`. Bad argument types raise
 * TypeError / RangeError naming the parameter. See ./README.md for transactions and durability.
 */
export { createPartyStore } from "./open.ts";
export { StoreError } from "./_errors.ts";
export { openTemplateKeys, type TemplateKeys } from "./template-keys.ts";
import type { TemplateKeys } from "./template-keys.ts";
export type { StoreErrorCode } from "./_errors.ts";
export { PARTY_TABLES, PARTY_MIGRATIONS_TABLE, partyMigrations } from "./_migrations.ts";

export type Role = "P0" | "P1";
export type TemplateStatus = "pending" | "active" | "retired" | "deleted";

/** The party's data keys. `keys` is kept by reference: add a key to it, then `rotateDataKey(id)`. */
export interface DataKeys {
  current: string;
  keys: Map<string, Uint8Array>;
}

export interface PartyStoreOptions {
  role: Role;
  dataKeys: DataKeys;
  /** Clock (epoch ms) for timestamps and authorisation expiry; tests inject one. Default Date.now. */
  now?: () => number;
  /**
   * SQLite only: `PRAGMA secure_delete` for this connection. "on" (default) overwrites deleted
   * content with zeros, so an erased share is gone from the file; "fast" only where it costs no I/O.
   */
  secureDelete?: "on" | "fast";
  /**
   * The template-key register (./template-keys.ts `openTemplateKeys`): a file of its own, outside the
   * database and its backups. Default (tests and library use only; a server always gives its own):
   * for a SQLite file the file `<db>.template-keys` beside it, otherwise one in-memory register per
   * role for the process (its keys die with the process, and with them every share under them).
   */
  templateKeys?: TemplateKeys;
}

/** A single-use authorisation: its random nonce and its expiry (epoch ms). */
export interface Authorisation {
  nonce: string;
  expires: number;
}

/**
 * A single-use mark consumed in the same transaction as an authorisation (decision 010 §3): this
 * party's nonce from the challenge (NONCE_REUSED when seen before) or an envelope digest
 * (ENVELOPE_REUSED). Kept until `expires` (the nonce's expiry: later it is refused as expired anyway).
 */
export interface UseMark {
  kind: "nonce" | "envelope";
  value: string;
  expires: number;
}

/** Optional for every mutating operation: consume this authorisation in the same transaction. */
export interface OpOptions {
  auth?: Authorisation;
}

export interface TemplateInfo {
  templateId: string;
  modelVersion: string;
  status: TemplateStatus;
  keyId: string | null;
  createdAt: number;
  updatedAt: number;
}

export type TxnKind = "enrol" | "upgrade";
export type TxnState = "prepared" | "committed" | "aborted";

export interface TxnSession {
  session: string;
  kind: TxnKind;
  state: TxnState;
  templateId: string;
  modelVersion: string;
  /** For upgrades: the version that promotion retires. */
  oldModelVersion: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface CommitResult {
  session: string;
  kind: TxnKind;
  templateId: string;
  modelVersion: string;
  /** true when this session had already been committed (nothing changed now). */
  repeated: boolean;
}

export interface AbortResult {
  session: string;
  /** "unknown": this party never saw the session (nothing to abort; answered, not an error). */
  state: "aborted" | "unknown";
  kind: TxnKind | null;
  templateId: string | null;
  repeated: boolean;
}

export interface PoolItem {
  id: string;
  bytes: Uint8Array;
}

export interface BeginVerifyInput {
  session: string;
  templateId: string;
  modelVersion: string;
  /** The authorisation's nonce and expiry, consumed in the same transaction. */
  nonce: string;
  expires: number;
  /** party nonce and envelope digests, consumed in the same transaction */
  marks?: readonly UseMark[];
  /**
   * Per-template volume budgets (decision 010 §4): VOLUME_EXCEEDED, and nothing consumed, when this
   * template already has `perMinute` verifications begun in the last 60 s or `perDay` in the last 24 h.
   */
  volume?: { perMinute: number; perDay: number };
  /**
   * Which pool item to use. P0 omits it (takes the oldest unused item) and tells P1 the id; P1 passes
   * it (ITEM_UNKNOWN / ITEM_REUSED if it cannot be used).
   */
  itemId?: string;
  /** Stage v_new shares of the same capture for an upgrade (same session id; see stageUpgrade). */
  upgrade?: { modelVersion: string; share: Uint8Array };
  /** Read the failure budget's record of (template, `day`) in the transaction: BUDGET_EXHAUSTED, and nothing consumed, if it is exhausted. */
  budget?: { day: number };
}

export interface BeginVerifyResult {
  /** The decrypted active share (caller zeroes it after use). */
  share: Uint8Array;
  /** The pool item now marked used by this session (caller zeroes it after use). */
  item: PoolItem;
  /** With `budget`: the failure budget's record of (template, day), read in the same transaction. */
  budget?: BudgetRecord;
}

/** A device in the party's own registry (decision 010 §2). Keys are base64url public keys. */
export interface DeviceRecord {
  deviceId: string;
  suite: "INTL" | "GM";
  signingKey: string;
  authKey: string;
  status: "pending" | "active" | "revoked";
  createdAt: number;
  updatedAt: number;
}

/**
 * A party's record of the daily failure budget of one template for one day (number of days since
 * 1970-01-01 UTC): its counter (@privface/mpc CounterState: a share mod 2^16, never a decision), the
 * verifications it answered that day and whether the budget is exhausted.
 */
export interface BudgetRecord {
  runs: number;
  share: number;
  prevRuns: number;
  prevShare: number;
  verifications: number;
  /** this party's XOR share of the match bit of the last verification it answered (0 if none) */
  pending: 0 | 1;
  exhausted: boolean;
}

export interface PartyStore {
  readonly role: Role;
  readonly dialect: "sqlite" | "postgres";

  // --- enrolment (two-phase) ---
  /** Pending template row + prepared session. Repeating the same call is a no-op ({ created: false }). */
  prepare(session: string, templateId: string, modelVersion: string, share: Uint8Array, opts?: OpOptions): Promise<{ created: boolean }>;
  /** Commits an enrolment (pending → active) or promotes an upgrade. Idempotent. */
  commit(session: string, opts?: OpOptions & { templateId?: string }): Promise<CommitResult>;
  /** Aborts an enrolment or upgrade: the pending share is erased. Idempotent; unknown sessions answer "unknown". */
  abort(session: string, opts?: OpOptions & { templateId?: string }): Promise<AbortResult>;
  /** Prepared (uncommitted, unaborted) sessions older than `ms`, for the recovery pass. */
  pendingOlderThan(ms: number): Promise<TxnSession[]>;
  getSession(session: string): Promise<TxnSession | undefined>;

  // --- upgrade ---
  /** Stage v_new next to the active version. Supersedes (aborts) an older staged upgrade of the same template. */
  stageUpgrade(session: string, templateId: string, newModelVersion: string, share: Uint8Array, opts?: OpOptions): Promise<{ created: boolean }>;
  /** Atomically: v_new active, v_old retired and its share erased. Idempotent. */
  promoteUpgrade(session: string, opts?: OpOptions): Promise<CommitResult>;
  /** Erase the staged v_new share. Idempotent. */
  discardUpgrade(session: string, opts?: OpOptions): Promise<AbortResult>;

  // --- templates ---
  /** Metadata of every row of a template (never the share). */
  templateVersions(templateId: string): Promise<TemplateInfo[]>;
  /** The active version and its decrypted share, or UNKNOWN_TEMPLATE. */
  loadActive(templateId: string): Promise<{ modelVersion: string; share: Uint8Array }>;
  /**
   * Erase every version's share of a template, leave a deleted tombstone, destroy the template's key
   * in the template-key register (so copies of the database made earlier cannot open it). Idempotent.
   */
  erase(templateId: string, opts?: OpOptions): Promise<{ existed: boolean }>;
  /**
   * After a restore: every template whose shares are under a key the template-key register no longer
   * holds (erased after the backup was taken) becomes a tombstone, its rows gone. Returns how many.
   */
  dropDestroyed(): Promise<number>;
  /** An institution's exit: every template erased (tombstones), every template key destroyed. */
  eraseAll(): Promise<{ templates: number; keys: number }>;
  /** Counts by status (for health and metrics). */
  templateCounts(): Promise<Record<TemplateStatus, number>>;
  /**
   * One page of the active templates of `modelVersion` in template-id order, with their decrypted
   * shares (the caller wipes them): ids > `after`, at most `limit` (1..1000). For building the dedup
   * gallery at start (../gallery.ts).
   */
  activePage(modelVersion: string, after: string, limit: number): Promise<{ templateId: string; share: Uint8Array }[]>;

  /**
   * Rewrites stored shares (active and pending rows) one row per transaction: `fn` gets the row's
   * template id, model version and decrypted share and returns the new share or null (unchanged).
   * A row changed or removed meanwhile is re-read under the row lock first; a throwing `fn` rolls back
   * that row only and ends the pass (rows already done stay done). Used by re-randomisation.
   */
  updateShares(fn: (row: { templateId: string; modelVersion: string }, share: Uint8Array) => Uint8Array | null): Promise<{ scanned: number; updated: number }>;

  // --- correlated-randomness pool ---
  /** Adds items; ids already present (used or not) are skipped. Returns how many were added. */
  addItems(items: readonly PoolItem[]): Promise<{ added: number }>;
  /** Takes the oldest unused item, marking it used durably before returning it. POOL_EXHAUSTED if none. */
  takeItem(session?: string): Promise<PoolItem>;
  /** Uses the item with this id (as named by the peer). ITEM_REUSED / ITEM_UNKNOWN. */
  markUsed(id: string, session?: string): Promise<PoolItem>;
  /**
   * P0 (decision 012): reserves up to `count` of the oldest unused, unreserved items until `until`
   * (epoch ms, the expiry of the item nonces naming them) and returns their ids, in one transaction.
   * A reserved item is used only by name (`beginVerify` with `itemId`, `markUsed`); `purge` discards
   * it unused once `until` has passed.
   */
  reserveItems(count: number, until: number): Promise<string[]>;
  /** Number of unused items not reserved (what a refill tops up: a reserved item is spoken for). */
  poolLevel(): Promise<number>;
  /**
   * Marks every unused item used and erases its key (after a restore: items the party used after the
   * backup was taken are unused again in the restored database, and must never be used twice).
   * Returns how many. The pool refills from the helper.
   */
  discardPool(): Promise<number>;

  // --- authorisations ---
  /** Records the nonce as used. AUTH_EXPIRED if `expires` ≤ now, AUTH_REUSED if seen before. */
  consumeAuthorisation(nonce: string, expires: number, marks?: readonly UseMark[]): Promise<void>;

  // --- device registry ---
  /**
   * Records a registration forwarded by the gateway with `status` (the party's policy decides it).
   * A known device keeps its status unless it is re-registered with the same keys (no change) —
   * new keys for a known device id are refused (DEVICE_EXISTS): a re-keyed device is a new device.
   */
  putDevice(d: Omit<DeviceRecord, "createdAt" | "updatedAt">): Promise<DeviceRecord>;
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;
  /** Approves (active) or revokes a device; UNKNOWN_DEVICE if absent. A revoked device stays revoked. */
  setDeviceStatus(deviceId: string, status: "active" | "revoked"): Promise<DeviceRecord>;
  listDevices(status?: DeviceRecord["status"]): Promise<DeviceRecord[]>;

  // --- verify hot path ---
  beginVerify(input: BeginVerifyInput): Promise<BeginVerifyResult>;

  // --- daily failure budget (counted inside MPC, @privface/mpc budget.ts) ---
  /** The record of (template, day); a fresh one (all 0, not exhausted) if none. */
  budget(templateId: string, day: number): Promise<BudgetRecord>;
  /**
   * Before a verification is answered (one transaction): this party's counter after the budget run
   * that rode in it (runs, share, prevRuns, prevShare) and the answer itself — verifications answered
   * = runs + 1, and `pending` = this party's XOR share of its match bit, which the next run counts.
   */
  finishVerify(templateId: string, day: number, counter: { runs: number; share: number; prevRuns: number; prevShare: number }, pending: 0 | 1): Promise<void>;
  /** Marks the budget of (template, day) exhausted: verifications are refused until the day ends. */
  markBudgetExhausted(templateId: string, day: number): Promise<void>;

  // --- housekeeping and keys ---
  /**
   * Deletes verify records and finished sessions older than `sessionsMs`, used pool markers older than
   * `usedItemsMs`, the (undecryptable) ciphertexts of all used pool items, and budget records of
   * days before yesterday; discards (marks used, key erased) reserved items whose reservation has passed
   * and, with `unusedItemsMs`, unreserved unused items added longer ago than that (the pool's age bound:
   * P1 cannot tell which of its halves P0 discarded, so it drops them by age; jobs.ts POOL_MAX_AGE_MS).
   */
  purge(opts: { sessionsMs: number; usedItemsMs: number; unusedItemsMs?: number }): Promise<{ sessions: number; items: number; ciphertexts: number }>;
  /**
   * SQLite: true while an erasure's WAL checkpoint could not complete (another connection was reading
   * for longer than CHECKPOINT_WAIT_MS): erased content may still be in the WAL file.
   */
  pendingCheckpoint(): boolean;
  /** Tries an owed checkpoint again (the party's jobs do, at each recovery pass); true when none is owed. */
  retryCheckpoint(): Promise<boolean>;
  /** Makes `newKeyId` current and re-encrypts every stored share and unused pool item under it. */
  rotateDataKey(newKeyId: string): Promise<{ templates: number; items: number }>;
  /** SQLite only: online backup to `path` (+ `path.label.json` marking it as C3 data). */
  backup(path: string): Promise<void>;
}
