/**
 * Contract suite for @privface/db, run on SQLite (test/db.test.ts) and PostgreSQL (test/pg/db.test.ts):
 * migrations per package, byte and timestamp round trips, transactions.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { bytesParam, bytesType, migrate, timestampType, toBytes, toMs, type Db, type DbMigration } from "../src/index.ts";

const migrationsA: Record<string, DbMigration> = {
  "001_items": {
    async up(k, { dialect }) {
      await k.schema
        .createTable("a_items")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("data", bytesType(dialect))
        .addColumn("created_at", timestampType(dialect), (c) => c.notNull())
        .execute();
    },
  },
};
const migrationsB: Record<string, DbMigration> = {
  "001_init": {
    async up(k) {
      await k.schema.createTable("b_things").addColumn("id", "integer", (c) => c.primaryKey()).execute();
    },
  },
  "002_more": {
    async up(k) {
      await k.schema.alterTable("b_things").addColumn("name", "text").execute();
    },
  },
};

export function dbContract(name: string, open: () => Promise<Db>, close: (db: Db) => Promise<void>): void {
  test(`${name}: migrations run once per package, packages share one database`, async () => {
    const db = await open();
    try {
      assert.deepEqual(await migrate(db, migrationsA, { table: "a_migrations" }), { applied: ["001_items"] });
      assert.deepEqual(await migrate(db, migrationsB, { table: "b_migrations" }), { applied: ["001_init", "002_more"] });
      assert.deepEqual(await migrate(db, migrationsA, { table: "a_migrations" }), { applied: [] });
      assert.deepEqual(await migrate(db, migrationsB, { table: "b_migrations" }), { applied: [] });
      const tables = (await db.kysely.introspection.getTables()).map((t) => t.name).sort();
      for (const t of ["a_items", "a_migrations", "b_things", "b_migrations"]) assert.ok(tables.includes(t), `${t} in ${tables}`);
    } finally {
      await close(db);
    }
  });

  test(`${name}: bytes and epoch-ms timestamps round-trip`, async () => {
    const db = await open();
    try {
      await migrate(db, migrationsA, { table: "a_migrations" });
      const data = new Uint8Array(randomBytes(3000));
      data[0] = 0;
      data[1] = 255;
      const at = 1_764_578_000_123;
      await db.kysely.insertInto("a_items").values({ id: "x", data: bytesParam(data), created_at: at }).execute();
      const row = await db.kysely.selectFrom("a_items").selectAll().where("id", "=", "x").executeTakeFirstOrThrow();
      const back = toBytes(row.data);
      assert.equal(Object.getPrototypeOf(back), Uint8Array.prototype);
      assert.deepEqual(back, data);
      assert.equal(toMs(row.created_at), at);
      assert.equal(typeof row.created_at, "number");
      const count = await db.kysely.selectFrom("a_items").select((e) => e.fn.countAll().as("n")).executeTakeFirstOrThrow();
      assert.equal(toMs(count.n), 1);
    } finally {
      await close(db);
    }
  });

  test(`${name}: a failed transaction leaves nothing behind`, async () => {
    const db = await open();
    try {
      await migrate(db, migrationsA, { table: "a_migrations" });
      await assert.rejects(
        db.kysely.transaction().execute(async (tx) => {
          await tx.insertInto("a_items").values({ id: "t", data: null, created_at: 1 }).execute();
          await tx.insertInto("a_items").values({ id: "t", data: null, created_at: 2 }).execute(); // duplicate key
        }),
      );
      const rows = await db.kysely.selectFrom("a_items").selectAll().where("id", "=", "t").execute();
      assert.equal(rows.length, 0);
    } finally {
      await close(db);
    }
  });

  test(`${name}: a failing migration is reported and not recorded`, async () => {
    const db = await open();
    try {
      const bad: Record<string, DbMigration> = {
        "001_bad": {
          async up(k) {
            await k.schema.createTable("c_ok").addColumn("id", "integer").execute();
            throw new Error("boom");
          },
        },
      };
      await assert.rejects(migrate(db, bad, { table: "c_migrations" }), /boom/);
      const rows = await db.kysely.selectFrom("c_migrations").selectAll().execute();
      assert.equal(rows.length, 0);
      const tables = (await db.kysely.introspection.getTables()).map((t) => t.name);
      assert.ok(!tables.includes("c_ok"), "the failed migration's table was rolled back");
    } finally {
      await close(db);
    }
  });
}
