/**
 * What every part of the party store shares: the database and its executor (`@privface/db`
 * createExec: each public operation is one write transaction, or one read, of cached prepared
 * statements), the role, the clock, the data keys (./_aead.ts Keyring) and the dialect's row locks.
 */
import { createExec, migrate, type Db, type Exec } from "@privface/db";
import { truncateWal } from "@privface/db/checkpointer";
import { createKeyring, type Keyring } from "./_aead.ts";
import { StoreError } from "./_errors.ts";
import { openTemplateKeys, type TemplateKeys } from "./template-keys.ts";
import { checkKeys } from "./_input.ts";
import { PARTY_MIGRATIONS_TABLE, partyMigrations } from "./_migrations.ts";
import type { PartyStoreOptions, Role } from "./index.ts";

export interface StoreContext {
  readonly db: Db;
  readonly exec: Exec;
  readonly role: Role;
  readonly now: () => number;
  readonly keyring: Keyring;
  readonly secureDelete: "on" | "fast";
  /** " FOR UPDATE" on PostgreSQL (lock the rows read), "" on SQLite (the writer holds the database). */
  readonly lock: string;
  /** When expired authorisation nonces were last purged (./nonces.ts). */
  lastAuthPurge: number;
  /**
   * SQLite file: copy the WAL into the main file and truncate it (erased pages leave the WAL too).
   * The result is checked: while another connection reads (a backup, an export) the WAL cannot be
   * truncated, so it tries again for up to CHECKPOINT_WAIT_MS without blocking the event loop; after
   * that the checkpoint is owed (`owed`) and `retryCheckpoint` pays it. True once done.
   */
  checkpoint(): Promise<boolean>;
  /** a checkpoint after an erasure could not complete yet: erased content may still be in the WAL */
  owed: boolean;
}

/**
 * SQLite page cache of the store's connection, KiB (better-sqlite3's default is 16 MB). A verification
 * reads a ≈ 29 KB pool item and a refill writes hundreds, whose pages push the small B-tree pages every
 * verification touches (the single-use ledger, the verification rows and their indexes, budgets,
 * templates) out of the cache, so its statements read them back from the OS (pread, WAL lookups).
 * With 32 MiB: P0 CPU per verification −7 … −18 % in two interleaved pairs (issue 12's CPU budget,
 * docs/benchmarks.md).
 */
export const CACHE_KIB = 32 * 1024;

/** How long an erasure's checkpoint keeps trying while readers hold the WAL (then it is owed). */
export const CHECKPOINT_WAIT_MS = 1_000;

/**
 * Checks the options, runs the migrations, sets `secure_delete` (SQLite). A database whose migration
 * table names migrations this build does not have (one made before the squash, _migrations.ts) is
 * refused with UNSUPPORTED, unchanged.
 */
export async function openContext(db: Db, options: PartyStoreOptions): Promise<StoreContext> {
  if (typeof options !== "object" || options === null) throw new TypeError("options must be { role, dataKeys }");
  const role: Role = options.role;
  if (role !== "P0" && role !== "P1") throw new RangeError(`options.role must be "P0" or "P1", got ${String(role)}`);
  checkKeys(options.dataKeys);
  const now = options.now ?? Date.now;
  const secureDelete = options.secureDelete ?? "on";
  if (secureDelete !== "on" && secureDelete !== "fast") throw new RangeError(`options.secureDelete must be "on" or "fast"`);

  const exec = createExec(db);
  try {
    await migrate(db, partyMigrations, { table: PARTY_MIGRATIONS_TABLE });
  } catch (err) {
    const unknown = await unknownMigrations(exec);
    if (unknown.length > 0) {
      throw new StoreError("UNSUPPORTED", `this database was made by a pre-release party store (migrations ${unknown.join(", ")}); open the store on an empty database`);
    }
    throw err;
  }
  if (db.sqlite) {
    const s = db.sqlite;
    await db.exclusive(() => s.pragma(`secure_delete = ${secureDelete === "on" ? "ON" : "FAST"}`));
    await db.exclusive(() => s.pragma(`cache_size = -${CACHE_KIB}`));
  }
  const ctx: StoreContext = {
    db,
    exec,
    role,
    now,
    keyring: createKeyring(role, options.dataKeys.keys, options.dataKeys.current, options.templateKeys ?? (await defaultTemplateKeys(db, role))),
    secureDelete,
    lock: db.dialect === "postgres" ? " FOR UPDATE" : "",
    lastAuthPurge: 0,
    owed: false,
    async checkpoint() {
      ctx.owed = !(await truncateWal(db, CHECKPOINT_WAIT_MS));
      return !ctx.owed;
    },
  };
  return ctx;
}

const memoryRegisters = new Map<Role, Promise<TemplateKeys>>();

/**
 * Without a register given (tests, library use — a server always gives its own, TEMPLATE_KEYS): a
 * SQLite file's is the file beside it (`<db>.template-keys`); otherwise one in-memory register per
 * role for the whole process, so a store reopened in the same process still opens its shares.
 */
function defaultTemplateKeys(db: Db, role: Role): Promise<TemplateKeys> {
  if (db.path && db.path !== ":memory:") return openTemplateKeys(`${db.path}.template-keys`);
  let r = memoryRegisters.get(role);
  if (!r) memoryRegisters.set(role, (r = openTemplateKeys(":memory:")));
  return r;
}

/** Migrations recorded in the database that this build does not have ([] if there is no migration table). */
async function unknownMigrations(exec: Exec): Promise<string[]> {
  try {
    const rows = await exec.read((tx) => tx.all<{ name: string }>(`SELECT name FROM ${PARTY_MIGRATIONS_TABLE} ORDER BY name`));
    return rows.map((r) => r.name).filter((name) => !Object.hasOwn(partyMigrations, name));
  } catch {
    return [];
  }
}
