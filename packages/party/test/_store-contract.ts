/**
 * Contract suite for the party store, run on SQLite (test/store.test.ts) and PostgreSQL
 * (test/pg/store.test.ts) through a factory that opens a fresh database each time.
 */
import assert from "node:assert/strict";
import { createDecipheriv, randomBytes } from "node:crypto";
import { test } from "node:test";
import { migrate, toBytes, type Db } from "@privface/db";
import { PARTY_MIGRATIONS_TABLE, partyMigrations } from "../src/store/_migrations.ts";
import { createPartyStore, openTemplateKeys, StoreError, type PartyStore, type PartyStoreOptions, type StoreErrorCode } from "../src/store/index.ts";

export interface StoreFixture {
  db: Db;
  store: PartyStore;
  clock: { t: number };
  reopen(opts?: Partial<PartyStoreOptions>): Promise<PartyStore>;
}
export type OpenFresh = () => Promise<Db>;

export const key1 = new Uint8Array(randomBytes(32));
export const key2 = new Uint8Array(randomBytes(32));
const T0 = 1_764_578_000_000;

export const tid = (): string => `t${randomBytes(15).toString("base64url")}`;
export const sid = (): string => `s${randomBytes(12).toString("base64url")}`;
export const nonce = (): string => randomBytes(16).toString("base64url");
export const share = (n = 512): Uint8Array => new Uint8Array(randomBytes(n));

export async function rejectsCode(p: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected StoreError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** The columns a party database may have, table by table (R11: nothing that identifies a person). */
export const ALLOWED_COLUMNS: Record<string, string[]> = {
  party_templates: ["template_id", "model_version", "status", "key_id", "share", "created_at", "updated_at"],
  party_sessions: ["session", "kind", "state", "template_id", "model_version", "old_model_version", "created_at", "updated_at"],
  party_verifications: ["session", "template_id", "model_version", "item_id", "created_at"],
  party_pool: ["seq", "id", "key_id", "item_key", "added_at", "used_at", "session", "reserved_until"],
  party_pool_items: ["seq", "item"],
  party_authorisations: ["nonce", "expires"],
  party_devices: ["device_id", "suite", "signing_key", "auth_key", "status", "created_at", "updated_at"],
  party_budgets: ["template_id", "day", "runs", "share", "prev_runs", "prev_share", "verifications", "exhausted", "updated_at", "pending"],
  party_migrations: ["name", "timestamp"],
  party_migrations_lock: ["id", "is_locked"],
};
const FORBIDDEN = /name|phone|mobile|email|id_?card|id_?number|passport|account|person|merchant|address|birth|national/i;

export function storeContract(label: string, openFresh: OpenFresh, closeDb: (db: Db) => Promise<void>): void {
  async function fixture(role: "P0" | "P1" = "P0"): Promise<StoreFixture> {
    const db = await openFresh();
    const clock = { t: T0 };
    // the register a server keeps beside its database (store/template-keys.ts), shared by every reopen
    const templateKeys = await openTemplateKeys(":memory:");
    const base: PartyStoreOptions = { role, dataKeys: { current: "k1", keys: new Map([["k1", key1]]) }, now: () => clock.t, templateKeys };
    const store = await createPartyStore(db, base);
    return { db, store, clock, reopen: (o = {}) => createPartyStore(db, { ...base, ...o }) };
  }
  async function withStore(fn: (f: StoreFixture) => Promise<void>, role: "P0" | "P1" = "P0"): Promise<void> {
    const f = await fixture(role);
    try {
      await fn(f);
    } finally {
      await closeDb(f.db);
    }
  }
  const auth = (f: StoreFixture) => ({ nonce: nonce(), expires: f.clock.t + 30_000 });
  async function enrolled(f: StoreFixture, mv = "v1", sh = share()): Promise<{ id: string; sh: Uint8Array }> {
    const id = tid();
    const s = sid();
    await f.store.prepare(s, id, mv, sh);
    await f.store.commit(s);
    return { id, sh };
  }
  async function rawShare(f: StoreFixture, id: string, mv: string): Promise<unknown> {
    const row = await f.db.kysely.selectFrom("party_templates").select("share").where("template_id", "=", id).where("model_version", "=", mv).executeTakeFirst();
    return row?.share;
  }

  test(`${label}: schema holds only allow-listed columns (R11)`, () =>
    withStore(async (f) => {
      const tables = await f.db.kysely.introspection.getTables();
      // Every table of this (fresh, party-only) database; on PostgreSQL, of this run's schema.
      const seen = tables.filter((t) => f.db.schema === undefined || t.schema === f.db.schema);
      assert.deepEqual(seen.map((t) => t.name).sort(), Object.keys(ALLOWED_COLUMNS).sort());
      for (const t of seen) {
        const cols = t.columns.map((c) => c.name).sort();
        assert.deepEqual(cols, [...ALLOWED_COLUMNS[t.name]].sort(), `columns of ${t.name}`);
        for (const c of cols) assert.ok(!FORBIDDEN.test(c) || c === "name", `column ${t.name}.${c} looks like personal data`);
      }
    }));

  test(`${label}: enrol prepare → commit, idempotent, TEMPLATE_EXISTS`, () =>
    withStore(async (f) => {
      const id = tid();
      const s = sid();
      const sh = share();
      assert.deepEqual(await f.store.prepare(s, id, "v1", sh), { created: true });
      assert.deepEqual(await f.store.prepare(s, id, "v1", sh), { created: false });
      assert.deepEqual((await f.store.templateVersions(id)).map((v) => v.status), ["pending"]);
      await rejectsCode(f.store.loadActive(id), "UNKNOWN_TEMPLATE");
      await rejectsCode(f.store.prepare(sid(), id, "v1", sh), "TEMPLATE_EXISTS"); // pending elsewhere
      await rejectsCode(f.store.prepare(s, tid(), "v1", sh), "SESSION_EXISTS");
      f.clock.t += 5;
      const c = await f.store.commit(s, { templateId: id });
      assert.deepEqual(c, { session: s, kind: "enrol", templateId: id, modelVersion: "v1", repeated: false });
      assert.equal((await f.store.commit(s)).repeated, true);
      const [v] = await f.store.templateVersions(id);
      assert.equal(v.status, "active");
      assert.equal(v.keyId, "k1");
      assert.equal(v.createdAt, T0);
      assert.equal(v.updatedAt, T0 + 5);
      const loaded = await f.store.loadActive(id);
      assert.equal(loaded.modelVersion, "v1");
      assert.deepEqual(loaded.share, sh);
      await rejectsCode(f.store.prepare(sid(), id, "v2", sh), "TEMPLATE_EXISTS");
      await rejectsCode(f.store.commit(sid()), "SESSION_UNKNOWN");
      await rejectsCode(f.store.abort(s), "SESSION_STATE");
      await rejectsCode(f.store.commit(s, { templateId: tid() }), "INVALID_INPUT");
      assert.deepEqual(await f.store.templateCounts(), { pending: 0, active: 1, retired: 0, deleted: 0 });
    }));

  test(`${label}: activePage lists the active templates of one version in byte order, a page at a time`, () =>
    withStore(async (f) => {
      // ids whose byte order differs from a case-insensitive collation ("Z" < "a" < "b")
      const ids = ["tb-2", "tZ-1", "ta-3", "t_-4", "t-5"].map((p) => p.padEnd(16, "x"));
      const shares = new Map<string, Uint8Array>();
      for (const id of ids) {
        const s = sid();
        shares.set(id, share());
        await f.store.prepare(s, id, "v1", shares.get(id)!);
        await f.store.commit(s, { templateId: id });
      }
      await f.store.prepare(sid(), "tA-pendingxxxxxxx", "v1", share()); // pending: not listed
      const other = sid();
      await f.store.prepare(other, "tB-otherxxxxxxxxx", "v2", share()); // another version: not listed
      await f.store.commit(other, { templateId: "tB-otherxxxxxxxxx" });
      await f.store.erase(ids[4]); // erased: not listed
      const sorted = ids.slice(0, 4).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      const seen: string[] = [];
      let after = "";
      for (;;) {
        const page = await f.store.activePage("v1", after, 2);
        for (const r of page) assert.deepEqual(r.share, shares.get(r.templateId));
        seen.push(...page.map((r) => r.templateId));
        if (page.length < 2) break;
        after = page[page.length - 1].templateId;
      }
      assert.deepEqual(seen, sorted);
      assert.deepEqual((await f.store.activePage("v2", "", 10)).map((r) => r.templateId), ["tB-otherxxxxxxxxx"]);
      await assert.rejects(f.store.activePage("v1", "", 0), RangeError);
    }));

  test(`${label}: abort erases the pending share; presumed abort refuses a late prepare`, () =>
    withStore(async (f) => {
      const id = tid();
      const s = sid();
      await f.store.prepare(s, id, "v1", share());
      const a = await f.store.abort(s);
      assert.deepEqual(a, { session: s, state: "aborted", kind: "enrol", templateId: id, repeated: false });
      assert.equal((await f.store.abort(s)).repeated, true);
      assert.deepEqual(await f.store.templateVersions(id), []);
      await rejectsCode(f.store.commit(s), "SESSION_STATE");
      await rejectsCode(f.store.prepare(s, id, "v1", share()), "SESSION_STATE");
      // The same template id can be enrolled by a new session after an abort.
      const s2 = sid();
      await f.store.prepare(s2, id, "v1", share());
      await f.store.commit(s2);
      // Abort that arrives before its prepare (e.g. P1 never got the prepare).
      const late = sid();
      const id2 = tid();
      assert.equal((await f.store.abort(late, { templateId: id2 })).state, "unknown");
      await rejectsCode(f.store.prepare(late, id2, "v1", share()), "SESSION_EXISTS");
      assert.deepEqual(await f.store.templateVersions(id2), []);
    }));

  test(`${label}: pendingOlderThan lists prepared sessions for recovery`, () =>
    withStore(async (f) => {
      const a = sid();
      const b = sid();
      const c = sid();
      const ida = tid();
      await f.store.prepare(a, ida, "v1", share());
      f.clock.t += 10_000;
      await f.store.prepare(b, tid(), "v1", share());
      await f.store.prepare(c, tid(), "v1", share());
      await f.store.commit(c);
      f.clock.t += 1_000;
      const old = await f.store.pendingOlderThan(5_000);
      assert.deepEqual(old.map((s) => s.session), [a]);
      assert.equal(old[0].templateId, ida);
      assert.equal(old[0].kind, "enrol");
      assert.equal(old[0].state, "prepared");
      assert.deepEqual((await f.store.pendingOlderThan(0)).map((s) => s.session).sort(), [a, b].sort());
      assert.equal((await f.store.getSession(c))?.state, "committed");
      assert.equal(await f.store.getSession(sid()), undefined);
    }));

  test(`${label}: upgrade stage → promote retires v_old and erases its share`, () =>
    withStore(async (f) => {
      const { id } = await enrolled(f, "v1");
      const s = sid();
      const v2 = share();
      await rejectsCode(f.store.stageUpgrade(s, id, "v1", v2), "WRONG_MODEL_VERSION");
      await rejectsCode(f.store.stageUpgrade(s, tid(), "v2", v2), "UNKNOWN_TEMPLATE");
      assert.deepEqual(await f.store.stageUpgrade(s, id, "v2", v2), { created: true });
      assert.deepEqual(await f.store.stageUpgrade(s, id, "v2", v2), { created: false });
      const before = Object.fromEntries((await f.store.templateVersions(id)).map((v) => [v.modelVersion, v.status]));
      assert.deepEqual(before, { v1: "active", v2: "pending" });
      assert.equal((await f.store.loadActive(id)).modelVersion, "v1");
      const p = await f.store.promoteUpgrade(s);
      assert.deepEqual(p, { session: s, kind: "upgrade", templateId: id, modelVersion: "v2", repeated: false });
      assert.equal((await f.store.commit(s)).repeated, true);
      const after = Object.fromEntries((await f.store.templateVersions(id)).map((v) => [v.modelVersion, v.status]));
      assert.deepEqual(after, { v1: "retired", v2: "active" });
      assert.equal(await rawShare(f, id, "v1"), null);
      const loaded = await f.store.loadActive(id);
      assert.equal(loaded.modelVersion, "v2");
      assert.deepEqual(loaded.share, v2);
      // Back to a retired version is another upgrade.
      const back = sid();
      await f.store.stageUpgrade(back, id, "v1", share());
      await f.store.commit(back);
      assert.equal((await f.store.loadActive(id)).modelVersion, "v1");
    }));

  test(`${label}: upgrade discard, supersede, and kind checks`, () =>
    withStore(async (f) => {
      const { id, sh } = await enrolled(f, "v1");
      const s1 = sid();
      await f.store.stageUpgrade(s1, id, "v2", share());
      assert.equal((await f.store.discardUpgrade(s1)).state, "aborted");
      assert.deepEqual((await f.store.templateVersions(id)).map((v) => v.status), ["active"]);
      assert.deepEqual((await f.store.loadActive(id)).share, sh);
      // A newer staging supersedes an older one that was never promoted.
      const s2 = sid();
      const s3 = sid();
      await f.store.stageUpgrade(s2, id, "v2", share());
      const v3 = share();
      await f.store.stageUpgrade(s3, id, "v3", v3);
      assert.equal((await f.store.getSession(s2))?.state, "aborted");
      await rejectsCode(f.store.promoteUpgrade(s2), "SESSION_STATE");
      await f.store.promoteUpgrade(s3);
      assert.deepEqual((await f.store.loadActive(id)).share, v3);
      // promoteUpgrade / discardUpgrade refuse enrolment sessions.
      const e = sid();
      await f.store.prepare(e, tid(), "v1", share());
      await rejectsCode(f.store.promoteUpgrade(e), "SESSION_STATE");
      await rejectsCode(f.store.discardUpgrade(e), "SESSION_STATE");
    }));

  test(`${label}: erase removes every version's share, leaves a tombstone, is idempotent`, () =>
    withStore(async (f) => {
      const { id } = await enrolled(f, "v1");
      const s = sid();
      await f.store.stageUpgrade(s, id, "v2", share());
      assert.deepEqual(await f.store.erase(id, { auth: auth(f) }), { existed: true });
      const rows = await f.db.kysely.selectFrom("party_templates").selectAll().where("template_id", "=", id).execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0].status, "deleted");
      assert.equal(rows[0].share, null);
      assert.equal((await f.store.getSession(s))?.state, "aborted");
      await rejectsCode(f.store.commit(s), "SESSION_STATE");
      assert.deepEqual(await f.store.erase(id), { existed: false });
      assert.deepEqual(await f.store.erase(tid()), { existed: false });
      await rejectsCode(f.store.loadActive(id), "UNKNOWN_TEMPLATE");
      await rejectsCode(f.store.prepare(sid(), id, "v1", share()), "TEMPLATE_EXISTS");
      await f.store.addItems([{ id: "i1", bytes: share(64) }]);
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f) }), "UNKNOWN_TEMPLATE");
      assert.equal(await f.store.poolLevel(), 1);
      // Erase during a pending enrolment: the commit then fails, nothing is left.
      const p = sid();
      const id2 = tid();
      await f.store.prepare(p, id2, "v1", share());
      assert.deepEqual(await f.store.erase(id2), { existed: true });
      await rejectsCode(f.store.commit(p), "SESSION_STATE");
      assert.deepEqual((await f.store.templateVersions(id2)).map((v) => v.status), ["deleted"]);
      // Three tombstones: id, the never-enrolled id erased above (a delayed prepare of it is refused), id2.
      assert.equal((await f.store.templateCounts()).deleted, 3);
    }));

  test(`${label}: discardPool (after a restore) uses up every unused item, for good`, () =>
    withStore(async (f) => {
      const items = Array.from({ length: 3 }, (_, i) => ({ id: `disc-${i}`, bytes: share(50 + i) }));
      await f.store.addItems(items);
      await f.store.takeItem(sid());
      assert.equal(await f.store.discardPool(), 2);
      assert.equal(await f.store.poolLevel(), 0);
      await rejectsCode(f.store.markUsed("disc-1"), "ITEM_REUSED");
      await rejectsCode(f.store.takeItem(), "POOL_EXHAUSTED");
      assert.deepEqual(await f.store.addItems([items[2]]), { added: 0 }, "a discarded id stays used");
      assert.equal(await f.store.discardPool(), 0);
    }));

  test(`${label}: pool take / markUsed / level, never twice`, () =>
    withStore(async (f) => {
      const items = Array.from({ length: 5 }, (_, i) => ({ id: `item-${i}`, bytes: share(100 + i) }));
      assert.deepEqual(await f.store.addItems(items), { added: 5 });
      assert.deepEqual(await f.store.addItems([items[0], { id: "item-5", bytes: share(10) }]), { added: 1 });
      assert.deepEqual(await f.store.addItems([]), { added: 0 });
      assert.equal(await f.store.poolLevel(), 6);
      const a = await f.store.takeItem(sid());
      assert.equal(a.id, "item-0");
      assert.deepEqual(a.bytes, items[0].bytes);
      const c = await f.store.markUsed("item-2");
      assert.deepEqual(c.bytes, items[2].bytes);
      await rejectsCode(f.store.markUsed("item-2"), "ITEM_REUSED");
      await rejectsCode(f.store.markUsed("item-0"), "ITEM_REUSED");
      await rejectsCode(f.store.markUsed("nope"), "ITEM_UNKNOWN");
      assert.equal((await f.store.takeItem()).id, "item-1");
      assert.equal((await f.store.takeItem()).id, "item-3");
      assert.equal(await f.store.poolLevel(), 2);
      // Re-adding a used id does not make it usable again.
      assert.deepEqual(await f.store.addItems([items[0]]), { added: 0 });
      assert.equal((await f.store.takeItem()).id, "item-4");
      assert.equal((await f.store.takeItem()).id, "item-5");
      await rejectsCode(f.store.takeItem(), "POOL_EXHAUSTED");
      assert.equal(await f.store.poolLevel(), 0);
      const used = await f.db.kysely.selectFrom("party_pool").select(["item_key", "key_id", "used_at"]).execute();
      assert.ok(used.every((r) => r.item_key === null && r.key_id === null && r.used_at !== null), "used items keep no item key");
    }));

  test(`${label}: items reserved for item nonces (decision 012): used only by name, never taken, kept across a crash, discarded unused once expired`, () =>
    withStore(async (f) => {
      const { id } = await enrolled(f);
      await f.store.addItems(Array.from({ length: 4 }, (_, i) => ({ id: `r-${i}`, bytes: share(64) })));
      const until = f.clock.t + 1_000;
      assert.deepEqual((await f.store.reserveItems(2, until)).sort(), ["r-0", "r-1"]);
      assert.equal(await f.store.poolLevel(), 2, "reserved items are spoken for");
      // no other run takes a reserved item: not takeItem, not a verification that names none
      assert.equal((await f.store.takeItem(sid())).id, "r-2");
      assert.equal((await f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f) })).item.id, "r-3");
      await rejectsCode(f.store.takeItem(), "POOL_EXHAUSTED");
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f) }), "POOL_EXHAUSTED");
      assert.deepEqual(await f.store.reserveItems(5, until), [], "a reserved item is never reserved again");
      // the nonce's verification uses it by name, once
      const s = sid();
      assert.equal((await f.store.beginVerify({ session: s, templateId: id, modelVersion: "v1", ...auth(f), itemId: "r-0" })).item.id, "r-0");
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f), itemId: "r-0" }), "ITEM_REUSED");
      // a crash after the reservation (the store reopened): still reserved, still not taken
      const again = await f.reopen();
      await rejectsCode(again.takeItem(), "POOL_EXHAUSTED");
      assert.equal(await again.poolLevel(), 0);
      // before its nonce expires the purge keeps it; once expired it is discarded unused, key erased
      await again.purge({ sessionsMs: 86_400_000, usedItemsMs: 86_400_000 });
      assert.equal((await f.db.kysely.selectFrom("party_pool").select("used_at").where("id", "=", "r-1").executeTakeFirstOrThrow()).used_at, null);
      f.clock.t = until;
      await again.purge({ sessionsMs: 86_400_000, usedItemsMs: 86_400_000 });
      const r1 = await f.db.kysely.selectFrom("party_pool").select(["used_at", "item_key", "key_id"]).where("id", "=", "r-1").executeTakeFirstOrThrow();
      assert.ok(r1.used_at !== null && r1.item_key === null && r1.key_id === null, "an expired reservation is discarded, its key erased");
      await rejectsCode(again.markUsed("r-1"), "ITEM_REUSED");
      assert.equal(await again.poolLevel(), 0);
      await rejectsCode(again.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f), itemId: "r-1" }), "ITEM_REUSED");
      await rejectsCode(again.reserveItems(1, f.clock.t), "INVALID_INPUT");
      await assert.rejects(again.reserveItems(0, f.clock.t + 1), RangeError);
    }));

  test(`${label}: the pool's age bound: purge with unusedItemsMs discards unused, unreserved items older than that (key erased, never taken), keeps younger and reserved ones`, () =>
    withStore(async (f) => {
      await f.store.addItems([{ id: "old-0", bytes: share(64) }, { id: "old-1", bytes: share(64) }]);
      f.clock.t += 10_000;
      await f.store.addItems([{ id: "new-0", bytes: share(64) }]);
      const until = f.clock.t + 60_000;
      assert.deepEqual(await f.store.reserveItems(1, until), ["old-0"]);
      await f.store.purge({ sessionsMs: 86_400_000, usedItemsMs: 86_400_000 });
      assert.equal(await f.store.poolLevel(), 2, "no bound asked: nothing discarded");
      await f.store.purge({ sessionsMs: 86_400_000, usedItemsMs: 86_400_000, unusedItemsMs: 5_000 });
      const rows = await f.db.kysely.selectFrom("party_pool").select(["id", "used_at", "item_key", "key_id"]).orderBy("seq").execute();
      assert.deepEqual(rows.map((r) => [r.id, r.used_at !== null, r.item_key === null, r.key_id === null]), [["old-0", false, false, false], ["old-1", true, true, true], ["new-0", false, false, false]]);
      assert.equal(await f.store.poolLevel(), 1);
      assert.equal((await f.store.takeItem(sid())).id, "new-0");
      await rejectsCode(f.store.markUsed("old-1"), "ITEM_REUSED");
      await assert.rejects(f.store.purge({ sessionsMs: 0, usedItemsMs: 0, unusedItemsMs: -1 }), RangeError);
    }));

  test(`${label}: a used item's ciphertext cannot be opened (its key is gone); purge deletes it`, () =>
    withStore(async (f) => {
      const { id } = await enrolled(f);
      const items = Array.from({ length: 3 }, (_, i) => ({ id: `k-${i}`, bytes: share(3000) }));
      await f.store.addItems(items);
      const raw = async (itemId: string) => {
        const p = await f.db.kysely.selectFrom("party_pool").select(["seq", "key_id", "item_key"]).where("id", "=", itemId).executeTakeFirstOrThrow();
        const b = await f.db.kysely.selectFrom("party_pool_items").select("item").where("seq", "=", p.seq).executeTakeFirst();
        return { keyId: p.key_id, itemKey: p.item_key === null ? null : toBytes(p.item_key), item: b ? toBytes(b.item) : undefined };
      };
      const before = await raw("k-0");
      assert.equal(before.keyId, "k1");
      assert.equal(before.itemKey?.length, 61, "1 + iv 12 + key 32 + tag 16");
      assert.equal(before.item?.length, 3000 + 29);
      // The ciphertext is under a per-item key, not under the data key.
      assert.throws(() => gcmOpen(key1, before.item!, `privface/party/poolitem/v1\0P0\0k-0`));
      assert.throws(() => gcmOpen(key1, before.item!, `privface/party/pool/v1\0P0\0k-0`));
      await f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f), itemId: "k-0" });
      const after = await raw("k-0");
      assert.equal(after.itemKey, null, "the wrapped item key is erased in the verify transaction");
      assert.equal(after.keyId, null);
      assert.deepEqual(after.item, before.item, "the ciphertext is left for later (off the hot path)");
      // Nothing left in the database opens it: not the data key, not any stored wrapped key.
      assert.throws(() => gcmOpen(key1, after.item!, `privface/party/poolitem/v1\0P0\0k-0`));
      for (const k of await f.db.kysely.selectFrom("party_pool").select("item_key").where("item_key", "is not", null).execute()) {
        const wrapped = toBytes(k.item_key);
        const other = gcmOpen(key1, wrapped, `privface/party/poolkey/v1\0P0\0k-1`, true) ?? gcmOpen(key1, wrapped, `privface/party/poolkey/v1\0P0\0k-2`, true);
        assert.ok(other, "the other items' keys unwrap");
        assert.throws(() => gcmOpen(other, after.item!, `privface/party/poolitem/v1\0P0\0k-0`));
      }
      // purge deletes the used ciphertexts (whatever usedItemsMs), keeps the unused ones and the marker.
      await f.store.takeItem(sid());
      const r = await f.store.purge({ sessionsMs: 60_000, usedItemsMs: 60_000 });
      assert.deepEqual(r, { sessions: 0, items: 0, ciphertexts: 2 });
      assert.equal((await raw("k-0")).item, undefined);
      assert.equal((await raw("k-1")).item, undefined);
      assert.ok((await raw("k-2")).item);
      await rejectsCode(f.store.markUsed("k-0"), "ITEM_REUSED");
      assert.deepEqual((await f.store.markUsed("k-2")).bytes, items[2].bytes);
      assert.deepEqual(await f.store.purge({ sessionsMs: 60_000, usedItemsMs: 60_000 }), { sessions: 0, items: 0, ciphertexts: 1 });
    }));

  test(`${label}: addItems reuses the space of used ciphertexts`, () =>
    withStore(async (f) => {
      await f.store.addItems(Array.from({ length: 10 }, (_, i) => ({ id: `a-${i}`, bytes: share(100) })));
      for (let i = 0; i < 10; i++) await f.store.takeItem();
      const count = async () => Number((await f.db.kysely.selectFrom("party_pool_items").select((e) => e.fn.countAll().as("n")).executeTakeFirstOrThrow()).n);
      assert.equal(await count(), 10);
      await f.store.addItems([{ id: "a-10", bytes: share(100) }]);
      assert.equal(await count(), 1, "the used ciphertexts were swept before the insert");
      assert.equal((await f.store.takeItem()).id, "a-10");
    }));

  test(`${label}: concurrent takes never hand out the same item`, () =>
    withStore(async (f) => {
      const n = 150; // more than one addItems chunk
      assert.deepEqual(await f.store.addItems(Array.from({ length: n }, (_, i) => ({ id: `c${i}`, bytes: share(32) }))), { added: n });
      const { id } = await enrolled(f);
      const results = await Promise.allSettled(
        Array.from({ length: n + 5 }, (_, i) =>
          i % 2 === 0 ? f.store.takeItem(sid()).then((x) => x.id) : f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f) }).then((x) => x.item.id),
        ),
      );
      const ids = results.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<string>).value);
      const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
      assert.equal(ids.length, n);
      assert.equal(new Set(ids).size, n);
      assert.equal(failed.length, 5);
      for (const r of failed) assert.equal((r.reason as StoreError).code, "POOL_EXHAUSTED");
    }));

  test(`${label}: concurrent requests: one nonce consumed once, one template enrolled once`, () =>
    withStore(async (f) => {
      const n = nonce();
      const auths = await Promise.allSettled(Array.from({ length: 8 }, () => f.store.consumeAuthorisation(n, f.clock.t + 1000)));
      assert.equal(auths.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of auths) if (r.status === "rejected") assert.equal((r.reason as StoreError).code, "AUTH_REUSED");
      const id = tid();
      const preps = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => f.store.prepare(sid(), id, `v${i}`, share())));
      assert.equal(preps.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of preps) if (r.status === "rejected") assert.equal((r.reason as StoreError).code, "TEMPLATE_EXISTS");
      assert.equal((await f.store.templateVersions(id)).length, 1);
    }));

  test(`${label}: authorisations are single use and expire`, () =>
    withStore(async (f) => {
      const n = nonce();
      await f.store.consumeAuthorisation(n, f.clock.t + 1000);
      await rejectsCode(f.store.consumeAuthorisation(n, f.clock.t + 1000), "AUTH_REUSED");
      await rejectsCode(f.store.consumeAuthorisation(nonce(), f.clock.t), "AUTH_EXPIRED");
      await rejectsCode(f.store.consumeAuthorisation("short", f.clock.t + 1000), "INVALID_INPUT");
      // A refused operation does not consume its authorisation; a successful one does.
      const { id } = await enrolled(f);
      const a = auth(f);
      await rejectsCode(f.store.prepare(sid(), id, "v1", share(), { auth: a }), "TEMPLATE_EXISTS");
      await f.store.prepare(sid(), tid(), "v1", share(), { auth: a });
      await rejectsCode(f.store.prepare(sid(), tid(), "v1", share(), { auth: a }), "AUTH_REUSED");
      await rejectsCode(f.store.erase(id, { auth: a }), "AUTH_REUSED");
      // Expired nonces are purged.
      f.clock.t += 60_000;
      await f.store.consumeAuthorisation(nonce(), f.clock.t + 1000);
      const left = await f.db.kysely.selectFrom("party_authorisations").select("nonce").execute();
      assert.equal(left.length, 1);
    }));

  test(`${label}: beginVerify consumes auth, loads the share, takes an item, records the session — or nothing`, () =>
    withStore(async (f) => {
      const { id, sh } = await enrolled(f, "v1");
      const items = [
        { id: "p-1", bytes: share(2048) },
        { id: "p-2", bytes: share(2048) },
      ];
      await f.store.addItems(items);
      const s = sid();
      const a = auth(f);
      const r = await f.store.beginVerify({ session: s, templateId: id, modelVersion: "v1", ...a });
      assert.deepEqual(r.share, sh);
      assert.deepEqual(r.item, items[0]);
      const rec = await f.db.kysely.selectFrom("party_verifications").selectAll().where("session", "=", s).executeTakeFirstOrThrow();
      assert.equal(rec.item_id, "p-1");
      assert.equal(rec.template_id, id);
      const pool = await f.db.kysely.selectFrom("party_pool").select(["session"]).where("id", "=", "p-1").executeTakeFirstOrThrow();
      assert.equal(pool.session, s);
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...a }), "AUTH_REUSED");
      // Failures consume nothing.
      await rejectsCode(f.store.beginVerify({ session: s, templateId: id, modelVersion: "v1", ...auth(f) }), "SESSION_EXISTS");
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v9", ...auth(f) }), "WRONG_MODEL_VERSION");
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: tid(), modelVersion: "v1", ...auth(f) }), "UNKNOWN_TEMPLATE");
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", nonce: nonce(), expires: f.clock.t }), "AUTH_EXPIRED");
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f), itemId: "p-1" }), "ITEM_REUSED");
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f), itemId: "p-9" }), "ITEM_UNKNOWN");
      const retry = auth(f);
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v9", ...retry }), "WRONG_MODEL_VERSION");
      assert.equal(await f.store.poolLevel(), 1);
      // P1 uses the item P0 named; the refused authorisation above is still usable.
      const p1 = await f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...retry, itemId: "p-2" });
      assert.deepEqual(p1.item, items[1]);
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f) }), "POOL_EXHAUSTED");
    }));

  test(`${label}: beginVerify consumes party nonce and envelope marks with the authorisation (NONCE_REUSED, ENVELOPE_REUSED), or nothing (decision 010 §3)`, () =>
    withStore(async (f) => {
      const { id } = await enrolled(f, "v1");
      await f.store.addItems(Array.from({ length: 4 }, (_, i) => ({ id: `m-${i}`, bytes: share(64) })));
      const exp = f.clock.t + 300_000;
      const n1 = { kind: "nonce" as const, value: "N".repeat(46), expires: exp };
      const e1 = { kind: "envelope" as const, value: "E".repeat(43), expires: exp };
      await f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f), marks: [n1, e1] });
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f), marks: [n1] }), "NONCE_REUSED");
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f), marks: [{ ...n1, value: "M".repeat(46) }, e1] }), "ENVELOPE_REUSED");
      // the refusals consumed nothing: the new nonce and the authorisation are still usable
      const a = auth(f);
      await rejectsCode(f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v9", ...a, marks: [{ ...n1, value: "M".repeat(46) }] }), "WRONG_MODEL_VERSION");
      await f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...a, marks: [{ ...n1, value: "M".repeat(46) }] });
      await f.store.consumeAuthorisation(nonce(), exp, [{ ...n1, value: "O".repeat(46) }]);
      await rejectsCode(f.store.consumeAuthorisation(nonce(), exp, [{ ...n1, value: "O".repeat(46) }]), "NONCE_REUSED");
      // the first reused key in the order given names the error; a mark given twice is reused
      const used = auth(f);
      await f.store.consumeAuthorisation(used.nonce, used.expires);
      await rejectsCode(f.store.consumeAuthorisation(used.nonce, used.expires, [n1, e1]), "AUTH_REUSED");
      await rejectsCode(f.store.consumeAuthorisation(nonce(), exp, [{ ...n1, value: "P".repeat(46) }, e1, n1]), "ENVELOPE_REUSED");
      const e2 = { ...e1, value: "F".repeat(43) };
      await rejectsCode(f.store.consumeAuthorisation(nonce(), exp, [e2, e2]), "ENVELOPE_REUSED");
      await f.store.consumeAuthorisation(nonce(), exp, [{ ...n1, value: "P".repeat(46) }, e2]); // the refusals consumed nothing
      assert.equal(await f.store.poolLevel(), 2);
    }));

  test(`${label}: beginVerify enforces the per-template volume budgets over 60 s and 24 h; a refusal consumes nothing (decision 010 §4)`, () =>
    withStore(async (f) => {
      const { id } = await enrolled(f, "v1");
      const other = await enrolled(f, "v1");
      await f.store.addItems(Array.from({ length: 12 }, (_, i) => ({ id: `v-${i}`, bytes: share(64) })));
      const volume = { perMinute: 2, perDay: 3 };
      const go = (tid = id, a = auth(f)) => f.store.beginVerify({ session: sid(), templateId: tid, modelVersion: "v1", ...a, volume });
      await go();
      await go();
      const a = { nonce: nonce(), expires: f.clock.t + 120_000 };
      await rejectsCode(go(id, a), "VOLUME_EXCEEDED");
      await go(other.id); // another template has its own budget
      f.clock.t += 61_000;
      await go(id, a); // the refused authorisation was not consumed
      await rejectsCode(go(), "VOLUME_EXCEEDED"); // 3 today
      f.clock.t += 61_000;
      await rejectsCode(go(), "VOLUME_EXCEEDED"); // still 3 within 24 h, although none in the last minute
      f.clock.t += 86_400_000 - 2 * 61_000 + 1; // the first two are now older than 24 h
      await go();
      assert.equal(await f.store.poolLevel(), 12 - 5);
    }));

  test(`${label}: operations asked for together succeed or fail one by one (group commit on SQLite)`, () =>
    withStore(async (f) => {
      const { id } = await enrolled(f, "v1");
      await f.store.addItems(Array.from({ length: 4 }, (_, i) => ({ id: `g-${i}`, bytes: share(1024) })));
      const reused = auth(f);
      const sessions = [sid(), sid(), sid(), sid(), sid()];
      const fresh = tid();
      const results = await Promise.allSettled([
        f.store.beginVerify({ session: sessions[0], templateId: id, modelVersion: "v1", ...reused }),
        f.store.beginVerify({ session: sessions[1], templateId: id, modelVersion: "v1", ...reused }),
        f.store.beginVerify({ session: sessions[2], templateId: tid(), modelVersion: "v1", ...auth(f) }),
        f.store.beginVerify({ session: sessions[3], templateId: id, modelVersion: "v1", ...auth(f) }),
        f.store.prepare(sessions[4], fresh, "v1", share()),
        f.store.prepare(sid(), id, "v1", share()),
      ]);
      const codes = results.map((r) => (r.status === "fulfilled" ? "ok" : (r.reason as StoreError).code));
      // which of the two calls with the same nonce wins is up to the database
      assert.deepEqual([codes.slice(0, 2).sort(), ...codes.slice(2)], [["AUTH_REUSED", "ok"], "UNKNOWN_TEMPLATE", "ok", "ok", "TEMPLATE_EXISTS"]);
      const winner = codes[0] === "ok" ? sessions[0] : sessions[1];
      const taken = results.slice(0, 4).flatMap((r) => (r.status === "fulfilled" ? [(r.value as { item: { id: string } }).item.id] : []));
      assert.deepEqual(taken.sort(), ["g-0", "g-1"]);
      assert.equal(await f.store.poolLevel(), 2);
      const recorded = await f.db.kysely.selectFrom("party_verifications").select("session").where("session", "in", sessions).execute();
      assert.deepEqual(recorded.map((r) => r.session).sort(), [winner, sessions[3]].sort());
      assert.equal((await f.store.getSession(sessions[4]))?.state, "prepared");
      assert.deepEqual((await f.store.templateVersions(id)).length, 1);
    }));

  test(`${label}: beginVerify with an upgrade stages v_new in the same transaction`, () =>
    withStore(async (f) => {
      const { id } = await enrolled(f, "v1");
      await f.store.addItems([{ id: "u-1", bytes: share(64) }]);
      const s = sid();
      const v2 = share();
      await f.store.beginVerify({ session: s, templateId: id, modelVersion: "v1", ...auth(f), upgrade: { modelVersion: "v2", share: v2 } });
      assert.equal((await f.store.getSession(s))?.kind, "upgrade");
      const c = await f.store.commit(s, { templateId: id, auth: auth(f) });
      assert.equal(c.kind, "upgrade");
      assert.deepEqual(await f.store.loadActive(id), { modelVersion: "v2", share: v2 });
      // An upgrade that cannot be staged rolls the whole verification back.
      await f.store.addItems([{ id: "u-2", bytes: share(64) }]);
      await rejectsCode(
        f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v2", ...auth(f), upgrade: { modelVersion: "v2", share: v2 } }),
        "WRONG_MODEL_VERSION",
      );
      assert.equal(await f.store.poolLevel(), 1);
    }));

  test(`${label}: updateShares rewrites active and pending shares one row per transaction; a throw rolls back that row only`, () =>
    withStore(async (f) => {
      const a = await enrolled(f);
      const b = await enrolled(f);
      const pending = tid();
      await f.store.prepare(sid(), pending, "v1", share());
      const gone = await enrolled(f);
      await f.store.erase(gone.id);
      const seen: string[] = [];
      const bump = (row: { templateId: string }, sh: Uint8Array) => {
        seen.push(row.templateId);
        const out = new Uint8Array(sh.length + 1);
        out.set(sh);
        out[sh.length] = 1;
        return out;
      };
      assert.deepEqual(await f.store.updateShares(bump), { scanned: 3, updated: 3 });
      assert.deepEqual(seen.sort(), [a.id, b.id, pending].sort(), "deleted rows are not visited");
      const now = await f.store.loadActive(a.id);
      assert.deepEqual(now.share, Uint8Array.from([...a.sh, 1]));
      assert.notDeepEqual(await rawShare(f, a.id, "v1"), undefined);
      assert.deepEqual(await f.store.updateShares(() => null), { scanned: 3, updated: 0 });
      // a throw at the second row: the first row stays rewritten, the rest unchanged
      let n = 0;
      const ids = [a.id, b.id, pending];
      const size = async () => Promise.all(ids.map(async (id) => (await rawShare(f, id, "v1")) as Uint8Array).map(async (p) => (await p).length));
      const before = await size();
      await assert.rejects(
        f.store.updateShares((row, sh) => {
          if (n++ === 1) throw new Error("crash");
          return bump(row, sh);
        }),
        /crash/,
      );
      const grown = (await size()).map((x, i) => x - before[i]);
      assert.deepEqual(grown.sort(), [0, 0, 1]);
      await assert.rejects(f.store.updateShares(null as never), TypeError);
    }));

  test(`${label}: rotateDataKey re-encrypts shares and unused items; old keys still read until rotated`, () =>
    withStore(async (f) => {
      const { id, sh } = await enrolled(f, "v1");
      const items = [
        { id: "r-1", bytes: share(64) },
        { id: "r-2", bytes: share(64) },
      ];
      await f.store.addItems(items);
      await f.store.takeItem();
      const keys = new Map([
        ["k1", key1],
        ["k2", key2],
      ]);
      const store = await f.reopen({ dataKeys: { current: "k1", keys } });
      await rejectsCode(store.rotateDataKey("k3"), "KEY_UNKNOWN");
      const blobs = async () => (await f.db.kysely.selectFrom("party_pool_items").select(["seq", "item"]).orderBy("seq").execute()).map((r) => Buffer.from(toBytes(r.item)).toString("hex"));
      const wrappedBefore = await f.db.kysely.selectFrom("party_pool").select("item_key").where("id", "=", "r-2").executeTakeFirstOrThrow();
      const blobsBefore = await blobs();
      assert.deepEqual(await store.rotateDataKey("k2"), { templates: 1, items: 1 });
      // Items: only the item key is re-wrapped (under k2); the ciphertext is untouched.
      assert.deepEqual(await blobs(), blobsBefore);
      const wrappedAfter = await f.db.kysely.selectFrom("party_pool").select(["item_key", "key_id"]).where("id", "=", "r-2").executeTakeFirstOrThrow();
      assert.equal(wrappedAfter.key_id, "k2");
      assert.notDeepEqual(toBytes(wrappedAfter.item_key), toBytes(wrappedBefore.item_key));
      assert.ok(gcmOpen(key2, toBytes(wrappedAfter.item_key), `privface/party/poolkey/v1\0P0\0r-2`));
      assert.deepEqual(await store.rotateDataKey("k2"), { templates: 0, items: 0 });
      assert.equal((await store.templateVersions(id))[0].keyId, "k2");
      keys.delete("k1");
      assert.deepEqual((await store.loadActive(id)).share, sh);
      assert.deepEqual((await store.takeItem()).bytes, items[1].bytes);
      // New rows use the new key; a store that only has k1 cannot read them.
      const { id: id2 } = await enrolled({ ...f, store });
      assert.equal((await store.templateVersions(id2))[0].keyId, "k2");
      await rejectsCode(f.store.loadActive(id2), "KEY_UNKNOWN");
    }));

  test(`${label}: ciphertexts are bound to role, row and key (INTEGRITY)`, () =>
    withStore(async (f) => {
      const a = await enrolled(f, "v1");
      const b = await enrolled(f, "v1");
      const asP1 = await f.reopen({ role: "P1" });
      await rejectsCode(asP1.loadActive(a.id), "INTEGRITY");
      const wrongKey = await f.reopen({ dataKeys: { current: "k1", keys: new Map([["k1", key2]]) } });
      await rejectsCode(wrongKey.loadActive(a.id), "INTEGRITY");
      const blobA = await rawShare(f, a.id, "v1");
      await f.db.kysely.updateTable("party_templates").set({ share: blobA }).where("template_id", "=", b.id).execute();
      await rejectsCode(f.store.loadActive(b.id), "INTEGRITY");
      assert.deepEqual((await f.store.loadActive(a.id)).share, a.sh);
    }));

  test(`${label}: inputs are validated (pseudonymous ids only)`, () =>
    withStore(async (f) => {
      await rejectsCode(f.store.prepare(sid(), "13800138000123456", "v1", share()), "INVALID_INPUT"); // phone / ID shaped
      await rejectsCode(f.store.prepare(sid(), "11010119900307777X", "v1", share()), "INVALID_INPUT");
      await rejectsCode(f.store.prepare(sid(), "short", "v1", share()), "INVALID_INPUT");
      await rejectsCode(f.store.prepare(sid(), "has space in it 123", "v1", share()), "INVALID_INPUT");
      await rejectsCode(f.store.prepare(sid(), tid(), "v 1", share()), "INVALID_INPUT");
      await rejectsCode(f.store.prepare(sid(), tid(), "v1", new Uint8Array(0)), "INVALID_INPUT");
      await rejectsCode(f.store.prepare("s", tid(), "v1", share()), "INVALID_INPUT");
      assert.deepEqual(await f.store.prepare(sid(), tid(), "faceplugin-fr512@flip.1", share()), { created: true });
      await assert.rejects(f.store.prepare(sid(), 42 as unknown as string, "v1", share()), TypeError);
      await assert.rejects(f.store.prepare(sid(), tid(), "v1", [1, 2] as unknown as Uint8Array), TypeError);
      await assert.rejects(f.store.addItems([{ id: "x", bytes: "abc" as unknown as Uint8Array }]), TypeError);
      await assert.rejects(createPartyStore(f.db, { role: "P2" as "P0", dataKeys: { current: "k1", keys: new Map([["k1", key1]]) } }), RangeError);
      await assert.rejects(createPartyStore(f.db, { role: "P0", dataKeys: { current: "k1", keys: new Map([["k1", key1.subarray(0, 24)]]) } }), RangeError);
      await assert.rejects(createPartyStore(f.db, { role: "P0", dataKeys: { current: "k9", keys: new Map([["k1", key1]]) } }), RangeError);
    }));

  test(`${label}: failure budget records — answers stored with the counter, read in beginVerify, exhausted kept and refused there, old days purged`, () =>
    withStore(async (f) => {
      const { id } = await enrolled(f);
      const today = Math.floor(f.clock.t / 86_400_000);
      const fresh = { runs: 0, share: 0, prevRuns: 0, prevShare: 0, verifications: 0, pending: 0, exhausted: false };
      assert.deepEqual(await f.store.budget(id, today), fresh);
      await f.store.finishVerify(id, today, { runs: 0, share: 0, prevRuns: 0, prevShare: 0 }, 1);
      await f.store.finishVerify(id, today, { runs: 1, share: 65_535, prevRuns: 0, prevShare: 7 }, 0);
      assert.deepEqual(await f.store.budget(id, today), { runs: 1, share: 65_535, prevRuns: 0, prevShare: 7, verifications: 2, pending: 0, exhausted: false });
      await f.store.addItems([{ id: "b-0", bytes: new Uint8Array(8) }]);
      const begin = { session: sid(), templateId: id, modelVersion: "v1", ...auth(f), budget: { day: today } };
      const b = await f.store.beginVerify(begin);
      assert.deepEqual(b.budget, await f.store.budget(id, today), "the record read in the transaction");
      await f.store.markBudgetExhausted(id, today);
      assert.deepEqual(await f.store.budget(id, today), { runs: 1, share: 65_535, prevRuns: 0, prevShare: 7, verifications: 2, pending: 0, exhausted: true });
      await f.store.addItems([{ id: "b-1", bytes: new Uint8Array(8) }]);
      const refused = { ...begin, session: sid(), ...auth(f) };
      await rejectsCode(f.store.beginVerify(refused), "BUDGET_EXHAUSTED");
      assert.equal(await f.store.poolLevel(), 1, "a refused verification takes no pool item");
      await f.store.consumeAuthorisation(refused.nonce, refused.expires); // nor its authorisation
      assert.deepEqual(await f.store.budget(id, today + 1), fresh, "a new day starts fresh");
      await f.store.markBudgetExhausted(id, today - 2);
      await assert.rejects(f.store.finishVerify(id, today, { runs: 1, share: 65_536, prevRuns: 0, prevShare: 0 }, 0), RangeError);
      await assert.rejects(f.store.finishVerify(id, today, { runs: 1, share: 1, prevRuns: 0, prevShare: 0 }, 2 as 0), RangeError);
      await assert.rejects(f.store.budget(id, -1), RangeError);
      await f.store.purge({ sessionsMs: 5_000, usedItemsMs: 5_000 });
      assert.deepEqual(await f.store.budget(id, today - 2), fresh, "days before yesterday are purged");
      assert.equal((await f.store.budget(id, today)).exhausted, true);
    }));

  test(`${label}: purge drops old records but keeps prepared sessions and unused items`, () =>
    withStore(async (f) => {
      const { id } = await enrolled(f);
      await f.store.addItems([
        { id: "g-1", bytes: share(8) },
        { id: "g-2", bytes: share(8) },
      ]);
      await f.store.beginVerify({ session: sid(), templateId: id, modelVersion: "v1", ...auth(f) });
      const pending = sid();
      await f.store.prepare(pending, tid(), "v1", share());
      f.clock.t += 10_000;
      const r = await f.store.purge({ sessionsMs: 5_000, usedItemsMs: 5_000 });
      assert.deepEqual(r, { sessions: 2, items: 1, ciphertexts: 1 }); // the verification + the committed enrolment; item g-1
      assert.equal((await f.store.getSession(pending))?.state, "prepared");
      assert.equal(await f.store.poolLevel(), 1);
      assert.deepEqual(await f.store.purge({ sessionsMs: 5_000, usedItemsMs: 5_000 }), { sessions: 0, items: 0, ciphertexts: 0 });
    }));

  test(`${label}: a purged item's seq is never given to a new item (its orphaned ciphertext never meets one)`, () =>
    withStore(async (f) => {
      await f.store.addItems([{ id: "q-0", bytes: share(8) }, { id: "q-1", bytes: share(8) }]);
      const seqOf = async (id: string) => Number((await f.db.kysely.selectFrom("party_pool").select("seq").where("id", "=", id).executeTakeFirstOrThrow()).seq);
      const top = await seqOf("q-1");
      await f.store.markUsed("q-1");
      f.clock.t += 10;
      await f.store.purge({ sessionsMs: 0, usedItemsMs: 0 });
      assert.equal(await f.db.kysely.selectFrom("party_pool").select("seq").where("id", "=", "q-1").executeTakeFirst(), undefined, "the highest marker is purged");
      await f.store.addItems([{ id: "q-2", bytes: share(8) }]);
      assert.ok((await seqOf("q-2")) > top, "seq is never reused");
    }));

  test(`${label}: a database of the pre-release migrations is refused with UNSUPPORTED, unchanged`, async () => {
    const db = await openFresh();
    try {
      const noop = { up: async () => {} };
      await migrate(db, { "001_init": noop, "002_pool_item_keys": noop }, { table: PARTY_MIGRATIONS_TABLE });
      const opts: PartyStoreOptions = { role: "P0", dataKeys: { current: "k1", keys: new Map([["k1", key1]]) } };
      await rejectsCode(createPartyStore(db, opts), "UNSUPPORTED");
      const names = await db.kysely.selectFrom(PARTY_MIGRATIONS_TABLE).select("name").orderBy("name").execute();
      assert.deepEqual(names.map((r) => r.name), ["001_init", "002_pool_item_keys"]);
      assert.deepEqual(Object.keys(partyMigrations), ["001_schema", "002_budget_pending", "003_pool_reserved"]);
    } finally {
      await closeDb(db);
    }
  });

  test(`${label}: migrations are idempotent and the store reopens over existing data`, () =>
    withStore(async (f) => {
      const { id, sh } = await enrolled(f);
      const again = await f.reopen();
      assert.deepEqual((await again.loadActive(id)).share, sh);
    }));
}

/** AES-256-GCM open of a store blob (0x01 | iv 12 | body | tag 16), independent of the store's code. */
function gcmOpen(key: Uint8Array, blob: Uint8Array, ad?: string, orUndefined = false): Uint8Array | undefined {
  try {
    const d = createDecipheriv("aes-256-gcm", key, blob.subarray(1, 13));
    if (ad !== undefined) d.setAAD(Buffer.from(ad, "utf8"));
    d.setAuthTag(blob.subarray(blob.length - 16));
    return new Uint8Array(Buffer.concat([d.update(blob.subarray(13, blob.length - 16)), d.final()]));
  } catch (err) {
    if (orUndefined) return undefined;
    throw err;
  }
}
