/**
 * The auditor's reconciliation record by record (GET /v1/admin/audit/reconciliation, issue 14): real
 * decisions (an enrolment and 110 verifications through the device API) beside the fake parties'
 * records of the same sessions; 100 rows a page, the older page by `next`, every decision on exactly
 * one page; a session one party alone recorded is listed once, on the page whose span holds it; the
 * route is the auditor's alone (server-enforced) and refuses a malformed cursor.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { enrol, giveConsent, registerWorld, setup, verify, type Fixture, type World } from "./_setup.ts";

let f: Fixture;
let w: World;
before(async () => {
  f = await setup("reconciliation", { limits: { perPersonPerMinute: 1000, perDevicePerMinute: 1000, perMerchantPerMinute: 1000, perSourcePerMinute: 10_000 } });
  w = await registerWorld(f, ["alice"]);
  assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
  assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
  for (let i = 0; i < 110; i++) assert.equal((await verify(f, w, "alice")).status, 200);
});
after(async () => {
  await f.close();
});

const page = async (before?: number) => {
  const r = await f.admin("GET", `/v1/admin/audit/reconciliation${before ? `?before=${before}` : ""}`, undefined, "auditor");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};

test("reconciliation: 100 decisions a page, every decision once, each beside both parties' records; a party-only session listed once", async () => {
  const p1 = await page();
  assert.equal(p1.rows.length, 100);
  assert.deepEqual([p1.reconciled, p1.mismatched, p1.more, p1.parties], [100, 0, false, { P0: "ok", P1: "ok" }]);
  assert.ok(p1.rows.every((r: any) => r.gateway && r.P0.join() === r.P1.join() && r.P0.length > 0));
  assert.ok(p1.rows.some((r: any) => r.gateway.op === "verify" && r.gateway.code === "MATCH" && r.P0[0] === "verify:computed"));
  const p2 = await page(p1.next);
  assert.equal(p2.next, null);
  const sessions = [...p1.rows, ...p2.rows].map((r: any) => r.session);
  assert.equal(sessions.length, 111);
  assert.equal(new Set(sessions).size, 111);
  assert.deepEqual(p2.rows.at(-1).P1, ["enrol:prepared", "commit:active"]);
  // the parties stamp their records before the gateway records the decision: the page-1 decision whose
  // party records fall in page 2's span is still listed once, on page 1 (not as "no decision" on page 2)
  const oldest1 = p1.rows.at(-1);
  const early = [...f.fake.audit.P0, ...f.fake.audit.P1].filter((x) => x.session === oldest1.session);
  const saved = early.map((x) => x.time);
  for (const x of early) x.time = oldest1.time - 5;
  assert.ok(!(await page(p1.next)).rows.some((r: any) => r.session === oldest1.session));
  assert.equal((await page()).rows.find((r: any) => r.session === oldest1.session)?.mismatches.length, 0);
  early.forEach((x, i) => (x.time = saved[i]));
  assert.equal(p2.mismatched, 0);

  // a session P0 alone recorded, stamped inside the older page's span: there, and not on the newer page
  const t = p2.rows[3].time;
  f.fake.audit.P0.push({ seq: 10_000, time: t, op: "verify:payment", session: "req_p0AloneRecorded", outcome: "computed", code: null });
  const [q1, q2] = [await page(), await page(p1.next)];
  assert.ok(!q1.rows.some((r: any) => r.session === "req_p0AloneRecorded"));
  assert.deepEqual(q2.rows.find((r: any) => r.session === "req_p0AloneRecorded")?.mismatches, ["AT_P0_ONLY"]);
  assert.equal(q2.mismatched, 1);
  f.fake.audit.P0.pop();
});

test("attack: an operator's and an admin's credential are refused the reconciliation (FORBIDDEN_ROLE); a malformed cursor is INVALID_INPUT", async () => {
  for (const role of ["operator", "admin"] as const) {
    const r = await f.admin("GET", "/v1/admin/audit/reconciliation", undefined, role);
    assert.deepEqual([r.status, r.body.error.code], [403, "FORBIDDEN_ROLE"], role);
  }
  for (const q of ["?before=abc", "?before=0", "?limit=5"]) {
    const r = await f.admin("GET", `/v1/admin/audit/reconciliation${q}`, undefined, "auditor");
    assert.equal(r.status, 400, q);
  }
});
