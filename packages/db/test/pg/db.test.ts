/** The @privface/db contract suite on PostgreSQL, each test in a fresh schema that is dropped after. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import pg from "pg";
import { closeDb, createExec, DbError, openDb, type Db, type Tx } from "../../src/index.ts";
import { execContract } from "../_exec-suite.ts";
import { dbContract } from "../_suite.ts";

const URL = process.env.PRIVFACE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schemas: string[] = [];

async function dropSchemas(): Promise<void> {
  const c = new pg.Client({ connectionString: URL });
  await c.connect();
  try {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await c.end();
  }
}
after(dropSchemas);

function openFresh(): Promise<Db> {
  const schema = `dbtest_${randomBytes(6).toString("hex")}`;
  schemas.push(schema);
  return openDb(URL, { schema });
}

dbContract("postgres", openFresh, closeDb);
execContract("postgres", async () => {
  const a = await openFresh();
  return [a, await openDb(URL, { schema: a.schema })];
}, closeDb);

test("postgres: the schema is created and used as search_path", async () => {
  const db = await openFresh();
  try {
    assert.equal(db.dialect, "postgres");
    const { rows } = await db.pool!.query("SELECT current_schema() AS s");
    assert.equal(rows[0].s, db.schema);
    const r = await db.pool!.query("SELECT 9007199254740991::bigint AS big");
    assert.equal(r.rows[0].big, 9007199254740991);
  } finally {
    await closeDb(db);
  }
});

test("postgres: the writes of one turn share one transaction (group commit); a later turn gets another", async () => {
  const db = await openFresh();
  try {
    const exec = createExec(db);
    const txid = (tx: Tx) => tx.get<{ x: string }>("SELECT txid_current()::text AS x").then((r) => r!.x);
    const turn = await Promise.all([exec.tx(txid), exec.tx(txid), exec.tx(txid)]);
    assert.equal(new Set(turn).size, 1);
    const next = await exec.tx(txid);
    assert.notEqual(next, turn[0]);
  } finally {
    await closeDb(db);
  }
});

test("postgres: group commit — a write whose statement failed fails even if it caught the error; at most 48 writes share a group", async () => {
  const db = await openFresh();
  try {
    const exec = createExec(db);
    await exec.tx((tx) => tx.run("CREATE TABLE k (v INTEGER PRIMARY KEY)"));
    const out = await Promise.allSettled([
      exec.tx((tx) => tx.run("INSERT INTO k VALUES (?)", [1])),
      exec.tx(async (tx) => {
        await tx.run("INSERT INTO k VALUES (?)", [1]).catch(() => 0); // swallowed: still a failed write
        return "swallowed";
      }),
      exec.tx((tx) => tx.run("INSERT INTO k VALUES (?)", [2])),
    ]);
    assert.deepEqual(out.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.equal(((out[1] as PromiseRejectedResult).reason as { code?: string }).code, "23505");
    const rows = await exec.read((tx) => tx.all<{ v: number }>("SELECT v FROM k ORDER BY v"));
    assert.deepEqual(rows.map((r) => r.v), [1, 2]);
    const txid = (tx: Tx) => tx.get<{ x: string }>("SELECT txid_current()::text AS x").then((r) => r!.x);
    const ids = await Promise.all(Array.from({ length: 100 }, () => exec.tx(txid)));
    assert.deepEqual(
      [...new Set(ids)].map((x) => ids.filter((y) => y === x).length),
      [48, 48, 4],
    );
  } finally {
    await closeDb(db);
  }
});

test("postgres: a lost connection fails the group with DbError DB_UNAVAILABLE; the next write gets a new one", async () => {
  const db = await openFresh();
  try {
    const exec = createExec(db);
    const outcome = await exec.tx((tx) => tx.run("SELECT pg_terminate_backend(pg_backend_pid())")).catch((e) => e);
    assert.ok(outcome instanceof DbError, String(outcome));
    assert.equal(outcome.code, "DB_UNAVAILABLE");
    assert.equal(await exec.tx((tx) => tx.get<{ one: number }>("SELECT 1 AS one").then((r) => r!.one)), 1);
  } finally {
    await closeDb(db);
  }
});
