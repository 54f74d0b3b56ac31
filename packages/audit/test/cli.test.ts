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
import { createAuditLog, keepAnchor, sendAuditHead, AUDIT_TABLE } from "../src/index.ts";

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

test("audit verify --anchors: a tail deleted at P0 is found against the heads P1 keeps", async () => {
  const { key } = await ensureKeyPairFile(join(dir, "keys", "a-p0-audit.json"), "INTL", "sign");
  const pubFile = join(dir, "keys", "a-p0-audit.pub.json");
  writePublicKeyFile(pubFile, key);
  const [p0, p1] = [`sqlite:${join(dir, "a-p0.sqlite")}`, `sqlite:${join(dir, "a-p1.sqlite")}`];
  const db0 = await openDb(p0);
  const db1 = await openDb(p1);
  const log = await createAuditLog(db0, { role: "p0", signingKey: key });
  const post = async (body: { record: unknown; at?: unknown }) => ({ status: 200, body: await keepAnchor(db1, "p0", body.record, { at: body.at }) });
  for (let i = 0; i < 6; i++) {
    await log.append({ requester: "gateway", op: "verify", session: `a${i}`, outcome: i === 5 ? "refused" : "ok" });
    await sendAuditHead(log, post);
  }
  const intact = cli("audit", "verify", "--db", p0, "--key", pubFile, "--anchors", p1);
  assert.equal(intact.status, 0, intact.stderr);
  assert.equal(JSON.parse(intact.stdout).anchors, 6);
  // the insider deletes the newest two records (a refusal among them) at P0
  await db0.kysely.deleteFrom(AUDIT_TABLE).where("seq", ">=", 5).execute();
  await closeDb(db0);
  await closeDb(db1);
  const alone = cli("audit", "verify", "--db", p0, "--key", pubFile);
  assert.equal(alone.status, 0, "without the peer's heads the cut chain verifies");
  const cut = cli("audit", "verify", "--db", p0, "--key", pubFile, "--anchors", p1);
  assert.equal(cut.status, 1);
  assert.equal(JSON.parse(cut.stdout).firstBroken.reason, "truncated");
  assert.match(cut.stderr, /BROKEN at seq 5: truncated/);
  // the peer's heads checked against another server's key: refused, not trusted
  const { key: other } = await ensureKeyPairFile(join(dir, "keys", "other-audit.json"), "INTL", "sign");
  writePublicKeyFile(join(dir, "keys", "other-audit.pub.json"), other);
  const wrong = cli("audit", "verify", "--db", p0, "--key", join(dir, "keys", "other-audit.pub.json"), "--anchors", p1);
  assert.equal(wrong.status, 1);
  assert.equal(JSON.parse(wrong.stdout).badAnchor.seq, 1);
});
