/**
 * Decision 010 §1 at the device (issue 12 item 1, review C1): the SDK seals only to sealing keys
 * each party's institution root certifies, never to keys the gateway names. A gateway that hands out
 * its own keys gets no face request at all (so it has nothing to open); a replayed old or expired
 * list is refused; the shares are sealed to the list's current key, named by id, and each party's
 * statement MAC verifies with the key only that party and the device share.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkStatementMac, faceStatement, partyMacKey, sealingKeyId, type PartyName } from "@privface/contracts";
import { fromBase64url, generateSealKeyPair, generateSigningKeyPair, open, type KeyPair } from "@privface/crypto";
import { FaceDevice, MODEL, TrustError, type FaceRequestBody } from "../src/index.ts";
import { testTrust } from "./_trust.ts";

function gatewayStub(keyLists: () => unknown) {
  const posted: FaceRequestBody[] = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(url)).pathname;
    const body = JSON.parse(String(init?.body));
    if (path === "/v1/challenges")
      return Response.json({ challenge: "challenge_trust_000001", expiresAt: Date.now() + 30_000, purpose: body.purpose, templateId: "tpl_trust_0000001", modelVersion: MODEL.version, keyLists: keyLists() }, { status: 201 });
    posted.push(body);
    return Response.json({ decision: "accept" });
  }) as typeof globalThis.fetch;
  return { fetch, posted };
}

const sample = { embedding: new Float32Array(512).map((_, i) => Math.cos(i)), liveness: 0.9 };
const code = (c: string) => (e: unknown) => e instanceof TrustError && e.code === c;

describe("the device seals only to keys the parties' roots certify (decision 010 §1)", async () => {
  const seal = { P0: await generateSealKeyPair("INTL"), P1: await generateSealKeyPair("INTL") };
  const t = await testTrust("INTL", seal);
  const signingKey = await generateSigningKeyPair("INTL");
  const device = (fetch: typeof globalThis.fetch, trust = { ...t.trust, seen: {} }) => new FaceDevice({ deviceId: "till", signingKey, authKey: t.auth, trust, gatewayUrl: "https://gw.test", fetch });

  it("honest lists: sealed to each party's current key, named by id; each party's MAC verifies", async () => {
    const gw = gatewayStub(() => t.keyLists);
    await device(gw.fetch).submit("verify", "alice", sample);
    const body = gw.posted[0];
    for (const p of ["P0", "P1"] as PartyName[]) {
      assert.equal(body.sealKeys[p], await sealingKeyId(seal[p]));
      const s = await faceStatement({ purpose: "verify", deviceId: "till", challenge: body.challenge, templateId: body.templateId, modelVersion: body.modelVersion, keys: body.sealKeys, shares: body.shares, liveness: body.liveness });
      const k = await partyMacKey(seal[p], body.sealKeys[p], t.auth, "till", p);
      assert.equal(await checkStatementMac("INTL", k, s, body.macs[p]), true);
      assert.equal(await checkStatementMac("INTL", k, { ...s, purpose: "enrol" }, body.macs[p]), false);
    }
  });

  it("attack: a gateway hands out its own keys (lists under its own root, or unsigned) → KEY_LIST_UNTRUSTED, nothing is sent", async () => {
    const mine: Record<PartyName, KeyPair> = { P0: await generateSealKeyPair("INTL"), P1: await generateSealKeyPair("INTL") };
    const gwRoot = await generateSigningKeyPair("INTL");
    const forged = { P0: await t.list("P0", mine.P0, { root: gwRoot, version: 99 }), P1: await t.list("P1", mine.P1, { root: gwRoot, version: 99 }) };
    const gw = gatewayStub(() => forged);
    await assert.rejects(device(gw.fetch).submit("verify", "alice", sample), code("KEY_LIST_UNTRUSTED"));
    // only P1's list replaced: still refused
    const half = gatewayStub(() => ({ P0: t.keyLists.P0, P1: forged.P1 }));
    await assert.rejects(device(half.fetch).submit("enrol", "alice", sample), code("KEY_LIST_UNTRUSTED"));
    // P0's genuine list offered as P1's (the gateway would then hold both envelopes for one key)
    const swapped = gatewayStub(() => ({ P0: t.keyLists.P0, P1: t.keyLists.P0 }));
    await assert.rejects(device(swapped.fetch).submit("verify", "alice", sample), code("KEY_LIST_UNTRUSTED"));
    // a list whose payload the gateway edited (its key in place of the party's) fails the signature
    const payload = JSON.parse(Buffer.from(t.keyLists.P1.payload, "base64url").toString());
    payload.keys[0] = { id: await sealingKeyId(mine.P1), suite: "INTL", publicKey: Buffer.from(mine.P1.publicKey).toString("base64url") };
    const edited = gatewayStub(() => ({ P0: t.keyLists.P0, P1: { ...t.keyLists.P1, payload: Buffer.from(JSON.stringify(payload)).toString("base64url") } }));
    await assert.rejects(device(edited.fetch).submit("verify", "alice", sample), code("KEY_LIST_UNTRUSTED"));
    // no list at all
    await assert.rejects(device(gatewayStub(() => undefined).fetch).submit("verify", "alice", sample), (e: unknown) => (e as { code?: string }).code === "BAD_CHALLENGE");
    for (const g of [gw, half, swapped, edited]) assert.equal(g.posted.length, 0, "no face request left the device");
  });

  it("attack: a replayed older list after a newer one → KEY_LIST_ROLLBACK; an expired list → KEY_LIST_EXPIRED", async () => {
    const rotated = await generateSealKeyPair("INTL");
    const v1 = { P0: await t.list("P0", seal.P0, { version: 1 }), P1: await t.list("P1", seal.P1, { version: 1 }) };
    const v2 = { P0: await t.list("P0", rotated, { version: 2 }), P1: await t.list("P1", seal.P1, { version: 2 }) };
    let offer = v2;
    const gw = gatewayStub(() => offer);
    const trust = { ...t.trust, seen: {} as Partial<Record<PartyName, number>> };
    const d = device(gw.fetch, trust);
    await d.submit("verify", "alice", sample);
    assert.deepEqual(trust.seen, { P0: 2, P1: 2 });
    assert.equal(gw.posted[0].sealKeys.P0, await sealingKeyId(rotated), "rotation: sealed to the new key");
    const aad = (await import("@privface/contracts")).contextAad;
    const ctx = { purpose: "verify", challenge: gw.posted[0].challenge, templateId: gw.posted[0].templateId, modelVersion: gw.posted[0].modelVersion };
    await open(rotated, fromBase64url(gw.posted[0].shares.P0), aad({ ...ctx, party: "P0" }));
    offer = v1; // the old key (perhaps compromised) replayed
    await assert.rejects(d.submit("verify", "alice", sample), code("KEY_LIST_ROLLBACK"));
    const expired = { P0: await t.list("P0", seal.P0, { version: 3, expiresAt: Date.now() - 1 }), P1: await t.list("P1", seal.P1, { version: 3 }) };
    offer = expired;
    await assert.rejects(d.submit("verify", "alice", sample), code("KEY_LIST_EXPIRED"));
    assert.equal(gw.posted.length, 1);
  });

  it("a list accepted once (its signature not checked again) is still refused once expired or rolled back; the MACs of a second request verify", async () => {
    let clock = Date.now();
    const v1 = { P0: await t.list("P0", seal.P0, { version: 1, expiresAt: clock + 60_000 }), P1: await t.list("P1", seal.P1, { version: 1 }) };
    const v2 = { P0: await t.list("P0", seal.P0, { version: 2 }), P1: await t.list("P1", seal.P1, { version: 2 }) };
    let offer = v1;
    const gw = gatewayStub(() => offer);
    const trust = { ...t.trust, seen: {} as Partial<Record<PartyName, number>>, now: () => clock };
    const d = device(gw.fetch, trust);
    await d.submit("verify", "alice", sample);
    await d.submit("verify", "alice", sample);
    for (const body of gw.posted) {
      const s = await faceStatement({ purpose: "verify", deviceId: "till", challenge: body.challenge, templateId: body.templateId, modelVersion: body.modelVersion, keys: body.sealKeys, shares: body.shares, liveness: body.liveness });
      for (const p of ["P0", "P1"] as PartyName[]) assert.equal(await checkStatementMac("INTL", await partyMacKey(seal[p], body.sealKeys[p], t.auth, "till", p), s, body.macs[p]), true);
    }
    clock += 61_000;
    await assert.rejects(d.submit("verify", "alice", sample), code("KEY_LIST_EXPIRED"));
    clock -= 61_000;
    offer = v2;
    await d.submit("verify", "alice", sample);
    offer = v1; // accepted before, now older than what the device has seen
    await assert.rejects(d.submit("verify", "alice", sample), code("KEY_LIST_ROLLBACK"));
    // the accepted list's signature swapped for another list's: checked in full, refused
    offer = { P0: { ...v2.P0, sig: v1.P0.sig }, P1: v2.P1 };
    await assert.rejects(d.submit("verify", "alice", sample), code("KEY_LIST_UNTRUSTED"));
    assert.equal(gw.posted.length, 3);
  });

  it("the SDK will not run without both roots", () => {
    assert.throws(() => new FaceDevice({ deviceId: "till", signingKey, authKey: t.auth, trust: { roots: { P0: t.trust.roots.P0 } } as never, gatewayUrl: "https://gw.test" }), TypeError);
  });
});
