/**
 * `privface backup --server S --out FILE` and `privface restore --server S --from FILE [--force]`
 * (S: gateway, p0, p1, helper), run on that server's host with its configuration
 * (PRIVFACE_<SERVER>_*, PRIVFACE_HOME) and its key secret (PRIVFACE_KEY_SECRET / _FILE).
 *
 * Backup: an online, consistent copy of the server's SQLite database (`VACUUM INTO`: one read
 * transaction, the running server keeps writing), encrypted as a key file of kind "backup"
 * (@privface/crypto/node: scrypt of the key secret → AES-256-GCM; the header fields are the associated
 * data), inside a JSON file labelled `"classification": "C3"` with the server's name, plus a sidecar
 * `FILE.label.json`. The server's audit chain records `backup` `begun` (so the copy carries its own
 * record) and then `ok` (or `error`), with the backup's id as the session.
 *
 * Restore refuses (BackupError codes): BACKUP_INVALID (not a privface backup, or its database fails
 * SQLite's integrity check), BACKUP_WRONG_SERVER (a backup of another server), WRONG_KEY_SECRET (the
 * file does not open: wrong secret or altered bytes — GCM cannot tell which), BACKUP_TAMPERED (the
 * clear label disagrees with the encrypted one), SERVER_RUNNING (something answers on the server's
 * configured port), TARGET_EXISTS (a database is there: `--force` replaces it), UNSUPPORTED
 * (PostgreSQL: `pg_dump -n <schema>` is the operator's tool). It writes the database to a temporary
 * file beside the target, checks it, appends `restore` to the restored chain, and renames it into
 * place: the target is either untouched or wholly replaced. A party's restored pool is discarded
 * (`pool.discard` in its chain): items used after the backup was taken must never be used again; and
 * the templates erased since the backup, whose keys the party's template-key register (outside the
 * backup) no longer holds, become tombstones (`template.drop-erased`).
 *
 * The whole database is held in memory while it is encrypted or decrypted (a JSON envelope with the
 * ciphertext in base64url): fine for databases of a few hundred MB, not beyond.
 */
import type { Command } from "commander";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const SERVERS = ["gateway", "p0", "p1", "helper"] as const;
export type BackupServer = (typeof SERVERS)[number];
export const BACKUP_FORMAT = "privface-backup";

export class BackupError extends Error {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = "BackupError";
  }
}

const CONTENTS: Record<BackupServer, string> = {
  gateway: "privface gateway database: registry, identity attributes (encrypted under the gateway's data keys), decisions, audit chain",
  p0: "privface party P0 database: template shares and correlated randomness (encrypted under P0's data keys), audit chain",
  p1: "privface party P1 database: template shares and correlated randomness (encrypted under P1's data keys), audit chain",
  helper: "privface helper database: its audit chain (the helper keeps dealt material in memory only)",
};

interface Target {
  /** the deployment's suite: a GM deployment's backups are sealed with SM4-GCM */
  suite: "INTL" | "GM";
  db: string;
  dbSchema: string | undefined;
  auditKey: string;
  host: string;
  port: number;
}

/** The server's database, audit key and listening address, from its configuration in `env`. */
export async function targetOf(server: BackupServer, env: NodeJS.ProcessEnv): Promise<Target> {
  if (server === "p0" || server === "p1") {
    const { loadPartyConfig } = await import("@privface/party");
    return loadPartyConfig(server === "p0" ? "P0" : "P1", env);
  }
  if (server === "gateway") {
    const { loadGatewayConfig } = await import("@privface/gateway");
    return loadGatewayConfig(env);
  }
  const { loadHelperConfig } = await import("@privface/helper");
  return loadHelperConfig(env);
}

/** The SQLite file of a database URL (as openDb reads it); PostgreSQL and :memory: are refused. */
function sqlitePath(url: string, schema: string | undefined): string {
  if (/^postgres(ql)?:\/\//.test(url) || schema) {
    throw new BackupError("UNSUPPORTED", "this server's database is PostgreSQL: back it up with pg_dump -n <schema> (the dump holds the same encrypted columns), label it C3 and encrypt it; privface backup covers SQLite only");
  }
  let path = url.startsWith("sqlite:") ? url.slice("sqlite:".length) : url;
  if (path.startsWith("//")) path = path.slice(2);
  if (path === ":memory:" || path.length === 0) throw new BackupError("UNSUPPORTED", "an in-memory database has nothing to back up");
  return resolve(path);
}

/** The server's SQLite file and audit key file, as its configuration in `env` names them. */
export async function serverFiles(serverName: string, env: NodeJS.ProcessEnv = process.env): Promise<{ database: string; auditKey: string }> {
  const t = await targetOf(checkServer(serverName), env);
  return { database: sqlitePath(t.db, t.dbSchema), auditKey: t.auditKey };
}

function checkServer(server: string): BackupServer {
  if (!(SERVERS as readonly string[]).includes(server)) throw new BackupError("BAD_ARGUMENT", `--server must be one of ${SERVERS.join(", ")}`);
  return server as BackupServer;
}

const OPERATOR = /^[A-Za-z0-9._@-]{1,64}$/;
function requester(operator: string): string {
  if (!OPERATOR.test(operator)) throw new BackupError("BAD_ARGUMENT", "--operator: 1–64 letters, digits, . _ @ -");
  return `operator:${operator}`;
}

/** Does something accept TCP connections at host:port (the server is running)? */
export function listening(host: string, port: number): Promise<boolean> {
  const to = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return new Promise((done) => {
    const s = connect({ host: to, port });
    const end = (v: boolean) => {
      s.destroy();
      done(v);
    };
    s.setTimeout(1000, () => end(false));
    s.once("connect", () => end(true));
    s.once("error", () => end(false));
  });
}

interface Header {
  format: typeof BACKUP_FORMAT;
  v: 1;
  classification: "C3";
  server: BackupServer;
  backupId: string;
  createdAt: string;
  contents: string;
  dialect: "sqlite";
}

const HEADER_FIELDS = ["format", "v", "classification", "server", "backupId", "createdAt", "contents", "dialect"] as const;
const sameHeader = (a: Record<string, unknown>, b: Record<string, unknown>) => HEADER_FIELDS.every((f) => a[f] === b[f]);

export interface BackupOptions {
  /** who takes it (recorded in the server's audit chain) */
  operator: string;
  /** the server's configuration and key secret (default process.env) */
  env?: NodeJS.ProcessEnv;
}

export interface BackupSummary {
  server: BackupServer;
  file: string;
  label: string;
  backupId: string;
  createdAt: string;
  bytes: number;
}

/** Take an encrypted, labelled, audited backup of `server`'s database into `out`. */
export async function backupServer(serverName: string, out: string, o: BackupOptions): Promise<BackupSummary> {
  const server = checkServer(serverName);
  const by = requester(o.operator);
  const env = o.env ?? process.env;
  const t = await targetOf(server, env);
  const path = sqlitePath(t.db, t.dbSchema);
  if (!existsSync(path)) throw new BackupError("NO_DATABASE", `${path} does not exist`);
  const { openDb, closeDb } = await import("@privface/db");
  const { createAuditLog } = await import("@privface/audit");
  const { readKeyPairFile, encryptKeyFile, keySecretFromEnv, writeSecret } = await import("@privface/crypto/node");
  const secret = keySecretFromEnv(env);
  const file = resolve(out);
  const header: Header = {
    format: BACKUP_FORMAT, v: 1, classification: "C3", server, backupId: randomBytes(12).toString("base64url"),
    createdAt: new Date().toISOString(), contents: CONTENTS[server], dialect: "sqlite",
  };
  const db = await openDb(`sqlite:${path}`);
  const dir = mkdtempSync(join(tmpdir(), "privface-backup-"));
  try {
    const audit = await createAuditLog(db, { role: server, signingKey: await readKeyPairFile(t.auditKey) });
    const record = (outcome: string, code: string | null = null) => audit.append({ requester: by, op: "backup", session: header.backupId, outcome, code });
    await record("begun");
    try {
      const copy = join(dir, "db.sqlite");
      await db.exclusive(() => db.sqlite!.prepare("VACUUM INTO ?").run(copy));
      const bytes = readFileSync(copy);
      rmSync(copy);
      const h = Buffer.from(JSON.stringify(header));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(h.length);
      const plaintext = Buffer.concat([len, h, bytes]);
      const sealed = JSON.parse(encryptKeyFile("backup", t.suite, plaintext, secret)) as unknown;
      plaintext.fill(0);
      writeSecret(file, JSON.stringify({ ...header, sealed }) + "\n");
      const label = {
        classification: "C3",
        server,
        backupId: header.backupId,
        createdAt: header.createdAt,
        contents: header.contents,
        encryption: "privface key file of kind backup: scrypt of the deployment's key secret, AES-256-GCM",
        readableWith: server === "p0" || server === "p1" ? "the deployment's PRIVFACE_KEY_SECRET, and this party's data keys for the shares inside" : "the deployment's PRIVFACE_KEY_SECRET",
      };
      writeSecret(`${file}.label.json`, JSON.stringify(label, null, 2) + "\n");
      await record("ok");
      return { server, file, label: `${file}.label.json`, backupId: header.backupId, createdAt: header.createdAt, bytes: bytes.length };
    } catch (e) {
      await record("error", e instanceof BackupError ? e.code : "BACKUP_FAILED").catch(() => undefined);
      throw e;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await closeDb(db);
  }
}

export interface RestoreOptions extends BackupOptions {
  /** replace an existing database (never one whose server is running) */
  force?: boolean;
}

export interface RestoreSummary {
  server: BackupServer;
  database: string;
  backupId: string;
  backupCreatedAt: string;
  replaced: boolean;
  /** P0, P1: the unused correlated-randomness items discarded (they may have been used after the backup) */
  poolItemsDiscarded?: number;
  /** a party: templates erased since the backup (their keys gone from the register) dropped from the copy */
  erasedTemplatesDropped?: number;
}

/** Restore `server`'s database from the backup file `from` (see the module comment for the refusals). */
export async function restoreServer(serverName: string, from: string, o: RestoreOptions): Promise<RestoreSummary> {
  const server = checkServer(serverName);
  const by = requester(o.operator);
  const env = o.env ?? process.env;
  const t = await targetOf(server, env);
  const path = sqlitePath(t.db, t.dbSchema);
  const { decryptKeyFile, keySecretFromEnv, readKeyPairFile } = await import("@privface/crypto/node");
  let outer: Record<string, unknown>;
  try {
    outer = JSON.parse(readFileSync(from, "utf8")) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new BackupError("BACKUP_INVALID", `${from} does not exist`);
    throw new BackupError("BACKUP_INVALID", `${from} is not a privface backup (not JSON)`);
  }
  if (typeof outer !== "object" || outer === null || outer.format !== BACKUP_FORMAT || outer.v !== 1 || outer.dialect !== "sqlite") {
    throw new BackupError("BACKUP_INVALID", `${from} is not a privface backup (format ${BACKUP_FORMAT} v1, sqlite)`);
  }
  if (outer.server !== server) throw new BackupError("BACKUP_WRONG_SERVER", `${from} is a backup of ${String(outer.server)}, not of ${server}`);
  const pt = Buffer.from(decryptKeyFile(outer.sealed, "backup", keySecretFromEnv(env), from));
  const hlen = pt.length >= 4 ? pt.readUInt32BE(0) : Infinity;
  if (4 + hlen > pt.length) throw new BackupError("BACKUP_INVALID", `${from}: the encrypted content has no header`);
  const inner = JSON.parse(pt.subarray(4, 4 + hlen).toString("utf8")) as Record<string, unknown>;
  if (inner.server !== server) throw new BackupError("BACKUP_WRONG_SERVER", `${from} holds a backup of ${String(inner.server)}, not of ${server}`);
  if (!sameHeader(inner, outer)) throw new BackupError("BACKUP_TAMPERED", `${from}: the clear label differs from the encrypted one`);
  const dbBytes = pt.subarray(4 + hlen);
  if (await listening(t.host, t.port)) {
    throw new BackupError("SERVER_RUNNING", `something answers on ${server}'s port ${t.host}:${t.port}: stop the ${server} server before restoring its database`);
  }
  const replaced = existsSync(path);
  if (replaced && !o.force) throw new BackupError("TARGET_EXISTS", `${path} exists: restoring replaces it; pass --force to do so (its server must be stopped)`);

  const { openDb, closeDb } = await import("@privface/db");
  const { createAuditLog } = await import("@privface/audit");
  const tmp = join(dirname(path), `.${randomBytes(6).toString("hex")}.restore.tmp`);
  let discarded: number | undefined;
  let dropped: number | undefined;
  const removeTmp = () => {
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(tmp, dbBytes, { mode: 0o600, flag: "wx" });
    pt.fill(0);
    const invalid = () => new BackupError("BACKUP_INVALID", `the database in ${from} fails SQLite's integrity check`);
    const db = await openDb(`sqlite:${tmp}`).catch(() => Promise.reject(invalid()));
    try {
      let check: unknown;
      try {
        check = db.sqlite!.pragma("integrity_check", { simple: true });
      } catch {
        throw invalid();
      }
      if (check !== "ok") throw invalid();
      const audit = await createAuditLog(db, { role: server, signingKey: await readKeyPairFile(t.auditKey) });
      await audit.append({ requester: by, op: "restore", session: String(inner.backupId), outcome: "ok" });
      db.sqlite!.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      await closeDb(db);
    }
    if (server === "p0" || server === "p1") {
      // pool items this party used after the backup are unused again in the copy: never use them twice
      const { loadPartyConfig, openPartyAdmin } = await import("@privface/party");
      const admin = await openPartyAdmin({ ...loadPartyConfig(server === "p0" ? "P0" : "P1", env), db: `sqlite:${tmp}`, dbSchema: undefined });
      try {
        discarded = (await admin.discardPool({ operator: o.operator })).items;
        // templates erased since the backup: their keys are gone from the register, their rows go too
        dropped = (await admin.dropDestroyed({ operator: o.operator })).templates;
      } finally {
        await admin.close();
      }
    }
    if (existsSync(`${tmp}-wal`) && statSync(`${tmp}-wal`).size > 0) throw new BackupError("RESTORE_FAILED", "the restored database's WAL was not folded in");
    if (replaced) {
      // the old database's WAL belongs to it: fold it in and close, so no stray WAL meets the new file
      const old = await openDb(`sqlite:${path}`);
      try {
        old.sqlite!.pragma("wal_checkpoint(TRUNCATE)");
      } finally {
        await closeDb(old);
      }
    }
    for (const f of [`${path}-wal`, `${path}-shm`, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
    renameSync(tmp, path);
  } catch (e) {
    removeTmp();
    throw e;
  }
  return { server, database: path, backupId: String(inner.backupId), backupCreatedAt: String(inner.createdAt), replaced, ...(discarded === undefined ? {} : { poolItemsDiscarded: discarded, erasedTemplatesDropped: dropped }) };
}

export function register(program: Command): void {
  const serverOpt = "--server <gateway|p0|p1|helper>";
  program
    .command("backup")
    .description("an online, encrypted backup of a server's SQLite database (labelled C3; recorded in its audit chain); run on the server's host with its configuration and PRIVFACE_KEY_SECRET")
    .requiredOption(serverOpt, "which server")
    .requiredOption("--out <file>", "the backup file to write (a FILE.label.json is written beside it)")
    .requiredOption("--operator <name>", "who takes it (recorded in the server's audit chain)")
    .action(async (o: { server: string; out: string; operator: string }) => {
      process.stdout.write(JSON.stringify(await backupServer(o.server, o.out, { operator: o.operator }), null, 2) + "\n");
    });
  program
    .command("restore")
    .description("restore a server's SQLite database from a privface backup (the server stopped; recorded in the restored audit chain)")
    .requiredOption(serverOpt, "which server")
    .requiredOption("--from <file>", "the backup file")
    .requiredOption("--operator <name>", "who restores (recorded in the restored audit chain)")
    .option("--force", "replace an existing database")
    .action(async (o: { server: string; from: string; operator: string; force?: boolean }) => {
      process.stdout.write(JSON.stringify(await restoreServer(o.server, o.from, { operator: o.operator, force: o.force === true }), null, 2) + "\n");
    });
}
