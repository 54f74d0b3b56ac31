/** The test PostgreSQL (127.0.0.1:5432, database `test`, unless PRIVFACE_TEST_PG_URL): tests that need one skip without it. */
import { closeDb, openDb } from "@privface/db";

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
