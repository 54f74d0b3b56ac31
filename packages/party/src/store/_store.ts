/**
 * The party store implementation (API and semantics: ./index.ts and ./README.md).
 *
 * Each public operation is exactly one write transaction (or one read) of cached prepared statements
 * (./_exec.ts). Shares and pool items are encrypted before the transaction starts and decrypted inside
 * it (so a missing key rolls the operation back). An optional authorisation is consumed in the same
 * transaction as the operation it authorises: both happen, or neither.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import { createExec, isUniqueViolation, migrate, toBytes, toMs, type Db, type Tx } from "@privface/db";
import { KEY_BYTES, aad, decrypt, encrypt } from "./_aead.ts";
import { StoreError } from "./_errors.ts";
import { LEGACY_ITEM_KEY, PARTY_MIGRATIONS_TABLE, partyMigrations } from "./_migrations.ts";
import type {
  AbortResult,
  Authorisation,
  BeginVerifyInput,
  BeginVerifyResult,
  BudgetRecord,
  CommitResult,
  DataKeys,
  DeviceRecord,
  OpOptions,
  PartyStore,
  PartyStoreOptions,
  PoolItem,
  Role,
  TemplateInfo,
  TemplateStatus,
  TxnKind,
  TxnSession,
  TxnState,
  UseMark,
} from "./index.ts";

// ---------------------------------------------------------------------------------------------
// Input formats. Template ids are random pseudonyms from the gateway: 16–64 base64url characters,
// and never digits only (which is what phone, ID-card and account numbers look like; R11).
const TEMPLATE_ID_RE = /^[A-Za-z0-9_-]{16,64}$/;
const NUMBER_LIKE_RE = /^[0-9]+[Xx]?$/;
const MODEL_RE = /^[A-Za-z0-9._:+@-]{1,64}$/; // "@" added by the party-server helper: model versions are [A-Za-z0-9._@-]+ (brief)
const SESSION_RE = /^[A-Za-z0-9_-]{8,128}$/;
const NONCE_RE = /^[A-Za-z0-9_-]{8,128}$/;
const MARK_RE = /^[A-Za-z0-9_-]{16,120}$/;
const ITEM_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const KEY_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_SHARE = 1 << 20;
const MAX_ITEM = 64 << 20;
const AUTH_PURGE_EVERY_MS = 1000;
const ADD_CHUNK = 64;
const SWEEP_CHUNK = 500;

function str(value: unknown, name: string, re: RegExp): string {
  if (typeof value !== "string") throw new TypeError(`${name} must be a string, got ${typeof value}`);
  if (!re.test(value)) throw new StoreError("INVALID_INPUT", `${name} must match ${re}`);
  return value;
}
function templateId(value: unknown, name = "templateId"): string {
  const id = str(value, name, TEMPLATE_ID_RE);
  if (NUMBER_LIKE_RE.test(id)) throw new StoreError("INVALID_INPUT", `${name} looks like a number (phone, ID or account); template ids are random pseudonyms`);
  return id;
}
function bytes(value: unknown, name: string, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (value.length < 1 || value.length > max) throw new StoreError("INVALID_INPUT", `${name} must have 1..${max} bytes, got ${value.length}`);
  return value;
}
function ms(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new TypeError(`${name} must be an integer (epoch ms), got ${String(value)}`);
  return value;
}
function duration(value: unknown, name: string): number {
  const v = ms(value, name);
  if (v < 0) throw new RangeError(`${name} must be ≥ 0, got ${v}`);
  return v;
}
function dayNumber(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 2 ** 31 - 1) throw new RangeError(`day must be a day number (days since 1970-01-01 UTC), got ${String(value)}`);
  return value as number;
}
interface BudgetRow {
  runs: unknown;
  share: unknown;
  prev_runs: unknown;
  prev_share: unknown;
  verifications: unknown;
  exhausted: unknown;
}
const BUDGET_SELECT = "SELECT runs, share, prev_runs, prev_share, verifications, exhausted FROM party_budgets";
function budgetRecord(r: BudgetRow | undefined): BudgetRecord {
  if (!r) return { runs: 0, share: 0, prevRuns: 0, prevShare: 0, verifications: 0, exhausted: false };
  return { runs: Number(r.runs), share: Number(r.share), prevRuns: Number(r.prev_runs), prevShare: Number(r.prev_share), verifications: Number(r.verifications), exhausted: Number(r.exhausted) === 1 };
}
function checkAuth(auth: Authorisation | undefined): Authorisation | undefined {
  if (auth === undefined) return undefined;
  if (typeof auth !== "object" || auth === null) throw new TypeError("opts.auth must be { nonce, expires }");
  return { nonce: str(auth.nonce, "auth.nonce", NONCE_RE), expires: ms(auth.expires, "auth.expires") };
}
function checkKeys(dataKeys: DataKeys): void {
  if (typeof dataKeys !== "object" || dataKeys === null || !(dataKeys.keys instanceof Map)) {
    throw new TypeError("dataKeys must be { current: keyId, keys: Map<keyId, Uint8Array> }");
  }
  for (const [id, key] of dataKeys.keys) checkKey(id, key);
  if (!dataKeys.keys.has(dataKeys.current)) throw new RangeError(`dataKeys.current ${JSON.stringify(dataKeys.current)} is not in dataKeys.keys`);
}
function checkKey(id: unknown, key: unknown): void {
  if (typeof id !== "string" || !KEY_ID_RE.test(id)) throw new RangeError(`data key id must match ${KEY_ID_RE}`);
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) throw new RangeError(`data key ${id} must be a ${KEY_BYTES}-byte Uint8Array`);
}

// ---------------------------------------------------------------------------------------------
type TemplateRow = { template_id: string; model_version: string; status: TemplateStatus; key_id: string | null; share: unknown; created_at: unknown; updated_at: unknown };
type SessionRow = { session: string; kind: TxnKind; state: TxnState; template_id: string; model_version: string; old_model_version: string | null; created_at: unknown; updated_at: unknown };
/** A pool row joined with its ciphertext (`item`: NULL once swept). */
type DeviceRow = { device_id: string; suite: "INTL" | "GM"; signing_key: string; auth_key: string; status: DeviceRecord["status"]; created_at: unknown; updated_at: unknown };
const toDevice = (r: DeviceRow): DeviceRecord => ({
  deviceId: r.device_id,
  suite: r.suite,
  signingKey: r.signing_key,
  authKey: r.auth_key,
  status: r.status,
  createdAt: toMs(r.created_at),
  updatedAt: toMs(r.updated_at),
});
const DEVICE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const PUBKEY_RE = /^[A-Za-z0-9_-]{16,256}$/;
type PoolRow = { seq: unknown; id: string; key_id: string | null; item_key: unknown; item: unknown; used_at?: unknown };

const toSession = (r: SessionRow): TxnSession => ({
  session: r.session,
  kind: r.kind,
  state: r.state,
  templateId: r.template_id,
  modelVersion: r.model_version,
  oldModelVersion: r.old_model_version,
  createdAt: toMs(r.created_at),
  updatedAt: toMs(r.updated_at),
});

export async function createPartyStore(db: Db, options: PartyStoreOptions): Promise<PartyStore> {
  if (typeof options !== "object" || options === null) throw new TypeError("options must be { role, dataKeys }");
  const role: Role = options.role;
  if (role !== "P0" && role !== "P1") throw new RangeError(`options.role must be "P0" or "P1", got ${String(role)}`);
  checkKeys(options.dataKeys);
  const keys = options.dataKeys.keys;
  let currentKeyId = options.dataKeys.current;
  const now = options.now ?? Date.now;
  const secureDelete = options.secureDelete ?? "on";
  if (secureDelete !== "on" && secureDelete !== "fast") throw new RangeError(`options.secureDelete must be "on" or "fast"`);

  await migrate(db, partyMigrations, { table: PARTY_MIGRATIONS_TABLE });
  const pgLock = db.dialect === "postgres" ? " FOR UPDATE" : "";
  const pgSkip = db.dialect === "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
  if (db.sqlite) {
    const s = db.sqlite;
    await db.exclusive(() => s.pragma(`secure_delete = ${secureDelete === "on" ? "ON" : "FAST"}`));
  }
  const exec = createExec(db);
  let lastAuthPurge = 0;

  const keyFor = (id: string | null): Uint8Array => {
    const k = id === null ? undefined : keys.get(id);
    if (!k) throw new StoreError("KEY_UNKNOWN", `no data key with id ${JSON.stringify(id)} (rows under it stay unreadable until the key is supplied)`);
    return k;
  };
  const sealShare = (tid: string, mv: string, share: Uint8Array) =>
    ({ keyId: currentKeyId, blob: encrypt(keyFor(currentKeyId), share, aad("share", role, tid, mv)) });
  const openShare = (r: { key_id: string | null; share: unknown }, tid: string, mv: string) =>
    decrypt(keyFor(r.key_id), toBytes(r.share), aad("share", role, tid, mv));

  // Pool items: each under its own random key (AAD binds role and item id); the item key is stored
  // wrapped under the data key. Erasing the 61-byte wrapped key makes the ciphertext garbage.
  const wrapItemKey = (id: string, itemKey: Uint8Array) => ({ keyId: currentKeyId, wrapped: encrypt(keyFor(currentKeyId), itemKey, aad("poolkey", role, id)) });
  const sealItem = (id: string, b: Uint8Array) => {
    const itemKey = randomBytes(KEY_BYTES);
    const out = { ...wrapItemKey(id, itemKey), blob: encrypt(itemKey, b, aad("poolitem", role, id)) };
    itemKey.fill(0);
    return out;
  };
  const isLegacy = (r: { item_key: unknown }) => {
    const k = toBytes(r.item_key);
    return k.length === LEGACY_ITEM_KEY.length && k[0] === LEGACY_ITEM_KEY[0];
  };
  const unwrapItemKey = (r: { key_id: string | null; item_key: unknown }, id: string) => decrypt(keyFor(r.key_id), toBytes(r.item_key), aad("poolkey", role, id));
  const openItem = (r: PoolRow): Uint8Array => {
    if (r.item === null || r.item === undefined) throw new StoreError("INTEGRITY", "pool item has no ciphertext");
    if (isLegacy(r)) return decrypt(keyFor(r.key_id), toBytes(r.item), aad("pool", role, r.id)); // migrated from 001
    const itemKey = unwrapItemKey(r, r.id);
    try {
      return decrypt(itemKey, toBytes(r.item), aad("poolitem", role, r.id));
    } finally {
      itemKey.fill(0);
    }
  };
  // PostgreSQL: lock the pool row only (the ciphertext side of a LEFT JOIN cannot be locked).
  const pgLockPool = db.dialect === "postgres" ? " FOR UPDATE OF p" : "";
  const pgSkipPool = db.dialect === "postgres" ? " FOR UPDATE OF p SKIP LOCKED" : "";
  const POOL_SELECT = "SELECT p.seq, p.id, p.key_id, p.item_key, p.used_at, b.item FROM party_pool p LEFT JOIN party_pool_items b ON b.seq = p.seq";

  // --- pieces that run inside a transaction ---------------------------------------------------
  async function consumeAuth(tx: Tx, auth: Authorisation, t: number, marks: readonly UseMark[] = []): Promise<void> {
    if (auth.expires <= t) throw new StoreError("AUTH_EXPIRED", "authorisation has expired");
    if (t - lastAuthPurge >= AUTH_PURGE_EVERY_MS) {
      lastAuthPurge = t;
      await tx.run("DELETE FROM party_authorisations WHERE expires < ?", [t]);
    }
    const n = await tx.run("INSERT INTO party_authorisations (nonce, expires) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING", [auth.nonce, auth.expires]);
    if (n === 0) throw new StoreError("AUTH_REUSED", "authorisation was already used");
    // one ledger, other namespaces: gateway nonces are 8..128 plain characters, marks carry a prefix
    for (const m of marks) {
      const key = `${m.kind === "nonce" ? "n" : "e"}_${m.value}`;
      const k = await tx.run("INSERT INTO party_authorisations (nonce, expires) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING", [key, Math.max(m.expires, t + 1)]);
      if (k === 0) throw m.kind === "nonce" ? new StoreError("NONCE_REUSED", "this party's nonce was already used") : new StoreError("ENVELOPE_REUSED", "this envelope was already presented");
    }
  }
  function checkMarks(marks: unknown): UseMark[] {
    if (marks === undefined) return [];
    if (!Array.isArray(marks) || marks.length > 8) throw new TypeError("marks must be an array of at most 8 { kind, value, expires }");
    return marks.map((m, i) => {
      if (m?.kind !== "nonce" && m?.kind !== "envelope") throw new TypeError(`marks[${i}].kind must be nonce | envelope`);
      return { kind: m.kind, value: str(m.value, `marks[${i}].value`, MARK_RE), expires: ms(m.expires, `marks[${i}].expires`) };
    });
  }

  async function getSessionRow(tx: Tx, session: string): Promise<SessionRow | undefined> {
    return tx.get<SessionRow>(`SELECT * FROM party_sessions WHERE session = ?${pgLock}`, [session]);
  }

  /** Repeat detection shared by prepare and stageUpgrade: undefined = new session. */
  function repeatOf(s: SessionRow | undefined, kind: TxnKind, tid: string, mv: string): { created: false } | undefined {
    if (!s) return undefined;
    if (s.kind !== kind || s.template_id !== tid || s.model_version !== mv) {
      throw new StoreError("SESSION_EXISTS", "session id already used for another operation");
    }
    if (s.state === "aborted") throw new StoreError("SESSION_STATE", "session was aborted");
    return { created: false };
  }

  async function insertPending(tx: Tx, tid: string, mv: string, sealed: { keyId: string; blob: Buffer }, t: number): Promise<void> {
    try {
      await tx.run(
        "INSERT INTO party_templates (template_id, model_version, status, key_id, share, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)",
        [tid, mv, sealed.keyId, sealed.blob, t, t],
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreError("TEMPLATE_EXISTS", "a pending or active version of this template exists");
      throw err;
    }
  }

  /** [session, kind, state, template_id, model_version, old_model_version, created_at, updated_at] */
  async function insertSession(tx: Tx, values: [string, TxnKind, TxnState, string, string, string | null, number, number]): Promise<void> {
    try {
      await tx.run(
        "INSERT INTO party_sessions (session, kind, state, template_id, model_version, old_model_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        values,
      );
    } catch (err) {
      // Only reachable when two requests for the same new session id race (PostgreSQL).
      if (isUniqueViolation(err)) throw new StoreError("SESSION_EXISTS", "session id already used (concurrent request)");
      throw err;
    }
  }

  async function stageInTx(tx: Tx, session: string, tid: string, mv: string, sealed: { keyId: string; blob: Buffer }, t: number): Promise<{ created: boolean }> {
    const repeat = repeatOf(await getSessionRow(tx, session), "upgrade", tid, mv);
    if (repeat) return repeat;
    const active = await tx.get<{ model_version: string }>(`SELECT model_version FROM party_templates WHERE template_id = ? AND status = 'active'${pgLock}`, [tid]);
    if (!active) throw new StoreError("UNKNOWN_TEMPLATE", "no active template with this id");
    if (active.model_version === mv) throw new StoreError("WRONG_MODEL_VERSION", "the template is already at this model version");
    const pending = await tx.get<{ model_version: string }>(`SELECT model_version FROM party_templates WHERE template_id = ? AND status = 'pending'${pgLock}`, [tid]);
    if (pending) {
      // An older staged upgrade that was never promoted or discarded: this one supersedes it.
      await tx.run("UPDATE party_sessions SET state = 'aborted', updated_at = ? WHERE template_id = ? AND kind = 'upgrade' AND state = 'prepared'", [t, tid]);
      await tx.run("DELETE FROM party_templates WHERE template_id = ? AND status = 'pending'", [tid]);
    }
    await tx.run("DELETE FROM party_templates WHERE template_id = ? AND model_version = ? AND status = 'retired'", [tid, mv]);
    await insertPending(tx, tid, mv, sealed, t);
    await insertSession(tx, [session, "upgrade", "prepared", tid, mv, active.model_version, t, t]);
    return { created: true };
  }

  async function takeInTx(tx: Tx, session: string | null, t: number): Promise<PoolItem> {
    const row = await tx.get<PoolRow>(`${POOL_SELECT} WHERE p.used_at IS NULL ORDER BY p.seq LIMIT 1${pgSkipPool}`);
    if (!row) throw new StoreError("POOL_EXHAUSTED", "no unused correlated randomness in the pool");
    return useRow(tx, row, session, t);
  }

  async function useInTx(tx: Tx, id: string, session: string | null, t: number): Promise<PoolItem> {
    const row = await tx.get<PoolRow>(`${POOL_SELECT} WHERE p.id = ?${pgLockPool}`, [id]);
    if (!row) throw new StoreError("ITEM_UNKNOWN", "no pool item with this id");
    if (row.used_at !== null && row.used_at !== undefined) throw new StoreError("ITEM_REUSED", "pool item was already used");
    return useRow(tx, row, session, t);
  }

  /**
   * Marks the item used and erases its wrapped key (crypto-erasure: the ciphertext in
   * party_pool_items can no longer be decrypted and is deleted later by sweepUsed). Decrypts before
   * the update so a missing key or a bad ciphertext rolls the transaction back with the item unused.
   */
  async function useRow(tx: Tx, row: PoolRow, session: string | null, t: number): Promise<PoolItem> {
    const bytes = openItem(row);
    await tx.run("UPDATE party_pool SET used_at = ?, session = ?, item_key = NULL, key_id = NULL WHERE seq = ?", [t, session, row.seq]);
    // A 001 item not yet converted is under the data key itself: its ciphertext must go now.
    if (isLegacy(row)) await tx.run("DELETE FROM party_pool_items WHERE seq = ?", [row.seq]);
    return { id: row.id, bytes };
  }

  /**
   * Deletes the ciphertexts of used (or purged) pool items, at most `limit`, with `below` set only
   * those with seq < the oldest unused item (an index seek; what P0's take order leaves behind).
   * They are undecryptable garbage, so SQLite deletes them without zeroing (secure_delete FAST): the
   * pages go to the freelist and are reused by the next refill.
   */
  async function sweepUsed(tx: Tx, limit: number, from: unknown = null, to: unknown = null): Promise<number> {
    const s = db.sqlite;
    if (s) s.pragma("secure_delete = FAST");
    try {
      if (from === null) {
        return await tx.run(
          `DELETE FROM party_pool_items WHERE seq IN (SELECT seq FROM party_pool_items
             WHERE seq < coalesce((SELECT min(seq) FROM party_pool WHERE used_at IS NULL), 9223372036854775807) ORDER BY seq LIMIT ${limit})`,
        );
      }
      return await tx.run(
        `DELETE FROM party_pool_items WHERE seq >= ? AND seq <= ?
           AND NOT EXISTS (SELECT 1 FROM party_pool p WHERE p.seq = party_pool_items.seq AND p.used_at IS NULL)`,
        [from, to],
      );
    } finally {
      if (s) s.pragma(`secure_delete = ${secureDelete === "on" ? "ON" : "FAST"}`);
    }
  }

  /** Re-encrypts unused items migrated from 001 (LEGACY_ITEM_KEY) under per-item keys; rows whose data key is missing stay. */
  async function convertLegacy(): Promise<number> {
    let converted = 0;
    let after: unknown = -1;
    for (;;) {
      const rows = await exec.read((tx) =>
        tx.all<{ seq: unknown }>(`SELECT seq FROM party_pool WHERE used_at IS NULL AND item_key = ? AND seq > ? ORDER BY seq LIMIT ${ADD_CHUNK}`, [
          Buffer.from(LEGACY_ITEM_KEY),
          after,
        ]),
      );
      if (rows.length === 0) return converted;
      after = rows[rows.length - 1].seq;
      converted += await exec.tx(async (tx) => {
        let n = 0;
        for (const { seq } of rows) {
          const r = await tx.get<PoolRow>(`${POOL_SELECT} WHERE p.seq = ? AND p.used_at IS NULL${pgLockPool}`, [seq]);
          if (!r || !isLegacy(r) || r.key_id === null || !keys.has(r.key_id)) continue;
          const plain = openItem(r);
          const sealed = sealItem(r.id, plain);
          plain.fill(0);
          await tx.run("UPDATE party_pool_items SET item = ? WHERE seq = ?", [sealed.blob, seq]);
          await tx.run("UPDATE party_pool SET key_id = ?, item_key = ? WHERE seq = ?", [sealed.keyId, sealed.wrapped, seq]);
          n++;
        }
        return n;
      });
    }
  }

  async function checkpoint(): Promise<void> {
    // Erased pages may still sit in the WAL file: copy the WAL into the main file and truncate it.
    const s = db.sqlite;
    if (s && db.path !== ":memory:") await db.exclusive(() => s.pragma("wal_checkpoint(TRUNCATE)"));
  }

  // --- commit / abort shared by enrolment and upgrade -------------------------------------------
  async function commitOp(session: string, opts: (OpOptions & { templateId?: string }) | undefined, want: TxnKind | null): Promise<CommitResult> {
    str(session, "session", SESSION_RE);
    const auth = checkAuth(opts?.auth);
    const wantTid = opts?.templateId === undefined ? undefined : templateId(opts.templateId, "opts.templateId");
    return exec.tx(async (tx) => {
      const t = now();
      if (auth) await consumeAuth(tx, auth, t);
      const s = await getSessionRow(tx, session);
      if (!s) throw new StoreError("SESSION_UNKNOWN", "no prepared session with this id");
      if (want && s.kind !== want) throw new StoreError("SESSION_STATE", `session is an ${s.kind}, not an ${want}`);
      if (wantTid !== undefined && s.template_id !== wantTid) throw new StoreError("INVALID_INPUT", "session belongs to another template");
      const result = { session, kind: s.kind, templateId: s.template_id, modelVersion: s.model_version };
      if (s.state === "committed") return { ...result, repeated: true };
      if (s.state === "aborted") throw new StoreError("SESSION_STATE", "session was aborted; it cannot be committed");
      if (s.kind === "upgrade") {
        await tx.run(
          "UPDATE party_templates SET status = 'retired', share = NULL, key_id = NULL, updated_at = ? WHERE template_id = ? AND status = 'active' AND model_version <> ?",
          [t, s.template_id, s.model_version],
        );
      }
      const n = await tx.run(
        "UPDATE party_templates SET status = 'active', updated_at = ? WHERE template_id = ? AND model_version = ? AND status = 'pending'",
        [t, s.template_id, s.model_version],
      );
      if (n !== 1) throw new StoreError("SESSION_STATE", "the prepared template version is gone (erased?)");
      await tx.run("UPDATE party_sessions SET state = 'committed', updated_at = ? WHERE session = ?", [t, session]);
      return { ...result, repeated: false };
    });
  }

  async function abortOp(session: string, opts: (OpOptions & { templateId?: string }) | undefined, want: TxnKind | null): Promise<AbortResult> {
    str(session, "session", SESSION_RE);
    const auth = checkAuth(opts?.auth);
    const wantTid = opts?.templateId === undefined ? undefined : templateId(opts.templateId, "opts.templateId");
    const out = await exec.tx(async (tx): Promise<AbortResult> => {
      const t = now();
      if (auth) await consumeAuth(tx, auth, t);
      const s = await getSessionRow(tx, session);
      if (!s) {
        // Presumed abort: remember it, so a prepare for this session that arrives late is refused.
        await insertSession(tx, [session, want ?? "enrol", "aborted", wantTid ?? "", "", null, t, t]);
        return { session, state: "unknown", kind: null, templateId: wantTid ?? null, repeated: false };
      }
      if (want && s.kind !== want) throw new StoreError("SESSION_STATE", `session is an ${s.kind}, not an ${want}`);
      if (wantTid !== undefined && s.template_id !== wantTid && s.template_id !== "") throw new StoreError("INVALID_INPUT", "session belongs to another template");
      const result = { session, kind: s.kind, templateId: s.template_id || null };
      if (s.state === "aborted") return { ...result, state: "aborted", repeated: true };
      if (s.state === "committed") throw new StoreError("SESSION_STATE", "session was committed; it cannot be aborted");
      await tx.run("DELETE FROM party_templates WHERE template_id = ? AND model_version = ? AND status = 'pending'", [s.template_id, s.model_version]);
      await tx.run("UPDATE party_sessions SET state = 'aborted', updated_at = ? WHERE session = ?", [t, session]);
      return { ...result, state: "aborted", repeated: false };
    });
    if (out.state === "aborted" && !out.repeated) await checkpoint();
    return out;
  }

  // Items migrated from 001 get per-item keys before the store is used (a no-op afterwards: one index range).
  await convertLegacy();

  /** Checks the arguments of an operation that stores a share, and seals the share (before the transaction). */
  function shareInput(session: unknown, tid: unknown, mv: unknown, mvName: string, share: unknown, opts: OpOptions | undefined) {
    str(session, "session", SESSION_RE);
    templateId(tid);
    str(mv, mvName, MODEL_RE);
    bytes(share, "share", MAX_SHARE);
    const auth = checkAuth(opts?.auth);
    return { auth, sealed: sealShare(tid as string, mv as string, share as Uint8Array) };
  }

  // --- the store --------------------------------------------------------------------------------
  const store: PartyStore = {
    role,
    dialect: db.dialect,

    async prepare(session, tid, mv, share, opts) {
      const { auth, sealed } = shareInput(session, tid, mv, "modelVersion", share, opts);
      return exec.tx(async (tx) => {
        const t = now();
        if (auth) await consumeAuth(tx, auth, t);
        const repeat = repeatOf(await getSessionRow(tx, session), "enrol", tid, mv);
        if (repeat) return repeat;
        const rows = await tx.all<{ status: TemplateStatus }>(`SELECT status FROM party_templates WHERE template_id = ?${pgLock}`, [tid]);
        if (rows.some((r) => r.status === "deleted")) throw new StoreError("TEMPLATE_EXISTS", "this template id was deleted; ids are never reused");
        if (rows.some((r) => r.status === "active" || r.status === "pending")) throw new StoreError("TEMPLATE_EXISTS", "a template with this id exists");
        await insertPending(tx, tid, mv, sealed, t);
        await insertSession(tx, [session, "enrol", "prepared", tid, mv, null, t, t]);
        return { created: true };
      });
    },

    commit: (session, opts) => commitOp(session, opts, null),
    abort: (session, opts) => abortOp(session, opts, null),
    promoteUpgrade: (session, opts) => commitOp(session, opts, "upgrade"),
    discardUpgrade: (session, opts) => abortOp(session, opts, "upgrade"),

    async pendingOlderThan(age) {
      duration(age, "ms");
      const cutoff = now() - age;
      const rows = await exec.read((tx) =>
        tx.all<SessionRow>("SELECT * FROM party_sessions WHERE state = 'prepared' AND created_at < ? ORDER BY created_at, session", [cutoff]),
      );
      return rows.map(toSession);
    },

    async getSession(session) {
      str(session, "session", SESSION_RE);
      const row = await exec.read((tx) => tx.get<SessionRow>("SELECT * FROM party_sessions WHERE session = ?", [session]));
      return row ? toSession(row) : undefined;
    },

    async stageUpgrade(session, tid, mv, share, opts) {
      const { auth, sealed } = shareInput(session, tid, mv, "newModelVersion", share, opts);
      return exec.tx(async (tx) => {
        const t = now();
        if (auth) await consumeAuth(tx, auth, t);
        return stageInTx(tx, session, tid, mv, sealed, t);
      });
    },

    async templateVersions(tid) {
      templateId(tid);
      const rows = await exec.read((tx) =>
        tx.all<TemplateRow>(
          "SELECT template_id, model_version, status, key_id, created_at, updated_at FROM party_templates WHERE template_id = ? ORDER BY created_at, model_version",
          [tid],
        ),
      );
      return rows.map(
        (r): TemplateInfo => ({
          templateId: r.template_id,
          modelVersion: r.model_version,
          status: r.status,
          keyId: r.key_id,
          createdAt: toMs(r.created_at),
          updatedAt: toMs(r.updated_at),
        }),
      );
    },

    async loadActive(tid) {
      templateId(tid);
      return exec.read(async (tx) => {
        const r = await tx.get<TemplateRow>("SELECT model_version, key_id, share FROM party_templates WHERE template_id = ? AND status = 'active'", [tid]);
        if (!r) throw new StoreError("UNKNOWN_TEMPLATE", "no active template with this id");
        return { modelVersion: r.model_version, share: openShare(r, tid, r.model_version) };
      });
    },

    async erase(tid, opts) {
      templateId(tid);
      const auth = checkAuth(opts?.auth);
      const out = await exec.tx(async (tx) => {
        const t = now();
        if (auth) await consumeAuth(tx, auth, t);
        const rows = await tx.all<{ status: TemplateStatus }>(`SELECT status FROM party_templates WHERE template_id = ?${pgLock}`, [tid]);
        const existed = rows.some((r) => r.status !== "deleted");
        if (!existed && rows.length > 0) return { existed };
        await tx.run("UPDATE party_sessions SET state = 'aborted', updated_at = ? WHERE template_id = ? AND state = 'prepared'", [t, tid]);
        await tx.run("DELETE FROM party_templates WHERE template_id = ?", [tid]);
        await tx.run(
          "INSERT INTO party_templates (template_id, model_version, status, key_id, share, created_at, updated_at) VALUES (?, '', 'deleted', NULL, NULL, ?, ?)",
          [tid, t, t],
        );
        return { existed };
      });
      if (out.existed) await checkpoint();
      return out;
    },

    async updateShares(fn) {
      if (typeof fn !== "function") throw new TypeError("fn must be a function");
      let scanned = 0;
      let updated = 0;
      let last: [string, string] = ["", ""];
      const PAGE = 200;
      for (;;) {
        const page = await exec.read((tx) =>
          tx.all<{ template_id: string; model_version: string }>(
            `SELECT template_id, model_version FROM party_templates WHERE share IS NOT NULL AND (template_id > ? OR (template_id = ? AND model_version > ?)) ORDER BY template_id, model_version LIMIT ${PAGE}`,
            [last[0], last[0], last[1]],
          ),
        );
        for (const p of page) {
          scanned++;
          const changed = await exec.tx(async (tx) => {
            const r = await tx.get<TemplateRow>(`SELECT key_id, share FROM party_templates WHERE template_id = ? AND model_version = ? AND share IS NOT NULL${pgLock}`, [p.template_id, p.model_version]);
            if (!r) return false;
            const plain = openShare(r, p.template_id, p.model_version);
            let next: Uint8Array | null;
            try {
              next = fn({ templateId: p.template_id, modelVersion: p.model_version }, plain);
            } finally {
              plain.fill(0);
            }
            if (next === null) return false;
            bytes(next, "share", MAX_SHARE);
            const sealed = sealShare(p.template_id, p.model_version, next);
            next.fill(0);
            await tx.run("UPDATE party_templates SET key_id = ?, share = ? WHERE template_id = ? AND model_version = ?", [sealed.keyId, sealed.blob, p.template_id, p.model_version]);
            return true;
          });
          if (changed) updated++;
        }
        if (page.length < PAGE) break;
        const end = page[page.length - 1];
        last = [end.template_id, end.model_version];
      }
      if (updated > 0) await checkpoint();
      return { scanned, updated };
    },

    async templateCounts() {
      const rows = await exec.read((tx) => tx.all<{ status: TemplateStatus; n: unknown }>("SELECT status, count(*) AS n FROM party_templates GROUP BY status"));
      const counts: Record<TemplateStatus, number> = { pending: 0, active: 0, retired: 0, deleted: 0 };
      for (const r of rows) counts[r.status] = toMs(r.n);
      return counts;
    },

    async addItems(items) {
      if (!Array.isArray(items)) throw new TypeError("items must be an array of { id, bytes }");
      const sealed = items.map((it, i) => {
        if (typeof it !== "object" || it === null) throw new TypeError(`items[${i}] must be { id, bytes }`);
        const id = str(it.id, `items[${i}].id`, ITEM_RE);
        return { id, ...sealItem(id, bytes(it.bytes, `items[${i}].bytes`, MAX_ITEM)) };
      });
      // Chunks of ADD_CHUNK items per transaction, so a large refill never holds the (SQLite) writer
      // long enough to stall verifications. Re-adding is idempotent, so a partial refill is harmless.
      let added = 0;
      for (let i = 0; i < sealed.length; i += ADD_CHUNK) {
        const chunk = sealed.slice(i, i + ADD_CHUNK);
        added += await exec.tx(async (tx) => {
          const t = now();
          let n = 0;
          // Make room first: the freed pages of used ciphertexts take the new ones (no file growth).
          await sweepUsed(tx, 2 * ADD_CHUNK);
          for (const s of chunk) {
            const r = await tx.get<{ seq: unknown }>(
              "INSERT INTO party_pool (id, key_id, item_key, added_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq",
              [s.id, s.keyId, s.wrapped, t],
            );
            if (!r) continue;
            await tx.run("INSERT INTO party_pool_items (seq, item) VALUES (?, ?)", [r.seq, s.blob]);
            n++;
          }
          return n;
        });
      }
      return { added };
    },

    async takeItem(session) {
      if (session !== undefined) str(session, "session", SESSION_RE);
      return exec.tx((tx) => takeInTx(tx, session ?? null, now()));
    },

    async markUsed(id, session) {
      str(id, "id", ITEM_RE);
      if (session !== undefined) str(session, "session", SESSION_RE);
      return exec.tx((tx) => useInTx(tx, id, session ?? null, now()));
    },

    async poolLevel() {
      const r = await exec.read((tx) => tx.get<{ n: unknown }>("SELECT count(*) AS n FROM party_pool WHERE used_at IS NULL"));
      return toMs(r?.n ?? 0);
    },

    async consumeAuthorisation(nonce, expires, marks) {
      const auth = checkAuth({ nonce, expires })!;
      const m = checkMarks(marks);
      await exec.tx((tx) => consumeAuth(tx, auth, now(), m));
    },

    async putDevice(d) {
      if (typeof d !== "object" || d === null) throw new TypeError("device must be an object");
      const id = str(d.deviceId, "deviceId", DEVICE_ID_RE);
      if (d.suite !== "INTL" && d.suite !== "GM") throw new StoreError("INVALID_INPUT", "suite must be INTL or GM");
      const signing = str(d.signingKey, "signingKey", PUBKEY_RE);
      const auth = str(d.authKey, "authKey", PUBKEY_RE);
      if (d.status !== "pending" && d.status !== "active") throw new StoreError("INVALID_INPUT", "status must be pending or active");
      return exec.tx(async (tx) => {
        const t = now();
        const old = await tx.get<DeviceRow>("SELECT * FROM party_devices WHERE device_id = ?" + pgLock, [id]);
        if (old) {
          if (old.suite !== d.suite || old.signing_key !== signing || old.auth_key !== auth) throw new StoreError("DEVICE_EXISTS", "a device with this id is registered with other keys");
          return toDevice(old);
        }
        await tx.run("INSERT INTO party_devices (device_id, suite, signing_key, auth_key, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", [id, d.suite, signing, auth, d.status, t, t]);
        return { deviceId: id, suite: d.suite, signingKey: signing, authKey: auth, status: d.status, createdAt: t, updatedAt: t };
      });
    },

    async getDevice(deviceId) {
      const id = str(deviceId, "deviceId", DEVICE_ID_RE);
      const r = await exec.read((tx) => tx.get<DeviceRow>("SELECT * FROM party_devices WHERE device_id = ?", [id]));
      return r ? toDevice(r) : undefined;
    },

    async setDeviceStatus(deviceId, status) {
      const id = str(deviceId, "deviceId", DEVICE_ID_RE);
      if (status !== "active" && status !== "revoked") throw new StoreError("INVALID_INPUT", "status must be active or revoked");
      return exec.tx(async (tx) => {
        const old = await tx.get<DeviceRow>("SELECT * FROM party_devices WHERE device_id = ?" + pgLock, [id]);
        if (!old) throw new StoreError("DEVICE_UNKNOWN", "no registered device with this id");
        const next = old.status === "revoked" ? "revoked" : status;
        const t = now();
        await tx.run("UPDATE party_devices SET status = ?, updated_at = ? WHERE device_id = ?", [next, t, id]);
        return toDevice({ ...old, status: next, updated_at: t });
      });
    },

    async listDevices(status) {
      const rows = await exec.read((tx) =>
        status === undefined ? tx.all<DeviceRow>("SELECT * FROM party_devices ORDER BY device_id") : tx.all<DeviceRow>("SELECT * FROM party_devices WHERE status = ? ORDER BY device_id", [status]),
      );
      return rows.map(toDevice);
    },

    async beginVerify(input: BeginVerifyInput): Promise<BeginVerifyResult> {
      if (typeof input !== "object" || input === null) throw new TypeError("input must be an object");
      const session = str(input.session, "session", SESSION_RE);
      const tid = templateId(input.templateId);
      const mv = str(input.modelVersion, "modelVersion", MODEL_RE);
      const auth = checkAuth({ nonce: input.nonce, expires: input.expires })!;
      const marks = checkMarks(input.marks);
      const volume = input.volume === undefined ? undefined : { perMinute: duration(input.volume.perMinute, "volume.perMinute"), perDay: duration(input.volume.perDay, "volume.perDay") };
      const itemId = input.itemId === undefined ? undefined : str(input.itemId, "itemId", ITEM_RE);
      let upgrade: { mv: string; sealed: { keyId: string; blob: Buffer } } | undefined;
      if (input.upgrade !== undefined) {
        const umv = str(input.upgrade?.modelVersion, "upgrade.modelVersion", MODEL_RE);
        upgrade = { mv: umv, sealed: sealShare(tid, umv, bytes(input.upgrade.share, "upgrade.share", MAX_SHARE)) };
      }
      return exec.tx(async (tx) => {
        const t = now();
        await consumeAuth(tx, auth, t, marks);
        const r = await tx.get<TemplateRow>("SELECT model_version, key_id, share FROM party_templates WHERE template_id = ? AND status = 'active'", [tid]);
        if (!r) throw new StoreError("UNKNOWN_TEMPLATE", "no active template with this id");
        if (r.model_version !== mv) throw new StoreError("WRONG_MODEL_VERSION", "the active template is under another model version");
        if (volume) {
          const c = await tx.get<{ m: unknown; d: unknown }>(
            "SELECT count(CASE WHEN created_at > ? THEN 1 END) AS m, count(*) AS d FROM party_verifications WHERE template_id = ? AND created_at > ?",
            [t - 60_000, tid, t - 86_400_000],
          );
          if (toMs(c?.m ?? 0) >= volume.perMinute) throw new StoreError("VOLUME_EXCEEDED", "this template's verifications per minute reached the budget");
          if (toMs(c?.d ?? 0) >= volume.perDay) throw new StoreError("VOLUME_EXCEEDED", "this template's verifications per day reached the budget");
        }
        const item = itemId === undefined ? await takeInTx(tx, session, t) : await useInTx(tx, itemId, session, t);
        const n = await tx.run(
          "INSERT INTO party_verifications (session, template_id, model_version, item_id, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (session) DO NOTHING",
          [session, tid, mv, item.id, t],
        );
        if (n === 0) throw new StoreError("SESSION_EXISTS", "a verification with this session id was already begun");
        if (upgrade) await stageInTx(tx, session, tid, upgrade.mv, upgrade.sealed, t);
        return { share: openShare(r, tid, mv), item };
      });
    },

    async budget(tid, day) {
      templateId(tid);
      dayNumber(day);
      const r = await exec.read((tx) => tx.get<BudgetRow>(`${BUDGET_SELECT} WHERE template_id = ? AND day = ?`, [tid, day]));
      return budgetRecord(r);
    },

    async countVerification(tid, day) {
      templateId(tid);
      dayNumber(day);
      return exec.tx(async (tx) => {
        const t = now();
        await tx.run(
          "INSERT INTO party_budgets (template_id, day, runs, share, prev_runs, prev_share, verifications, exhausted, updated_at) VALUES (?, ?, 0, 0, 0, 0, 1, 0, ?) " +
            "ON CONFLICT (template_id, day) DO UPDATE SET verifications = party_budgets.verifications + 1, updated_at = excluded.updated_at",
          [tid, day, t],
        );
        return budgetRecord(await tx.get<BudgetRow>(`${BUDGET_SELECT} WHERE template_id = ? AND day = ?`, [tid, day]));
      });
    },

    async saveBudgetCounter(tid, day, counter) {
      templateId(tid);
      dayNumber(day);
      if (typeof counter !== "object" || counter === null) throw new TypeError("counter must be { runs, share, prevRuns, prevShare }");
      const { runs, share, prevRuns, prevShare } = counter;
      for (const [n, v, max] of [["runs", runs, 2 ** 32 - 1], ["prevRuns", prevRuns, 2 ** 32 - 1], ["share", share, 0xffff], ["prevShare", prevShare, 0xffff]] as const) {
        if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`counter.${n} must be an integer in [0, ${max}]`);
      }
      await exec.tx(async (tx) => {
        const t = now();
        await tx.run(
          "INSERT INTO party_budgets (template_id, day, runs, share, prev_runs, prev_share, verifications, exhausted, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?) " +
            "ON CONFLICT (template_id, day) DO UPDATE SET runs = excluded.runs, share = excluded.share, prev_runs = excluded.prev_runs, prev_share = excluded.prev_share, updated_at = excluded.updated_at",
          [tid, day, runs, share, prevRuns, prevShare, t],
        );
      });
    },

    async markBudgetExhausted(tid, day) {
      templateId(tid);
      dayNumber(day);
      await exec.tx(async (tx) => {
        const t = now();
        await tx.run(
          "INSERT INTO party_budgets (template_id, day, runs, share, prev_runs, prev_share, verifications, exhausted, updated_at) VALUES (?, ?, 0, 0, 0, 0, 0, 1, ?) " +
            "ON CONFLICT (template_id, day) DO UPDATE SET exhausted = 1, updated_at = excluded.updated_at",
          [tid, day, t],
        );
      });
    },

    async purge(opts) {
      if (typeof opts !== "object" || opts === null) throw new TypeError("opts must be { sessionsMs, usedItemsMs }");
      const sessionsMs = duration(opts.sessionsMs, "opts.sessionsMs");
      const usedItemsMs = duration(opts.usedItemsMs, "opts.usedItemsMs");
      const out = await exec.tx(async (tx) => {
        const t = now();
        let sessions = await tx.run("DELETE FROM party_verifications WHERE created_at < ?", [t - sessionsMs]);
        sessions += await tx.run("DELETE FROM party_sessions WHERE state <> 'prepared' AND updated_at < ?", [t - sessionsMs]);
        const items = await tx.run("DELETE FROM party_pool WHERE used_at IS NOT NULL AND used_at < ?", [t - usedItemsMs]);
        await tx.run("DELETE FROM party_authorisations WHERE expires < ?", [t]);
        await tx.run("DELETE FROM party_budgets WHERE day < ?", [Math.floor(t / 86_400_000) - 1]);
        return { sessions, items, ciphertexts: 0 };
      });
      // Ciphertexts of used items (whatever their age: their keys are gone), in chunks of
      // SWEEP_CHUNK per transaction. One read lists them; each chunk re-checks in its transaction.
      const garbage = await exec.read((tx) =>
        tx.all<{ seq: unknown }>("SELECT b.seq FROM party_pool_items b LEFT JOIN party_pool p ON p.seq = b.seq WHERE p.seq IS NULL OR p.used_at IS NOT NULL ORDER BY b.seq"),
      );
      for (let i = 0; i < garbage.length; i += SWEEP_CHUNK) {
        const chunk = garbage.slice(i, i + SWEEP_CHUNK);
        out.ciphertexts += await exec.tx((tx) => sweepUsed(tx, SWEEP_CHUNK, chunk[0].seq, chunk[chunk.length - 1].seq));
      }
      return out;
    },

    async rotateDataKey(newKeyId) {
      if (typeof newKeyId !== "string") throw new TypeError("newKeyId must be a string");
      if (!keys.has(newKeyId)) throw new StoreError("KEY_UNKNOWN", `add key ${JSON.stringify(newKeyId)} to dataKeys.keys before rotating to it`);
      checkKey(newKeyId, keys.get(newKeyId));
      currentKeyId = newKeyId;
      const BATCH = 200;
      let templates = 0;
      let items = 0;
      for (;;) {
        const n = await exec.tx(async (tx) => {
          const rows = await tx.all<TemplateRow>(
            `SELECT template_id, model_version, key_id, share FROM party_templates WHERE share IS NOT NULL AND key_id <> ? LIMIT ${BATCH}${pgLock}`,
            [newKeyId],
          );
          for (const r of rows) {
            const plain = openShare(r, r.template_id, r.model_version);
            const sealed = sealShare(r.template_id, r.model_version, plain);
            plain.fill(0);
            await tx.run("UPDATE party_templates SET key_id = ?, share = ? WHERE template_id = ? AND model_version = ?", [
              sealed.keyId,
              sealed.blob,
              r.template_id,
              r.model_version,
            ]);
          }
          return rows.length;
        });
        templates += n;
        if (n < BATCH) break;
      }
      // Pool items: 001 leftovers are re-encrypted under per-item keys (now under newKeyId); the rest
      // only get their 61-byte item key re-wrapped, the ciphertexts stay as they are.
      items += await convertLegacy();
      for (;;) {
        const n = await exec.tx(async (tx) => {
          const rows = await tx.all<{ seq: unknown; id: string; key_id: string | null; item_key: unknown }>(
            `SELECT seq, id, key_id, item_key FROM party_pool WHERE used_at IS NULL AND key_id <> ? LIMIT ${BATCH}${pgLock}`,
            [newKeyId],
          );
          for (const r of rows) {
            if (isLegacy(r)) throw new StoreError("KEY_UNKNOWN", `pool item under missing key ${JSON.stringify(r.key_id)} (add it and rerun)`);
            const itemKey = unwrapItemKey(r, r.id);
            const w = wrapItemKey(r.id, itemKey);
            itemKey.fill(0);
            await tx.run("UPDATE party_pool SET key_id = ?, item_key = ? WHERE seq = ?", [w.keyId, w.wrapped, r.seq]);
          }
          return rows.length;
        });
        items += n;
        if (n < BATCH) break;
      }
      if (templates + items > 0) await checkpoint();
      return { templates, items };
    },

    async backup(path) {
      if (typeof path !== "string" || path.length === 0) throw new TypeError("path must be a non-empty string");
      const s = db.sqlite;
      if (!s) throw new StoreError("UNSUPPORTED", "backup() is for SQLite; back PostgreSQL up with pg_dump (the dump holds the same encrypted columns)");
      await s.backup(path);
      chmodSync(path, 0o600);
      const label = {
        classification: "C3",
        contents: `privface party ${role} store: template shares and correlated randomness, encrypted with AES-256-GCM under the party's data keys`,
        keyIds: [...keys.keys()],
        createdAt: new Date(now()).toISOString(),
      };
      writeFileSync(`${path}.label.json`, JSON.stringify(label, null, 2) + "\n", { mode: 0o600 });
    },
  };
  return store;
}

