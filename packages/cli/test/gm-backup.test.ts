/** A GM deployment's backups (issue 13): `privface backup` seals the database with SM4-GCM (a GM key file of kind backup), and the restore reads it back. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAuditLog, exportChain } from "@privface/audit";
import { readKeyPairFile } from "@privface/crypto/node";
import { closeDb, openDb } from "@privface/db";
import { ensureRuntime, freePorts } from "@privface/devstack";
import { loadHelperConfig } from "@privface/helper";
import { backupServer, restoreServer } from "../src/commands/backup.ts";

test("GM deployment: a backup is sealed with SM4-GCM and restores", async () => {
  const home = mkdtempSync(join(tmpdir(), "privface-gm-backup-"));
  try {
    await ensureRuntime(home, { suite: "GM" });
    const [port] = await freePorts(1); // a restore refuses while something answers on the server's port
    const env: NodeJS.ProcessEnv = { ...process.env, PRIVFACE_HOME: home, PRIVFACE_SUITE: "gm", PRIVFACE_HELPER_PORT: String(port) };
    const cfg = loadHelperConfig(env);
    const db = await openDb(cfg.db);
    const log = await createAuditLog(db, { role: "helper", signingKey: await readKeyPairFile(cfg.auditKey) });
    await log.append({ requester: "test", op: "seed", outcome: "ok" });
    await closeDb(db);
    const out = join(home, "helper.pfbak");
    await backupServer("helper", out, { operator: "alice", env });
    const sealed = (JSON.parse(readFileSync(out, "utf8")) as { sealed: { suite: string; aead: string } }).sealed;
    assert.deepEqual([sealed.suite, sealed.aead], ["GM", "SM4-GCM"]);
    await restoreServer("helper", out, { operator: "bob", env, force: true });
    const back = await openDb(cfg.db);
    try {
      assert.ok((await exportChain(back)).some((r) => r.op === "seed"));
    } finally {
      await closeDb(back);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
