/**
 * Benchmark of the gateway's database work for one accepted verification, in the order the gateway
 * does it: `getDevice` (cached after the first), `getPersonWithConsent`, then `personVerified` and
 * `insertDecision` issued together, then the audit record (`@privface/audit` append) once both are
 * committed. Concurrent callers share the group commits as requests finishing together do.
 * Prints one JSON line per dialect:
 *   {"suite":"gateway-store","dialect":"sqlite","concurrency":16,"requests":N,"errors":0,"p50_ms":..,"p99_ms":..,"rps":..,"cpu_us_per_op":..,"event_loop_utilisation":..}
 * (the share of the measured time the event loop was not waiting for I/O or timers)
 * Usage: node --import tsx packages/gateway/bench/store.ts [--n 20000] [--concurrency 16] [--persons 1000] [--pg postgres://…]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createAuditLog } from "@privface/audit";
import { generateSigningKeyPair } from "@privface/crypto";
import { closeDb, openDb, sql, type Db } from "@privface/db";
import { migrateGateway, Store } from "../src/_store.ts";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "16" },
    persons: { type: "string", default: "1000" },
    pg: { type: "string" },
  },
});
const N = Number(values.n);
const CONC = Number(values.concurrency);
const PERSONS = Number(values.persons);

async function run(db: Db): Promise<void> {
  await migrateGateway(db);
  const store = new Store(db);
  // main before decision 008 prepared its SQLite statements here; the method is gone since
  (store as unknown as { prepare?: () => void }).prepare?.();
  const audit = await createAuditLog(db, { role: "gateway", signingKey: await generateSigningKeyPair("INTL") });
  const t = Date.now();
  await store.insertMerchant({ id: "m1", name: "bench", created_at: t });
  const devices: string[] = [];
  for (let i = 0; i < 16; i++) {
    const id = `d${i}`;
    await store.insertDevice({
      id, merchant_id: "m1", suite: "INTL", public_key: `pk-${i}`, auth_key: `ak-${i}`, label: null, status: "active",
      failed_count: 0, locked_at: null, created_at: t, requested_by: "op1", approved_by: "op2",
    });
    devices.push(id);
  }
  const persons: string[] = [];
  for (let i = 0; i < PERSONS; i++) {
    const id = `p${i}-${randomBytes(6).toString("hex")}`;
    await store.insertPerson({
      id, merchant_id: "m1", role: "cashier", name_enc: "x", id_number_enc: "x", phone_enc: "x", id_index: `ix${i}`, template_id: `t${id}`,
      model_version: "v1", failed_count: 0, locked_at: null, last_verified_at: null, last_verified_device: null, created_at: t,
    });
    await store.insertConsent({ id: `c${i}`, person_id: id, notice_version: "n1", notice_hash: "h", purposes: "verify", device_id: "d0", given_at: t, withdrawn_at: null });
    persons.push(id);
  }
  const lat: number[] = [];
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (next < N) {
        const k = next++;
        const s = performance.now();
        try {
          const device = (await store.getDevice(devices[k % devices.length]))!;
          const r = (await store.getPersonWithConsent(persons[k % persons.length]))!;
          if (r.consent !== "given") throw new Error("no consent");
          const now = Date.now();
          const requestId = `r${k}-${randomBytes(6).toString("hex")}`;
          await Promise.all([
            store.personVerified(r.person.id, now, device.id),
            store.insertDecision({ id: requestId, person_id: r.person.id, merchant_id: "m1", device_id: device.id, op: "verify", decision: "accept", reason: "MATCH", model_version: "v1", at: now, us: 1 }),
          ]);
          await audit.append({ requester: `device:${device.id}`, op: "verify", session: requestId, outcome: "accept", code: "MATCH" });
        } catch {
          errors++;
        }
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0).utilization;
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(3));
  console.log(
    JSON.stringify({ suite: "gateway-store", dialect: db.dialect, concurrency: CONC, requests: N, errors, p50_ms: q(0.5), p99_ms: q(0.99), rps: Math.round(N / secs), cpu_us_per_op: Math.round((cpu.user + cpu.system) / N), event_loop_utilisation: Number(elu.toFixed(2)) }),
  );
}

const dir = mkdtempSync(join(tmpdir(), "privface-gateway-store-bench-"));
try {
  const db = await openDb(join(dir, "gateway.sqlite"));
  await run(db);
  await closeDb(db);
  if (values.pg) {
    const schema = `gateway_bench_${randomBytes(4).toString("hex")}`;
    const pgdb = await openDb(values.pg, { schema });
    try {
      await run(pgdb);
    } finally {
      await sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).execute(pgdb.kysely);
      await closeDb(pgdb);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
