import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { asDbError, bytesParam, bytesType, closeDb, DbError, migrate, openDb, toBytes, toMs } from "../src/index.ts";
import { execContract } from "./_exec-suite.ts";
import { dbContract } from "./_suite.ts";

const dir = mkdtempSync(join(tmpdir(), "privface-db-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

dbContract("sqlite file", () => openDb(`sqlite:${join(dir, `c${n++}`, "db.sqlite")}`), closeDb);
dbContract("sqlite memory", () => openDb(":memory:"), closeDb);
execContract("sqlite", async () => {
  const file = join(dir, `x${n++}`, "db.sqlite");
  return [await openDb(file), await openDb(file)];
}, closeDb);

test("sqlite: WAL, synchronous NORMAL, foreign keys and busy timeout are set", async () => {
  const db = await openDb(join(dir, "pragmas.sqlite"));
  try {
    assert.equal(db.dialect, "sqlite");
    const s = db.sqlite!;
    assert.equal(s.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(s.pragma("synchronous", { simple: true }), 1); // NORMAL
    assert.equal(s.pragma("foreign_keys", { simple: true }), 1);
    assert.equal(s.pragma("busy_timeout", { simple: true }), 5000);
  } finally {
    await closeDb(db);
  }
  const small = await openDb(join(dir, "small-pages.sqlite"), { pageSize: 1024 });
  assert.equal(small.sqlite!.pragma("page_size", { simple: true }), 1024);
  await closeDb(small);
  await assert.rejects(openDb(join(dir, "bad-pages.sqlite"), { pageSize: 1000 }), RangeError);
  const full = await openDb(`sqlite:${join(dir, "full.sqlite")}`, { synchronous: "FULL" });
  assert.equal(full.sqlite!.pragma("synchronous", { simple: true }), 2);
  await closeDb(full);
  await closeDb(full); // twice is fine
});

test("sqlite: data survives close and reopen", async () => {
  const path = join(dir, "reopen.sqlite");
  const mig = { "001": { up: async (k: any, { dialect }: any) => { await k.schema.createTable("r").addColumn("b", bytesType(dialect)).execute(); } } };
  const db = await openDb(path);
  await migrate(db, mig, { table: "r_migrations" });
  await db.kysely.insertInto("r").values({ b: bytesParam(new Uint8Array([1, 2, 3])) }).execute();
  await closeDb(db);
  const again = await openDb(`sqlite:${path}`);
  assert.deepEqual(await migrate(again, mig, { table: "r_migrations" }), { applied: [] });
  const row = await again.kysely.selectFrom("r").selectAll().executeTakeFirstOrThrow();
  assert.deepEqual(toBytes(row.b), new Uint8Array([1, 2, 3]));
  await closeDb(again);
});

test("sqlite: exclusive() serialises raw statements with Kysely transactions", async () => {
  const db = await openDb(":memory:");
  try {
    await db.kysely.schema.createTable("e").addColumn("v", "integer").execute();
    const order: string[] = [];
    const tx = db.kysely.transaction().execute(async (t) => {
      await t.insertInto("e").values({ v: 1 }).execute();
      order.push("tx-insert");
      await new Promise((r) => setTimeout(r, 20));
      order.push("tx-end");
    });
    await new Promise((r) => setTimeout(r, 5));
    const raw = db.exclusive(() => {
      order.push("raw");
      return db.sqlite!.prepare("SELECT count(*) AS n FROM e").get() as { n: number };
    });
    await tx;
    assert.equal((await raw).n, 1);
    assert.deepEqual(order, ["tx-insert", "tx-end", "raw"]);
  } finally {
    await closeDb(db);
  }
});

test("sqlite: Kysely queries wait for exclusive(); a failing exclusive() releases the lock", async () => {
  const db = await openDb(":memory:");
  try {
    await db.kysely.schema.createTable("w").addColumn("v", "integer").execute();
    const order: string[] = [];
    const held = db.exclusive(async () => {
      db.sqlite!.prepare("INSERT INTO w VALUES (1)").run();
      await new Promise((r) => setTimeout(r, 20));
      order.push("exclusive-end");
    });
    const q = db.kysely.selectFrom("w").selectAll().execute().then((rows) => (order.push("query"), rows));
    await held;
    assert.equal((await q).length, 1);
    assert.deepEqual(order, ["exclusive-end", "query"]);
    await assert.rejects(db.exclusive(() => { throw new Error("boom"); }), /boom/);
    await assert.rejects(db.exclusive(async () => { throw new Error("later"); }), /later/);
    assert.equal((await db.exclusive(() => db.sqlite!.prepare("SELECT count(*) AS n FROM w").get() as { n: number })).n, 1);
    assert.equal((await db.kysely.selectFrom("w").selectAll().execute()).length, 1);
  } finally {
    await closeDb(db);
  }
});

test("sqlite: groupWrite — one turn's calls share a transaction, fail one by one, settle after the commit", async () => {
  const file = join(dir, "group.sqlite");
  const db = await openDb(file);
  const reader = new BetterSqlite3(file, { readonly: true });
  try {
    await db.exclusive(() => db.sqlite!.exec("CREATE TABLE g (v INTEGER PRIMARY KEY)"));
    const count = () => (reader.prepare("SELECT count(*) AS n FROM g").get() as { n: number }).n;
    const insert = (v: number) => () => db.sqlite!.prepare("INSERT INTO g VALUES (?)").run(v);
    const seen: number[] = [];
    const calls = [
      db.groupWrite(insert(1)),
      db.groupWrite(() => {
        insert(2)();
        throw new Error("second fails");
      }),
      db.groupWrite(async () => {
        assert.ok(db.sqlite!.inTransaction);
        seen.push(count()); // another connection sees nothing before the commit
        insert(3)();
        return (db.sqlite!.prepare("SELECT count(*) AS n FROM g").get() as { n: number }).n; // sees the first call's row
      }),
      db.groupWrite(insert(1)), // duplicate key: fails alone
    ];
    const out = await Promise.allSettled(calls);
    assert.deepEqual(
      out.map((r) => (r.status === "fulfilled" ? "ok" : (r.reason as Error).message.slice(0, 13))),
      ["ok", "second fails", "ok", "UNIQUE constr"],
    );
    assert.equal((out[2] as PromiseFulfilledResult<number>).value, 2);
    assert.deepEqual(seen, [0]);
    assert.deepEqual((reader.prepare("SELECT v FROM g ORDER BY v").all() as { v: number }[]).map((r) => r.v), [1, 3]);
    assert.equal(db.sqlite!.inTransaction, false);
    // a later turn is a new group; a failed group leaves the connection usable
    await db.groupWrite(insert(4));
    assert.equal(count(), 3);
  } finally {
    reader.close();
    await closeDb(db);
  }
});

test("openDb and helpers refuse bad arguments", async () => {
  await assert.rejects(openDb(""), TypeError);
  await assert.rejects(openDb("mysql://x/y"), RangeError);
  await assert.rejects(openDb(":memory:", { schema: "s" }), RangeError);
  await assert.rejects(openDb("postgres://127.0.0.1:1/x", { schema: "Bad-Name" }), RangeError);
  const db = await openDb(":memory:");
  await assert.rejects(migrate(db, {}, { table: "Bad Table" }), RangeError);
  await closeDb(db);
  assert.throws(() => toBytes(null), TypeError);
  assert.throws(() => toBytes("abc"), TypeError);
  assert.throws(() => toMs("1.5"), TypeError);
  assert.equal(toMs("1764578000123"), 1764578000123);
  assert.equal(toMs(12n), 12);
  assert.equal(bytesType("postgres"), "bytea");
  assert.equal(bytesType("sqlite"), "blob");
});

test("asDbError: lost, refused or restarting PostgreSQL → DbError DB_UNAVAILABLE; other errors unchanged", () => {
  const lost = [
    Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }),
    Object.assign(new Error("the database system is starting up"), { code: "57P03" }),
    Object.assign(new Error("connection failure"), { code: "08006" }),
    Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
    new Error("Connection terminated unexpectedly"),
    new Error("Client has encountered a connection error and is not queryable"),
  ];
  for (const e of lost) {
    const d = asDbError(e);
    assert.ok(d instanceof DbError, e.message);
    assert.equal(d.code, "DB_UNAVAILABLE");
    assert.equal(d.cause, e);
  }
  const unique = Object.assign(new Error("duplicate key"), { code: "23505" });
  assert.equal(asDbError(unique), unique);
  const other = new TypeError("x");
  assert.equal(asDbError(other), other);
});
