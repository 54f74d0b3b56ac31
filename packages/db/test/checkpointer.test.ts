import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { startCheckpointer } from "../src/checkpointer.ts";
import { closeDb, openDb } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "privface-ckpt-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("checkpointer: automatic checkpoints off, the worker moves the WAL into the main file, close restores nothing half-done", async () => {
  const path = join(dir, "c.sqlite");
  const db = await openDb(path);
  const ckpt = startCheckpointer(db, { intervalMs: 20 });
  try {
    const s = db.sqlite!;
    await db.exclusive(() => s.exec("create table t (v blob)"));
    for (let i = 0; i < 200; i++) await db.exclusive(() => s.prepare("insert into t values (?)").run(Buffer.alloc(4096, i)));
    assert.equal(s.pragma("wal_autocheckpoint", { simple: true }), 0);
    // With automatic checkpoints off, only the worker can move the 200 × 4 KiB rows into the main file.
    const deadline = Date.now() + 15_000;
    while (statSync(path).size < 200 * 4096 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(statSync(path).size >= 200 * 4096, "the main file holds the rows: the worker checkpointed the WAL");
  } finally {
    await ckpt.close();
    await closeDb(db);
  }
  const again = await openDb(path);
  assert.equal((again.sqlite!.prepare("select count(*) as n from t").get() as { n: number }).n, 200);
  await closeDb(again);
});

test("checkpointer: a no-op for :memory:", async () => {
  const db = await openDb(":memory:");
  const ckpt = startCheckpointer(db);
  await ckpt.close();
  await closeDb(db);
});
