/**
 * @privface/db — one SQL layer over embedded SQLite (better-sqlite3) and PostgreSQL (pg).
 * `openDb(url)` picks the dialect from the URL, `migrate(db, migrations, { table })` runs a package's
 * own migration set through Kysely (one migration table per package, so several packages can share
 * one database), `createExec(db)` runs queries (./exec.ts; decision 008: every query of the party
 * store, the gateway store and the audit log goes through it), and a few helpers keep column types and values portable between the two dialects:
 * `bytesType` (blob / bytea), `timestampType` (epoch milliseconds as a 64-bit integer), `toBytes`
 * and `bytesParam` (byte normalisation), `toMs` (numbers from either driver).
 *
 * Durability (SQLite): journal_mode = WAL with synchronous = NORMAL. A commit survives a crash of the
 * process (the WAL frames are in the OS before `COMMIT` returns), but an OS crash or power loss may
 * roll back the last transactions since the WAL was last synced (at checkpoints); the database is
 * never corrupted. Pass `{ synchronous: "FULL" }` to fsync every commit instead (≈ 1–5 ms each).
 */
import { mkdirSync, openSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDialectConfig,
  type Migration,
  type MigrationProvider,
} from "kysely";

export type Dialect = "sqlite" | "postgres";

/**
 * What this process asked of its databases (all handles), for benchmarks to divide by their requests:
 * `commits` write transactions committed (a group commit is one, however many writes it carries),
 * `writes` `groupWrite` calls, `statements` statements run through `createExec` (reads and writes),
 * `roundTrips` (PostgreSQL) the times statements went out and were waited for (statements sent
 * together count once; a group's BEGIN and SAVEPOINTs travel with them, its COMMIT is a `commits`),
 * `writeMs` the writes' time from call to settlement (summed), `waitMs` the part of it before their
 * group began, `commitMs` the time in COMMIT (summed
 * over groups), `reads` / `readMs` `createExec` reads and their time.
 * With PRIVFACE_DB_STATS_DIR set, the process writes them to `<dir>/<pid>.json` every 200 ms.
 */
export const dbStats = { commits: 0, writes: 0, statements: 0, roundTrips: 0, writeMs: 0, waitMs: 0, commitMs: 0, reads: 0, readMs: 0 };
let statsTimer: NodeJS.Timeout | undefined;
/**
 * Writes `dbStats` in place (one `pwrite` at offset 0, padded to the longest text so far) when they
 * changed: no new file, truncation or rename per tick, which on ext4 cost ≈ 1–2 ms of blocked event
 * loop each (5 a second in every server of a benchmark, measured into its figures). A reader may
 * catch a write half done: it parses again (`devstack` `dbStatsOf`).
 */
function writeStatsEvery200ms(): void {
  const dir = process.env.PRIVFACE_DB_STATS_DIR;
  if (!dir || statsTimer) return;
  mkdirSync(dir, { recursive: true });
  const fd = openSync(join(dir, `${process.pid}.json`), "w");
  let last = "";
  statsTimer = setInterval(() => {
    const text = JSON.stringify(dbStats);
    if (text === last.trimEnd()) return;
    last = text.padEnd(last.length);
    writeSync(fd, last, 0);
  }, 200);
  statsTimer.unref();
}

/** An open database: the Kysely instance plus what portable code needs to know about it. */
export interface Db {
  /** Kysely: the schema builder of the migrations (`migrate`). Queries go through `createExec` (decision 008). */
  readonly kysely: Kysely<any>;
  readonly dialect: Dialect;
  /** The PostgreSQL schema this handle works in (search_path), if one was given. */
  readonly schema: string | undefined;
  /** SQLite file path (or ":memory:"); undefined for PostgreSQL. */
  readonly path: string | undefined;
  /**
   * The raw better-sqlite3 handle (SQLite only). Kysely's SQLite driver serialises all use of this
   * single connection with a mutex; raw statements must run inside `exclusive()` so they never land in
   * the middle of someone else's Kysely transaction.
   */
  readonly sqlite: BetterSqlite3.Database | undefined;
  /** The pg pool (PostgreSQL only), for code that wants named prepared statements. */
  readonly pool: pg.Pool | undefined;
  /**
   * Runs `fn` while holding the database connection that Kysely would use (SQLite: the single
   * connection's mutex). On PostgreSQL it holds one pooled connection, which `fn` cannot see; there,
   * use `pool` directly instead.
   */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T>;
  /**
   * Runs `fn` as one write of a **group commit**: the `groupWrite` calls of one event-loop turn run
   * one after the other in one transaction, each inside its own SAVEPOINT, so a call that throws rolls
   * back alone. Each call settles only after the COMMIT; if the COMMIT fails, or the database rolls
   * the whole transaction back, every call of the group fails. The calls of a group see each other's
   * changes, as consecutive transactions would.
   * - SQLite: `fn` runs raw statements on `sqlite` (or awaits nothing but them) inside
   *   `BEGIN IMMEDIATE … COMMIT`, holding the connection's lock; pages the calls share are written to
   *   the WAL once.
   * - PostgreSQL: `fn` is handed the group's connection (pipelined: BEGIN and SAVEPOINT travel with
   *   the first statement, no round trip of their own); one group is in flight at a time, and the
   *   calls made meanwhile form the next one, so one WAL flush serves them all. A call whose statement
   *   failed fails even if it caught the error (PostgreSQL cannot go on in a failed transaction). A
   *   group whose connection is lost fails every call with DbError DB_UNAVAILABLE.
   */
  groupWrite<T>(fn: (conn: PgConnection | undefined) => T | Promise<T>): Promise<T>;
}

/** The connection a PostgreSQL group write is handed (a pg client in pipeline mode). */
export interface PgConnection {
  query(q: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: any[]; rowCount: number | null; command: string }>;
}

/**
 * A database error with a stable code: DB_UNAVAILABLE (PostgreSQL: the connection was lost or
 * refused, or the server is shutting down or starting; retry later). A write that failed so was not
 * committed, unless the connection was lost while its COMMIT ran: then it may have been. `cause` is
 * the driver's error.
 */
export class DbError extends Error {
  readonly code: "DB_UNAVAILABLE";
  constructor(code: "DB_UNAVAILABLE", message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DbError";
    this.code = code;
  }
}

/** SQLSTATE classes 08 (connection exception) and 57P0x (shutdown, crash, cannot connect now). */
const UNAVAILABLE_STATES = /^(08...|57P0[1-4])$/;
const UNAVAILABLE_MESSAGES = /Connection terminated|not queryable|ECONNREFUSED|ECONNRESET|EPIPE|Client was closed|timeout exceeded when trying to connect/i;

/** The driver's error as DbError DB_UNAVAILABLE when it says the database cannot be reached; else itself. */
export function asDbError(err: unknown): unknown {
  if (err instanceof DbError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  const message = typeof e?.message === "string" ? e.message : "";
  if (UNAVAILABLE_STATES.test(code) || /^E(CONNREFUSED|CONNRESET|PIPE|HOSTUNREACH)$/.test(code) || UNAVAILABLE_MESSAGES.test(message)) {
    return new DbError("DB_UNAVAILABLE", `database unavailable: ${message || code}`, { cause: err });
  }
  return err;
}

export interface OpenDbOptions {
  /** PostgreSQL only: schema to work in (created if missing), set as the connection's search_path. */
  schema?: string;
  /** SQLite only: "NORMAL" (default, see module comment) or "FULL" (fsync on every commit). */
  synchronous?: "NORMAL" | "FULL";
  /** SQLite only: page size for a new database file (512..65536, power of two; default SQLite's 4096). */
  pageSize?: number;
  /** SQLite only: how long a writer waits for another process's lock, ms (default 5000). */
  busyTimeoutMs?: number;
  /** PostgreSQL only: pool size for reads and migrations (default 10). */
  maxConnections?: number;
  /**
   * PostgreSQL only: group commits in flight at once, each on a pipelined connection of its own
   * (default 1: the writes made while a group commits wait and go together in the next).
   */
  groupsInFlight?: number;
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const PG_INT8_OID = 20;

/**
 * Opens a database.
 * - `postgres://…` / `postgresql://…` → a pg pool (BIGINT columns come back as JS numbers).
 * - `sqlite:PATH`, `sqlite::memory:`, `:memory:` or a plain file path → SQLite (parent directory
 *   created), with WAL, synchronous = NORMAL, foreign keys on, busy timeout.
 *
 * @example
 *   const db = await openDb("sqlite:.privface/data/p0.sqlite");
 *   await migrate(db, { "001_init": { up: async (k, { dialect }) => { ... } } }, { table: "party_migrations" });
 *   await closeDb(db);
 */
export async function openDb(url: string, options: OpenDbOptions = {}): Promise<Db> {
  if (typeof url !== "string" || url.length === 0) throw new TypeError("openDb: url must be a non-empty string");
  writeStatsEvery200ms();
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, options);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith("sqlite:")) {
    throw new RangeError(`openDb: url must start with postgres://, postgresql:// or sqlite:, got scheme of ${JSON.stringify(url.split(":")[0])}`);
  }
  if (options.schema !== undefined) throw new RangeError("openDb: options.schema applies to PostgreSQL only");
  let path = url.startsWith("sqlite:") ? url.slice("sqlite:".length) : url;
  if (path.startsWith("//")) path = path.slice(2);
  if (path.length === 0) throw new RangeError("openDb: empty SQLite path");
  return openSqlite(path, options);
}

function openSqlite(path: string, options: OpenDbOptions): Db {
  const memory = path === ":memory:";
  if (!memory) {
    path = resolve(path);
    mkdirSync(dirname(path), { recursive: true });
  }
  const synchronous = options.synchronous ?? "NORMAL";
  if (synchronous !== "NORMAL" && synchronous !== "FULL") throw new RangeError(`openDb: options.synchronous must be NORMAL or FULL, got ${String(synchronous)}`);
  const busy = options.busyTimeoutMs ?? 5000;
  if (!Number.isInteger(busy) || busy < 0) throw new RangeError("openDb: options.busyTimeoutMs must be a non-negative integer");
  const pageSize = options.pageSize;
  if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0)) {
    throw new RangeError(`openDb: options.pageSize must be a power of two in 512..65536, got ${String(pageSize)}`);
  }
  const sqlite = new BetterSqlite3(path, { timeout: busy });
  try {
    // Takes effect only on a new, empty database (before the first write).
    if (pageSize !== undefined) sqlite.pragma(`page_size = ${pageSize}`);
    if (!memory) sqlite.pragma("journal_mode = WAL");
    sqlite.pragma(`synchronous = ${synchronous}`);
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma(`busy_timeout = ${busy}`);
  } catch (err) {
    sqlite.close();
    throw err;
  }
  const mutex = new Mutex();
  const kysely = new Kysely<any>({ dialect: new TransactionalDdlSqliteDialect({ database: sqlite }, mutex) });
  return {
    kysely,
    dialect: "sqlite",
    schema: undefined,
    path,
    sqlite,
    pool: undefined,
    exclusive: (fn) => mutex.run(fn),
    groupWrite: groupCommitter(sqlite, mutex),
  };
}

/** `Db.groupWrite` for one SQLite connection. */
function groupCommitter(s: BetterSqlite3.Database, mutex: Mutex): Db["groupWrite"] {
  const begin = s.prepare("BEGIN IMMEDIATE");
  const commit = s.prepare("COMMIT");
  const rollback = s.prepare("ROLLBACK");
  const savepoint = s.prepare("SAVEPOINT group_write");
  const release = s.prepare("RELEASE group_write");
  const rollbackTo = s.prepare("ROLLBACK TO group_write");
  let queue: Job[] = [];

  async function run(jobs: Job[]): Promise<void> {
    const outcomes: Outcome[] = [];
    began(jobs);
    try {
      begin.run();
      for (const job of jobs) {
        savepoint.run();
        let value: unknown;
        try {
          value = await job.fn(undefined);
        } catch (error) {
          if (!s.inTransaction) throw error; // SQLite rolled the whole group back
          rollbackTo.run();
          release.run();
          outcomes.push({ ok: false, error });
          continue;
        }
        release.run();
        outcomes.push({ ok: true, value });
      }
      const c0 = performance.now();
      commit.run();
      dbStats.commitMs += performance.now() - c0;
      dbStats.commits++;
    } catch (error) {
      if (s.inTransaction) rollback.run();
      for (const job of jobs) job.reject(error);
      return;
    }
    settle(jobs, outcomes);
  }

  return <T>(fn: (conn: PgConnection | undefined) => T | Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      dbStats.writes++;
      queue.push({ fn, resolve: resolve as (v: unknown) => void, reject, at: performance.now() });
      if (queue.length > 1) return;
      setImmediate(() => {
        const jobs = queue;
        queue = [];
        mutex.run(() => run(jobs)).catch((e) => jobs.forEach((job) => job.reject(e)));
      });
    });
}

type Job = { fn: (conn: PgConnection | undefined) => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void; at: number };
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
function began(jobs: Job[]): void {
  const t = performance.now();
  for (const job of jobs) dbStats.waitMs += t - job.at;
}
function settle(jobs: Job[], outcomes: Outcome[]): void {
  const t = performance.now();
  jobs.forEach((job, i) => {
    dbStats.writeMs += t - job.at;
    const o = outcomes[i];
    if (o.ok) job.resolve(o.value);
    else job.reject(o.error);
  });
}

/**
 * PostgreSQL keeps the ids of 64 subtransactions per backend in shared memory; past that every
 * snapshot has to look them up in pg_subtrans. A group holds at most this many writes (savepoints).
 */
const PG_MAX_GROUP = 48;

/**
 * `Db.groupWrite` on PostgreSQL: one group in flight at a time on a pipelined connection of its own
 * pool; calls made while it runs wait for the next turn after it and go together.
 */
function pgGroupCommitter(pool: pg.Pool, inFlight: number): Db["groupWrite"] {
  let queue: Job[] = [];
  let running = 0;
  const noop = () => {};

  async function run(jobs: Job[]): Promise<void> {
    const outcomes: Outcome[] = [];
    let client: pg.PoolClient | undefined;
    let broken = false;
    const lost = () => {
      broken = true;
    };
    began(jobs);
    try {
      client = await pool.connect();
      const c = client;
      // an error while no statement runs (the server went away) would be thrown unhandled
      c.on("error", lost);
      // Pipelined: BEGIN and each SAVEPOINT go out with the write's first statement. If one fails,
      // so does everything after it, and COMMIT says so.
      c.query("BEGIN").catch(noop);
      const savepoints = jobs.length > 1;
      for (const job of jobs) {
        if (savepoints) c.query("SAVEPOINT w").catch(noop);
        let failed: { error: unknown } | undefined;
        const conn: PgConnection = {
          query: (q) =>
            (c.query(q as pg.QueryConfig) as Promise<pg.QueryResult>).catch((error: unknown) => {
              failed ??= { error };
              throw error;
            }),
        };
        try {
          const value = await job.fn(conn);
          if (failed) throw failed.error; // a caught statement error still aborted the transaction
          outcomes.push({ ok: true, value });
        } catch (error) {
          if (!savepoints) throw error;
          await c.query("ROLLBACK TO SAVEPOINT w"); // fails (and fails the group) if the connection is gone
          outcomes.push({ ok: false, error });
        }
      }
      const c0 = performance.now();
      const done = await c.query("COMMIT");
      dbStats.commitMs += performance.now() - c0;
      if (done.command !== "COMMIT") throw new Error(`the group's transaction was rolled back (${done.command})`);
      dbStats.commits++;
    } catch (error) {
      if (client) {
        try {
          await client.query("ROLLBACK");
        } catch {
          broken = true;
        }
      }
      const e = asDbError(error);
      for (const job of jobs) job.reject(e);
      return;
    } finally {
      client?.off("error", lost);
      client?.release(broken);
    }
    settle(jobs, outcomes);
  }

  // A group starts at the end of the turn its first write was made in, with every write waiting
  // then; at most `inFlight` groups run at once (PostgreSQL flushes the WAL once for the commits
  // that wait together), the writes made meanwhile form the next group.
  let scheduled = false;
  const next = (): void => {
    if (scheduled || running >= inFlight || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const jobs = queue.splice(0, PG_MAX_GROUP);
      running++;
      void run(jobs).finally(() => {
        running--;
        next();
      });
      next();
    });
  };

  return <T>(fn: (conn: PgConnection | undefined) => T | Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      dbStats.writes++;
      queue.push({ fn, resolve: resolve as (v: unknown) => void, reject, at: performance.now() });
      next();
    });
}

/**
 * SQLite does roll back DDL inside a transaction, but Kysely's adapter says it does not, so its
 * Migrator would run SQLite migrations without one. This dialect says yes: a failing migration then
 * leaves neither its tables nor its migration record behind, as on PostgreSQL.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}
/**
 * The single SQLite connection's lock, shared by Kysely (its driver takes it for every query and
 * transaction) and `exclusive`. Taking a free lock is synchronous, and a synchronous `fn` (a few
 * better-sqlite3 statements) runs to its end without a promise turn: `exclusive` on the hot paths
 * costs no more than the statements (Kysely's `connection().execute()` built a Kysely per call).
 */
class Mutex {
  #locked = false;
  #waiters: (() => void)[] = [];
  lock(): Promise<void> {
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
  unlock(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#locked = false;
  }
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#locked) return this.lock().then(() => this.#finish(fn));
    this.#locked = true;
    return this.#finish(fn);
  }
  #finish<T>(fn: () => T | Promise<T>): Promise<T> {
    let out: T | Promise<T>;
    try {
      out = fn();
    } catch (e) {
      this.unlock();
      return Promise.reject(e);
    }
    if (!(out instanceof Promise)) {
      this.unlock();
      return Promise.resolve(out);
    }
    return out.finally(() => this.unlock());
  }
}
class SharedLockSqliteDriver extends SqliteDriver {
  readonly #mutex: Mutex;
  constructor(config: SqliteDialectConfig, mutex: Mutex) {
    super(config);
    this.#mutex = mutex;
  }
  override async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    return super.acquireConnection();
  }
  override async releaseConnection(): Promise<void> {
    await super.releaseConnection();
    this.#mutex.unlock();
  }
}
class TransactionalDdlSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  readonly #mutex: Mutex;
  constructor(config: SqliteDialectConfig, mutex: Mutex) {
    super(config);
    this.#config = config;
    this.#mutex = mutex;
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
  override createDriver(): Driver {
    return new SharedLockSqliteDriver(this.#config, this.#mutex);
  }
}

async function openPostgres(url: string, options: OpenDbOptions): Promise<Db> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_RE.test(schema)) {
    throw new RangeError(`openDb: options.schema must match ${SCHEMA_RE}, got ${JSON.stringify(schema)}`);
  }
  const max = options.maxConnections ?? 10;
  if (!Number.isInteger(max) || max < 1) throw new RangeError("openDb: options.maxConnections must be a positive integer");
  const groups = options.groupsInFlight ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new RangeError("openDb: options.groupsInFlight must be a positive integer");
  const types = {
    getTypeParser(oid: number, format?: "text" | "binary") {
      if (oid === PG_INT8_OID && format !== "binary") return (v: string) => Number(v);
      return (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format);
    },
  };
  if (schema !== undefined) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } finally {
      await client.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types: types as unknown as pg.CustomTypesConfig,
    ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
  });
  // Group writes (groupWrite) get pipelined connections of their own.
  const writePool = new pg.Pool({
    connectionString: url,
    max: groups,
    pipeline: true,
    types: types as unknown as pg.CustomTypesConfig,
    ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
  });
  // A pool error on an idle client (e.g. the server restarted) must not crash the process.
  pool.on("error", () => {});
  writePool.on("error", () => {});
  writePools.set(pool, writePool);
  const kysely = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  return {
    kysely,
    dialect: "postgres",
    schema,
    path: undefined,
    sqlite: undefined,
    pool,
    exclusive: (fn) => kysely.connection().execute(async () => fn()),
    groupWrite: pgGroupCommitter(writePool, groups),
  };
}

/** Closes the database (SQLite file handle or the whole pg pool). Safe to call twice. */
export async function closeDb(db: Db): Promise<void> {
  const closed = closedDbs.has(db);
  closedDbs.add(db);
  if (closed) return;
  await db.kysely.destroy();
  if (db.pool) await writePools.get(db.pool)?.end();
}
const closedDbs = new WeakSet<Db>();
const writePools = new WeakMap<pg.Pool, pg.Pool>();

/** A migration that is told the dialect, so it can pick portable column types. */
export interface DbMigration {
  up(db: Kysely<any>, ctx: { dialect: Dialect }): Promise<void>;
  down?(db: Kysely<any>, ctx: { dialect: Dialect }): Promise<void>;
}

export interface MigrateOptions {
  /** Name of this package's migration table, e.g. "party_migrations" (lock table: `<table>_lock`). */
  table: string;
}

const TABLE_RE = /^[a-z_][a-z0-9_]{0,50}$/;

/**
 * Runs every pending migration of one package, in name order (names sort: use "001_init", …).
 * Throws the first migration's error (the failed migration's transaction is rolled back on both
 * dialects). Returns the names applied by this call.
 */
export async function migrate(db: Db, migrations: Record<string, DbMigration>, options: MigrateOptions): Promise<{ applied: string[] }> {
  if (!options || typeof options.table !== "string" || !TABLE_RE.test(options.table)) {
    throw new RangeError(`migrate: options.table must match ${TABLE_RE}`);
  }
  const ctx = { dialect: db.dialect };
  const wrapped: Record<string, Migration> = {};
  for (const [name, m] of Object.entries(migrations)) {
    if (typeof m?.up !== "function") throw new TypeError(`migrate: migration ${name} has no up()`);
    const down = m.down;
    wrapped[name] = {
      up: (k) => m.up(k, ctx),
      ...(down ? { down: (k: Kysely<any>) => down.call(m, k, ctx) } : {}),
    };
  }
  const provider: MigrationProvider = { getMigrations: async () => wrapped };
  const migrator = new Migrator({
    db: db.kysely,
    provider,
    migrationTableName: options.table,
    migrationLockTableName: `${options.table}_lock`,
    ...(db.schema !== undefined ? { migrationTableSchema: db.schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(`migrate: ${String(error)}`);
  return { applied: (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName) };
}

/** Column type for raw bytes: `blob` on SQLite, `bytea` on PostgreSQL. */
export function bytesType(dialect: Dialect): "blob" | "bytea" {
  return dialect === "postgres" ? "bytea" : "blob";
}

/** Column type for epoch-millisecond timestamps: a 64-bit integer on both dialects. */
export function timestampType(_dialect?: Dialect): "bigint" {
  return "bigint";
}

/**
 * Normalises bytes read from either driver (Buffer, Uint8Array, ArrayBuffer) to a plain Uint8Array
 * view (no copy). Throws TypeError for anything else, including null.
 */
export function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(`toBytes: value must be a Buffer, Uint8Array or ArrayBuffer, got ${value === null ? "null" : typeof value}`);
}

/** Bytes as a value both drivers bind (a Buffer view over the same memory, no copy). */
export function bytesParam(value: Uint8Array): Buffer {
  if (!(value instanceof Uint8Array)) throw new TypeError("bytesParam: value must be a Uint8Array");
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** A 64-bit integer column value (number, bigint or numeric string) as a JS number. */
export function toMs(value: unknown): number {
  const n = typeof value === "number" ? value : typeof value === "bigint" || typeof value === "string" ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new TypeError(`toMs: value must be a safe integer, got ${String(value)}`);
  return n;
}

export { createExec, isUniqueViolation, type Exec, type Tx } from "./exec.ts";
export { sql } from "kysely";
export type { Kysely } from "kysely";
