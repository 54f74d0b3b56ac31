/** `privface audit verify | reconcile | export` through the real CLI (child processes). */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openDb, closeDb } from "@privface/db";
import { ensureKeyPairFile, writePublicKeyFile } from "@privface/crypto/node";
import { createAuditLog, AUDIT_TABLE } from "../src/index.ts";

process.env.PRIVFACE_KEY_SECRET ??= "audit-cli-test-key-secret-0123";
const bin = fileURLToPath(new URL("../../cli/bin/privface.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "privface-audit-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });

test("audit verify / reconcile / export", async () => {
  const keys: Record<string, string> = {};
  const urls: Record<string, string> = {};
  for (const role of ["p0", "p1"] as const) {
    const { key } = await ensureKeyPairFile(join(dir, "keys", `${role}-audit.json`), "INTL", "sign");
    writePublicKeyFile(join(dir, "keys", `${role}-audit.pub.json`), key);
    keys[role] = join(dir, "keys", `${role}-audit.pub.json`);
    urls[role] = `sqlite:${join(dir, `${role}.sqlite`)}`;
    const db = await openDb(urls[role]);
    const log = await createAuditLog(db, { role, signingKey: key });
    for (let i = 0; i < 3; i++) await log.append({ requester: "gateway", op: "verify", session: `s${i}`, outcome: "ok" });
    if (role === "p0") await log.append({ requester: "gateway", op: "enrol", session: "lonely", outcome: "ok" });
    await closeDb(db);
  }

  const ok = cli("audit", "verify", "--db", urls.p0, "--key", keys.p0);
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout).ok, true);
  assert.equal(JSON.parse(ok.stdout).records, 4);

  const exp = cli("audit", "export", "--db", urls.p1);
  assert.equal(exp.status, 0, exp.stderr);
  const lines = exp.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((r) => r.seq), [1, 2, 3]);
  assert.doesNotMatch(exp.stdout, /privateKey/);

  const rec = cli("audit", "reconcile", "--p0", urls.p0, "--p1", urls.p1, "--p0-key", keys.p0, "--p1-key", keys.p1);
  assert.equal(rec.status, 1);
  const r = JSON.parse(rec.stdout);
  assert.deepEqual(r.onlyP0.map((s: { session: string }) => s.session), ["lonely"]);
  assert.deepEqual(r.onlyP1, []);
  assert.match(rec.stderr, /session lonely: recorded at P0 only/);

  const db = await openDb(urls.p0);
  await db.kysely.updateTable(AUDIT_TABLE).set({ outcome: "refused" }).where("seq", "=", 2).execute();
  await closeDb(db);
  const bad = cli("audit", "verify", "--db", urls.p0, "--key", keys.p0);
  assert.equal(bad.status, 1);
  assert.deepEqual(JSON.parse(bad.stdout).firstBroken, { seq: 2, reason: "hash-mismatch" });
  assert.match(bad.stderr, /BROKEN at seq 2/);
  const wrongKey = cli("audit", "verify", "--db", urls.p1, "--key", keys.p0);
  assert.equal(wrongKey.status, 1);
});
