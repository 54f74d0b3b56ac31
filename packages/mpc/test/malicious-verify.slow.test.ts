/** R23: ≥ 10,000 crafted probes against random templates — none is accepted, every one is invalid. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeParams, simulateVerify, verifyPlain } from "../src/index.ts";
import { CRAFTS, craft } from "./_crafted.ts";
import { pair, shareProbe, shareTemplate, testSeeds } from "./_helpers.ts";
import { THRESHOLD } from "./_helpers.ts";

test("10,000 crafted probes (d = 128 and 512): 0 accepted, valid = 0 for each", () => {
  const { rng, seeds } = testSeeds("malicious-verify");
  const perKind = new Map<string, number>();
  let accepted = 0, validCount = 0, total = 0;
  for (const [d, n] of [[128, 8000], [512, 2000]] as const) {
    const params = makeParams({ threshold: THRESHOLD, d });
    for (let t = 0; t < n; t++) {
      const { y } = pair(rng, d, 1);
      const kind = CRAFTS[t % CRAFTS.length];
      // half of the probes are built from the template itself (the strongest attack), half from another vector
      const base = t % 2 ? y : pair(rng, d, 1).y;
      const x = craft(kind, base, params, rng);
      assert.equal(verifyPlain(params, x, y).valid, 0, `${kind} must be invalid in plaintext`);
      const r = simulateVerify({ params, seeds, rng, probe: shareProbe(x, rng), template: shareTemplate(y, rng), wire: t % 20 === 0 });
      accepted += r.match;
      validCount += r.valid;
      total++;
      perKind.set(kind, (perKind.get(kind) ?? 0) + 1);
    }
  }
  assert.ok(total >= 10_000);
  assert.equal(perKind.size, CRAFTS.length);
  assert.equal(accepted, 0);
  assert.equal(validCount, 0);
});
