/**
 * The per-template lock across the worker processes of one party (workers.ts `createTemplateLocks`,
 * PostgreSQL advisory locks): two processes' locks — two pools, as two processes have — exclude
 * each other per template and party, a waiter gets the lock when it is released, and when the holder's
 * connection dies (its process was killed) PostgreSQL frees the lock at once.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { closeDb, openDb, type Db } from "@privface/db";
import { PartyError } from "@privface/contracts";
import { createTemplateLocks } from "../../src/workers.ts";

const PG = process.env.PRIVFACE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
async function pgUp(): Promise<boolean> {
  try {
    await closeDb(await openDb(PG));
    return true;
  } catch {
    return false;
  }
}
const skip = !(await pgUp()) ? "no PostgreSQL at 127.0.0.1:5432 (database test)" : undefined;
// advisory locks are database-wide: a namespace of this run only
const ns = `test-${randomBytes(6).toString("hex")}`;

describe("template locks across worker processes (PostgreSQL)", { skip }, () => {
  let a: Db, b: Db;
  before(async () => {
    a = await openDb(PG);
    b = await openDb(PG);
  });
  after(async () => {
    await closeDb(a);
    await closeDb(b);
  });

  it("one holder per template and party; the waiter gets it on release; other templates and parties are free", async () => {
    const la = createTemplateLocks(a.pool!, `${ns}\0P0`, { waitMs: 5_000, pollMs: 5 });
    const lb = createTemplateLocks(b.pool!, `${ns}\0P0`, { waitMs: 5_000, pollMs: 5 });
    const other = createTemplateLocks(b.pool!, `${ns}\0P1`, { waitMs: 100 });
    try {
      const release = await la.lock("t_1");
      let got = false;
      const waiting = lb.lock("t_1").then((r) => ((got = true), r));
      // the other party's lock of the same template, and another template, are not held up
      await (await other.lock("t_1"))();
      await (await lb.lock("t_2"))();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(got, false, "the second process got the template while the first held it");
      await release();
      await (await waiting)();
      assert.equal(got, true);
    } finally {
      la.close();
      lb.close();
      other.close();
    }
  });

  it("a holder whose process dies (its connection gone) frees the template at once; a waiter gives up with PEER_UNAVAILABLE", async () => {
    const la = createTemplateLocks(a.pool!, `${ns}\0P0`, { waitMs: 5_000 });
    const lb = createTemplateLocks(b.pool!, `${ns}\0P0`, { waitMs: 200, pollMs: 5 });
    try {
      await la.lock("t_3");
      await assert.rejects(lb.lock("t_3"), (e: unknown) => e instanceof PartyError && e.code === "PEER_UNAVAILABLE");
      la.close(); // the connection is destroyed, as a killed process's is
      await (await lb.lock("t_3"))();
    } finally {
      lb.close();
    }
  });
});
