/**
 * The ID-number blind index across a data-key rotation (issue 13): the index key is its own key, not
 * derived from the current data key, so after the gateway's data keys rotate a second registration of
 * the same ID number at the same merchant is still a DUPLICATE, and the records written under the old
 * key still open.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { generateDataKey } from "@privface/crypto";
import { PEOPLE, registerWorld, replica, setup, type Fixture, type World } from "./_setup.ts";

let f: Fixture;
let w: World;
before(async () => {
  f = await setup("identity-keys");
  w = await registerWorld(f, ["alice"]);
});
after(() => f.close());

test("after the data keys rotate, the same ID number at the same merchant is still DUPLICATE; old records still open", async () => {
  const rotated = await replica(f, { dataKeys: [generateDataKey("INTL", "gw-test-2"), ...f.options.dataKeys] });
  try {
    const again = await rotated.admin("POST", `/v1/admin/merchants/${w.merchantId}/persons`, { ...PEOPLE.alice, name: "另一个人" });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.equal(again.body.error.code, "DUPLICATE");
    // alice's record, written under the old key, opens (masked) at the rotated gateway
    const view = await rotated.admin("GET", `/v1/admin/persons/${w.persons.alice.personId}`, undefined, "operator", "identity check");
    assert.equal(view.status, 200, JSON.stringify(view.body));
    assert.match(view.body.idNumber, /^\d{6}\*+\d{3}[\dX]$/);
  } finally {
    await rotated.close();
  }
});
