/** The audit contract suite on PostgreSQL: one schema per database, all dropped at the end. */
import { after } from "node:test";
import { randomBytes } from "node:crypto";
import { openDb, closeDb, sql, type Db } from "@privface/db";
import { auditContract } from "../_suite.ts";

const url = process.env.PRIVFACE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const run = randomBytes(4).toString("hex");
const open: Db[] = [];
const schemas: string[] = [];
let n = 0;

after(async () => {
  for (const db of open) await closeDb(db);
  const admin = await openDb(url);
  try {
    for (const s of schemas) await sql`drop schema if exists ${sql.id(s)} cascade`.execute(admin.kysely);
  } finally {
    await closeDb(admin);
  }
});

auditContract({
  name: "postgres",
  async make() {
    const schema = `audit_t_${run}_${n++}`;
    schemas.push(schema);
    const db = await openDb(url, { schema, maxConnections: 4 });
    open.push(db);
    return db;
  },
  async reopen(db) {
    const db2 = await openDb(url, { schema: db.schema, maxConnections: 4 });
    open.push(db2);
    return db2;
  },
});
