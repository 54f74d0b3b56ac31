/** R23: ≥ 10,000 crafted templates at enrolment — none enrols (valid = 0 for each). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeParams, simulateEnrol, validatePlain } from "../src/index.ts";
import { CRAFTS, craft } from "./_crafted.ts";
import { pair, shareProbe, testSeeds } from "./_helpers.ts";
import { THRESHOLD } from "./_helpers.ts";

test("10,000 crafted templates (d = 128 and 512): none enrols", () => {
  const { rng, seeds } = testSeeds("malicious-enrol");
  let valid = 0, total = 0;
  for (const [d, n] of [[128, 8000], [512, 2000]] as const) {
    const params = makeParams({ threshold: THRESHOLD, d });
    for (let t = 0; t < n; t++) {
      const kind = CRAFTS[t % CRAFTS.length];
      const y = craft(kind, pair(rng, d, 1).y, params, rng);
      assert.equal(validatePlain(params, y).valid, 0, `${kind} must be invalid in plaintext`);
      const e = simulateEnrol({ params, seeds, rng, share: shareProbe(y, rng), wire: t % 20 === 0 });
      valid += e.valid;
      total++;
    }
  }
  assert.ok(total >= 10_000);
  assert.equal(valid, 0);
});
