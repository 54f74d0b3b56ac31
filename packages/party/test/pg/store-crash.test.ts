/** The party store's crash suite (_store-crash.ts) on PostgreSQL: a schema per test, dropped at the end. */
import { randomBytes } from "node:crypto";
import { after } from "node:test";
import pg from "pg";
import { storeCrashSuite } from "../_store-crash.ts";

const URL = process.env.PRIVFACE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const run = randomBytes(4).toString("hex");
const schemas: string[] = [];

after(async () => {
  const c = new pg.Client({ connectionString: URL });
  await c.connect();
  try {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await c.end();
  }
});

storeCrashSuite("postgres", async (label) => {
  const schema = `party_crash_${run}_${label}`;
  schemas.push(schema);
  return { url: URL, schema };
});
