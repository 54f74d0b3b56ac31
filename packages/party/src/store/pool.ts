/**
 * The correlated-randomness pool (`party_pool` markers, `party_pool_items` ciphertexts) and the
 * verify sessions that use it (`party_verifications`): each item used at most once, even across
 * crashes; a used item's key is erased in the transaction that uses it, its ciphertext deleted later.
 * `beginVerify` is the hot path: one transaction that consumes the authorisation, loads the active
 * share, takes a pool item and records the session. `purge` is the store's housekeeping.
 * P0 reserves items for the item nonces it issues (`reserveItems`, decision 012): a reserved item is
 * used only by name (its nonce's verification) and discarded unused by the purge once its nonce has
 * expired — never taken by another run, never handed out again.
 */
import { toBytes, toMs, type Tx } from "@privface/db";
import { aad, decrypt } from "./_aead.ts";
import type { StoreContext } from "./_context.ts";
import { StoreError } from "./_errors.ts";
import { ITEM_RE, MAX_ITEM, MAX_SHARE, MODEL_RE, SESSION_RE, bytes, checkAuth, checkMarks, dayNumber, duration, ms, str, templateId } from "./_input.ts";
import type { BeginVerifyInput, BeginVerifyResult, PartyStore, PoolItem } from "./index.ts";
import { readBudget } from "./budgets.ts";
import { consumeAuth } from "./nonces.ts";
import { stageInTx } from "./sessions.ts";
import { activeRow } from "./templates.ts";

const ADD_CHUNK = 64;
const SWEEP_CHUNK = 500;

/** A pool row joined with its ciphertext (`item`: NULL once swept). */
type PoolRow = { seq: unknown; id: string; key_id: string | null; item_key: unknown; item: unknown; used_at?: unknown };

const POOL_SELECT = "SELECT p.seq, p.id, p.key_id, p.item_key, p.used_at, b.item FROM party_pool p LEFT JOIN party_pool_items b ON b.seq = p.seq";

function openItem(ctx: StoreContext, r: PoolRow): Uint8Array {
  const { keyring, role } = ctx;
  if (r.item === null || r.item === undefined) throw new StoreError("INTEGRITY", "pool item has no ciphertext");
  const itemKey = keyring.unwrapItemKey(r, r.id);
  try {
    return decrypt(itemKey, toBytes(r.item), aad("poolitem", role, r.id));
  } finally {
    itemKey.fill(0);
  }
}

/** SQLite (its write lock is the database's; PostgreSQL: `takePg`). */
async function takeInTx(ctx: StoreContext, tx: Tx, session: string | null, t: number): Promise<PoolItem> {
  const row = await tx.get<PoolRow>(`${POOL_SELECT} WHERE p.used_at IS NULL AND p.reserved_until IS NULL ORDER BY p.seq LIMIT 1`);
  if (!row) throw new StoreError("POOL_EXHAUSTED", "no unused correlated randomness in the pool");
  return useRow(ctx, tx, row, session, t);
}

async function useInTx(ctx: StoreContext, tx: Tx, id: string, session: string | null, t: number): Promise<PoolItem> {
  const row = await tx.get<PoolRow>(`${POOL_SELECT} WHERE p.id = ?`, [id]);
  if (!row) throw new StoreError("ITEM_UNKNOWN", "no pool item with this id");
  if (row.used_at !== null && row.used_at !== undefined) throw new StoreError("ITEM_REUSED", "pool item was already used");
  return useRow(ctx, tx, row, session, t);
}

/**
 * Marks the item used and erases its wrapped key (crypto-erasure: the ciphertext in
 * party_pool_items can no longer be decrypted and is deleted later by sweepUsed). Decrypts before
 * the update so a missing key or a bad ciphertext rolls the transaction back with the item unused.
 */
async function useRow(ctx: StoreContext, tx: Tx, row: PoolRow, session: string | null, t: number): Promise<PoolItem> {
  const bytes = openItem(ctx, row);
  await tx.run("UPDATE party_pool SET used_at = ?, session = ?, item_key = NULL, key_id = NULL WHERE seq = ?", [t, session, row.seq]);
  return { id: row.id, bytes };
}

/** SQLite: `takePg` with `begin` as consecutive statements. */
async function takeAndBegin(ctx: StoreContext, tx: Tx, a: { itemId?: string; session: string; tid: string; mv: string; t: number }): Promise<PoolItem> {
  const item = a.itemId === undefined ? await takeInTx(ctx, tx, a.session, a.t) : await useInTx(ctx, tx, a.itemId, a.session, a.t);
  const n = await tx.run(
    "INSERT INTO party_verifications (session, template_id, model_version, item_id, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (session) DO NOTHING",
    [a.session, a.tid, a.mv, item.id, a.t],
  );
  if (n === 0) throw new StoreError("SESSION_EXISTS", "a verification with this session id was already begun");
  return item;
}

/**
 * PostgreSQL: takes the next unused item (or, with `itemId`, the item named), marks it used and
 * erases its key — and for a verification (`begin`) records the verify session — in ONE statement (no
 * round trip between reading the item and using it), so `beginVerify` sends it with its checks. The
 * row comes back as it was before (its key still there, to decrypt here); `begun` is 0 when the
 * session existed, `used_at` set when the named item was used before (then nothing was changed).
 * Thrown errors roll the whole write back, the item with it.
 */
const TAKE_PG = (named: boolean, begin: boolean) =>
  `WITH item AS (SELECT p.seq, p.id, p.key_id, p.item_key, p.used_at FROM party_pool p WHERE ${named ? "p.id = ? FOR UPDATE OF p" : "p.used_at IS NULL AND p.reserved_until IS NULL ORDER BY p.seq LIMIT 1 FOR UPDATE OF p SKIP LOCKED"}),
   used AS (UPDATE party_pool SET used_at = ?, session = ?, item_key = NULL, key_id = NULL FROM item WHERE party_pool.seq = item.seq AND item.used_at IS NULL RETURNING party_pool.seq)` +
  (begin
    ? `, begun AS (INSERT INTO party_verifications (session, template_id, model_version, item_id, created_at)
     SELECT ?, ?, ?, item.id, ? FROM item WHERE item.used_at IS NULL ON CONFLICT (session) DO NOTHING RETURNING 1)`
    : "") +
  ` SELECT item.seq, item.id, item.key_id, item.item_key, item.used_at, b.item, (SELECT count(*) FROM used) AS used${begin ? ", (SELECT count(*) FROM begun) AS begun" : ""}
   FROM item LEFT JOIN party_pool_items b ON b.seq = item.seq`;

async function takePg(ctx: StoreContext, tx: Tx, a: { itemId?: string; session: string | null; t: number; begin?: { tid: string; mv: string } }): Promise<PoolItem> {
  const named = a.itemId !== undefined;
  const params = [...(named ? [a.itemId] : []), a.t, a.session, ...(a.begin ? [a.session, a.begin.tid, a.begin.mv, a.t] : [])];
  const row = await tx.get<PoolRow & { begun?: unknown }>(TAKE_PG(named, a.begin !== undefined), params);
  if (!row) throw named ? new StoreError("ITEM_UNKNOWN", "no pool item with this id") : new StoreError("POOL_EXHAUSTED", "no unused correlated randomness in the pool");
  if (row.used_at !== null && row.used_at !== undefined) throw new StoreError("ITEM_REUSED", "pool item was already used");
  if (a.begin && Number(row.begun) === 0) throw new StoreError("SESSION_EXISTS", "a verification with this session id was already begun");
  return { id: row.id, bytes: openItem(ctx, row) };
}

/**
 * Deletes the ciphertexts of used (or purged) pool items: without a range, at most `limit` of those
 * with seq < the oldest unused item (an index seek; what P0's take order leaves behind); with a range
 * [from, to], all of them in it.
 * They are undecryptable garbage, so SQLite deletes them without zeroing (secure_delete FAST): the
 * pages go to the freelist and are reused by the next refill.
 */
async function sweepUsed(ctx: StoreContext, tx: Tx, limit: number, from: unknown = null, to: unknown = null): Promise<number> {
  const s = ctx.db.sqlite;
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
    if (s) s.pragma(`secure_delete = ${ctx.secureDelete === "on" ? "ON" : "FAST"}`);
  }
}

export function poolOps(ctx: StoreContext): Pick<PartyStore, "addItems" | "takeItem" | "markUsed" | "reserveItems" | "poolLevel" | "discardPool" | "beginVerify" | "purge"> {
  const { exec, keyring, now } = ctx;
  return {
    async addItems(items) {
      if (!Array.isArray(items)) throw new TypeError("items must be an array of { id, bytes }");
      const sealed = items.map((it, i) => {
        if (typeof it !== "object" || it === null) throw new TypeError(`items[${i}] must be { id, bytes }`);
        const id = str(it.id, `items[${i}].id`, ITEM_RE);
        return { id, ...keyring.sealItem(id, bytes(it.bytes, `items[${i}].bytes`, MAX_ITEM)) };
      });
      // Chunks of ADD_CHUNK items per transaction, so a large refill never holds the (SQLite) writer
      // long enough to stall verifications. Re-adding is idempotent, so a partial refill is harmless.
      let added = 0;
      for (let i = 0; i < sealed.length; i += ADD_CHUNK) {
        const chunk = sealed.slice(i, i + ADD_CHUNK);
        added += await exec.tx(async (tx) => {
          const t = now();
          // Make room first: the freed pages of used ciphertexts take the new ones (no file growth).
          await sweepUsed(ctx, tx, 2 * ADD_CHUNK);
          // two statements per chunk (an item already there is skipped: not returned, not stored)
          const rows = await tx.all<{ id: string; seq: unknown }>(
            `INSERT INTO party_pool (id, key_id, item_key, added_at) VALUES ${chunk.map(() => "(?, ?, ?, ?)").join(", ")} ON CONFLICT (id) DO NOTHING RETURNING id, seq`,
            chunk.flatMap((s) => [s.id, s.keyId, s.wrapped, t]),
          );
          if (rows.length === 0) return 0;
          const blobs = new Map(chunk.map((s) => [s.id, s.blob]));
          await tx.run(`INSERT INTO party_pool_items (seq, item) VALUES ${rows.map(() => "(?, ?)").join(", ")}`, rows.flatMap((r) => [r.seq, blobs.get(r.id)]));
          return rows.length;
        });
      }
      return { added };
    },

    async takeItem(session) {
      if (session !== undefined) str(session, "session", SESSION_RE);
      const pg = exec.dialect === "postgres";
      return exec.tx((tx) => (pg ? takePg(ctx, tx, { session: session ?? null, t: now() }) : takeInTx(ctx, tx, session ?? null, now())));
    },

    async markUsed(id, session) {
      str(id, "id", ITEM_RE);
      if (session !== undefined) str(session, "session", SESSION_RE);
      const pg = exec.dialect === "postgres";
      return exec.tx((tx) => (pg ? takePg(ctx, tx, { itemId: id, session: session ?? null, t: now() }) : useInTx(ctx, tx, id, session ?? null, now())));
    },

    async reserveItems(count, until) {
      if (!Number.isSafeInteger(count) || count < 1 || count > 256) throw new RangeError("count must be an integer 1..256");
      const u = ms(until, "until");
      const lock = exec.dialect === "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
      return exec.tx(async (tx) => {
        if (u <= now()) throw new StoreError("INVALID_INPUT", "until must be in the future");
        const rows = await tx.all<{ id: string }>(
          `UPDATE party_pool SET reserved_until = ? WHERE seq IN (SELECT seq FROM party_pool WHERE used_at IS NULL AND reserved_until IS NULL ORDER BY seq LIMIT ${count}${lock}) RETURNING id`,
          [u],
        );
        return rows.map((r) => r.id);
      });
    },

    async poolLevel() {
      // reserved items are spoken for (a nonce whose verification never comes leaves its item reserved until it expires)
      const r = await exec.read((tx) => tx.get<{ n: unknown }>("SELECT count(*) AS n FROM party_pool WHERE used_at IS NULL AND reserved_until IS NULL"));
      return toMs(r?.n ?? 0);
    },

    async discardPool() {
      const t = now();
      return exec.tx((tx) => tx.run("UPDATE party_pool SET used_at = ?, session = NULL, item_key = NULL, key_id = NULL WHERE used_at IS NULL", [t]));
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
      const day = input.budget === undefined ? undefined : dayNumber(input.budget.day);
      let upgrade: { mv: string; sealed: { keyId: string; blob: Buffer } } | undefined;
      if (input.upgrade !== undefined) {
        const umv = str(input.upgrade?.modelVersion, "upgrade.modelVersion", MODEL_RE);
        upgrade = { mv: umv, sealed: keyring.sealShare(tid, umv, bytes(input.upgrade.share, "upgrade.share", MAX_SHARE)) };
      }
      return exec.tx(async (tx) => {
        const t = now();
        // independent statements go out together (pipelined on PostgreSQL); an authorisation error
        // still comes first, then the template's, then the volume's, then the failure budget's
        const checks = Promise.all([
          consumeAuth(ctx, tx, auth, t, marks),
          activeRow(tx, tid),
          volume
            ? tx.get<{ m: unknown; d: unknown }>(
                "SELECT count(CASE WHEN created_at > ? THEN 1 END) AS m, count(*) AS d FROM party_verifications WHERE template_id = ? AND created_at > ?",
                [t - 60_000, tid, t - 86_400_000],
              )
            : undefined,
          day === undefined ? undefined : readBudget(tx, tid, day),
        ]);
        // PostgreSQL: the item is taken and the session recorded by one statement that goes out right
        // after the checks (one round trip for all; a failed check rolls it back). SQLite has no round
        // trips: it takes the item after the checks.
        const taking = exec.dialect === "postgres" ? takePg(ctx, tx, { itemId, session, t, begin: { tid, mv } }) : undefined;
        taking?.catch(() => {}); // awaited below, unless a check failed first
        const [, r, c, budget] = await checks;
        if (!r) throw new StoreError("UNKNOWN_TEMPLATE", "no active template with this id");
        if (r.model_version !== mv) throw new StoreError("WRONG_MODEL_VERSION", "the active template is under another model version");
        if (volume) {
          if (toMs(c?.m ?? 0) >= volume.perMinute) throw new StoreError("VOLUME_EXCEEDED", "this template's verifications per minute reached the budget");
          if (toMs(c?.d ?? 0) >= volume.perDay) throw new StoreError("VOLUME_EXCEEDED", "this template's verifications per day reached the budget");
        }
        if (budget?.exhausted) throw new StoreError("BUDGET_EXHAUSTED", "the template's daily failure budget is used up: refused until the day ends (UTC)");
        const item = taking ? await taking : await takeAndBegin(ctx, tx, { itemId, session, tid, mv, t });
        if (upgrade) await stageInTx(ctx, tx, session, tid, upgrade.mv, upgrade.sealed, t);
        return { share: keyring.openShare(r, tid, mv), item, budget };
      });
    },

    async purge(opts) {
      if (typeof opts !== "object" || opts === null) throw new TypeError("opts must be { sessionsMs, usedItemsMs }");
      const sessionsMs = duration(opts.sessionsMs, "opts.sessionsMs");
      const usedItemsMs = duration(opts.usedItemsMs, "opts.usedItemsMs");
      const unusedItemsMs = opts.unusedItemsMs === undefined ? undefined : duration(opts.unusedItemsMs, "opts.unusedItemsMs");
      const out = await exec.tx(async (tx) => {
        const t = now();
        // reservations whose item nonce has expired: the item is discarded unused (P1 may have used its
        // half in a run P0 refused), never handed out again
        await tx.run("UPDATE party_pool SET used_at = ?, session = NULL, item_key = NULL, key_id = NULL WHERE used_at IS NULL AND reserved_until <= ?", [t, t]);
        // the age bound: unused, unreserved items older than unusedItemsMs are discarded the same way
        if (unusedItemsMs !== undefined) {
          await tx.run("UPDATE party_pool SET used_at = ?, session = NULL, item_key = NULL, key_id = NULL WHERE used_at IS NULL AND reserved_until IS NULL AND added_at < ?", [t, t - unusedItemsMs]);
        }
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
        out.ciphertexts += await exec.tx((tx) => sweepUsed(ctx, tx, SWEEP_CHUNK, chunk[0].seq, chunk[chunk.length - 1].seq));
      }
      return out;
    },
  };
}
