/**
 * The party store's SQLite files on disk: no plaintext share or pool item, no key bytes, and after
 * erase not even the share's ciphertext (secure_delete + WAL checkpoint). Backup with a C3 label.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { closeDb, openDb, toBytes } from "@privface/db";
import { createPartyStore, openTemplateKeys } from "../src/store/index.ts";
import { CACHE_KIB } from "../src/store/_context.ts";
import { key1, nonce, share, sid, tid } from "./_store-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "privface-store-file-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** All bytes the database consists of on disk right now (main file, WAL, shared memory). */
function rawFiles(path: string): Buffer {
  return Buffer.concat([path, `${path}-wal`, `${path}-shm`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
}
const contains = (hay: Buffer, needle: Uint8Array): boolean => hay.indexOf(Buffer.from(needle)) >= 0;

for (const mode of ["on", "fast"] as const) {
  test(`sqlite file (secure_delete ${mode}): no plaintext shares or keys; erased ciphertext is gone`, async () => {
    const path = join(dir, `scan-${mode}.sqlite`);
    const db = await openDb(`sqlite:${path}`);
    const store = await createPartyStore(db, { role: "P0", dataKeys: { current: "k1", keys: new Map([["k1", key1]]) }, secureDelete: mode });
    const known = share(512);
    const target = tid();
    for (let i = 0; i < 150; i++) {
      const s = sid();
      await store.prepare(s, i === 75 ? target : tid(), "v1", i === 75 ? known : share(512));
      await store.commit(s);
    }
    const item = share(4096);
    await store.addItems([{ id: "secret-item", bytes: item }, ...Array.from({ length: 20 }, (_, i) => ({ id: `f-${i}`, bytes: share(4096) }))]);
    const row = await db.kysely.selectFrom("party_templates").select("share").where("template_id", "=", target).executeTakeFirstOrThrow();
    const cipher = toBytes(row.share).slice(13, 13 + 48); // inside the ciphertext body
    const before = rawFiles(path);
    assert.ok(contains(before, cipher), "the scan finds the stored ciphertext before erase (the scan works)");
    assert.ok(!contains(before, known.subarray(0, 32)), "no plaintext share bytes in the files");
    assert.ok(!contains(before, item.subarray(0, 32)), "no plaintext pool item bytes in the files");
    assert.ok(!contains(before, key1.subarray(0, 16)), "no key bytes in the files");

    // Erase the template (with its upgrade staged as well) and churn some more.
    const up = sid();
    const v2 = share(512);
    await store.stageUpgrade(up, target, "v2", v2);
    assert.deepEqual(await store.erase(target, { auth: { nonce: nonce(), expires: Date.now() + 10_000 } }), { existed: true });
    await store.takeItem();
    const afterErase = rawFiles(path);
    assert.ok(!contains(afterErase, cipher), "the erased share's ciphertext is gone from the main file and WAL");
    assert.ok(!contains(afterErase, known.subarray(0, 32)));
    assert.ok(!contains(afterErase, v2.subarray(0, 32)));
    assert.ok(!contains(afterErase, key1.subarray(0, 16)));
    await closeDb(db);
    const closed = rawFiles(path);
    assert.ok(!contains(closed, cipher));
  });
}

test("sqlite file: a used item's wrapped key is gone from the file, the WAL and a later backup", async () => {
  const path = join(dir, "used.sqlite");
  const db = await openDb(path);
  const store = await createPartyStore(db, { role: "P1", dataKeys: { current: "k1", keys: new Map([["k1", key1]]) } });
  const s = sid();
  const id = tid();
  await store.prepare(s, id, "v1", share(512));
  await store.commit(s);
  await store.addItems(Array.from({ length: 30 }, (_, i) => ({ id: `w-${i}`, bytes: share(29_000) })));
  const row = await db.kysely.selectFrom("party_pool").select("item_key").where("id", "=", "w-7").executeTakeFirstOrThrow();
  const wrapped = toBytes(row.item_key);
  db.sqlite!.pragma("wal_checkpoint(TRUNCATE)");
  assert.ok(contains(rawFiles(path), wrapped), "the scan finds the wrapped key before use (the scan works)");
  await store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", nonce: nonce(), expires: Date.now() + 10_000, itemId: "w-7" });
  const out = join(dir, "used-backup.sqlite");
  await store.backup(out);
  assert.ok(!contains(readFileSync(out), wrapped), "not in a backup taken after the commit");
  db.sqlite!.pragma("wal_checkpoint(TRUNCATE)");
  assert.ok(!contains(rawFiles(path), wrapped), "zeroed in the main file (secure_delete) once checkpointed");
  await closeDb(db);
});

test("sqlite file: the store's connection has a 32 MiB page cache (a verification's pool item does not push its B-tree pages out)", async () => {
  const db = await openDb(join(dir, "cache.sqlite"));
  assert.equal(db.sqlite!.pragma("cache_size", { simple: true }), -16000, "better-sqlite3's default (16 MB) before the store opens");
  await createPartyStore(db, { role: "P0", dataKeys: { current: "k1", keys: new Map([["k1", key1]]) } });
  assert.equal(db.sqlite!.pragma("cache_size", { simple: true }), -CACHE_KIB);
  assert.equal(CACHE_KIB, 32 * 1024);
  await closeDb(db);
});

test("sqlite file: aborted enrolment leaves no ciphertext behind", async () => {
  const path = join(dir, "abort.sqlite");
  const db = await openDb(path);
  const store = await createPartyStore(db, { role: "P1", dataKeys: { current: "k1", keys: new Map([["k1", key1]]) } });
  for (let i = 0; i < 20; i++) {
    const s = sid();
    await store.prepare(s, tid(), "v1", share(512));
    await store.commit(s);
  }
  const s = sid();
  const id = tid();
  await store.prepare(s, id, "v1", share(512));
  const row = await db.kysely.selectFrom("party_templates").select("share").where("template_id", "=", id).executeTakeFirstOrThrow();
  const cipher = toBytes(row.share).slice(13, 13 + 48);
  assert.ok(contains(rawFiles(path), cipher));
  await store.abort(s);
  assert.ok(!contains(rawFiles(path), cipher));
  await closeDb(db);
});

test("sqlite file: backup is a readable copy, private, labelled C3", async () => {
  const path = join(dir, "live.sqlite");
  const db = await openDb(path);
  const keys = { current: "k1", keys: new Map([["k1", key1]]) };
  // the copy opens with the data keys and the template-key register, which is not in it
  const templateKeys = await openTemplateKeys(join(dir, "live-template-keys.sqlite"));
  const store = await createPartyStore(db, { role: "P0", dataKeys: keys, templateKeys });
  const id = tid();
  const sh = share();
  const s = sid();
  await store.prepare(s, id, "v1", sh);
  await store.commit(s);
  const out = join(dir, "backup.sqlite");
  await store.backup(out);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const label = JSON.parse(readFileSync(`${out}.label.json`, "utf8"));
  assert.equal(label.classification, "C3");
  assert.deepEqual(label.keyIds, ["k1"]);
  assert.ok(!contains(readFileSync(out), sh.subarray(0, 32)));
  assert.ok(!contains(readFileSync(`${out}.label.json`), key1.subarray(0, 16)));
  const copy = await openDb(out);
  const restored = await createPartyStore(copy, { role: "P0", dataKeys: keys, templateKeys });
  assert.deepEqual((await restored.loadActive(id)).share, sh);
  await closeDb(copy);
  await closeDb(db);
  await templateKeys.close();
});

test("attack: a reader holding the WAL during an erase (a backup, an audit query) does not leave the erased ciphertext in the WAL for good", async () => {
  const path = join(dir, "reader.sqlite");
  const db = await openDb(`sqlite:${path}`);
  const store = await createPartyStore(db, { role: "P0", dataKeys: { current: "k1", keys: new Map([["k1", key1]]) } });
  const targets = [tid(), tid()];
  for (const t of [...targets, tid(), tid()]) {
    const s = sid();
    await store.prepare(s, t, "v1", share(512));
    await store.commit(s);
  }
  const cipherOf = async (t: string) => toBytes((await db.kysely.selectFrom("party_templates").select("share").where("template_id", "=", t).executeTakeFirstOrThrow()).share).slice(13, 13 + 48);
  const ciphers = await Promise.all(targets.map(cipherOf));
  // another connection (a backup, `privface audit export`) holds a read snapshot: a checkpoint cannot truncate the WAL
  const readerDb = await openDb(`sqlite:${path}`);
  const reader = readerDb.sqlite!;
  const hold = () => {
    reader.prepare("BEGIN").run();
    reader.prepare("SELECT count(*) FROM party_templates").get();
  };
  hold();
  // 1. the reader lets go within the store's retry window: the erase's checkpoint completes
  setTimeout(() => reader.prepare("COMMIT").run(), 150);
  await store.erase(targets[0], { auth: { nonce: nonce(), expires: Date.now() + 10_000 } });
  assert.ok(!contains(rawFiles(path), ciphers[0]), "the erased ciphertext is gone once the reader let go");
  assert.equal(store.pendingCheckpoint(), false);
  // 2. the reader holds on past the window: the erase answers, the checkpoint is owed, and paid when asked again
  hold();
  await store.erase(targets[1], { auth: { nonce: nonce(), expires: Date.now() + 10_000 } });
  assert.equal(store.pendingCheckpoint(), true, "the store knows the WAL still holds erased content");
  assert.equal(await store.retryCheckpoint(), false, "still held: not yet");
  reader.prepare("COMMIT").run();
  await closeDb(readerDb);
  assert.equal(await store.retryCheckpoint(), true);
  assert.equal(store.pendingCheckpoint(), false);
  assert.ok(!contains(rawFiles(path), ciphers[1]), "gone after the owed checkpoint");
  await closeDb(db);
});
