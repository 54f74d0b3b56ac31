/**
 * The test PostgreSQL (127.0.0.1:5432, database `test`, unless PRIVFACE_TEST_PG_URL): tests that need
 * one skip without it (`pgUp`), and work in fresh schemas (`pgSchema`) that they drop afterwards (`dropPgSchemas`).
 */
import { randomBytes } from "node:crypto";
import { closeDb, openDb, sql } from "@privface/db";

export const PG = process.env.PRIVFACE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const NO_PG = "no PostgreSQL at 127.0.0.1:5432 (database test)";

export async function pgUp(url = PG): Promise<boolean> {
  try {
    await closeDb(await openDb(url));
    return true;
  } catch {
    return false;
  }
}

/** A fresh schema name: `prefix` and 12 random hex digits. */
export function pgSchema(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`;
}

/** Drops the schemas (and everything in them) if they exist. */
export async function dropPgSchemas(schemas: Iterable<string>, url = PG): Promise<void> {
  const db = await openDb(url);
  try {
    for (const s of schemas) await sql.raw(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).execute(db.kysely);
  } finally {
    await closeDb(db);
  }
}
