/**
 * The template-key register (issue 13, crypto-erasure that survives backups): one random 32-byte key
 * per template, stored wrapped under the party's data key in its OWN SQLite file — never in the
 * party's database, so never in a database backup. A template's shares (every model version) are
 * sealed under its key; erasing the template destroys the key here first (`secure_delete`, the WAL
 * truncated and checked), so a copy of the database taken earlier — a backup, a snapshot, a stolen
 * file — holds ciphertext no key opens any more, even with every data key and the key secret.
 *
 * Synchronous (better-sqlite3 on a connection of its own, `synchronous = FULL`: a key is on disk before
 * the share that needs it is committed), so the store's transactions can open shares inside them.
 * Several processes of one party (the server, `privface party …`) may open the same file.
 */
import { randomBytes } from "node:crypto";
import { closeDb, openDb, toBytes, type Db } from "@privface/db";
import { truncateWal } from "@privface/db/checkpointer";
import { StoreError } from "./_errors.ts";

export interface TemplateKeyRow {
  /** 8 random bytes naming this key (carried in each share sealed under it) */
  kid: Buffer;
  /** the data key wrapping it */
  keyId: string;
  wrapped: Uint8Array;
}

export interface TemplateKeys {
  /** Where the register lives (":memory:" for a test register). */
  readonly path: string;
  get(templateId: string): TemplateKeyRow | undefined;
  /** Stores a new key for a template that has none (durably, before returning). */
  put(templateId: string, row: TemplateKeyRow): void;
  /** Re-wraps one key (data-key rotation). */
  rewrap(templateId: string, keyId: string, wrapped: Uint8Array): void;
  /** Ids of keys not wrapped under `keyId` (data-key rotation), at most `limit`. */
  wrappedOtherThan(keyId: string, limit: number): string[];
  /**
   * Destroys the template's key (true if there was one), durably. Synchronous, so the store does it
   * inside the transaction that erases the rows; then `scrub()` takes the erased page out of the WAL.
   */
  destroy(templateId: string): boolean;
  /** Destroys every key (an institution's exit); returns how many. Then `scrub()`. */
  destroyAll(): number;
  /** Truncates the register's WAL (checked): destroyed keys are then gone from both files. */
  scrub(): Promise<void>;
  count(): number;
  close(): Promise<void>;
}

/** How many wrapped rows the register keeps in memory (least recently read out first). */
const CACHE_MAX = 4096;

/** Opens (creating if needed) the register at `path` ("sqlite:…" prefix optional; ":memory:" for tests). */
export async function openTemplateKeys(path: string): Promise<TemplateKeys> {
  if (typeof path !== "string" || path.length === 0) throw new TypeError("templateKeys: path must be a non-empty string");
  const file = path.startsWith("sqlite:") ? path.slice("sqlite:".length) : path;
  const db: Db = await openDb(`sqlite:${file}`, { synchronous: "FULL" });
  const s = db.sqlite!;
  s.pragma("secure_delete = ON");
  s.exec("CREATE TABLE IF NOT EXISTS template_keys (template_id TEXT PRIMARY KEY, kid BLOB NOT NULL, key_id TEXT NOT NULL, wrapped BLOB NOT NULL) WITHOUT ROWID");
  const getQ = s.prepare("SELECT kid, key_id, wrapped FROM template_keys WHERE template_id = ?");
  const putQ = s.prepare("INSERT INTO template_keys (template_id, kid, key_id, wrapped) VALUES (?, ?, ?, ?)");
  const rewrapQ = s.prepare("UPDATE template_keys SET key_id = ?, wrapped = ? WHERE template_id = ?");
  const otherQ = s.prepare("SELECT template_id FROM template_keys WHERE key_id <> ? LIMIT ?").pluck();
  const delQ = s.prepare("DELETE FROM template_keys WHERE template_id = ?");
  const countQ = s.prepare("SELECT count(*) FROM template_keys").pluck();
  const versionQ = s.prepare("PRAGMA data_version").pluck();

  // The rows read last (still wrapped under the data key), so a verification does not query the
  // register (issue 12's CPU budget). This connection's own changes update or drop an entry at once
  // (a destroyed key leaves memory with its row); another connection's commit (another process of
  // the party) changes `data_version`, and the next lookup then drops them all before reading.
  const cache = new Map<string, TemplateKeyRow>();
  let version = versionQ.get();
  const fresh = () => {
    const v = versionQ.get();
    if (v !== version) {
      version = v;
      wipe();
    }
  };
  const drop = (tid: string) => {
    const r = cache.get(tid);
    if (r) r.wrapped.fill(0);
    cache.delete(tid);
  };
  const wipe = () => {
    for (const r of cache.values()) r.wrapped.fill(0);
    cache.clear();
  };
  const copy = (r: TemplateKeyRow): TemplateKeyRow => ({ kid: Buffer.from(r.kid), keyId: r.keyId, wrapped: Uint8Array.from(r.wrapped) });

  return {
    path: file,
    get(tid) {
      fresh();
      let row = cache.get(tid);
      if (row) {
        cache.delete(tid); // re-inserted: the most recently read last
        cache.set(tid, row);
      } else {
        const r = getQ.get(tid) as { kid: unknown; key_id: string; wrapped: unknown } | undefined;
        if (!r) return undefined;
        row = { kid: Buffer.from(toBytes(r.kid)), keyId: r.key_id, wrapped: Uint8Array.from(toBytes(r.wrapped)) };
        if (cache.size >= CACHE_MAX) drop(cache.keys().next().value!);
        cache.set(tid, row);
      }
      return copy(row);
    },
    put(tid, row) {
      drop(tid);
      putQ.run(tid, row.kid, row.keyId, Buffer.from(row.wrapped));
    },
    rewrap(tid, keyId, wrapped) {
      drop(tid);
      rewrapQ.run(keyId, Buffer.from(wrapped), tid);
    },
    wrappedOtherThan: (keyId, limit) => otherQ.all(keyId, limit) as string[],
    destroy(tid) {
      drop(tid);
      return delQ.run(tid).changes > 0;
    },
    destroyAll() {
      wipe();
      return s.prepare("DELETE FROM template_keys").run().changes;
    },
    async scrub() {
      if (!(await truncateWal(db, 5_000))) throw new StoreError("INTEGRITY", "template-key register: the WAL could not be truncated after a key was destroyed");
    },
    count: () => Number(countQ.get()),
    close() {
      wipe();
      return closeDb(db);
    },
  };
}

/** A fresh key id (8 random bytes). */
export const newKid = (): Buffer => randomBytes(8);
