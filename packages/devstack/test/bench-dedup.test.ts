/** The dedup benchmark's bookkeeping on a small run (no timing assertions): exactness, rounds and sizes by formula. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { anyLevels, dedupCorrectionBytes, dedupGates, makeParams, paddedWidth } from "@privface/mpc";
import { MODEL } from "@privface/contracts";
import { benchDedup } from "../src/bench/dedup.ts";

for (const [kernel, parties] of [["wasm", "threads"], ["wasm", "sequential"], ["js", "threads"], ["js", "sequential"]] as const) {
  test(`bench dedup (small run, ${kernel} kernel, parties ${parties === "threads" ? "in two threads at once" : "one after the other"}): exact, 3 + 2 + AND-level + "any"-level rounds, bytes as the formulas say`, async () => {
    const n = 2500, dim = 64;
    const r = await benchDedup({ n, dim, queries: 2, kernel, parties });
    assert.equal(r.suite, "dedup");
    assert.equal(r.parties, parties);
    assert.equal(r.exact, true);
    assert.ok(r.matches_per_query >= 2);
    const params = makeParams({ d: dim, threshold: MODEL.threshold });
    const gates = dedupGates(params), W = Math.ceil(n / 32), any = anyLevels(n);
    assert.equal(r.rounds, 3 + 2 + gates.length + any.length);
    assert.equal(r.party_bytes_per_template, 4 * paddedWidth(2 * dim));
    // validation (wire bytes, > 0) + ε + ẑ + every AND level's d ‖ e openings + the "any" tree's (word pairs), both parties
    const query = 2 * (4 * dim + 4 * n + gates.reduce((s, g) => s + 8 * g * W, 0) + any.reduce((s, g) => s + 8 * g, 0));
    assert.ok(r.bytes_between_parties_per_query > query && r.bytes_between_parties_per_query < query + 4 * 4 * dim + 4096, `${r.bytes_between_parties_per_query}`);
    assert.ok(r.helper_bytes_per_query > dedupCorrectionBytes(params, n) && r.helper_bytes_per_query < dedupCorrectionBytes(params, n) + 16 * 4 * dim + 4096);
    for (const k of ["ms_per_query", "cpu_ms_per_query", "plaintext_ms_per_query", "boot_ms"] as const) assert.ok(r[k] >= 0, k);
  });
}
