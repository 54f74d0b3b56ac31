/**
 * Rotating a server's audit key (issue 13): `privface audit rotate-key` appends a handover signed by
 * the current key that names the new one, and a record signed by the new key; the chain verifies with
 * both keys in order, the server's own check with the new key alone; attack: a record signed with the
 * retired key after the handover (a stolen old key extending the chain) does not verify. Then
 * `privface keys destroy request|approve` (two operators) removes the retired key file (refused while the configuration names it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createAuditLog, exportChain } from "@privface/audit";
import { readKeyPairFile } from "@privface/crypto/node";
import { closeDb, openDb } from "@privface/db";
import { ensureRuntime } from "@privface/devstack";
import { loadPartyConfig } from "@privface/party";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));

test("privface audit rotate-key: handover to a new audit key; verify with both keys; attack: the retired key cannot extend the chain", async () => {
  const home = mkdtempSync(join(tmpdir(), "privface-audit-rotate-"));
  try {
    const { layout: L } = await ensureRuntime(home);
    const env: NodeJS.ProcessEnv = { ...process.env, PRIVFACE_HOME: home };
    const cfg = loadPartyConfig("P1", env);
    const old = await readKeyPairFile(cfg.auditKey);
    {
      const db = await openDb(cfg.db);
      const log = await createAuditLog(db, { role: "p1", signingKey: old });
      for (let i = 0; i < 3; i++) await log.append({ requester: "gateway", op: "verify", session: `s${i}`, outcome: "ok" });
      await closeDb(db);
    }
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env });
    const next = join(home, "keys", "p1", "audit-2027.json");
    const nextPub = join(home, "keys", "public", "p1-audit-2027.pub.json");
    assert.equal(run("keys", "generate", "--kind", "sign", "--suite", "INTL", "--out", next, "--public", nextPub).status, 0);
    const r = run("audit", "rotate-key", "--server", "p1", "--new-key", next, "--operator", "alice");
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.notEqual(out.from, out.to);

    const verify = (...keys: string[]) => run("audit", "verify", "--db", cfg.db, ...keys.flatMap((k) => ["--key", k]));
    const both = verify(L.auditPub("p1"), nextPub);
    assert.equal(both.status, 0, both.stdout + both.stderr);
    assert.equal(JSON.parse(both.stdout).records, 5);
    const oldOnly = verify(L.auditPub("p1"));
    assert.equal(oldOnly.status, 1, "records after the handover are not the old key's");
    assert.equal(JSON.parse(oldOnly.stdout).firstBroken.seq, 5);

    const db = await openDb(cfg.db);
    try {
      const ops = (await exportChain(db)).map((x) => [x.op, x.requester]);
      assert.deepEqual(ops.slice(-2), [["audit.key-handover", "operator:alice"], ["audit.key-accepted", "operator:alice"]]);
      // the restarted server's own check, with the new key alone
      assert.equal((await (await createAuditLog(db, { role: "p1", signingKey: await readKeyPairFile(next) })).check()).ok, true);
      // attack: whoever kept the old key appends after the handover
      await (await createAuditLog(db, { role: "p1", signingKey: old })).append({ requester: "gateway", op: "verify", session: "forged", outcome: "ok" });
    } finally {
      await closeDb(db);
    }
    const forged = verify(L.auditPub("p1"), nextPub);
    assert.equal(forged.status, 1);
    assert.deepEqual(JSON.parse(forged.stdout).firstBroken, { seq: 6, reason: "bad-signature" });

    // the retired key file: refused while the configuration names it, then destroyed under dual control and recorded
    const inUse = run("keys", "destroy", "request", "--server", "p1", "--file", cfg.auditKey, "--operator", "bob");
    assert.notEqual(inUse.status, 0);
    assert.match(inUse.stderr, /KEY_IN_USE/);
    assert.ok(existsSync(cfg.auditKey));
    const switched = { ...env, PRIVFACE_P1_AUDIT_KEY: next };
    const runSwitched = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: switched });
    const rq = runSwitched("keys", "destroy", "request", "--server", "p1", "--file", cfg.auditKey, "--operator", "bob");
    assert.equal(rq.status, 0, rq.stderr);
    const code = JSON.parse(rq.stdout).request as string;
    const d = runSwitched("keys", "destroy", "approve", "--server", "p1", "--file", cfg.auditKey, "--request", code, "--operator", "carol");
    assert.equal(d.status, 0, d.stderr);
    assert.ok(!existsSync(cfg.auditKey));
    const db2 = await openDb(cfg.db);
    try {
      assert.deepEqual((await exportChain(db2)).slice(-2).map((x) => [x.op, x.session, x.requester]), [["key.destroy.request", code, "operator:bob"], ["key.destroy", code, "operator:carol"]]);
    } finally {
      await closeDb(db2);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
