/**
 * A minimal executor with cached prepared statements: the one way the party store, the gateway store
 * and the audit log reach SQL (decision 008), so one operation is one transaction of a few prepared
 * statements on either dialect (a savepoint inside a transaction shared with the other operations
 * of the same event-loop turn: `groupWrite`).
 *
 * SQL is written once with `?` placeholders (turned into $1, $2, … for PostgreSQL).
 * - SQLite: statements are prepared once per connection (better-sqlite3) and run synchronously inside
 *   `BEGIN IMMEDIATE … COMMIT`, while holding the connection's mutex (`db.exclusive`), so nothing else
 *   (e.g. a Kysely migration on the same connection) can interleave. The write
 *   transactions of one event-loop turn share one commit (group commit, each in its own savepoint).
 * - PostgreSQL: named prepared statements (parsed once per connection by pg), READ COMMITTED; rows
 *   that must not be taken twice are locked with FOR UPDATE. Writes: a savepoint in the group commit
 *   of the turn (`groupWrite`: one transaction, one WAL flush, on a pipelined connection); reads: any
 *   pooled connection. A lost connection surfaces as DbError DB_UNAVAILABLE.
 */
import { createHash } from "node:crypto";
import { asDbError, dbStats, type Db, type PgConnection } from "./index.ts";
import type BetterSqlite3 from "better-sqlite3";

export interface Tx {
  get<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a statement; returns the number of changed rows. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

export interface Exec {
  readonly dialect: "sqlite" | "postgres";
  /** Runs `fn` in one write transaction; commits if it resolves, rolls back if it throws. */
  tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs read-only statements outside a transaction. */
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

export function createExec(db: Db): Exec {
  return db.dialect === "sqlite" ? sqliteExec(db) : pgExec(db);
}

function sqliteExec(db: Db): Exec {
  const s = db.sqlite!;
  const cache = new Map<string, BetterSqlite3.Statement>();
  const stmt = (text: string): BetterSqlite3.Statement => {
    dbStats.statements++;
    let st = cache.get(text);
    if (!st) {
      st = s.prepare(text);
      cache.set(text, st);
    }
    return st;
  };
  const tx: Tx = {
    get: async (text, params = []) => stmt(text).get(...params) as never,
    all: async (text, params = []) => stmt(text).all(...params) as never,
    run: async (text, params = []) => stmt(text).run(...params).changes,
  };
  return {
    dialect: "sqlite",
    // one savepoint in the group commit of this event-loop turn (@privface/db groupWrite)
    tx: (fn) => db.groupWrite(() => fn(tx)),
    read: (fn) => timedRead(() => db.exclusive(() => fn(tx))),
  };
}

function pgExec(db: Db): Exec {
  const pool = db.pool!;
  const names = new Map<string, { name: string; text: string }>();
  const prep = (text: string) => {
    dbStats.statements++;
    let p = names.get(text);
    if (!p) {
      let i = 0;
      // Named by a hash of the text: stores sharing a pool agree on names, and a name never means two statements.
      p = { name: `q_${createHash("sha256").update(text).digest("hex").slice(0, 24)}`, text: text.replace(/\?/g, () => `$${++i}`) };
      names.set(text, p);
    }
    return p;
  };
  type Client = { query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: any[]; rowCount: number | null }> };
  const make = (c: Client | PgConnection): Tx => {
    // statements sent in one synchronous stretch travel together: one round trip (dbStats.roundTrips)
    let sending = false;
    const q = (text: string, params: readonly unknown[]) => {
      if (!sending) {
        sending = true;
        dbStats.roundTrips++;
        queueMicrotask(() => (sending = false));
      }
      return c.query({ ...prep(text), values: [...params] });
    };
    return {
      get: async (text, params = []) => (await q(text, params)).rows[0],
      all: async (text, params = []) => (await q(text, params)).rows,
      run: async (text, params = []) => (await q(text, params)).rowCount ?? 0,
    };
  };
  return {
    dialect: "postgres",
    // one savepoint in the group commit of this event-loop turn (@privface/db groupWrite)
    tx: (fn) => db.groupWrite((conn) => fn(make(conn!))),
    read: (fn) =>
      timedRead(() =>
        fn(make(pool)).catch((e: unknown) => {
          throw asDbError(e);
        }),
      ),
  };
}

/** Runs a read, counted in `dbStats`. */
function timedRead<T>(run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  dbStats.reads++;
  return run().finally(() => (dbStats.readMs += performance.now() - t0));
}

/** True for a unique / primary-key violation on either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
