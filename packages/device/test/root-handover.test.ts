/**
 * A party's root rotates (issue 13): its old root signs a handover naming the new root, the party
 * sends the chain inside every key list, and a device provisioned with the old root follows the chain
 * to the new one, then trusts only the new one. Attacks first: a handover signed by anything but the
 * device's root is refused, and once a root has handed over, a list it signs is refused — by a device
 * that sees the chain with it and by a device that has moved on without it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sealingKeyId, signKeyList, signRootHandover } from "@privface/contracts";
import { generateSealKeyPair, generateSigningKeyPair, toBase64url, type KeyPair, type SignedJson } from "@privface/crypto";
import { FaceDevice, MODEL, TrustError, type DeviceTrust, type FaceRequestBody } from "../src/index.ts";
import { testTrust } from "./_trust.ts";

const SUITE = process.env.PRIVFACE_SUITE === "gm" ? "GM" : "INTL";
const sample = { embedding: new Float32Array(512).map((_, i) => Math.sin(i)), liveness: 0.9 };
const code = (c: string) => (e: unknown) => e instanceof TrustError && e.code === c;
const pub = (k: KeyPair) => ({ suite: k.suite, kind: "sign" as const, publicKey: k.publicKey });

function gatewayStub(keyLists: () => unknown) {
  const posted: FaceRequestBody[] = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(url)).pathname;
    const body = JSON.parse(String(init?.body));
    if (path === "/v1/challenges")
      return Response.json({ challenge: "challenge_root_0000001", expiresAt: Date.now() + 30_000, purpose: body.purpose, templateId: "tpl_root_00000001", modelVersion: MODEL.version, keyLists: keyLists() }, { status: 201 });
    posted.push(body);
    return Response.json({ decision: "accept" });
  }) as typeof globalThis.fetch;
  return { fetch, posted };
}

describe("root handover at the device (issue 13)", async () => {
  const seal = { P0: await generateSealKeyPair(SUITE), P1: await generateSealKeyPair(SUITE) };
  const t = await testTrust(SUITE, seal);
  const signingKey = await generateSigningKeyPair(SUITE);
  const [r1, r2] = [await generateSigningKeyPair(SUITE), await generateSigningKeyPair(SUITE)];
  const h1 = await signRootHandover(t.roots.P0, { party: "P0", seq: 1, issuedAt: Date.now(), to: pub(r1) });
  const h2 = await signRootHandover(r1, { party: "P0", seq: 2, issuedAt: Date.now(), to: pub(r2) });
  /** P0's list signed by `root`, carrying `handovers` */
  const list = async (root: KeyPair, handovers: SignedJson[] | undefined, version = 5) => {
    const now = Date.now();
    return signKeyList(root, {
      party: "P0",
      version,
      issuedAt: now,
      expiresAt: now + 86_400_000,
      keys: [{ id: await sealingKeyId(seal.P0), suite: SUITE, publicKey: toBase64url(seal.P0.publicKey) }],
      ...(handovers ? { handovers } : {}),
    });
  };
  const fresh = (): DeviceTrust => ({ roots: { ...t.trust.roots }, seen: {} });
  const device = (fetch: typeof globalThis.fetch, trust: DeviceTrust) => new FaceDevice({ deviceId: "till", signingKey, authKey: t.auth, trust, gatewayUrl: "https://gw.test", fetch });
  const offer = (p0: SignedJson) => gatewayStub(() => ({ P0: p0, P1: t.keyLists.P1 }));

  it("attack: a handover not signed by the device's root (an impostor's key in its name, an edited record, a record out of sequence) → ROOT_HANDOVER_INVALID, nothing sent", async () => {
    const evil = await generateSigningKeyPair(SUITE);
    // the impostor signs "P0's root hands over to me" with its own key, naming the real root as `from`
    const forged = await signRootHandover(evil, { party: "P0", seq: 1, issuedAt: Date.now(), to: pub(evil) });
    const payload = JSON.parse(Buffer.from(forged.payload, "base64url").toString());
    payload.from.publicKey = toBase64url(t.roots.P0.publicKey);
    const claimed = { payload: Buffer.from(JSON.stringify(payload)).toString("base64url"), sig: forged.sig };
    // the genuine first handover with its `to` edited to the impostor's key
    const genuine = JSON.parse(Buffer.from(h1.payload, "base64url").toString());
    genuine.to.publicKey = toBase64url(evil.publicKey);
    const edited = { payload: Buffer.from(JSON.stringify(genuine)).toString("base64url"), sig: h1.sig };
    // a genuine second step offered without the first (seq 2 first), and the chain with P1's name
    const outOfSeq = [h2];
    const asP1 = [await signRootHandover(t.roots.P0, { party: "P1", seq: 1, issuedAt: Date.now(), to: pub(evil) })];
    const stubs = [];
    for (const chain of [[claimed], [edited], outOfSeq, asP1]) {
      const trust = fresh();
      const gw = offer(await list(evil, chain));
      await assert.rejects(device(gw.fetch, trust).submit("verify", "alice", sample), code("ROOT_HANDOVER_INVALID"));
      assert.deepEqual(trust.roots.P0, t.trust.roots.P0, "the device still trusts its own root");
      stubs.push(gw);
    }
    // a chain the impostor signs from its own key: it never starts at the device's root → the list is untrusted
    const own = offer(await list(evil, [await signRootHandover(evil, { party: "P0", seq: 1, issuedAt: Date.now(), to: pub(evil) })]));
    await assert.rejects(device(own.fetch, fresh()).submit("verify", "alice", sample), code("KEY_LIST_UNTRUSTED"));
    for (const g of [...stubs, own]) assert.equal(g.posted.length, 0, "no face request left the device");
  });

  it("attack: the old root signing after its handover → KEY_LIST_UNTRUSTED (with the chain, and at a device that has moved on)", async () => {
    // the old root signs a list and the chain that retires it travels with it (the party sends it with every list)
    const withChain = offer(await list(t.roots.P0, [h1], 9));
    await assert.rejects(device(withChain.fetch, fresh()).submit("verify", "alice", sample), code("KEY_LIST_UNTRUSTED"));
    // a device that followed the handover, then is offered a newer list signed by the old root without the chain
    const trust = fresh();
    await device(offer(await list(r1, [h1], 5)).fetch, trust).submit("verify", "alice", sample);
    assert.deepEqual(trust.roots.P0, pub(r1));
    const stale = offer(await list(t.roots.P0, undefined, 50));
    await assert.rejects(device(stale.fetch, trust).submit("verify", "alice", sample), code("KEY_LIST_UNTRUSTED"));
    // … or a second handover the old root signs (to a key of the thief's)
    const thief = await generateSigningKeyPair(SUITE);
    const fork = offer(await list(thief, [await signRootHandover(t.roots.P0, { party: "P0", seq: 1, issuedAt: Date.now(), to: pub(thief) })], 51));
    await assert.rejects(device(fork.fetch, trust).submit("verify", "alice", sample), code("KEY_LIST_UNTRUSTED"));
    assert.deepEqual(trust.roots.P0, pub(r1), "still the root it moved to");
    for (const g of [withChain, stale, fork]) assert.equal(g.posted.length, 0);
  });

  it("a device provisioned with the old root follows two handovers to the newest root, seals, and trusts only that root afterwards", async () => {
    const trust = fresh();
    const gw = offer(await list(r2, [h1, h2], 7));
    await device(gw.fetch, trust).submit("enrol", "alice", sample);
    assert.equal(gw.posted.length, 1);
    assert.equal(gw.posted[0].sealKeys.P0, await sealingKeyId(seal.P0));
    assert.deepEqual(trust.roots.P0, pub(r2));
    assert.deepEqual(trust.roots.P1, t.trust.roots.P1, "P1's root is untouched");
    // the next list from the same party (chain included) is accepted under the new root; a device already at r1 follows only h2
    await device(gw.fetch, trust).submit("verify", "alice", sample);
    const mid: DeviceTrust = { roots: { ...t.trust.roots, P0: pub(r1) }, seen: {} };
    await device(gw.fetch, mid).submit("verify", "alice", sample);
    assert.deepEqual(mid.roots.P0, pub(r2));
    // an intermediate root's list is refused once the chain goes past it
    await assert.rejects(device(offer(await list(r1, [h1, h2], 8)).fetch, fresh()).submit("verify", "alice", sample), code("KEY_LIST_UNTRUSTED"));
  });
});

