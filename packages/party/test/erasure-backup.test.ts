/**
 * Erasure that survives backups (issue 13): every template's shares are sealed under its own key, kept
 * in the party's template-key register — a file of its own, never in the database or its backups —
 * and destroyed when the template is erased. Attack: an earlier copy of the database (a backup) plus
 * every data key and the register as it is now must not give back an erased template.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { closeDb, openDb, toBytes } from "@privface/db";
import { decrypt, aad } from "../src/store/_aead.ts";
import { createPartyStore, openTemplateKeys, StoreError, type PartyStore } from "../src/store/index.ts";
import { key1, key2, nonce, share, sid, tid } from "./_store-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "privface-erasure-backup-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const raw = (path: string) => Buffer.concat([path, `${path}-wal`, `${path}-shm`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
const code = (c: string) => (e: unknown) => e instanceof StoreError && e.code === c;

async function enrol(store: PartyStore, id: string, s: Uint8Array): Promise<void> {
  const session = sid();
  await store.prepare(session, id, "v1", s);
  await store.commit(session);
}

test("attack: a backup taken before an erasure, with every data key and the register, does not give the erased template back", async () => {
  const dbPath = join(dir, "p0.sqlite");
  const regPath = join(dir, "keys", "template-keys.sqlite");
  const backupPath = join(dir, "p0-backup.sqlite");
  const dataKeys = () => ({ current: "k1", keys: new Map([["k1", key1]]) });
  const db = await openDb(`sqlite:${dbPath}`);
  const reg = await openTemplateKeys(regPath);
  const store = await createPartyStore(db, { role: "P0", dataKeys: dataKeys(), templateKeys: reg });
  const [erased, kept] = [tid(), tid()];
  const [erasedShare, keptShare] = [share(512), share(512)];
  await enrol(store, erased, erasedShare);
  await enrol(store, kept, keptShare);
  await store.addItems([{ id: "item-1", bytes: share(64) }]);
  const wrappedBefore = reg.get(erased)!.wrapped;
  await store.backup(backupPath);
  assert.deepEqual(await store.erase(erased), { existed: true });
  assert.equal(reg.get(erased), undefined, "the erased template's key is gone from the register");
  assert.ok(!raw(regPath).includes(Buffer.from(wrappedBefore)), "and its wrapped bytes from the register's files (secure_delete, WAL truncated)");
  // a (malicious) enrolment under the erased id is refused and leaves no key behind
  await assert.rejects(store.prepare(sid(), erased, "v1", share(512)), code("TEMPLATE_EXISTS"));
  assert.equal(reg.get(erased), undefined);
  await closeDb(db);

  // the older copy, opened with the same data keys and the register as it is now
  const old = await openDb(`sqlite:${backupPath}`);
  try {
    const restored = await createPartyStore(old, { role: "P0", dataKeys: dataKeys(), templateKeys: reg });
    assert.equal((await restored.templateVersions(erased))[0].status, "active", "the backup still lists it (the attack's starting point)");
    await assert.rejects(restored.loadActive(erased), code("KEY_DESTROYED"), "its share cannot be opened");
    assert.deepEqual(await restored.loadActive(kept), { modelVersion: "v1", share: keptShare }, "a template not erased still opens");
    await assert.rejects(restored.beginVerify({ session: sid(), templateId: erased, modelVersion: "v1", nonce: nonce(), expires: Date.now() + 10_000 }), code("KEY_DESTROYED"));

    // offline, by hand: the share's ciphertext under any data key, or the kept template's key, fails
    const row = await old.kysely.selectFrom("party_templates").select("share").where("template_id", "=", erased).executeTakeFirstOrThrow();
    const blob = toBytes(row.share);
    assert.equal(blob[0], 0x02, "sealed under a template key");
    for (const k of [key1, key2]) assert.throws(() => decrypt(k, blob, aad("share", "P0", erased, "v1"), 9), code("INTEGRITY"));

    // restore's clean-up: the erased template becomes a tombstone, the kept one stays
    assert.equal(await restored.dropDestroyed(), 1);
    assert.equal(await restored.dropDestroyed(), 0);
    assert.deepEqual((await restored.templateVersions(erased)).map((v) => v.status), ["deleted"]);
    await assert.rejects(restored.loadActive(erased), code("UNKNOWN_TEMPLATE"));
    assert.deepEqual((await restored.loadActive(kept)).share, keptShare);
  } finally {
    await closeDb(old);
    await reg.close();
  }
});

test("an aborted enrolment destroys its template key; data-key rotation re-wraps the template keys and the old key can go", async () => {
  const reg = await openTemplateKeys(join(dir, "rot-keys.sqlite"));
  const db = await openDb("sqlite::memory:");
  const keys = new Map([["k1", key1]]);
  const store = await createPartyStore(db, { role: "P1", dataKeys: { current: "k1", keys }, templateKeys: reg });
  const [a, b] = [tid(), tid()];
  const sa = share(256);
  await enrol(store, a, sa);
  const s = sid();
  await store.prepare(s, b, "v1", share(256));
  assert.ok(reg.get(b));
  await store.abort(s);
  assert.equal(reg.get(b), undefined, "an aborted enrolment leaves no key");
  keys.set("k2", key2);
  assert.deepEqual(await store.rotateDataKey("k2"), { templates: 1, items: 0 });
  assert.equal(reg.get(a)!.keyId, "k2");
  keys.delete("k1");
  assert.deepEqual((await store.loadActive(a)).share, sa, "opens without the old data key");
  await closeDb(db);
  await reg.close();
});

test("exit: eraseAll tombstones every template and destroys every template key", async () => {
  const reg = await openTemplateKeys(join(dir, "exit-keys.sqlite"));
  const db = await openDb("sqlite::memory:");
  const store = await createPartyStore(db, { role: "P0", dataKeys: { current: "k1", keys: new Map([["k1", key1]]) }, templateKeys: reg });
  const ids = [tid(), tid(), tid()];
  for (const id of ids) await enrol(store, id, share(128));
  assert.deepEqual(await store.eraseAll(), { templates: 3, keys: 3 });
  assert.equal(reg.count(), 0);
  assert.deepEqual(await store.templateCounts(), { pending: 0, active: 0, retired: 0, deleted: 3 });
  await closeDb(db);
  await reg.close();
});

test("the register's in-memory rows: a key destroyed here or by another process (another connection) is not served from memory", async () => {
  const path = join(dir, "shared.template-keys");
  const a = await openTemplateKeys(path);
  const b = await openTemplateKeys(path);
  try {
    const row = (n: number) => ({ kid: Buffer.alloc(8, n), keyId: "k1", wrapped: new Uint8Array(48).fill(n) });
    a.put("t-own", row(1));
    a.put("t-other", row(2));
    assert.deepEqual(a.get("t-own")?.wrapped, row(1).wrapped);
    assert.deepEqual(a.get("t-other")?.wrapped, row(2).wrapped); // now held in a's memory
    // a copy is handed out: wiping it does not touch what the register serves next
    a.get("t-own")!.wrapped.fill(0);
    assert.deepEqual(a.get("t-own")?.wrapped, row(1).wrapped);
    assert.equal(a.destroy("t-own"), true);
    assert.equal(a.get("t-own"), undefined);
    // another connection destroys and re-wraps: the next lookup here reads the file again
    assert.equal(b.destroy("t-other"), true);
    assert.equal(a.get("t-other"), undefined);
    b.put("t-other", row(3));
    assert.deepEqual(a.get("t-other")?.wrapped, row(3).wrapped);
    b.rewrap("t-other", "k2", new Uint8Array(48).fill(4));
    assert.equal(a.get("t-other")?.keyId, "k2");
    assert.equal(b.destroyAll(), 1);
    assert.equal(a.get("t-other"), undefined);
  } finally {
    await a.close();
    await b.close();
  }
});
