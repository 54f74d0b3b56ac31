/** `--db postgres://…` of the benchmarks (bench/_postgres.ts): one schema per server, all dropped at the end. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { closeDb, openDb } from "@privface/db";
import { benchDatabase } from "../../src/bench/_postgres.ts";

const URL = process.env.PRIVFACE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

test("each server gets its own schema of the run; drop() removes them all; a non-PostgreSQL URL is refused", async () => {
  const b = benchDatabase(URL, ["P0", "P1", "GATEWAY"]);
  const schemas = ["P0", "P1", "GATEWAY"].map((s) => b.env[`PRIVFACE_${s}_DB_SCHEMA`]);
  assert.equal(new Set(schemas).size, 3);
  for (const s of ["P0", "P1", "GATEWAY"]) assert.equal(b.env[`PRIVFACE_${s}_DB`], URL);
  // the servers create their schemas when they open the database
  for (const schema of schemas) await closeDb(await openDb(URL, { schema }));
  const count = async () => {
    const db = await openDb(URL);
    try {
      const r = await db.pool!.query("SELECT count(*)::int AS n FROM information_schema.schemata WHERE schema_name = ANY($1)", [schemas]);
      return r.rows[0].n as number;
    } finally {
      await closeDb(db);
    }
  };
  assert.equal(await count(), 3);
  await b.drop();
  assert.equal(await count(), 0);
  assert.throws(() => benchDatabase("sqlite:/tmp/x.db", ["P0"]), /postgres:\/\//);
});
