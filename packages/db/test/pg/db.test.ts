/** The @privface/db contract suite on PostgreSQL, each test in a fresh schema that is dropped after. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import pg from "pg";
import { closeDb, createExec, openDb, type Db, type Tx } from "../../src/index.ts";
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
