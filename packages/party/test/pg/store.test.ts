/** The party store contract suite on PostgreSQL: a fresh schema per test, all dropped at the end. */
import { randomBytes } from "node:crypto";
import { after } from "node:test";
import pg from "pg";
import { closeDb, openDb, type Db } from "@privface/db";
import { storeContract } from "../_store-contract.ts";

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

function openFresh(): Promise<Db> {
  const schema = `party_store_${run}_${schemas.length}`;
  schemas.push(schema);
  return openDb(URL, { schema });
}

storeContract("postgres", openFresh, closeDb);
