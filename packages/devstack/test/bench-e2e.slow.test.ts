/**
 * `privface bench e2e` on a small run against a real stack on loopback: the driver's bookkeeping
 * (JSON shape, counts, CPU per process), and that a run past the gateway's default per-source limit
 * (600 device requests a minute from one address; each verification makes two) measures
 * verifications, not `429 RATE_LIMITED` answers.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runE2eBench } from "../src/bench/index.ts";

test("bench e2e: a run past the default per-source limit has no errors", { timeout: 300_000 }, async () => {
  const t0 = Date.now();
  const [enrol, verify] = await runE2eBench({
    requests: 400,
    warmup: 20,
    persons: 8,
    enrolWarmup: 2,
    concurrency: 8,
    log: (l) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)}s ${l}\n`),
  });
  assert.equal(enrol.suite, "e2e-enrol");
  assert.equal(verify.suite, "e2e-verify");
  assert.deepEqual([enrol.requests, enrol.errors, enrol.enrolled], [8, 0, 8]);
  assert.equal(verify.requests, 400);
  assert.equal(verify.errors, 0, JSON.stringify(verify.error_codes));
  assert.equal(verify.false_rejects, 0);
  const cpu = verify.cpu_ms_per_request as Record<string, number>;
  assert.deepEqual(Object.keys(cpu).sort(), ["client", "gateway", "helper", "p0", "p1"]);
  for (const k of ["client", "gateway", "p0", "p1"]) assert.ok(cpu[k] > 0, `${k} CPU per request`);
});
