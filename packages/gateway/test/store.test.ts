/**
 * The gateway store's queries on SQLite and PostgreSQL (one SQL text each, decision 008): partial
 * device updates leave the other fields alone, failures count and lock at either limit and keep the
 * first lock time, quotas stop at the cap, the person-with-consent read follows the latest receipt.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeDb, openDb, type Db } from "@privface/db";
import { migrateGateway, Store, type DeviceRow, type FailureLimits } from "../src/_store.ts";

import { dropPgSchemas, PG as PG_URL, pgSchema } from "./_pg.ts";

const schemas: string[] = [];
const open: Db[] = [];

after(async () => {
  for (const db of open) await closeDb(db);
  if (schemas.length > 0) await dropPgSchemas(schemas);
});

const T = 1_764_576_000_000;
const LIMITS: FailureLimits = { personLockAfter: 3, deviceLockAfter: 5, personDailyFailures: 10, deviceDailyFailures: 4 };

async function world(make: () => Promise<Db>): Promise<Store> {
  const db = await make();
  open.push(db);
  await migrateGateway(db);
  const store = new Store(db);
  await store.insertMerchant({ id: "m1", name: "shop", created_at: T });
  const device: DeviceRow = {
    id: "d1", merchant_id: "m1", suite: "INTL", public_key: "pk1", auth_key: null, label: null, status: "active",
    failed_count: 0, locked_at: null, created_at: T, requested_by: "op1", approved_by: "op2",
  };
  await store.insertDevice(device);
  await store.insertPerson({
    id: "p1", merchant_id: "m1", role: "cashier", name_enc: "n", id_number_enc: "i", phone_enc: "f", id_index: "x1", template_id: null,
    model_version: null, failed_count: 0, locked_at: null, last_verified_at: null, last_verified_device: null, created_at: T,
  });
  return store;
}

const backends: [string, () => Promise<Db>][] = [
  ["sqlite", () => openDb(":memory:")],
  [
    "postgres",
    () => {
      const schema = pgSchema("gwstore");
      schemas.push(schema);
      return openDb(PG_URL, { schema, maxConnections: 2 });
    },
  ],
];

for (const [name, make] of backends) {
  describe(`gateway store on ${name}`, () => {
    test("a partial device update sets only the given fields", async () => {
      const s = await world(make);
      assert.equal(await s.updateDevice("d1", { failed_count: 2, locked_at: T + 5 }), true);
      let d = (await s.getDevice("d1"))!;
      assert.deepEqual([d.status, d.failed_count, d.locked_at], ["active", 2, T + 5]);
      assert.equal(await s.updateDevice("d1", { status: "revoked" }), true);
      d = (await s.getDevice("d1"))!;
      assert.deepEqual([d.status, d.failed_count, d.locked_at], ["revoked", 2, T + 5]);
      assert.equal(await s.updateDevice("d1", { failed_count: 0, locked_at: null }), true);
      d = (await s.getDevice("d1"))!;
      assert.deepEqual([d.status, d.failed_count, d.locked_at], ["revoked", 0, null]);
      assert.equal(await s.updateDevice("nope", { status: "active" }), false);
    });

    test("an accepted verification's decision, person and device rows are written together, all or none", async () => {
      const s = await world(make);
      await s.recordFailure("p1", "d1", T + 1, LIMITS);
      await s.recordFailure("p1", "d1", T + 2, LIMITS);
      const row = { id: "r1", person_id: "p1", merchant_id: "m1", device_id: "d1", op: "verify", decision: "accept", reason: "MATCH", model_version: "v1", at: T + 4, us: 7 };
      assert.equal((await s.getDevice("d1"))!.failed_count, 2); // cached, and dropped by the write below
      await s.insertVerifiedDecision(row, T + 3, true);
      let p = (await s.getPerson("p1"))!;
      assert.deepEqual([p.failed_count, p.last_verified_at, p.last_verified_device], [0, T + 3, "d1"]);
      assert.equal((await s.getDevice("d1"))!.failed_count, 0);
      assert.deepEqual((await s.decisions("p1", 5)).map((d) => [d.id, d.at]), [["r1", T + 4]]);
      // the same decision id again: refused, and the person's row is left as it was
      await s.recordFailure("p1", "d1", T + 5, LIMITS);
      await assert.rejects(s.insertVerifiedDecision(row, T + 6, false));
      p = (await s.getPerson("p1"))!;
      assert.deepEqual([p.failed_count, p.last_verified_at], [1, null]);
    });

    test("an accepted enrolment's template and decision row are written together, all or none", async () => {
      const s = await world(make);
      const row = { id: "e1", person_id: "p1", merchant_id: "m1", device_id: "d1", op: "enrol", decision: "accept", reason: "ENROLLED", model_version: "v1", at: T + 1, us: 9 };
      await s.insertDecision({ ...row, id: "taken" });
      await assert.rejects(s.setTemplate("p1", "tpl1", "v1", undefined, { ...row, id: "taken" }));
      assert.equal((await s.getPerson("p1"))!.template_id, null, "no template without its decision row");
      await s.setTemplate("p1", "tpl1", "v1", undefined, row);
      const p = (await s.getPerson("p1"))!;
      assert.deepEqual([p.template_id, p.model_version], ["tpl1", "v1"]);
      assert.deepEqual((await s.decisions("p1", 5)).map((d) => d.id).sort(), ["e1", "taken"]);
    });

    test("failures count per person and device, lock at a limit, keep the first lock time", async () => {
      const s = await world(make);
      await s.personVerified("p1", T, "d1");
      const r1 = await s.recordFailure("p1", "d1", T + 1, LIMITS);
      assert.deepEqual(r1, { person: { consecutive: 1, today: 1, locked: false }, device: { consecutive: 1, today: 1, locked: false } });
      const p = (await s.getPerson("p1"))!;
      assert.deepEqual([p.last_verified_at, p.last_verified_device], [null, null]);
      await s.recordFailure("p1", "d1", T + 2, LIMITS);
      const r3 = await s.recordFailure("p1", "d1", T + 3, LIMITS);
      assert.deepEqual(r3.person, { consecutive: 3, today: 3, locked: true });
      assert.equal((await s.getPerson("p1"))!.locked_at, T + 3);
      const r4 = await s.recordFailure("p1", "d1", T + 4, LIMITS);
      assert.deepEqual(r4.device, { consecutive: 4, today: 4, locked: true }); // the device's daily budget
      assert.equal((await s.getPerson("p1"))!.locked_at, T + 3, "an earlier lock time is kept");
      assert.equal((await s.getDevice("d1"))!.locked_at, T + 4);
      assert.equal(await s.failuresToday("person", "p1", T), 4);
      assert.equal(await s.failuresToday("device", "d1", T + 86_400_000), 0);
      assert.equal(await s.unlockPerson("p1"), true);
      const u = (await s.getPerson("p1"))!;
      assert.deepEqual([u.failed_count, u.locked_at], [0, null]);
    });

    test("operator quotas stop at the cap and add nothing past it", async () => {
      const s = await world(make);
      assert.equal(await s.takeQuota("op1", "2026-12-01", 3, 5), true);
      assert.equal(await s.takeQuota("op1", "2026-12-01", 3, 5), false);
      assert.equal(await s.takeQuota("op1", "2026-12-01", 2, 5), true);
      assert.equal(await s.takeQuota("op1", "2026-12-01", 1, 5), false);
      assert.equal(await s.takeQuota("op1", "2026-12-02", 5, 5), true);
    });

    test("person with consent follows the latest receipt; decisions come newest first", async () => {
      const s = await world(make);
      assert.deepEqual((await s.getPersonWithConsent("p1"))!.consent, "none");
      await s.insertConsent({ id: "c1", person_id: "p1", notice_version: "n1", notice_hash: "h", purposes: "verify", device_id: "d1", given_at: T, withdrawn_at: null });
      let r = (await s.getPersonWithConsent("p1"))!;
      assert.deepEqual([r.consent, r.consentNotice, r.person.id], ["given", "n1", "p1"]);
      await s.withdrawConsent("c1", T + 1);
      r = (await s.getPersonWithConsent("p1"))!;
      assert.equal(r.consent, "withdrawn");
      await s.insertConsent({ id: "c2", person_id: "p1", notice_version: "n2", notice_hash: "h", purposes: "verify", device_id: "d1", given_at: T + 2, withdrawn_at: null });
      r = (await s.getPersonWithConsent("p1"))!;
      assert.deepEqual([r.consent, r.consentNotice], ["given", "n2"]);
      assert.equal((await s.latestConsent("p1"))!.id, "c2");
      assert.equal(await s.getPersonWithConsent("nobody"), undefined);
      for (let i = 0; i < 3; i++) {
        await s.insertDecision({ id: `r${i}`, person_id: "p1", merchant_id: "m1", device_id: "d1", op: "verify", decision: "accept", reason: "MATCH", model_version: "v1", at: T + i, us: 10 + i });
      }
      assert.deepEqual((await s.decisions("p1", 2)).map((d) => [d.id, d.at, d.us]), [["r2", T + 2, 12], ["r1", T + 1, 11]]);
      assert.equal(await s.countDecisions(), 3);
    });
  });
}
