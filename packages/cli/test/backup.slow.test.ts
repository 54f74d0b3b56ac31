/**
 * The backup/restore drill (issue 13, "Backups, restore"): the real helper, P0 and P1 as child
 * processes and the gateway in this process (@privface/devstack `startStack`). Enrol and verify a
 * person; back up all four servers while they run (a backup that fails is recorded as an error); the
 * refusals of restore (running server, another server's backup, altered bytes, an altered clear label,
 * a wrong key secret, an existing database without --force, a database that is not one, PostgreSQL)
 * leave the databases untouched; stop, wipe every database, restore all four, start
 * again (the parties' restored pools discarded, refilled by the helper): the person still matches
 * (and an impostor does not), and `privface audit verify` passes on each chain, which holds the
 * backup, restore and pool.discard records. Last, the attack on erasure: restoring the backups
 * after a deregistration does not bring the erased template back (its keys are gone from each
 * party's template-key register, which is not in the backup): it cannot be verified against, and
 * the restored party databases hold only its tombstones (that the older copy's shares do not open
 * with every data key: party/test/erasure-backup.test.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeTrust, scenarioWorld, stackEnv, startStack, type ScenarioPerson, type ScenarioWorld, type Stack } from "@privface/devstack";
import { exportChain } from "@privface/audit";
import { encryptKeyFile, keySecretFromEnv } from "@privface/crypto/node";
import { closeDb, openDb } from "@privface/db";
import { backupServer, restoreServer, serverFiles, SERVERS, type BackupServer } from "../src/commands/backup.ts";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));
const POOL: Record<string, string> = {};
for (const p of ["P0", "P1"]) Object.assign(POOL, { [`PRIVFACE_${p}_POOL_TARGET`]: "20", [`PRIVFACE_${p}_POOL_LOW`]: "5", [`PRIVFACE_${p}_POOL_BATCH`]: "10" });

const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");

describe("backup and restore drill: real helper, P0, P1; the gateway in process", { timeout: 300_000 }, () => {
  let home: string;
  let stack: Stack;
  let w: ScenarioWorld;
  let person: ScenarioPerson;
  let env: NodeJS.ProcessEnv;
  const backups = {} as Record<BackupServer, string>;
  const files = {} as Record<BackupServer, { database: string; auditKey: string }>;

  let running = false;
  const stop = async () => {
    if (running) await stack.stop();
    running = false;
  };
  const start = async () => {
    stack = await startStack({ home, gateway: "in-process", env: POOL, console: false, readyTimeoutMs: 90_000 });
    running = true;
    env = { ...process.env, ...stackEnv(home, stack.ports), ...POOL };
  };

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "privface-backup-"));
    await start();
    // the world's device and operators act through whichever stack runs now
    w = await scenarioWorld({
      call: (m, p, b) => stack.client("admin").call(m, p, b),
      admin: (m, p, b) => stack.client("admin").admin(m, p, b),
      approver: (m, p, b) => stack.client("operator").admin(m, p, b),
      operator: (p, reason) => stack.client("operator").admin("GET", p, undefined, reason),
      modelVersion: () => stack.gateway!.service.modelVersion,
      deployModel: () => assert.fail("no model change in this drill"),
      roots: runtimeTrust(home).roots,
    });
    for (const s of SERVERS) files[s] = await serverFiles(s, env);
  });

  after(async () => {
    await stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("a person enrols and matches", async () => {
    person = await w.person();
    assert.equal((await person.step({ do: "consent" })).decision, "accept");
    assert.equal((await person.step({ do: "enrol", face: "genuine" })).reason, "ENROLLED");
    assert.equal((await person.step({ do: "verify", face: "genuine" })).reason, "MATCH");
  });

  it("backs up every server while it runs: encrypted, labelled C3, recorded in its audit chain", async () => {
    mkdirSync(join(home, "backups"), { mode: 0o700 });
    for (const s of SERVERS) {
      backups[s] = join(home, "backups", `${s}.backup`);
      if (s === "helper") {
        // once through the command line
        const r = spawnSync(process.execPath, [bin, "backup", "--server", s, "--out", backups[s], "--operator", "alice"], { env, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).server, "helper");
      } else {
        const r = await backupServer(s, backups[s], { operator: "alice", env });
        assert.ok(r.bytes > 0);
      }
      const text = readFileSync(backups[s], "utf8");
      const j = JSON.parse(text);
      assert.equal(j.classification, "C3");
      assert.equal(j.server, s);
      assert.equal(j.sealed.kind, "backup");
      assert.equal(j.sealed.aead, "AES-256-GCM");
      assert.doesNotMatch(text, /SQLite format 3|audit_log|CREATE TABLE/, "no plaintext database in the file");
      assert.ok(!text.includes(Buffer.from("SQLite format 3").toString("base64url").slice(0, 16)), "no base64 of the database either");
      const label = JSON.parse(readFileSync(`${backups[s]}.label.json`, "utf8"));
      assert.equal(label.classification, "C3");
      assert.equal(label.server, s);
      for (const f of [backups[s], `${backups[s]}.label.json`]) assert.equal(statSync(f).mode & 0o077, 0, `${f}: mode 0600`);
    }
  });

  it("a backup that fails is recorded as an error in the server's chain", async () => {
    // the output path is a directory: the encrypted file cannot be renamed into place
    await assert.rejects(backupServer("p0", join(home, "backups"), { operator: "alice", env }), /EISDIR|ENOTEMPTY|EEXIST/);
    const db = await openDb(`sqlite:${files.p0.database}`);
    try {
      const last = (await exportChain(db)).filter((r) => r.op === "backup").slice(-2);
      assert.deepEqual(last.map((r) => r.outcome), ["begun", "error"]);
      assert.equal(last[0].session, last[1].session);
    } finally {
      await closeDb(db);
    }
  });

  it("restore refuses: a running server, another server's backup, altered bytes or label, a wrong secret, an existing database without --force", async () => {
    const refuse = async (s: BackupServer, from: string, code: RegExp, o: { force?: boolean; env?: NodeJS.ProcessEnv } = {}) => {
      await assert.rejects(restoreServer(s, from, { operator: "bob", env: o.env ?? env, force: o.force }), code);
    };
    // running: refused even with --force
    await refuse("p1", backups.p1, /SERVER_RUNNING/, { force: true });
    await stop();
    // (stopped servers: their WALs are folded into the database files)
    const before = Object.fromEntries(SERVERS.map((s) => [s, sha(files[s].database)]));
    await refuse("p0", backups.gateway, /BACKUP_WRONG_SERVER/, { force: true });
    // the clear label says p1 but the encrypted header says gateway
    const relabelled = join(home, "backups", "relabelled");
    writeFileSync(relabelled, JSON.stringify({ ...JSON.parse(readFileSync(backups.gateway, "utf8")), server: "p1" }));
    await refuse("p1", relabelled, /BACKUP_WRONG_SERVER/, { force: true });
    const redated = join(home, "backups", "redated");
    writeFileSync(redated, JSON.stringify({ ...JSON.parse(readFileSync(backups.p0, "utf8")), createdAt: "2020-01-01T00:00:00.000Z" }));
    await refuse("p0", redated, /BACKUP_TAMPERED/, { force: true });
    const altered = join(home, "backups", "altered");
    const j = JSON.parse(readFileSync(backups.p0, "utf8"));
    const ct = Buffer.from(j.sealed.ciphertext, "base64url");
    ct[ct.length >> 1] ^= 1;
    writeFileSync(altered, JSON.stringify({ ...j, sealed: { ...j.sealed, ciphertext: ct.toString("base64url") } }));
    await refuse("p0", altered, /WRONG_KEY_SECRET/, { force: true });
    await refuse("p0", backups.p0, /WRONG_KEY_SECRET/, { force: true, env: { ...env, PRIVFACE_KEY_SECRET: "another-secret-0123456789" } });
    await refuse("p0", backups.p0, /TARGET_EXISTS.*--force/);
    await refuse("p0", join(home, "backups", "missing"), /BACKUP_INVALID/, { force: true });
    // a well-formed, correctly encrypted backup whose database is not one
    const h = { ...JSON.parse(readFileSync(backups.p0, "utf8")) };
    delete h.sealed;
    const hb = Buffer.from(JSON.stringify(h));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(hb.length);
    const garbage = join(home, "backups", "garbage");
    writeFileSync(garbage, JSON.stringify({ ...h, sealed: JSON.parse(encryptKeyFile("backup", "INTL", Buffer.concat([len, hb, Buffer.alloc(8192, 7)]), keySecretFromEnv(env))) }));
    await refuse("p0", garbage, /BACKUP_INVALID.*integrity/, { force: true });
    await refuse("p0", backups.p0, /UNSUPPORTED.*pg_dump/, { force: true, env: { ...env, PRIVFACE_P0_DB: "postgres://postgres@127.0.0.1:1/none" } });
    // nothing was touched, and no temporary file is left
    for (const s of SERVERS) {
      assert.equal(sha(files[s].database), before[s], `${s}'s database unchanged`);
      assert.deepEqual(readdirSync(dirname(files[s].database)).filter((f) => f.endsWith(".tmp")), [], "no temporary file left");
    }
  });

  it("wipe every database, restore all four, start again: the person still matches; each audit chain verifies with its backup and restore records", async () => {
    // the whole data folder goes (restore makes it again)
    for (const s of SERVERS) rmSync(dirname(files[s].database), { recursive: true, force: true });
    for (const s of SERVERS) {
      if (s === "helper") {
        const r = spawnSync(process.execPath, [bin, "restore", "--server", s, "--from", backups[s], "--operator", "bob"], { env, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).replaced, false);
      } else {
        const r = await restoreServer(s, backups[s], { operator: "bob", env });
        assert.equal(r.replaced, false);
        // a party's restored pool is discarded: items used after the backup must not be used again
        if (s === "p0" || s === "p1") assert.ok(r.poolItemsDiscarded! > 0, `${s}: ${JSON.stringify(r)}`);
      }
    }
    // --force replaces an existing (stopped) database wholly
    assert.equal((await restoreServer("gateway", backups.gateway, { operator: "bob", env, force: true })).replaced, true);
    await start();
    assert.equal((await person.step({ do: "verify", face: "genuine" })).reason, "MATCH");
    assert.equal((await person.step({ do: "verify", face: "impostor" })).reason, "NO_MATCH");
    await stop();
    for (const s of SERVERS) {
      const r = spawnSync(process.execPath, [bin, "audit", "verify", "--db", `sqlite:${files[s].database}`, "--key", files[s].auditKey], { env, encoding: "utf8" });
      assert.equal(r.status, 0, `${s}: ${r.stdout} ${r.stderr}`);
      assert.equal(JSON.parse(r.stdout).ok, true);
      const ex = spawnSync(process.execPath, [bin, "audit", "export", "--db", `sqlite:${files[s].database}`], { env, encoding: "utf8" });
      const ops = ex.stdout.trim().split("\n").map((l) => JSON.parse(l) as { op: string; outcome: string; requester: string });
      assert.ok(ops.some((r) => r.op === "backup" && r.outcome === "begun" && r.requester === "operator:alice"), `${s}: the backup record`);
      assert.ok(ops.some((r) => r.op === "restore" && r.outcome === "ok" && r.requester === "operator:bob"), `${s}: the restore record`);
      if (s === "p0" || s === "p1") assert.ok(ops.some((r) => r.op === "pool.discard" && r.requester === "operator:bob"), `${s}: the pool.discard record`);
    }
    assert.ok(existsSync(files.p0.database));
  });
  it("attack: restoring backups taken before a deregistration does not bring the erased template back", async () => {
    await start();
    assert.equal((await person.step({ do: "verify", face: "genuine" })).reason, "MATCH");
    assert.equal((await person.step({ do: "deregister" })).reason, "DELETED");
    assert.equal((await person.step({ do: "challenge", purpose: "verify" })).reason, "NOT_ENROLLED");
    await stop();
    for (const s of ["gateway", "p0", "p1"] as const) {
      const r = await restoreServer(s, backups[s], { operator: "bob", env, force: true });
      // the party's restored database held the template; its key is gone, so its rows go too
      if (s !== "gateway") assert.equal(r.erasedTemplatesDropped, 1, `${s}: ${JSON.stringify(r)}`);
    }
    for (const s of ["p0", "p1"] as const) {
      const db = await openDb(`sqlite:${files[s].database}`);
      try {
        const rows = await db.kysely.selectFrom("party_templates").select(["status", "share"]).execute();
        assert.ok(rows.length > 0 && rows.every((r) => r.status === "deleted" && r.share === null), `${s}: only tombstones, no share`);
        const ops = (await exportChain(db)).map((r) => `${r.op} ${r.outcome}`);
        assert.ok(ops.includes("template.drop-erased t1"), `${s}: the drop is in the chain`);
      } finally {
        await closeDb(db);
      }
    }
    await start();
    // the gateway's restored registry still lists the person as enrolled: the parties answer that they hold no such template
    assert.notEqual((await person.step({ do: "verify", face: "genuine" })).reason, "MATCH", "the erased template is not back");
    await stop();
  });
});

