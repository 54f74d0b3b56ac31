/**
 * Keys in use in the chain (issue 13: every key event in the audit chain): a configuration-driven
 * rotation — a new key put in, an old one retired, a retired one removed — leaves `key.activate` and
 * `key.retire` records; an unchanged restart leaves none; the records and the kept set change in one
 * transaction (a failed append leaves neither).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeDb, openDb } from "@privface/db";
import { generateSigningKeyPair } from "@privface/crypto";
import { createAuditLog, exportChain, keyFingerprint, recordKeysInUse, verifyChain, type AuditLog } from "../src/index.ts";

test("a configuration-driven rotation is in the chain: key.activate for the new key, key.retire for the removed one; an unchanged restart adds nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "privface-audit-keys-"));
  const db = await openDb(`sqlite:${join(dir, "p0.sqlite")}`);
  try {
    const key = await generateSigningKeyPair("INTL");
    const log = await createAuditLog(db, { role: "p0", signingKey: key });
    const [s1, s2] = [await keyFingerprint(new Uint8Array(32).fill(1)), await keyFingerprint(new Uint8Array(32).fill(2))];
    assert.notEqual(s1, s2);
    assert.match(s1, /^[A-Za-z0-9_-]{16}$/);
    const ops = async () => (await exportChain(db)).filter((r) => r.op.startsWith("key.")).map((r) => `${r.op} ${r.session}`);
    // first start: the whole set
    await recordKeysInUse(db, log, [{ slot: "seal", id: s1 }, { slot: "audit", id: "auditkey0001" }]);
    assert.deepEqual(await ops(), [`key.activate seal:${s1}`, "key.activate audit:auditkey0001"]);
    // a restart with the same configuration: nothing
    assert.deepEqual(await recordKeysInUse(db, log, [{ slot: "audit", id: "auditkey0001" }, { slot: "seal", id: s1 }]), { activated: [], retired: [] });
    // rotation: the new sealing key current, the old one retired
    await recordKeysInUse(db, log, [{ slot: "seal", id: s2 }, { slot: "seal.retired", id: s1 }, { slot: "audit", id: "auditkey0001" }]);
    // the retired key removed
    await recordKeysInUse(db, log, [{ slot: "seal", id: s2 }, { slot: "audit", id: "auditkey0001" }]);
    assert.deepEqual((await ops()).slice(2), [
      `key.retire seal:${s1}`, `key.activate seal:${s2}`, `key.activate seal.retired:${s1}`,
      `key.retire seal.retired:${s1}`,
    ]);
    assert.ok((await exportChain(db)).filter((r) => r.op.startsWith("key.")).every((r) => r.requester === "config"));
    assert.equal((await verifyChain(db, key)).ok, true);
    // an append that fails: neither the record nor the kept set changes
    const broken: Pick<AuditLog, "append"> = { append: () => Promise.reject(new Error("audit down")) };
    await assert.rejects(recordKeysInUse(db, broken, [{ slot: "seal", id: s1 }]), /audit down/);
    assert.deepEqual(await recordKeysInUse(db, log, [{ slot: "seal", id: s2 }, { slot: "audit", id: "auditkey0001" }]), { activated: [], retired: [] });
    // a malformed slot or id is refused before anything is written
    await assert.rejects(recordKeysInUse(db, log, [{ slot: "Seal key", id: s1 }]), TypeError);
    await assert.rejects(recordKeysInUse(db, log, [{ slot: "seal", id: "short" }]), TypeError);
  } finally {
    await closeDb(db);
    rmSync(dir, { recursive: true, force: true });
  }
});
