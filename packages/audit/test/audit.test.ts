/** The audit contract suite on SQLite (files in a temp directory), plus pure chain checks. */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb, closeDb, type Db } from "@privface/db";
import { generateSigningKeyPair } from "@privface/crypto";
import { auditContract } from "./_suite.ts";
import { verifyRecords, createAuditLog, exportChain, verifyChain, AUDIT_TABLE } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "privface-audit-"));
const open: Db[] = [];
let n = 0;
after(async () => {
  for (const db of open) await closeDb(db);
  rmSync(dir, { recursive: true, force: true });
});

auditContract({
  name: "sqlite",
  async make() {
    const db = await openDb(`sqlite:${join(dir, `a${n++}.sqlite`)}`);
    open.push(db);
    return db;
  },
  async reopen(db) {
    const db2 = await openDb(`sqlite:${db.path}`);
    open.push(db2);
    return db2;
  },
});

test("verifyRecords on an exported array: duplicate and backwards seq are out-of-order", async () => {
  const db = await openDb(`sqlite:${join(dir, "arr.sqlite")}`);
  open.push(db);
  const key = await generateSigningKeyPair("INTL");
  const log = await createAuditLog(db, { role: "gateway", signingKey: key });
  for (let i = 0; i < 4; i++) await log.append({ requester: "device:d1", op: "verify", session: `x${i}`, outcome: "ok" });
  const chain = await exportChain(db);
  assert.equal((await verifyRecords(chain, key)).ok, true);
  assert.deepEqual((await verifyRecords([chain[0], chain[1], chain[1], chain[2]], key)).firstBroken?.reason, "out-of-order");
  assert.deepEqual((await verifyRecords([chain[0], chain[2], chain[1]], key)).firstBroken, { seq: 2, reason: "missing", detail: "next record has seq 3" });
  assert.deepEqual((await verifyRecords([chain[0], { ...chain[1], session: "A".repeat(200) }], key)).firstBroken?.reason, "malformed");
});

test("sqlite: the appends of one turn are one savepoint of the turn's group commit (a failing write beside them rolls back alone)", async () => {
  const path = join(dir, `g${n++}.sqlite`);
  const db = await openDb(`sqlite:${path}`);
  const other = await openDb(`sqlite:${path}`); // another connection: sees only committed rows
  open.push(db, other);
  const key = await generateSigningKeyPair("INTL");
  const log = await createAuditLog(db, { role: "p0", signingKey: key });
  db.sqlite!.exec("CREATE TABLE other (v INTEGER)");
  const count = (d: Db) => (d.sqlite!.prepare(`SELECT count(*) AS n FROM ${AUDIT_TABLE}`).get() as { n: number }).n;
  // Three appends and two other writes in one turn: one group, one transaction; the failing write
  // rolls back its own savepoint only.
  const appended = Promise.all([0, 1, 2].map((i) => log.append({ requester: "gateway", op: "verify", session: `t-${i}`, outcome: "ok" })));
  const seen = db.groupWrite(() => {
    db.sqlite!.prepare("INSERT INTO other (v) VALUES (1)").run();
    return { here: count(db), elsewhere: count(other) };
  });
  const bad = db.groupWrite(() => {
    db.sqlite!.prepare("INSERT INTO other (v) VALUES (2)").run();
    throw new Error("this write fails");
  });
  const records = await appended;
  assert.deepEqual(await seen, { here: 3, elsewhere: 0 }, "the appends are in the same, not yet committed, transaction");
  await assert.rejects(bad, /this write fails/);
  assert.deepEqual(records.map((r) => r.sig === ""), [true, true, false], "one signature for the turn's appends");
  assert.deepEqual(db.sqlite!.prepare("SELECT v FROM other").all(), [{ v: 1 }]);
  assert.equal(count(other), 3);
  // an append of a later turn chains on
  const r4 = await log.append({ requester: "gateway", op: "verify", session: "t-3", outcome: "ok" });
  assert.equal(r4.seq, 4);
  assert.equal(r4.prev, records[2].hash);
  assert.equal((await verifyChain(db, key)).ok, true);
});
