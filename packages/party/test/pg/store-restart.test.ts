/**
 * PostgreSQL lost under load (issue 16/18): the party store's connections are terminated
 * (pg_terminate_backend, as a server restart or a failover does to them) while verifications take
 * pool items in group commits. Every failure is DbError DB_UNAVAILABLE (answered 503 DB_UNAVAILABLE); no item is handed out twice;
 * an item reported as taken stays used; the store goes on by itself once the database answers again.
 * Only this test's own connections are terminated (found by their application_name), not those of
 * other users of the shared server.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import pg from "pg";
import { closeDb, DbError, openDb } from "@privface/db";
import { toPartyError } from "../../src/service.ts";
import { createPartyStore } from "../../src/store/index.ts";
import { key1, rejectsCode, share, sid, tid } from "../_store-contract.ts";

const URL = process.env.PRIVFACE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const run = randomBytes(4).toString("hex");
const schema = `party_restart_${run}`;
const app = `privface_restart_${run}`;
const admin = new pg.Client({ connectionString: URL });

after(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

const terminate = async (): Promise<number> =>
  (await admin.query("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()", [app])).rows[0].n;

test("postgres: connections terminated under load — DB_UNAVAILABLE errors only, no item used twice, the store resumes by itself", async () => {
  await admin.connect();
  const sep = URL.includes("?") ? "&" : "?";
  const db = await openDb(`${URL}${sep}application_name=${app}`, { schema });
  try {
    const store = await createPartyStore(db, { role: "P0", dataKeys: { current: "k1", keys: new Map([["k1", key1]]) } });
    const templateId = tid();
    const s = sid();
    await store.prepare(s, templateId, "v1", share());
    await store.commit(s);
    const total = 600;
    await store.addItems(Array.from({ length: total }, (_, i) => ({ id: `r-${i}-${randomBytes(4).toString("hex")}`, bytes: share(256) })));

    const taken: string[] = [];
    const failures: unknown[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop && i < 400; i++) {
        try {
          const item =
            i % 2 === 0
              ? await store.takeItem(`w${w}-${i}-${randomBytes(4).toString("hex")}`)
              : (await store.beginVerify({ session: sid(), templateId, modelVersion: "v1", nonce: randomBytes(16).toString("base64url"), expires: Date.now() + 60_000 })).item;
          taken.push(item.id);
        } catch (e) {
          failures.push(e);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3, 4, 5].map(worker));
    let killed = 0;
    for (let k = 0; k < 4; k++) {
      const before = taken.length + failures.length;
      while (taken.length + failures.length < before + 20) await new Promise((r) => setTimeout(r, 2));
      killed += await terminate();
    }
    const failedAtKills = failures.length;
    // the store resumes by itself: the workers go on and succeed again
    const resumedFrom = taken.length;
    while (taken.length < resumedFrom + 30 && failures.length < failedAtKills + 200) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await load;

    assert.ok(killed >= 4, `terminated ${killed} connections`);
    assert.ok(failures.length > 0, "terminating the connections under load failed some operations");
    for (const e of failures) {
      assert.ok(e instanceof DbError, `expected DbError, got ${String(e)}`);
      assert.equal(e.code, "DB_UNAVAILABLE");
      // what the party answers over the Party API: 503 DB_UNAVAILABLE ("unavailable": retry), not 500 INTERNAL
      const answer = toPartyError(e);
      assert.deepEqual([answer.code, answer.status], ["DB_UNAVAILABLE", 503]);
    }
    assert.ok(taken.length >= resumedFrom + 30, "operations succeed again after the connections were lost");
    assert.equal(new Set(taken).size, taken.length, "no item was handed out twice");
    for (const id of taken.slice(0, 50)) await rejectsCode(store.markUsed(id), "ITEM_REUSED");
    const used = new Set((await db.pool!.query("SELECT id FROM party_pool WHERE used_at IS NOT NULL")).rows.map((r) => r.id as string));
    for (const id of taken) assert.ok(used.has(id), `item ${id} was reported taken but is not marked used`);
    // a failed write whose COMMIT was cut may have committed: at most one per lost group connection
    assert.ok(used.size - taken.length <= killed, `${used.size - taken.length} items used but never reported`);
    // the data is intact: the pool level adds up
    assert.equal(await store.poolLevel(), total - used.size);
  } finally {
    await closeDb(db);
  }
});
