/**
 * Decision 012 at the parties: a verification challenge carries P0's *item nonce*, which names the
 * pool item P0 reserved for it, so P1 takes its half at once and sends round 1 without waiting for P0's
 * first frame (one one-way hop less on a WAN). Attacked by a malicious gateway that also controls a
 * registered device (so the statements it presents carry valid MACs): the item is used at most once at
 * each party, it cannot be moved to another nonce, an expired reservation is discarded unused, and no
 * refused request ever runs two protocol runs on one item.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { challengeNonce, composeChallenge, MODEL } from "@privface/contracts";
import { nonceItem } from "@privface/contracts/nonce";
import { authorise, authoriseBody, enrolBodies, finishBodies, newId, randomFace, reconstruct, sameFace, sealedBodies, verifyBodies } from "@privface/devstack/gateway-sim";
import { makeInProc, type InProc } from "./_inproc.ts";

const MV = MODEL.version;
let h: InProc;
before(async () => {
  h = await makeInProc();
  await h.fill(40);
});
after(() => h.close());

async function enrolled(x = randomFace(MODEL.dim)) {
  const templateId = newId();
  const session = newId();
  const e = await h.both("/v1/enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MV, x }));
  assert.equal(reconstruct(e.P0.body.resultShare, e.P1.body.resultShare).valid, 1, JSON.stringify(e.P0.body));
  await h.both("/v1/commit", await finishBodies(h.keys, "commit", { session, templateId, modelVersion: MV }));
  return { templateId, x };
}
async function asGateway(bodies: Record<"P0" | "P1", any>) {
  const signed = {
    P0: { ...bodies.P0, authorisation: await authoriseBody(h.keys, "verify", "P0", bodies.P0) },
    P1: { ...bodies.P1, authorisation: await authoriseBody(h.keys, "verify", "P1", bodies.P1) },
  };
  return h.both("/v1/verify", signed);
}
const codes = (r: Record<"P0" | "P1", { body: any }>) => [r.P0.body.error?.code, r.P1.body.error?.code];
const itemNonce = async () => (await h.services.P0.nonces(1, true)).nonces[0];
const p1Nonce = async () => (await h.services.P1.nonces(1)).nonces[0];
const usedAt = async (p: "P0" | "P1", id: string) => (await h.dbs[p].kysely.selectFrom("party_pool").select("used_at").where("id", "=", id).executeTakeFirst())?.used_at ?? null;

describe("P0's item nonce names the verification's pool item (decision 012)", () => {
  it("a verification challenge names a reserved item; P1 takes it and starts on the gateway's request alone, before P0 has heard of the session", async () => {
    const { templateId, x } = await enrolled();
    const b = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: sameFace(x) });
    const item = nonceItem(challengeNonce(b.P0.statement.challenge, "P0"));
    assert.match(item ?? "", /^[0-9a-f]{32}$/, "the challenge's P0 nonce is an item nonce");
    assert.equal(await usedAt("P0", item!), null, "reserved, not used, until its verification");
    // only P1's request arrives: P1 uses the item at once (the old flow waited for P0's round 1)
    const p1 = h.call("P1", "/v1/verify", b.P1);
    for (let i = 0; i < 100 && (await usedAt("P1", item!)) === null; i++) await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(await usedAt("P1", item!), null, "P1 began with the named item without any frame from P0");
    const p0 = await h.call("P0", "/v1/verify", b.P0);
    assert.deepEqual(reconstruct(p0.body.resultShare, (await p1).body.resultShare), { valid: 1, match: 1 });
    assert.notEqual(await usedAt("P0", item!), null);
  });

  it("attack: a gateway reuses a challenge's item in a second verification (same P0 item nonce, a fresh P1 nonce) → refused at both parties; the item ran once", async () => {
    const { templateId, x } = await enrolled();
    const n0 = await itemNonce();
    const first = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x), challenge: composeChallenge(newId(18), { P0: n0, P1: await p1Nonce() }) });
    const ok = await asGateway(first);
    assert.deepEqual(reconstruct(ok.P0.body.resultShare, ok.P1.body.resultShare), { valid: 1, match: 1 });
    const computed = () => h.audit.P1.filter((a) => a.op === "verify" && a.outcome.startsWith("computed")).length;
    const before = computed();
    const again = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x), challenge: composeChallenge(newId(18), { P0: n0, P1: await p1Nonce() }) });
    const r = await asGateway(again);
    assert.equal(r.P0.body.error?.code, "NONCE_REUSED", "P0: its nonce, and with it the item, is spent");
    assert.equal(r.P1.body.error?.code, "INVALID_INPUT", "P1: its pool ledger refuses the item");
    assert.match(r.P1.body.error.message, /pool item was already used/);
    assert.equal(computed(), before, "nothing was computed a second time");
  });

  it("attack: an item named for one nonce moved into another (P0's tag) → NONCE_INVALID at P0; what P1 burnt is never used twice", async () => {
    const { templateId, x } = await enrolled();
    const [na, nb] = (await h.services.P0.nonces(2, true)).nonces;
    const ya = nonceItem(na)!;
    const yb = nonceItem(nb)!;
    // na's random part, expiry and tag with nb's item
    const raw = Buffer.from(na, "base64url");
    Buffer.from(yb, "hex").copy(raw, 18);
    const moved = raw.toString("base64url");
    assert.equal(nonceItem(moved), yb);
    const forged = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x), challenge: composeChallenge(newId(18), { P0: moved, P1: await p1Nonce() }) });
    assert.deepEqual(codes(await asGateway(forged)), ["NONCE_INVALID", "NONCE_INVALID"]);
    assert.equal(await usedAt("P0", yb), null, "P0 did not touch the item");
    // P1 cannot check P0's tag: it used yb (once). The genuine nonce of yb is then refused at P1 and aborted at P0.
    const genuine = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x), challenge: composeChallenge(newId(18), { P0: nb, P1: await p1Nonce() }) });
    const r = await asGateway(genuine);
    assert.equal(r.P1.body.error?.code, "INVALID_INPUT");
    assert.equal(r.P0.body.error?.code, "INVALID_INPUT", "P0 learns P1's refusal from the abort");
    // …and na itself still works, with its own item
    const own = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x), challenge: composeChallenge(newId(18), { P0: na, P1: await p1Nonce() }) });
    const ok = await asGateway(own);
    assert.deepEqual(reconstruct(ok.P0.body.resultShare, ok.P1.body.resultShare), { valid: 1, match: 1 });
    assert.notEqual(await usedAt("P0", ya), null);
  });

  it("an expired item nonce → NONCE_EXPIRED at both; its reservation is discarded unused by the purge and never named again", async () => {
    const { templateId, x } = await enrolled();
    const held = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: sameFace(x) });
    const item = nonceItem(challengeNonce(held.P0.statement.challenge, "P0"))!;
    h.clock.offset += 301_000;
    try {
      // the gateway's authorisations are fresh (it can always make those); the parties' nonces are not
      const fresh = async (p: "P0" | "P1") => {
        const digest = JSON.parse(Buffer.from((await authoriseBody(h.keys, "verify", p, held[p])).payload, "base64url").toString()).digest;
        return { ...held[p], authorisation: await authorise(h.keys.gateway, { op: "verify", party: p, session: held[p].session, templateId, modelVersion: MV, digest, expires: Date.now() + h.clock.offset + 30_000 }) };
      };
      const late = await h.both("/v1/verify", { P0: await fresh("P0"), P1: await fresh("P1") });
      assert.deepEqual(codes(late), ["NONCE_EXPIRED", "NONCE_EXPIRED"]);
      assert.equal(await usedAt("P0", item), null);
      await h.stores.P0.purge({ sessionsMs: 86_400_000, usedItemsMs: 86_400_000 });
      assert.notEqual(await usedAt("P0", item), null, "discarded (marked used, key erased)");
      const next = (await h.services.P0.nonces(4, true)).nonces.map(nonceItem);
      assert.ok(!next.includes(item), "never reserved again");
    } finally {
      h.clock.offset -= 301_000;
    }
  });

  it("a plain P0 nonce (an older gateway, or a pool too low to reserve) still verifies: P1 waits for P0's round 1 to name the item", async () => {
    const { templateId, x } = await enrolled();
    const plain = (await h.services.P0.nonces(1)).nonces[0];
    assert.equal(nonceItem(plain), null);
    const b = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: sameFace(x), challenge: composeChallenge(newId(18), { P0: plain, P1: await p1Nonce() }) });
    const r = await h.both("/v1/verify", b);
    assert.deepEqual(reconstruct(r.P0.body.resultShare, r.P1.body.resultShare), { valid: 1, match: 1 });
  });
});
