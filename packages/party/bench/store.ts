/**
 * Benchmark of the party store's verify hot path (`beginVerify`: consume authorisation, load and
 * decrypt the active share, take a pool item, record the session — one transaction).
 * Prints one JSON line per configuration:
 *   {"suite":"party-store","dialect":"sqlite","synchronous":"NORMAL","secureDelete":"on","itemBytes":8192,"requests":N,"errors":0,"p50_ms":..,"p99_ms":..,"rps":..}
 * Usage: node --import tsx packages/party/bench/store.ts [--n 5000] [--item 8192] [--concurrency 16] [--pg postgres://…]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { closeDb, openDb, type Db } from "@privface/db";
import { createPartyStore } from "../src/store/index.ts";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "5000" },
    item: { type: "string", default: "8192" },
    concurrency: { type: "string", default: "16" },
    templates: { type: "string", default: "1000" },
    pg: { type: "string" },
    "pg-only": { type: "boolean", default: false },
    page: { type: "string" },
    autocheckpoint: { type: "string" },
    mmap: { type: "string" },
    sync: { type: "string" },
    "secure-delete": { type: "string" },
  },
});
const N = Number(values.n);
const ITEM = Number(values.item);
const CONC = Number(values.concurrency);
const TEMPLATES = Number(values.templates);

async function run(db: Db, label: Record<string, unknown>, secureDelete: "on" | "fast"): Promise<void> {
  const store = await createPartyStore(db, { role: "P0", dataKeys: { current: "k", keys: new Map([["k", new Uint8Array(randomBytes(32))]]) }, secureDelete });
  const ids: string[] = [];
  for (let i = 0; i < TEMPLATES; i++) {
    const id = `t${randomBytes(15).toString("base64url")}`;
    const s = `s${randomBytes(12).toString("base64url")}`;
    await store.prepare(s, id, "v1", randomBytes(512));
    await store.commit(s);
    ids.push(id);
  }
  for (let done = 0; done < N; done += 500) {
    await store.addItems(Array.from({ length: Math.min(500, N - done) }, (_, i) => ({ id: `i${done + i}-${randomBytes(8).toString("hex")}`, bytes: randomBytes(ITEM) })));
  }
  const lat: number[] = [];
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (next < N) {
        const k = next++;
        const s = performance.now();
        try {
          const r = await store.beginVerify({
            session: `v${k}-${randomBytes(6).toString("hex")}`,
            templateId: ids[k % ids.length],
            modelVersion: "v1",
            nonce: randomBytes(16).toString("base64url"),
            expires: Date.now() + 60_000,
          });
          r.share.fill(0);
          r.item.bytes.fill(0);
        } catch {
          errors++;
        }
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(3));
  console.log(
    JSON.stringify({ suite: "party-store", ...label, secureDelete, itemBytes: ITEM, concurrency: CONC, requests: N, errors, p50_ms: q(0.5), p99_ms: q(0.99), rps: Math.round(N / secs), cpu_us_per_op: Math.round((cpu.user + cpu.system) / N) }),
  );
}

const dir = mkdtempSync(join(tmpdir(), "privface-store-bench-"));
try {
  for (const synchronous of values["pg-only"] ? [] : ((values.sync ? [values.sync] : ["NORMAL", "FULL"]) as ("NORMAL" | "FULL")[])) {
    for (const sd of (values["secure-delete"] ? [values["secure-delete"]] : ["on", "fast"]) as ("on" | "fast")[]) {
      const pageSize = values.page ? Number(values.page) : undefined;
      const db = await openDb(join(dir, `${synchronous}-${sd}.sqlite`), { synchronous, ...(pageSize ? { pageSize } : {}) });
      if (values.autocheckpoint) db.sqlite!.pragma(`wal_autocheckpoint = ${Number(values.autocheckpoint)}`);
      if (values.mmap) db.sqlite!.pragma(`mmap_size = ${Number(values.mmap)}`);
      await run(db, { dialect: "sqlite", synchronous, walAutocheckpoint: db.sqlite!.pragma("wal_autocheckpoint", { simple: true }), pageSize: db.sqlite!.pragma("page_size", { simple: true }) }, sd);
      await closeDb(db);
    }
  }
  if (values.pg) {
    const schema = `party_bench_${randomBytes(4).toString("hex")}`;
    const db = await openDb(values.pg, { schema });
    try {
      await run(db, { dialect: "postgres" }, "on");
    } finally {
      await db.pool!.query(`DROP SCHEMA "${schema}" CASCADE`);
      await closeDb(db);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
