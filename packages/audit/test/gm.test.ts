/**
 * The audit chain in a GM deployment (issue 13): the whole contract suite again with SM2 audit keys
 * (records hashed with SM3, signed with SM2), plus the checks that the hash really is SM3 and that a
 * record re-hashed with SHA-256 (an INTL tool's forgery) is named.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb, closeDb, type Db } from "@privface/db";
import { canonicalJson, generateSigningKeyPair, type PublicKey } from "@privface/crypto";
import { auditContract } from "./_suite.ts";
import { AUDIT_TABLE, anchorSigned, createAuditLog, exportChain, hashOf, verifyChain } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "privface-audit-gm-"));
const open: Db[] = [];
let n = 0;
after(async () => {
  for (const db of open) await closeDb(db);
  rmSync(dir, { recursive: true, force: true });
});
const make = async () => {
  const db = await openDb(`sqlite:${join(dir, `g${n++}.sqlite`)}`);
  open.push(db);
  return db;
};

auditContract({ name: "sqlite GM", suite: "GM", make });

test("GM chain: every hash is SM3 of the canonical body, every signature SM2; a record re-hashed with SHA-256 is hash-mismatch", async () => {
  const db = await make();
  const key = await generateSigningKeyPair("GM");
  const log = await createAuditLog(db, { role: "p1", signingKey: key });
  for (let i = 0; i < 3; i++) await log.append({ requester: "gateway", op: "verify", session: `gm-${i}`, outcome: "ok" });
  const chain = await exportChain(db);
  for (const r of chain) {
    const { hash, sig, ...rest } = r;
    const body = { v: 1, seq: rest.seq, time: rest.time, role: rest.role, requester: rest.requester, op: rest.op, templateId: rest.templateId, session: rest.session, outcome: rest.outcome, code: rest.code, prev: rest.prev };
    assert.equal(hash, createHash("sm3").update(canonicalJson(body)).digest("base64url"));
    assert.equal(hashOf(r, "GM"), hash);
    assert.notEqual(hashOf(r, "INTL"), hash);
    assert.ok(sig === "" || Buffer.from(sig, "base64url")[0] === 0x30, "DER SM2");
  }
  assert.equal((await verifyChain(db, key)).ok, true);
  const pub: PublicKey = { suite: "GM", kind: "sign", publicKey: key.publicKey };
  assert.equal(await anchorSigned(chain[2], pub), true);
  // an INTL verifier key cannot stand in for the GM one
  const intl = await generateSigningKeyPair("INTL");
  assert.equal((await verifyChain(db, intl)).ok, false);
  // a record changed and re-hashed the INTL way
  await db.kysely.updateTable(AUDIT_TABLE).set({ outcome: "refused", hash: hashOf({ ...chain[1], outcome: "refused" }, "INTL") }).where("seq", "=", 2).execute();
  assert.deepEqual((await verifyChain(db, key)).firstBroken, { seq: 2, reason: "hash-mismatch" });
});
