/**
 * The audit contract suite, run on SQLite (test/audit.test.ts) and PostgreSQL (test/pg/audit.test.ts):
 * every kind of tampering names the first broken record; reconcile finds one-sided sessions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createExec, type Db } from "@privface/db";
import { generateSigningKeyPair, type KeyPair } from "@privface/crypto";
import { createAuditLog, verifyChain, verifyRecords, exportChain, reconcile, recordsBetween, hashOf, AUDIT_TABLE, anchorSigned, anchorsOf, keepAnchor, latestAnchor, sendAuditHead, type AuditLog, type AuditRecord } from "../src/index.ts";

export interface DbFactory {
  name: string;
  /** A fresh, empty database (the suite closes nothing; the factory cleans up). */
  make(): Promise<Db>;
  /** A second handle on the same database as `db` (another "process"), if the backend supports it. */
  reopen?(db: Db): Promise<Db>;
  /** the keys' suite (default INTL): a GM chain is SM3-hashed and SM2-signed */
  suite?: "INTL" | "GM";
}

async function fiveRecords(f: DbFactory, key?: KeyPair): Promise<{ db: Db; key: KeyPair; log: AuditLog }> {
  const db = await f.make();
  key ??= await generateSigningKeyPair(f.suite ?? "INTL");
  let t = 1_764_576_000_000;
  const log = await createAuditLog(db, { role: "p0", signingKey: key, now: () => t++ });
  for (let i = 1; i <= 5; i++) {
    await log.append({ requester: "gateway", op: i % 2 ? "verify" : "enrol", templateId: `tpl-${i}`, session: `s-${i}`, outcome: i === 4 ? "refused" : "ok", code: i === 4 ? "AUTH_EXPIRED" : null });
  }
  return { db, key, log };
}

const COLUMNS: Record<string, unknown> = {
  time: 1_700_000_000_000, role: "p1", requester: "operator", op: "delete", template_id: "tpl-x", session: "s-x",
  outcome: "refused", code: "TAMPERED",
};

export function auditContract(f: DbFactory): void {
  test(`[${f.name}] a fresh chain verifies; records hold what was appended`, async () => {
    const { db, key } = await fiveRecords(f);
    const r = await verifyChain(db, key);
    assert.equal(r.ok, true);
    assert.equal(r.records, 5);
    assert.equal(r.head.seq, 5);
    const chain = await exportChain(db);
    assert.deepEqual(chain.map((x) => x.seq), [1, 2, 3, 4, 5]);
    assert.equal(chain[3].code, "AUTH_EXPIRED");
    assert.equal(chain[0].code, null);
    assert.equal(chain[1].prev, chain[0].hash);
    // one append per write: every record signed, i.e. the format of chains written before
    // signatures were per write — such chains still verify
    assert.ok(chain.every((x) => x.sig !== ""));
    const empty = await f.make();
    assert.deepEqual(await verifyChain(empty, key), { ok: true, records: 0, head: { seq: 0, hash: chain[0].prev } });
  });

  for (const [column, value] of Object.entries(COLUMNS)) {
    test(`[${f.name}] changing ${column} of record 3 is named: seq 3, hash-mismatch`, async () => {
      const { db, key } = await fiveRecords(f);
      await db.kysely.updateTable(AUDIT_TABLE).set({ [column]: value }).where("seq", "=", 3).execute();
      const r = await verifyChain(db, key);
      assert.equal(r.ok, false);
      assert.deepEqual(r.firstBroken && { seq: r.firstBroken.seq, reason: r.firstBroken.reason }, { seq: 3, reason: "hash-mismatch" });
      assert.equal(r.head.seq, 2);
    });
  }

  test(`[${f.name}] changing prev, hash or sig of record 3 is named`, async () => {
    const { db, key } = await fiveRecords(f);
    const chain = await exportChain(db);
    await db.kysely.updateTable(AUDIT_TABLE).set({ sig: chain[2].sig.slice(0, -2) + (chain[2].sig.endsWith("AA") ? "AQ" : "AA") }).where("seq", "=", 3).execute();
    assert.deepEqual((await verifyChain(db, key)).firstBroken?.seq, 3);
    assert.equal((await verifyChain(db, key)).firstBroken?.reason, "bad-signature");
    await db.kysely.updateTable(AUDIT_TABLE).set({ sig: chain[2].sig, hash: chain[1].hash }).where("seq", "=", 3).execute();
    assert.deepEqual((await verifyChain(db, key)).firstBroken, { seq: 3, reason: "hash-mismatch" });
    await db.kysely.updateTable(AUDIT_TABLE).set({ hash: chain[2].hash, prev: chain[2].hash }).where("seq", "=", 3).execute();
    assert.deepEqual((await verifyChain(db, key)).firstBroken, { seq: 3, reason: "hash-mismatch" });
  });

  test(`[${f.name}] one signature per write: a batch of 8 appends signs only its last record`, async () => {
    const db = await f.make();
    const key = await generateSigningKeyPair(f.suite ?? "INTL");
    const log = await createAuditLog(db, { role: "p0", signingKey: key });
    const returned = await Promise.all(Array.from({ length: 8 }, (_, i) => log.append({ requester: "gateway", op: "verify", session: `b-${i}`, outcome: "ok" })));
    const chain = await exportChain(db);
    assert.deepEqual(chain.map((r) => r.sig !== ""), [false, false, false, false, false, false, false, true]);
    assert.deepEqual(returned, chain);
    // a second write (and a joined transaction) each add exactly one signature, on their last record
    await Promise.all(Array.from({ length: 3 }, (_, i) => log.append({ requester: "gateway", op: "verify", session: `c-${i}`, outcome: "ok" })));
    await createExec(db).tx(async (tx) => {
      await log.append({ requester: "gateway", op: "commit", session: "t", outcome: "ok" }, { tx });
    });
    await log.append({ requester: "gateway", op: "verify", session: "d", outcome: "ok" });
    const all = await exportChain(db);
    assert.deepEqual(all.filter((r) => r.sig !== "").map((r) => r.seq), [8, 11, 12, 13]);
    assert.deepEqual(await verifyChain(db, key), { ok: true, records: 13, head: { seq: 13, hash: all[12].hash } });
    assert.deepEqual(await log.head(), { seq: 13, hash: all[12].hash });
  });

  test(`[${f.name}] unsigned records: covered by the next signature; a changed one, an unsigned head or a cut tail is broken`, async () => {
    const db = await f.make();
    const key = await generateSigningKeyPair(f.suite ?? "INTL");
    const log = await createAuditLog(db, { role: "p0", signingKey: key });
    await log.append({ requester: "gateway", op: "verify", session: "s-1", outcome: "ok" });
    await Promise.all(["s-2", "s-3", "s-4", "s-5"].map((session) => log.append({ requester: "gateway", op: "verify", session, outcome: "ok" })));
    const chain = await exportChain(db);
    assert.deepEqual(chain.map((r) => r.sig !== ""), [true, false, false, false, true]);
    assert.equal((await verifyChain(db, key)).ok, true);

    // a changed unsigned record: its hash no longer matches …
    await db.kysely.updateTable(AUDIT_TABLE).set({ outcome: "refused" }).where("seq", "=", 3).execute();
    assert.deepEqual((await verifyChain(db, key)).firstBroken, { seq: 3, reason: "hash-mismatch" });
    // … re-hashing it breaks the link of the next record …
    const forged = (i: number, over: Partial<AuditRecord>): AuditRecord => {
      const r = { ...chain[i], ...over };
      return { ...r, hash: hashOf(r, f.suite) };
    };
    const r3 = forged(2, { outcome: "refused" });
    await db.kysely.updateTable(AUDIT_TABLE).set({ hash: r3.hash }).where("seq", "=", 3).execute();
    const v = await verifyChain(db, key);
    assert.deepEqual(v.firstBroken, { seq: 4, reason: "broken-link" });
    assert.deepEqual(v.head, { seq: 1, hash: chain[0].hash }); // the last record a signature covers
    // … and re-hashing up to the signed record needs a signature the forger cannot make
    const r4 = forged(3, { prev: r3.hash });
    const r5 = forged(4, { prev: r4.hash });
    assert.deepEqual((await verifyRecords([chain[0], chain[1], r3, r4, r5], key)).firstBroken, { seq: 5, reason: "bad-signature" });
    // stripping the last signature does not help either
    assert.deepEqual((await verifyRecords([chain[0], chain[1], r3, r4, { ...r5, sig: "" }], key)).firstBroken?.reason, "unsigned-head");

    // an unsigned head, or a chain cut right after an unsigned record, is broken at the first uncovered record
    assert.deepEqual((await verifyRecords([...chain.slice(0, 4), { ...chain[4], sig: "" }], key)).firstBroken?.seq, 2);
    const cut = await verifyRecords(chain.slice(0, 3), key);
    assert.equal(cut.ok, false);
    assert.deepEqual(cut.firstBroken && { seq: cut.firstBroken.seq, reason: cut.firstBroken.reason }, { seq: 2, reason: "unsigned-head" });
    assert.deepEqual(cut.head, { seq: 1, hash: chain[0].hash });
    await db.kysely.updateTable(AUDIT_TABLE).set({ outcome: "ok", hash: chain[2].hash }).where("seq", "=", 3).execute();
    await db.kysely.deleteFrom(AUDIT_TABLE).where("seq", ">=", 4).execute();
    assert.deepEqual((await verifyChain(db, key)).firstBroken?.reason, "unsigned-head");
    // cut back to a signed record, the shorter chain is valid (only an anchor shows the cut, as before)
    await db.kysely.deleteFrom(AUDIT_TABLE).where("seq", ">=", 2).execute();
    assert.equal((await verifyChain(db, key)).ok, true);
  });

  test(`[${f.name}] a forger who turns a refusal into ok and recomputes the hash still fails the signature`, async () => {
    const { db, key } = await fiveRecords(f);
    const { hashOf } = await import("../src/index.ts");
    const rec = (await exportChain(db))[3];
    assert.equal(rec.outcome, "refused");
    const forged = { ...rec, outcome: "ok", code: null };
    await db.kysely.updateTable(AUDIT_TABLE).set({ outcome: "ok", code: null, hash: hashOf(forged, f.suite) }).where("seq", "=", 4).execute();
    assert.deepEqual((await verifyChain(db, key)).firstBroken, { seq: 4, reason: "bad-signature" });
  });

  test(`[${f.name}] deleting a record is named: the missing seq`, async () => {
    const { db, key } = await fiveRecords(f);
    await db.kysely.deleteFrom(AUDIT_TABLE).where("seq", "=", 3).execute();
    const r = await verifyChain(db, key);
    assert.equal(r.firstBroken?.seq, 3);
    assert.equal(r.firstBroken?.reason, "missing");
  });

  test(`[${f.name}] deleting the first record is named (seq 1 missing)`, async () => {
    const { db, key } = await fiveRecords(f);
    await db.kysely.deleteFrom(AUDIT_TABLE).where("seq", "=", 1).execute();
    assert.deepEqual((await verifyChain(db, key)).firstBroken?.seq, 1);
  });

  test(`[${f.name}] reordering two records is named at the first moved one`, async () => {
    const { db, key } = await fiveRecords(f);
    await db.kysely.updateTable(AUDIT_TABLE).set({ seq: 100 }).where("seq", "=", 2).execute();
    await db.kysely.updateTable(AUDIT_TABLE).set({ seq: 2 }).where("seq", "=", 4).execute();
    await db.kysely.updateTable(AUDIT_TABLE).set({ seq: 4 }).where("seq", "=", 100).execute();
    const r = await verifyChain(db, key);
    assert.deepEqual(r.firstBroken, { seq: 2, reason: "hash-mismatch" });
  });

  test(`[${f.name}] cutting off the tail is caught against a kept head; a wrong key fails at seq 1`, async () => {
    const { db, key, log } = await fiveRecords(f);
    const head = await log.head();
    assert.equal(head.seq, 5);
    assert.equal((await verifyChain(db, key, { expectHead: head })).ok, true);
    await db.kysely.deleteFrom(AUDIT_TABLE).where("seq", ">=", 4).execute();
    assert.equal((await verifyChain(db, key)).ok, true); // a chain alone cannot see a cut tail …
    assert.deepEqual((await verifyChain(db, key, { expectHead: head })).firstBroken?.reason, "truncated"); // … an anchor can
    const other = await generateSigningKeyPair(f.suite ?? "INTL");
    assert.deepEqual((await verifyChain(db, other)).firstBroken, { seq: 1, reason: "bad-signature" });
  });

  test(`[${f.name}] check(): a running log watches its own chain — new records verified as they come; a change, a forged rewrite or a cut tail is caught and stays caught`, async () => {
    const { db, log } = await fiveRecords(f);
    assert.deepEqual(await log.check(), { ok: true, records: 5 });
    await log.append({ requester: "gateway", op: "verify", session: "s-6", outcome: "ok" });
    assert.deepEqual(await log.check(), { ok: true, records: 6 });
    assert.deepEqual(await log.check(), { ok: true, records: 6 }, "nothing new: still fine");
    // a record already verified, changed: caught at the verified head or by the link after it
    await db.kysely.updateTable(AUDIT_TABLE).set({ outcome: "refused" }).where("seq", "=", 6).execute();
    const r = await log.check();
    assert.equal(r.ok, false);
    assert.deepEqual(r.firstBroken && { seq: r.firstBroken.seq, reason: r.firstBroken.reason }, { seq: 6, reason: "hash-mismatch" });
    await db.kysely.updateTable(AUDIT_TABLE).set({ outcome: "ok" }).where("seq", "=", 6).execute();
    assert.equal((await log.check()).ok, false, "once broken, broken until an operator looks (restart)");
  });

  test(`[${f.name}] check(): a new record rewritten with every later hash recomputed fails the newest signature; a cut tail is truncated`, async () => {
    const { db, key, log } = await fiveRecords(f);
    assert.equal((await log.check()).ok, true);
    for (let i = 6; i <= 8; i++) await log.append({ requester: "gateway", op: "verify", session: `s-${i}`, outcome: i === 7 ? "refused" : "ok", code: i === 7 ? "NO_MATCH" : null });
    // the forger turns the refusal at 7 into ok and re-hashes 7 and 8 (links included), keeping the signatures
    const chain = await exportChain(db);
    const r7 = { ...chain[6], outcome: "ok", code: null };
    r7.hash = hashOf(r7, f.suite);
    const r8 = { ...chain[7], prev: r7.hash };
    r8.hash = hashOf(r8, f.suite);
    for (const r of [r7, r8]) await db.kysely.updateTable(AUDIT_TABLE).set({ outcome: r.outcome, code: r.code, prev: r.prev, hash: r.hash }).where("seq", "=", r.seq).execute();
    const forged = await log.check();
    assert.deepEqual(forged.firstBroken?.reason, "bad-signature");
    // a second log on a chain whose verified tail is then cut
    const b = await fiveRecords(f, key);
    assert.deepEqual(await b.log.check(), { ok: true, records: 5 });
    await b.db.kysely.deleteFrom(AUDIT_TABLE).where("seq", ">=", 4).execute();
    assert.deepEqual((await b.log.check()).firstBroken?.reason, "truncated");
  });

  test(`[${f.name}] anchors: the heads a peer keeps catch a tail deleted while the server was down, on receipt and in verifyChain, also once the log has grown again`, async () => {
    const { db, key, log } = await fiveRecords(f);
    const peer = await f.make(); // the peer's database (P1 keeps P0's heads)
    // the peer answers as the party route does: keepAnchor with the caller's role
    const post = async (body: { record: unknown; at?: unknown }) => ({ status: 200, body: await keepAnchor(peer, "p0", body.record, { at: body.at }) });
    const head5 = (await log.headRecord())!;
    assert.equal(head5.seq, 5);
    assert.deepEqual(await sendAuditHead(log, post), { outcome: "stored", want: 5 });
    assert.deepEqual(await sendAuditHead(log, post), { outcome: "known", want: 5 });
    assert.equal(await anchorSigned(head5, key), true);
    // a newer head is kept only beside the record at the kept seq
    for (let i = 6; i <= 7; i++) await log.append({ requester: "gateway", op: "verify", session: `s-${i}`, outcome: "ok" });
    assert.deepEqual(await keepAnchor(peer, "p0", await log.headRecord()), { outcome: "want", want: 5 });
    assert.deepEqual(await sendAuditHead(log, post), { outcome: "stored", want: 7 });
    assert.deepEqual(await latestAnchor(peer, "p0"), await log.headRecord());
    const anchors = await anchorsOf(peer, "p0");
    assert.deepEqual(anchors.map((a) => a.seq), [5, 7]);
    assert.equal((await verifyChain(db, key, { anchors })).ok, true);
    // the newest records are deleted while the server is down: the chain alone still verifies …
    await db.kysely.deleteFrom(AUDIT_TABLE).where("seq", ">=", 6).execute();
    assert.equal((await verifyChain(db, key)).ok, true, "a cut tail ending in a signed record verifies on its own");
    // … but not against the heads its peer keeps
    assert.deepEqual((await verifyChain(db, key, { anchors })).firstBroken?.reason, "truncated");
    // restarted, the server sends its head (seq 5): it goes back, refused on receipt
    const log2 = await createAuditLog(db, { role: "p0", signingKey: key });
    assert.deepEqual(await sendAuditHead(log2, post), { outcome: "regressed", want: 7 });
    // grown again past the kept head with other records: the record at seq 7 differs, refused too
    for (let i = 6; i <= 9; i++) await log2.append({ requester: "gateway", op: "enrol", session: `r-${i}`, outcome: "ok" });
    assert.deepEqual(await sendAuditHead(log2, post), { outcome: "regressed", want: 7 });
    assert.deepEqual(await anchorsOf(peer, "p0"), anchors, "kept anchors never change");
    assert.deepEqual((await verifyChain(db, key, { anchors })).firstBroken?.reason, "hash-mismatch");
  });

  test(`[${f.name}] anchors: only a well-formed, signed record of the sender's own role is kept`, async () => {
    const { log, key } = await fiveRecords(f);
    const peer = await f.make();
    const head = (await log.headRecord())!;
    const bad: [string, unknown][] = [
      ["p1", head], // P1 cannot hand in a record of P0's chain
      ["p0", { ...head, outcome: "forged" }], // hash no longer matches
      ["p0", { ...head, sig: "" }], // unsigned
      ["p0", { ...head, seq: 0 }],
      ["p0", "not a record"],
      ["p0", { ...head, requester: "x".repeat(500) }],
    ];
    for (const [from, r] of bad) await assert.rejects(keepAnchor(peer, from, r), (e: Error & { code?: string }) => e.code === "BAD_ANCHOR", JSON.stringify(r).slice(0, 80));
    assert.equal(await latestAnchor(peer, "p0"), null);
    assert.equal(await anchorSigned({ ...head, sig: head.sig.slice(0, -4) + "AAAA" }, key), false);
    assert.equal(await anchorSigned(head, await generateSigningKeyPair(f.suite ?? "INTL")), false, "another server's key");
  });

  test(`[${f.name}] entries are validated: no blobs, no long or odd values`, async () => {
    const db = await f.make();
    const signKey = await generateSigningKeyPair(f.suite ?? "INTL");
    const log = await createAuditLog(db, { role: "p1", signingKey: signKey });
    const ok = { requester: "gateway", op: "verify", outcome: "ok" };
    const share = Buffer.alloc(128, 7).toString("base64url"); // the smallest share: 171 characters
    const key = Buffer.alloc(32, 9).toString("base64url");
    for (const bad of [
      { ...ok, session: share },
      { ...ok, templateId: share },
      { ...ok, requester: key },
      { ...ok, requester: `device:${key}` },
      { ...ok, op: `verify.${key.toLowerCase()}` },
      { ...ok, requester: "x".repeat(200) },
      { ...ok, op: "" },
      { ...ok, outcome: "OK!" },
      { ...ok, code: "lower" },
      { ...ok, requester: 5 },
      { ...ok, session: "a b" },
      { ...ok, time: -1 },
    ]) {
      await assert.rejects(log.append(bad as never), { code: "INVALID_ENTRY" }, JSON.stringify(bad).slice(0, 80));
    }
    assert.equal((await exportChain(db)).length, 0);
    await log.append(ok);
    await log.append({ ...ok, session: "s".repeat(120), templateId: "T".repeat(64) }); // long random ids are fine
    assert.equal((await verifyChain(db, signKey)).records, 2);
    await assert.rejects(createAuditLog(db, { role: "P0!", signingKey: signKey }), { code: "INVALID_ENTRY" });
  });

  test(`[${f.name}] concurrent appends form one valid chain`, async () => {
    const db = await f.make();
    const key = await generateSigningKeyPair(f.suite ?? "INTL");
    const log = await createAuditLog(db, { role: "p0", signingKey: key });
    await Promise.all(Array.from({ length: 40 }, (_, i) => log.append({ requester: "gateway", op: "verify", session: `c-${i}`, outcome: "ok" })));
    const r = await verifyChain(db, key);
    assert.equal(r.ok, true);
    assert.equal(r.records, 40);
    if (f.reopen) {
      const db2 = await f.reopen(db);
      const log2 = await createAuditLog(db2, { role: "p0", signingKey: key });
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 ? log : log2).append({ requester: "gateway", op: "verify", session: `d-${i}`, outcome: "ok" })),
      );
      const r2 = await verifyChain(db, key);
      assert.equal(r2.ok, true, JSON.stringify(r2.firstBroken));
      assert.equal(r2.records, 70);
    }
  });

  test(`[${f.name}] append inside a caller's transaction commits or rolls back with it`, async () => {
    const db = await f.make();
    const key = await generateSigningKeyPair(f.suite ?? "INTL");
    const log = await createAuditLog(db, { role: "p0", signingKey: key });
    const exec = createExec(db);
    await assert.rejects(
      exec.tx(async (tx) => {
        await log.append({ requester: "gateway", op: "enrol", session: "rolled-back", outcome: "ok" }, { tx });
        throw new Error("operation failed");
      }),
      /operation failed/,
    );
    await exec.tx(async (tx) => {
      await log.append({ requester: "gateway", op: "enrol", session: "kept", outcome: "ok" }, { tx });
    });
    const chain = await exportChain(db);
    assert.deepEqual(chain.map((r) => r.session), ["kept"]);
    assert.equal((await verifyChain(db, key)).ok, true);
  });

  test(`[${f.name}] GM audit keys (SM2) sign and verify the chain`, async () => {
    const { db, key } = await fiveRecords(f, await generateSigningKeyPair("GM"));
    assert.equal((await verifyChain(db, key)).ok, true);
    await db.kysely.updateTable(AUDIT_TABLE).set({ requester: "p1" }).where("seq", "=", 5).execute();
    assert.deepEqual((await verifyChain(db, key)).firstBroken, { seq: 5, reason: "hash-mismatch" });
  });

  test(`[${f.name}] reconcile names the sessions only one party recorded`, async () => {
    const key0 = await generateSigningKeyPair(f.suite ?? "INTL");
    const key1 = await generateSigningKeyPair(f.suite ?? "INTL");
    const db0 = await f.make();
    const db1 = await f.make();
    const p0 = await createAuditLog(db0, { role: "p0", signingKey: key0 });
    const p1 = await createAuditLog(db1, { role: "p1", signingKey: key1 });
    for (let i = 0; i < 6; i++) {
      await p0.append({ requester: "gateway", op: "verify", session: `s-${i}`, outcome: "ok" });
      await p1.append({ requester: "gateway", op: "verify", session: `s-${i}`, outcome: "ok" });
    }
    await p0.append({ requester: "gateway", op: "enrol", session: "only-p0", templateId: "t9", outcome: "ok" });
    await p0.append({ requester: "gateway", op: "commit", session: "only-p0", templateId: "t9", outcome: "ok" });
    await p1.append({ requester: "gateway", op: "delete", session: "only-p1", outcome: "ok" });
    await p1.append({ requester: "operator", op: "key.rotate", outcome: "ok" }); // no session: ignored
    const r = reconcile(await exportChain(db0), await exportChain(db1));
    assert.equal(r.ok, false);
    assert.deepEqual(r.onlyA, [{ session: "only-p0", seqs: [7, 8], ops: ["enrol", "commit"] }]);
    assert.deepEqual(r.onlyB, [{ session: "only-p1", seqs: [7], ops: ["delete"] }]);
    assert.equal(r.common, 6);
    assert.equal(reconcile(await exportChain(db0), await exportChain(db0)).ok, true);
  });

  test(`[${f.name}] recordsBetween: the records of a time range, found by a binary search over seq; filtered; at most \`limit\`, \`truncated\` beyond`, async () => {
    const db = await f.make();
    const log = await createAuditLog(db, { role: "p0", signingKey: await generateSigningKeyPair(f.suite ?? "INTL") });
    for (let i = 1; i <= 40; i++) await log.append({ requester: "gateway", op: i % 4 === 0 ? "device.register" : "verify", session: `s${i}`, outcome: "computed", time: i * 100 });
    const all = await recordsBetween(db, { from: 1000, to: 2000, limit: 100 });
    assert.deepEqual(all.records.map((r) => r.seq), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    assert.equal(all.truncated, false);
    const some = await recordsBetween(db, { from: 1000, to: 2000, limit: 3 }, (r) => r.op === "verify");
    assert.deepEqual([some.records.map((r) => r.seq), some.truncated], [[10, 11, 13], true]);
    assert.deepEqual((await recordsBetween(db, { from: 5000, to: 9000, limit: 10 })).records, []);
    assert.deepEqual((await recordsBetween(db, { from: 0, to: 150, limit: 10 })).records.map((r) => r.seq), [1]);
  });
}
