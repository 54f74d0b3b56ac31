/**
 * `bench soak` (issue 16) for a few seconds at a low rate on the real stack: the bookkeeping, never
 * a time — every field is there, the mix adds up to the requests started (and the invalid kinds to
 * the invalid share, each kind used), nothing errs and no decision is wrong; and `judge` tells a
 * wrong decision from an error.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CYCLE, INVALID, judge, runSoakBench } from "@privface/devstack/bench";

describe("bench soak", () => {
  it("judge: an unexpected acceptance, a genuine rejection or another refusal code is wrong; no answer, 5xx, 429 or another refusal is an error", () => {
    const match = { decision: "accept", reason: "MATCH" } as const;
    const replay = { decision: "refused", reason: "REPLAYED_REQUEST" } as const;
    const probe = { decision: "reject", reason: "INVALID_PROBE" } as const;
    assert.equal(judge(match, { decision: "accept", reason: "MATCH", status: 200 }), "ok");
    assert.equal(judge(match, { decision: "reject", reason: "NO_MATCH", status: 200 }), "wrong");
    assert.equal(judge(match, { decision: "refused", reason: "MPC_UNAVAILABLE", status: 503 }), "error");
    assert.equal(judge(match, { decision: "refused", reason: "PERSON_BUSY", status: 409 }), "error");
    assert.equal(judge(match, { decision: "refused", reason: "GATEWAY_UNREACHABLE", status: 0 }), "error");
    assert.equal(judge(probe, { decision: "accept", reason: "MATCH", status: 200 }), "wrong");
    assert.equal(judge(probe, { decision: "reject", reason: "NO_MATCH", status: 200 }), "wrong");
    assert.equal(judge(replay, { decision: "accept", reason: "MATCH", status: 200 }), "wrong");
    assert.equal(judge(replay, { decision: "refused", reason: "CHALLENGE_USED", status: 409 }), "wrong");
    assert.equal(judge(replay, { decision: "refused", reason: "RATE_LIMITED", status: 429 }), "error");
  });

  it("a few seconds at 8 requests/s: fields present, the mix adds up, 0 errors, 0 wrong decisions", { timeout: 600_000 }, async () => {
    const minutes = 0.2;
    const r = await runSoakBench({ minutes, rps: 8, persons: 16, devices: 4, pool: 512 });
    for (const k of ["suite", "minutes", "rps_target", "rps_achieved", "errors", "wrong_decisions", "p99_ms", "rss_mb_start", "rss_mb_end"]) assert.ok(k in r, `no ${k}`);
    assert.equal(r.suite, "soak");
    assert.equal(r.requests, Math.round(minutes * 60 * 8));
    assert.equal(Object.values(r.mix).reduce((a, b) => a + b, 0), r.requests);
    const share = (op: string) => Math.floor(r.requests / CYCLE.length) * CYCLE.filter((x) => x === op).length;
    assert.ok(r.mix.verify >= share("verify") && r.mix.enrol >= share("enrol") && r.mix.deregister >= share("deregister") && r.mix.invalid >= share("invalid"));
    assert.equal(Object.values(r.invalid).reduce((a, b) => a + b, 0), r.mix.invalid);
    assert.ok(r.mix.invalid >= INVALID.length, "the run is long enough for every invalid kind");
    for (const k of INVALID) assert.ok(r.invalid[k.kind] >= 1, `no ${k.kind}`);
    assert.deepEqual(r.errors_by_code, {});
    assert.deepEqual(r.wrong_by_case, {});
    assert.equal(r.errors, 0);
    assert.equal(r.wrong_decisions, 0);
    assert.equal(r.persons_end, r.persons_start + r.mix.enrol - r.mix.deregister);
    for (const server of ["helper", "p0", "p1", "gateway"]) {
      assert.ok(r.rss_mb_by_server[server].start! > 0 && r.rss_mb_by_server[server].end! > 0, `rss of ${server}`);
    }
    assert.ok(r.rss_mb_start > 0 && r.rss_mb_end > 0 && r.rps_achieved > 0 && r.p99_ms > 0);
  });
});
