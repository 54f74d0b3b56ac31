/**
 * `privface bench attacks` (issue 12): the whole bench against a real stack on loopback (helper, P0,
 * P1 processes, the real gateway). Asserts the JSON shape and that every field reports the defended
 * value, so a regression of a defence fails here.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ATTACK_FIELDS, runAttacksBench } from "../src/bench/index.ts";

const BUDGET = 6;

test("bench attacks: every attack runs against the real stack; the defended ones are blocked", { timeout: 240_000 }, async () => {
  // the gateway's daily budgets below the parties' (so that the lockout attack meets the gateway's lock first)
  const t0 = Date.now();
  const { result, details } = await runAttacksBench({
    failureBudget: BUDGET,
    maxProbes: BUDGET + 4,
    // the malicious helper cheats on every item of 4 batches: every batch must be caught
    helperBatches: 4,
    helperBad: 256,
    gatewayEnv: { PRIVFACE_GATEWAY_PERSON_DAILY_FAILURES: "4", PRIVFACE_GATEWAY_DEVICE_DAILY_FAILURES: "8" },
    log: (l) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)}s ${l}\n`),
  });
  assert.deepEqual(Object.keys(result), ["suite", ...ATTACK_FIELDS]);
  assert.equal(result.suite, "attacks");
  const why = JSON.stringify(details, null, 1);
  // a regression of any defence flips one of these
  for (const f of ["key_substitution_blocked", "replay_at_party_refused", "repurposed_envelope_refused", "upgrade_wildcard_blocked", "withdraw_takeover_blocked", "lockout_reset_blocked", "unauth_challenge_refused"] as const) {
    assert.equal(result[f], true, `${f}: ${details[f]}`);
  }
  assert.equal(result.gateway_holds_party_private_key, false, why);
  assert.equal(result.helper_cheat_detected_rate, 1, why);
  assert.equal(result.reconstruct_from_helper_and_one_party, false, why);
  assert.ok(typeof result.oracle_answers_per_template_per_day === "number" && result.oracle_answers_per_template_per_day <= BUDGET, why);
});
