/**
 * PRIVFACE_DB_STATS_DIR: a process writes `dbStats` to `<dir>/<pid>.json`, rewritten in place when
 * they change (benchmarks read it: devstack `dbStatsOf`); a shorter text after a longer one still parses.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const index = fileURLToPath(new URL("../src/index.ts", import.meta.url));

test("PRIVFACE_DB_STATS_DIR: the counts are written in place when they change, and parse after every write", () => {
  const dir = mkdtempSync(join(tmpdir(), "privface-db-stats-"));
  try {
    const script = `
      import { openDb, closeDb, dbStats } from ${JSON.stringify(index)};
      import { readFileSync } from "node:fs";
      const file = ${JSON.stringify(dir)} + "/" + process.pid + ".json";
      const wait = () => new Promise((r) => setTimeout(r, 450));
      const db = await openDb("sqlite::memory:");
      db.sqlite.exec("CREATE TABLE t (x INTEGER)");
      const seen = [];
      for (const n of [3, 0]) {
        for (let i = 0; i < n; i++) await db.groupWrite(() => db.sqlite.prepare("INSERT INTO t VALUES (1)").run());
        await wait();
        seen.push(JSON.parse(readFileSync(file, "utf8")).commits);
      }
      dbStats.writeMs = 1e9; // a longer text
      await wait();
      dbStats.writeMs = 0; // then a shorter one
      await wait();
      seen.push(JSON.parse(readFileSync(file, "utf8")).writeMs);
      await closeDb(db);
      console.log(JSON.stringify(seen));
    `;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, PRIVFACE_DB_STATS_DIR: dir }, encoding: "utf8" });
    assert.deepEqual(JSON.parse(out.trim().split("\n").pop()!), [3, 3, 0]);
    assert.equal(readdirSync(dir).length, 1, "one file, no temporary ones");
    assert.ok(readFileSync(join(dir, readdirSync(dir)[0]), "utf8").endsWith(" "), "padded to the longest text written");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
