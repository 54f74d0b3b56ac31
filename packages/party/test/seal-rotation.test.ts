/**
 * Sealing-key rotation through the signed key list (issue 13): a party's new sealing key is listed
 * first (devices seal to it) and the retired one after it, so envelopes sealed to the old key by a
 * device that has not fetched the new list still open; once the retired key is removed from the
 * configuration, an envelope sealed to it is refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkKeyList, MODEL, sealingKeyId } from "@privface/contracts";
import { generateSealKeyPair } from "@privface/crypto";
import { enrolBodies, finishBodies, newId, randomFace, reconstruct, sameFace, verifyBodies } from "@privface/devstack/gateway-sim";
import { makeInProc } from "./_inproc.ts";

const MV = MODEL.version;

test("rotation: the key list names the new key first and the retired one after it; both open until the retired one is removed", async () => {
  const old = { P0: await generateSealKeyPair("INTL"), P1: await generateSealKeyPair("INTL") };
  const fresh = { P0: await generateSealKeyPair("INTL"), P1: await generateSealKeyPair("INTL") };
  const pub = (k: typeof old) => ({ P0: { suite: "INTL" as const, publicKey: k.P0.publicKey }, P1: { suite: "INTL" as const, publicKey: k.P1.publicKey } });

  const h = await makeInProc({ sealKeys: fresh, retiredSealKeys: { P0: [old.P0], P1: [old.P1] } });
  try {
    await h.fill(10);
    for (const p of ["P0", "P1"] as const) {
      const { current, list } = await checkKeyList(h.roots[p], p, (await h.call(p, "/v1/keys", undefined, "gateway")).body.keyList);
      assert.equal(current.id, await sealingKeyId(fresh[p]));
      assert.deepEqual(list.keys.map((k) => k.id), [await sealingKeyId(fresh[p]), await sealingKeyId(old[p])]);
    }
    // a device still sealing to the old keys enrols; one sealing to the new keys verifies against it
    const templateId = newId();
    const session = newId();
    const x = randomFace(MODEL.dim);
    const e = await h.both("/v1/enrol", await enrolBodies({ ...h.keys, ...pub(old) }, { session, templateId, modelVersion: MV, x }));
    assert.equal(reconstruct(e.P0.body.resultShare, e.P1.body.resultShare).valid, 1, JSON.stringify(e.P0.body));
    await h.both("/v1/commit", await finishBodies(h.keys, "commit", { session, templateId, modelVersion: MV }));
    const v = await h.both("/v1/verify", await verifyBodies({ ...h.keys, ...pub(fresh) }, { session: newId(), templateId, modelVersion: MV, x: sameFace(x) }));
    assert.deepEqual(reconstruct(v.P0.body.resultShare, v.P1.body.resultShare), { valid: 1, match: 1 });
  } finally {
    await h.close();
  }

  // the retired keys removed from the configuration: an envelope sealed to them is refused at both
  const after = await makeInProc({ sealKeys: fresh });
  try {
    await after.fill(10);
    const r = await after.both("/v1/enrol", await enrolBodies({ ...after.keys, ...pub(old) }, { session: newId(), templateId: newId(), modelVersion: MV, x: randomFace(MODEL.dim) }));
    assert.deepEqual([r.P0.body.error?.code, r.P1.body.error?.code], ["STATEMENT_INVALID", "STATEMENT_INVALID"]);
    const { list } = await checkKeyList(after.roots.P0, "P0", (await after.call("P0", "/v1/keys", undefined, "gateway")).body.keyList);
    assert.equal(list.keys.length, 1);
  } finally {
    await after.close();
  }
});
