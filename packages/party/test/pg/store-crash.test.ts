/** The party store's crash suite (_store-crash.ts) on PostgreSQL: a schema per test, dropped at the end. */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import pg from "pg";
import { storeCrashSuite } from "../_store-crash.ts";

const URL = process.env.PRIVFACE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const run = randomBytes(4).toString("hex");
const schemas: string[] = [];
// the template-key registers (a PostgreSQL store keeps them in a file of their own, shared with the child)
const dir = mkdtempSync(join(tmpdir(), "privface-crash-keys-"));

after(async () => {
  const c = new pg.Client({ connectionString: URL });
  await c.connect();
  try {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await c.end();
    rmSync(dir, { recursive: true, force: true });
  }
});

storeCrashSuite("postgres", async (label) => {
  const schema = `party_crash_${run}_${label}`;
  schemas.push(schema);
  return { url: URL, schema, templateKeys: join(dir, `${label}.template-keys`) };
});
