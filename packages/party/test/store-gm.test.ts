/**
 * The GM suite at rest (issue 13): a party whose data key is a GM key (16 bytes) seals its template
 * keys, shares and pool items with SM4-GCM — checked by opening the stored bytes by hand with SM4-GCM
 * (@privface/crypto/node) and not with AES-256-GCM.
 */
import assert from "node:assert/strict";
import { createDecipheriv } from "node:crypto";
import { test } from "node:test";
import { generateDataKey } from "@privface/crypto";
import { ensureDataKeyFile, readDataKeyFile, sm4GcmDecryptSync } from "@privface/crypto/node";
import { closeDb, openDb, toBytes } from "@privface/db";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStoreKeys } from "../src/admin.ts";
import { createPartyStore, openTemplateKeys } from "../src/store/index.ts";
import { nonce, share, sid, tid } from "./_store-contract.ts";

const aad = (...parts: string[]) => Buffer.from(parts.join("\0"), "utf8");

test("GM data key: template keys, shares and pool items are SM4-GCM at rest; they round-trip through enrol, verify and erase", async () => {
  const dk = generateDataKey("GM", "gm-1");
  assert.equal(dk.key.length, 16);
  const db = await openDb("sqlite::memory:");
  const reg = await openTemplateKeys(":memory:");
  const store = await createPartyStore(db, { role: "P1", dataKeys: { current: dk.id, keys: new Map([[dk.id, dk.key]]) }, templateKeys: reg });
  const id = tid();
  const sh = share(512);
  const s = sid();
  await store.prepare(s, id, "v1", sh);
  await store.commit(s);

  // by hand: unwrap the template key with SM4-GCM under the data key, then open the share with it
  const row = reg.get(id)!;
  const wrapped = Buffer.from(row.wrapped);
  const tkey = sm4GcmDecryptSync(dk.key, wrapped.subarray(1, 13), wrapped.subarray(13), aad("privface/party/tkey/v1", "P1", id, row.kid.toString("hex")));
  assert.equal(tkey.length, 16, "a 16-byte SM4 template key");
  const blob = toBytes((await db.kysely.selectFrom("party_templates").select("share").where("template_id", "=", id).executeTakeFirstOrThrow()).share);
  assert.deepEqual(sm4GcmDecryptSync(tkey, blob.subarray(9, 21), blob.subarray(21), aad("privface/party/share/v1", "P1", id, "v1")), sh);
  assert.throws(() => {
    const d = createDecipheriv("aes-128-gcm", tkey, blob.subarray(9, 21));
    d.setAAD(aad("privface/party/share/v1", "P1", id, "v1"));
    d.setAuthTag(blob.subarray(blob.length - 16));
    d.update(blob.subarray(21, blob.length - 16));
    d.final();
  }, "not AES-GCM");

  // pool items too; and the store's own paths
  const item = share(256);
  await store.addItems([{ id: "gm-item", bytes: item }]);
  const wrappedItemKey = toBytes((await db.kysely.selectFrom("party_pool").select("item_key").where("id", "=", "gm-item").executeTakeFirstOrThrow()).item_key);
  assert.equal(wrappedItemKey.length, 1 + 12 + 16 + 16, "a 16-byte item key under SM4-GCM");
  const v = await store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", nonce: nonce(), expires: Date.now() + 10_000 });
  assert.deepEqual(v.share, sh);
  assert.deepEqual(v.item.bytes, item);
  assert.deepEqual(await store.erase(id), { existed: true });
  assert.equal(reg.get(id), undefined);
  await closeDb(db);
  await reg.close();
});

test("a party configured with a GM data key file reads it for its store", () => {
  const dir = mkdtempSync(join(tmpdir(), "privface-gm-key-"));
  process.env.PRIVFACE_KEY_SECRET ??= "party-gm-test-secret-0123456789";
  try {
    const f = join(dir, "data.json");
    ensureDataKeyFile(f, "GM", "p0-gm");
    assert.equal(readDataKeyFile(f).suite, "GM");
    const keys = readStoreKeys({ dataKeys: [f] });
    assert.equal(keys.current, "p0-gm");
    assert.equal(keys.keys.get("p0-gm")!.length, 16);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
