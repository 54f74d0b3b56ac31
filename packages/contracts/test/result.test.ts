/** Result shares bound to their request (issue 12 item 9): only the party and the gateway can MAC one, and a MAC holds for exactly one request, party and share. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateSealKeyPair, keyPairToJson, publicKeyFromJson } from "@privface/crypto";
import { checkResultMac, resultKey, resultMac, type ResultBinding } from "../src/index.ts";

const pub = (kp: Awaited<ReturnType<typeof generateSealKeyPair>>) => publicKeyFromJson(keyPairToJson(kp));

test("result MAC: both sides derive one key per party; any change of request, party or share is refused", async () => {
  const gw = await generateSealKeyPair("INTL");
  const p0 = await generateSealKeyPair("INTL");
  const p1 = await generateSealKeyPair("INTL");
  const atP0 = await resultKey(p0, pub(gw), "P0");
  const atGw0 = await resultKey(gw, pub(p0), "P0");
  const atGw1 = await resultKey(gw, pub(p1), "P1");
  assert.deepEqual(atP0.key, atGw0.key, "the party and the gateway agree");
  assert.notDeepEqual(atGw0.key, atGw1.key, "one key per party");
  const b: ResultBinding = { op: "verify", party: "P0", session: "s".repeat(22), templateId: "t".repeat(22), authorisation: { payload: "payload-a" }, resultShare: { valid: 1, match: 0 } };
  const tag = await resultMac(atP0, b);
  assert.equal(await checkResultMac(atGw0, b, tag), true);
  const changed: ResultBinding[] = [
    { ...b, resultShare: { valid: 1, match: 1 } }, // a flipped share
    { ...b, resultShare: { valid: 1, match: 0, upgradeValid: 1 } }, // an added bit
    { ...b, session: "x".repeat(22) }, // another session's answer
    { ...b, templateId: "u".repeat(22) },
    { ...b, authorisation: { payload: "payload-b" } }, // another request
    { ...b, op: "enrol" },
    { ...b, party: "P1" },
  ];
  for (const c of changed) assert.equal(await checkResultMac(atGw0, c, tag), false, JSON.stringify(c));
  assert.equal(await checkResultMac(atGw1, { ...b, party: "P1" }, tag), false, "P0's answer does not pass as P1's");
  const outsider = await resultKey(await generateSealKeyPair("INTL"), pub(gw), "P0");
  assert.equal(await checkResultMac(atGw0, b, await resultMac(outsider, b)), false, "a key nobody gave out");
  for (const bad of [undefined, "", 42, "A".repeat(43), tag + "A", tag.slice(1)]) assert.equal(await checkResultMac(atGw0, b, bad), false);
});
