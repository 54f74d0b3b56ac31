/**
 * reconcileDecisions (issue 14, the auditor's view): the gateway's decisions beside P0's and P1's
 * records of the same session. Each mismatch the view reports is staged here on its own: a session at
 * one party only, one both parties recorded and the gateway did not, a decision a party has no record
 * of, a party's records that contradict the decision, the parties disagreeing; and the clean cases
 * (including a verification's budget run, a refused request with no party records) reconcile.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { reconcileDecisions, type DecisionRecord } from "../src/index.ts";

let seq = 0;
const rec = (op: string, session: string, outcome: string, code: string | null = null, time = 1000 + seq): DecisionRecord => ({ seq: ++seq, time, op, session, outcome, code });

const gw = [
  rec("enrol", "req_enrolOK", "accept", "ENROLLED"),
  rec("verify", "req_verifyOK", "accept", "MATCH"),
  rec("verify", "req_verifyNo", "reject", "NO_MATCH"),
  rec("deregister", "req_deregOK", "accept", "DELETED"),
  rec("verify", "req_refused", "reject", "RATE_LIMITED"), // refused before the parties: none recorded
  rec("person.view", "per_x", "ok"), // not a decision
];
const party = () => [
  rec("enrol:pos", "req_enrolOK", "prepared"),
  rec("commit", "req_enrolOK", "active"),
  rec("verify:payment", "req_verifyOK", "computed"),
  rec("verify:payment", "req_verifyNo", "computed"),
  rec("budget", "req_verifyNo-b", "exhausted"),
  rec("delete", "req_deregOK", "erased"),
];

test("reconcileDecisions: matching records at the gateway and both parties reconcile", () => {
  const r = reconcileDecisions(gw, { P0: party(), P1: party() });
  assert.equal(r.mismatched, 0, JSON.stringify(r.rows.filter((x) => x.mismatches.length)));
  assert.equal(r.reconciled, 5);
  const v = r.rows.find((x) => x.session === "req_verifyNo")!;
  assert.deepEqual(v.P0, ["verify:computed", "budget:exhausted"]);
  assert.deepEqual(v.gateway, { seq: 3, op: "verify", outcome: "reject", code: "NO_MATCH" });
  assert.ok(!r.rows.some((x) => x.session === "per_x"));
});

test("reconcileDecisions: a record at one party only, missing at the gateway, missing at a party, outcome mismatch, parties disagree", () => {
  const p0 = party();
  const p1 = party();
  p0.push(rec("verify:payment", "req_onlyP0", "computed")); // one party only, no decision
  p0.push(rec("enrol:pos", "req_ghost", "prepared"));
  p1.push(rec("enrol:pos", "req_ghost", "prepared")); // both parties, no decision at the gateway
  p1.splice(p1.findIndex((x) => x.session === "req_deregOK"), 1); // the deletion missing at P1
  p0.splice(p0.findIndex((x) => x.op === "commit"), 1); // accepted enrolment not committed at P0
  p0.push(rec("abort", "req_enrolOK", "aborted"));
  p1.find((x) => x.session === "req_verifyOK")!.outcome = "computed-staged"; // parties disagree
  const r = reconcileDecisions(gw, { P0: p0, P1: p1 });
  const of = (s: string) => r.rows.find((x) => x.session === s)?.mismatches;
  assert.deepEqual(of("req_onlyP0"), ["AT_P0_ONLY"]);
  assert.deepEqual(of("req_ghost"), ["MISSING_AT_GATEWAY"]);
  assert.deepEqual(of("req_deregOK"), ["MISSING_AT_P1"]);
  assert.deepEqual(of("req_enrolOK"), ["OUTCOME_MISMATCH", "PARTIES_DISAGREE"]);
  assert.deepEqual(of("req_verifyOK"), ["PARTIES_DISAGREE"]);
  assert.deepEqual(of("req_verifyNo"), []);
  assert.equal(r.mismatched, 5);
  assert.equal(r.reconciled, 2);
  // a rejected enrolment committed at both parties contradicts the decision
  const rej = reconcileDecisions([rec("enrol", "req_rej", "reject", "INVALID_TEMPLATE")], {
    P0: [rec("enrol:pos", "req_rej", "prepared"), rec("commit", "req_rej", "active")],
    P1: [rec("enrol:pos", "req_rej", "prepared"), rec("commit", "req_rej", "active")],
  });
  assert.deepEqual(rej.rows[0].mismatches, ["OUTCOME_MISMATCH"]);
});

test("reconcileDecisions: party sessions outside the page's window are left to the page that spans them", () => {
  const late = rec("verify:payment", "req_late", "computed", null, 99_999);
  const r = reconcileDecisions(gw, { P0: [...party(), late], P1: party() }, { from: 0, to: 50_000 });
  assert.ok(!r.rows.some((x) => x.session === "req_late"));
  assert.equal(reconcileDecisions(gw, { P0: [...party(), late], P1: party() }).rows.find((x) => x.session === "req_late")?.mismatches[0], "AT_P0_ONLY");
});
