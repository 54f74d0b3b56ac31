/**
 * Group-commit contract of `createExec(db).tx`, run on SQLite (test/db.test.ts) and PostgreSQL
 * (test/pg/db.test.ts): the writes of one event-loop turn share one transaction, each in a savepoint;
 * a failing write rolls back alone; each settles only after the COMMIT; a failing COMMIT fails every
 * write of the group. `open(): [writer, other]` gives two handles on one database (another process
 * would see what `other` sees).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createExec, dbStats, type Db } from "../src/index.ts";

const TABLES = [
  "CREATE TABLE gp (id INTEGER PRIMARY KEY)",
  "CREATE TABLE gc (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES gp(id) DEFERRABLE INITIALLY DEFERRED)",
];

export function execContract(name: string, open: () => Promise<[Db, Db]>, close: (db: Db) => Promise<void>): void {
  async function withDbs(fn: (w: ReturnType<typeof createExec>, r: ReturnType<typeof createExec>) => Promise<void>): Promise<void> {
    const [a, b] = await open();
    try {
      const w = createExec(a);
      for (const t of TABLES) await w.tx((tx) => tx.run(t));
      await fn(w, createExec(b));
    } finally {
      await close(b);
      await close(a);
    }
  }
  const ids = async (r: ReturnType<typeof createExec>, table = "gp") =>
    (await r.read((tx) => tx.all<{ id: unknown }>(`SELECT id FROM ${table} ORDER BY id`))).map((x) => Number(x.id));
  const insert = "INSERT INTO gp (id) VALUES (?)";
  const outcome = (r: PromiseSettledResult<unknown>) => (r.status === "fulfilled" ? "ok" : "failed");

  test(`${name}: dbStats counts one commit for a turn's writes, each write, statement and read`, async () => {
    await withDbs(async (w, other) => {
      const before = { ...dbStats };
      await Promise.all([w.tx((tx) => tx.run(insert, [11])), w.tx(async (tx) => (await tx.run(insert, [12])) + (await tx.run(insert, [13])))]);
      assert.deepEqual(await ids(other), [11, 12, 13]);
      const d = (k: keyof typeof dbStats) => dbStats[k] - before[k];
      assert.deepEqual([d("commits"), d("writes"), d("statements"), d("reads")], [1, 2, 4, 1]);
      // PostgreSQL: the first write's statement, the second's two one after the other, the read
      assert.equal(d("roundTrips"), w.dialect === "postgres" ? 4 : 0);
      const r0 = dbStats.roundTrips;
      await w.tx((tx) => Promise.all([tx.run(insert, [14]), tx.run(insert, [15])])); // sent together
      assert.equal(dbStats.roundTrips - r0, w.dialect === "postgres" ? 1 : 0);
      assert.ok(d("writeMs") >= d("waitMs") && d("waitMs") >= 0 && d("commitMs") > 0 && d("readMs") > 0);
    });
  });

  test(`${name}: group commit — a failing write of a turn rolls back alone, the others commit`, async () => {
    await withDbs(async (w, other) => {
      const calls = [
        w.tx((tx) => tx.run(insert, [1])),
        w.tx(async (tx) => {
          await tx.run(insert, [2]);
          throw new Error("second fails");
        }),
        w.tx(async (tx) => {
          await tx.run(insert, [3]);
          // sees the first write of its group, as consecutive transactions would
          return (await tx.get<{ n: unknown }>("SELECT count(*) AS n FROM gp"))!.n;
        }),
        w.tx((tx) => tx.run(insert, [1])), // duplicate key: fails alone
        w.tx((tx) => tx.run(insert, [4])),
      ];
      const out = await Promise.allSettled(calls);
      assert.deepEqual(out.map(outcome), ["ok", "failed", "ok", "failed", "ok"]);
      assert.match(((out[1] as PromiseRejectedResult).reason as Error).message, /second fails/);
      assert.equal(Number((out[2] as PromiseFulfilledResult<unknown>).value), 2);
      assert.deepEqual(await ids(other), [1, 3, 4]);
      // a later turn is a new group, and the connection is usable after a failed write
      await w.tx((tx) => tx.run(insert, [5]));
      assert.deepEqual(await ids(other), [1, 3, 4, 5]);
    });
  });

  test(`${name}: group commit — a write settles only after the COMMIT of its whole group`, async () => {
    await withDbs(async (w, other) => {
      const seenBefore: number[][] = [];
      const seenAtSettle: number[][] = [];
      const calls = [1, 2, 3].map((id) =>
        w
          .tx(async (tx) => {
            seenBefore.push(await ids(other)); // another connection sees none of the group's writes yet
            await tx.run(insert, [id]);
          })
          .then(async () => {
            seenAtSettle.push(await ids(other));
          }),
      );
      await Promise.all(calls);
      assert.deepEqual(seenBefore, [[], [], []]);
      assert.deepEqual(seenAtSettle, [[1, 2, 3], [1, 2, 3], [1, 2, 3]]);
    });
  });

  test(`${name}: group commit — a failing COMMIT fails every write of the group and keeps none`, async () => {
    await withDbs(async (w, other) => {
      const calls = [
        w.tx((tx) => tx.run(insert, [1])),
        w.tx((tx) => tx.run("INSERT INTO gc (id, parent) VALUES (?, ?)", [10, 99])), // deferred: fails at COMMIT
        w.tx((tx) => tx.run(insert, [2])),
      ];
      const out = await Promise.allSettled(calls);
      assert.deepEqual(out.map(outcome), ["failed", "failed", "failed"]);
      assert.deepEqual(await ids(other), []);
      assert.deepEqual(await ids(other, "gc"), []);
      // the next group commits
      await Promise.all([w.tx((tx) => tx.run(insert, [3])), w.tx((tx) => tx.run("INSERT INTO gc (id, parent) VALUES (?, ?)", [11, 3]))]);
      assert.deepEqual(await ids(other), [3]);
      assert.deepEqual(await ids(other, "gc"), [11]);
    });
  });

  test(`${name}: group commit — a lone write that fails rolls back; writes of later turns are not held by it`, async () => {
    await withDbs(async (w, other) => {
      await assert.rejects(
        w.tx(async (tx) => {
          await tx.run(insert, [1]);
          await tx.run(insert, [1]);
        }),
      );
      assert.deepEqual(await ids(other), []);
      const many = Array.from({ length: 150 }, (_, i) => w.tx((tx) => tx.run(insert, [100 + i])));
      await Promise.all(many);
      assert.equal((await ids(other)).length, 150);
    });
  });
}
