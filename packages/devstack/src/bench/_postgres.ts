/**
 * `--db postgres://…` for the benchmarks (issue 18): every server of the run in a schema of its own
 * on that PostgreSQL (`bench_<run>_<server>`; the servers create them at start), dropped when the run
 * ends, so the PostgreSQL figures sit next to the SQLite ones measured the same way.
 */
import { randomBytes } from "node:crypto";
import { closeDb, openDb } from "@privface/db";

export interface BenchDatabase {
  /** PRIVFACE_<SERVER>_DB and _DB_SCHEMA for each server */
  env: Record<string, string>;
  /** drops the run's schemas */
  drop(): Promise<void>;
}

export function benchDatabase(url: string, servers: readonly ("P0" | "P1" | "HELPER" | "GATEWAY")[]): BenchDatabase {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new RangeError("--db: expected a postgres:// URL (the default is the embedded SQLite)");
  const run = randomBytes(4).toString("hex");
  const schemas = servers.map((s) => `bench_${run}_${s.toLowerCase()}`);
  const env: Record<string, string> = {};
  servers.forEach((s, i) => Object.assign(env, { [`PRIVFACE_${s}_DB`]: url, [`PRIVFACE_${s}_DB_SCHEMA`]: schemas[i] }));
  return {
    env,
    async drop() {
      const db = await openDb(url);
      try {
        for (const s of schemas) await db.pool!.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      } finally {
        await closeDb(db);
      }
    },
  };
}
