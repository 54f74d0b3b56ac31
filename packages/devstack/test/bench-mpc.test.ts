/** The benchmark's bookkeeping on a small run (no timing assertions): exactness, rounds and sizes. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { benchMpc } from "../src/bench/mpc.ts";

test("bench mpc (small run): every decision exact (and every budget run), 4 rounds (budget 3), sizes within the targets", () => {
  const r = benchMpc({ dim: 512, count: 30, passes: 2 });
  assert.equal(r.suite, "mpc");
  assert.equal(r.exact, true);
  assert.equal(r.rounds, 4);
  assert.equal(r.enrol_rounds, 3);
  assert.equal(r.budget_rounds, 3);
  assert.ok(r.budget_bytes_between_parties > 0 && r.budget_bytes_between_parties < 512, `${r.budget_bytes_between_parties}`);
  assert.ok(r.bytes_between_parties <= 16384, `${r.bytes_between_parties}`);
  assert.ok(r.helper_bytes_per_verify <= 131072, `${r.helper_bytes_per_verify}`);
  assert.equal(r.aes, "node:crypto");
  for (const k of ["us_per_verify", "verifies_per_s", "helper_us_per_verify", "us_per_budget"] as const) assert.ok(r[k] > 0, k);
});
