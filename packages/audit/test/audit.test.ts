/** The audit contract suite on SQLite (files in a temp directory), plus pure chain checks. */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb, closeDb, type Db } from "@privface/db";
import { generateSigningKeyPair } from "@privface/crypto";
import { auditContract } from "./_suite.ts";
import { verifyRecords, createAuditLog, exportChain } from "../src/index.ts";

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
