/**
 * Crash suite of the party store, run on SQLite (store-crash.test.ts) and PostgreSQL
 * (pg/store-crash.test.ts). No pool item is ever used twice, across crashes: a child process using
 * items is SIGKILLed at an arbitrary moment (often inside a transaction, or a group commit); after
 * reopening, every item it reported as used is refused (ITEM_REUSED), the rest of the pool hands out
 * only items it never saw, each once. Also: a "crash" between take and the end of the session
 * (database closed) keeps the item used.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { closeDb, openDb, type Db } from "@privface/db";
import { createPartyStore, openTemplateKeys, type PartyStore } from "../src/store/index.ts";
import { key1, rejectsCode, share, sid, tid } from "./_store-contract.ts";

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Where a test's database is: a URL for openDb (and the child), plus the PostgreSQL schema and the
 * template-key register file (a PostgreSQL store has none beside its database: without a file each
 * process would have its own in-memory register, and the child could not open the parent's template).
 */
export interface CrashTarget {
  url: string;
  schema?: string;
  templateKeys?: string;
}
const open = (t: CrashTarget) => openDb(t.url, t.schema !== undefined ? { schema: t.schema } : {});
const keys = () => ({ current: "k1", keys: new Map([["k1", key1]]) });
const storeOf = async (db: Db, t: CrashTarget): Promise<PartyStore> =>
  createPartyStore(db, { role: "P0", dataKeys: keys(), ...(t.templateKeys ? { templateKeys: await openTemplateKeys(t.templateKeys) } : {}) });

async function seed(target: CrashTarget, items: number): Promise<{ templateId: string; ids: string[] }> {
  const db = await open(target);
  const store = await storeOf(db, target);
  const templateId = tid();
  const s = sid();
  await store.prepare(s, templateId, "v1", share());
  await store.commit(s);
  const ids = Array.from({ length: items }, (_, i) => `crash-${i}-${randomBytes(4).toString("hex")}`);
  await store.addItems(ids.map((id) => ({ id, bytes: share(2048) })));
  await closeDb(db);
  return { templateId, ids };
}

/** Runs the child until it reported at least `atLeast` uses plus a random extra delay, then SIGKILLs it. */
async function runAndKill(target: CrashTarget, templateId: string, atLeast: number, reserved: string[]): Promise<string[]> {
  const child = spawn(process.execPath, ["--import", "tsx", join(here, "_store-crash-child.ts"), target.url, Buffer.from(key1).toString("hex"), templateId, target.schema ?? "", target.templateKeys ?? ""], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, PRIVFACE_CRASH_RESERVE: reserved === NO_RESERVE ? "0" : "1" },
  });
  const used: string[] = [];
  let buf = "";
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    let killing = false;
    child.stdout.on("data", (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith("USED ")) used.push(line.slice(5));
        if (line.startsWith("RESERVED ")) reserved.push(line.slice(9));
      }
      if (!killing && used.length >= atLeast) {
        killing = true;
        setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, Math.floor(Math.random() * 15));
      }
    });
    child.on("exit", () => (killing ? resolve() : reject(new Error("child exited before it was killed"))));
  });
  assert.equal(await exited, "SIGKILL");
  // Lines written before the kill may still be in the pipe.
  await new Promise((r) => setImmediate(r));
  return used;
}

/** runAndKill's child without reservations. */
const NO_RESERVE: string[] = [];

async function usedIds(db: Db): Promise<Set<string>> {
  const rows = await db.kysely.selectFrom("party_pool").select("id").where("used_at", "is not", null).execute();
  return new Set(rows.map((r) => r.id as string));
}

export function storeCrashSuite(name: string, target: (label: string) => Promise<CrashTarget>): void {
  test(`${name}: SIGKILL while reserving items for item nonces (decision 012): a reserved item is never handed out unnamed, and is discarded unused once expired`, async () => {
    const where = await target("reserve");
    const total = 200;
    const { templateId } = await seed(where, total);
    const reported: string[] = [];
    const used = await runAndKill(where, templateId, 15, reported);
    assert.ok(reported.length >= 10);
    const db = await open(where);
    const rows = await db.kysely.selectFrom("party_pool").select(["id", "used_at", "reserved_until"]).execute();
    const reservedNow = new Set(rows.filter((r) => r.reserved_until !== null).map((r) => r.id as string));
    for (const id of reported) assert.ok(reservedNow.has(id), `reported reservation ${id} was lost in the crash`);
    for (const id of used) assert.ok(!reservedNow.has(id), `item ${id} was both reserved and taken`);
    // at most one reservation batch (committed, killed before it was reported) is unreported
    assert.ok(reservedNow.size - reported.length <= 2);
    // the restarted party hands out only unreserved items…
    const store = await storeOf(db, where);
    const rest: string[] = [];
    for (;;) {
      try {
        rest.push((await store.takeItem()).id);
      } catch {
        break;
      }
    }
    for (const id of rest) assert.ok(!reservedNow.has(id), `reserved item ${id} handed out unnamed after a crash`);
    // …and once the nonces have expired the purge discards every reservation, unused
    const later = await createPartyStore(db, { role: "P0", dataKeys: keys(), now: () => Date.now() + 120_000, ...(where.templateKeys ? { templateKeys: await openTemplateKeys(where.templateKeys) } : {}) });
    await later.purge({ sessionsMs: 86_400_000, usedItemsMs: 86_400_000 });
    for (const id of reservedNow) await rejectsCode(later.markUsed(id), "ITEM_REUSED");
    assert.equal(await later.poolLevel(), 0);
    await closeDb(db);
  });

  test(`${name}: SIGKILL while using pool items: nothing reported as used is ever handed out again`, async () => {
    const where = await target("kill");
    const total = 400;
    const { templateId, ids } = await seed(where, total);
    const everUsed = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const reported = await runAndKill(where, templateId, 20 + round * 10, NO_RESERVE);
      assert.ok(reported.length >= 20);
      const db = await open(where);
      const store = await storeOf(db, where);
      const used = await usedIds(db);
      for (const id of reported) {
        assert.ok(!everUsed.has(id), `item ${id} was handed out twice`);
        everUsed.add(id);
        assert.ok(used.has(id), `item ${id} was reported used but is not marked used`);
        await rejectsCode(store.markUsed(id), "ITEM_REUSED");
      }
      // At most one item (committed, killed before it was reported) is used but unreported.
      const unreported = [...used].filter((id) => !everUsed.has(id));
      assert.ok(unreported.length <= 1, `unreported used items: ${unreported.length}`);
      for (const id of unreported) everUsed.add(id);
      assert.equal(await store.poolLevel(), total - used.size);
      await closeDb(db);
    }
    // Drain the rest: only never-used items, each once.
    const db = await open(where);
    const store = await storeOf(db, where);
    const rest: string[] = [];
    for (;;) {
      try {
        rest.push((await store.takeItem()).id);
      } catch {
        break;
      }
    }
    assert.equal(new Set(rest).size, rest.length);
    for (const id of rest) assert.ok(!everUsed.has(id), `item ${id} handed out again after a crash`);
    assert.equal(rest.length + everUsed.size, total);
    assert.deepEqual(new Set([...rest, ...everUsed]), new Set(ids));
    await closeDb(db);
  });

  test(`${name}: crash between take and the end of the session: the item stays used`, async () => {
    const where = await target("close");
    const { templateId } = await seed(where, 3);
    const db = await open(where);
    const store = await storeOf(db, where);
    const { item } = await store.beginVerify({ session: sid(), templateId, modelVersion: "v1", nonce: randomBytes(16).toString("base64url"), expires: Date.now() + 60_000 });
    const taken = await store.takeItem(sid());
    await closeDb(db); // the server dies here, mid-MPC
    const db2 = await open(where);
    const again = await storeOf(db2, where);
    await rejectsCode(again.markUsed(item.id), "ITEM_REUSED");
    await rejectsCode(again.markUsed(taken.id), "ITEM_REUSED");
    const last = await again.takeItem();
    assert.ok(last.id !== item.id && last.id !== taken.id);
    await rejectsCode(again.takeItem(), "POOL_EXHAUSTED");
    // A second connection to the same file sees the same markers (e.g. a CLI next to the server).
    const db3 = await open(where);
    const other = await storeOf(db3, where);
    await rejectsCode(other.markUsed(last.id), "ITEM_REUSED");
    await closeDb(db3);
    await closeDb(db2);
  });
}
