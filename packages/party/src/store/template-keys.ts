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

  return {
    path: file,
    get(tid) {
      const r = getQ.get(tid) as { kid: unknown; key_id: string; wrapped: unknown } | undefined;
      return r ? { kid: Buffer.from(toBytes(r.kid)), keyId: r.key_id, wrapped: toBytes(r.wrapped) } : undefined;
    },
    put(tid, row) {
      putQ.run(tid, row.kid, row.keyId, Buffer.from(row.wrapped));
    },
    rewrap(tid, keyId, wrapped) {
      rewrapQ.run(keyId, Buffer.from(wrapped), tid);
    },
    wrappedOtherThan: (keyId, limit) => otherQ.all(keyId, limit) as string[],
    destroy: (tid) => delQ.run(tid).changes > 0,
    destroyAll: () => s.prepare("DELETE FROM template_keys").run().changes,
    async scrub() {
      if (!(await truncateWal(db, 5_000))) throw new StoreError("INTEGRITY", "template-key register: the WAL could not be truncated after a key was destroyed");
    },
    count: () => Number(countQ.get()),
    close: () => closeDb(db),
  };
}

/** A fresh key id (8 random bytes). */
export const newKid = (): Buffer => randomBytes(8);
