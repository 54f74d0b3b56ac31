/**
 * Active liveness bound to the challenge (issue 17): with `livenessActions` on, each enrol / verify
 * challenge names a fresh random action sequence, and the signed request must report exactly those
 * actions with one evidence step each. A request carrying another sequence — the signed result of an
 * earlier capture, or a device that skipped the prompt — is LIVENESS_ACTIONS_MISMATCH, before any
 * party is called; changing the actions after signing breaks the signature.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildChallengeRequest, buildFaceRequest } from "@privface/device";
import { canonicalJson, generateSealKeyPair, generateSigningKeyPair, sign, toBase64url, utf8 } from "@privface/crypto";
import { LIVENESS_ACTIONS, type LivenessAction, type LivenessStep } from "@privface/contracts";
import { challenge, enrol, faceBody, giveConsent, registerWorld, sameFace, setup, type Fixture, type World } from "./_setup.ts";

const stepsFor = (actions: readonly LivenessAction[]): LivenessStep[] => actions.map((action, i) => ({ action, from: 4 + 6 * i, peak: 5 + 6 * i, value: 0.4 }));

describe("active liveness: the challenge's actions must be the signed request's", () => {
  let f: Fixture;
  let w: World;
  before(async () => {
    f = await setup("liveness", { livenessActions: 2, limits: { perPersonPerMinute: 1000 } });
    w = await registerWorld(f, ["alice"]);
    assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
  });
  after(() => f.close());

  async function liveBody(ch: any, actions: LivenessAction[] | undefined, purpose: "enrol" | "verify" = "verify") {
    const p = w.persons.alice;
    return buildFaceRequest({
      deviceId: w.deviceId,
      personId: p.personId,
      purpose,
      challenge: { ...ch, actions },
      embedding: purpose === "enrol" ? p.face : sameFace(p.face),
      liveness: 0.97,
      modelVersion: ch.modelVersion,
      ...(actions ? { active: { actions, steps: stepsFor(actions) } } : {}),
      signingKey: w.deviceKey,
      authKey: w.authKey,
      trust: w.trust,
    });
  }

  async function refusedBeforeParties(body: unknown, path: string, code: string) {
    const calls = f.fake.calls.length;
    const r = await f.inject("POST", path, body);
    assert.equal(r.body?.error?.code, code, `${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.status, 422);
    assert.equal(f.fake.calls.length, calls, "a party was called");
  }

  test("enrol and verify challenges carry two actions, never the same twice in a row; other purposes none", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const ch = await challenge(f, w, w.persons.alice.personId, "enrol");
      assert.equal(ch.status, 201);
      const a = ch.body.actions as string[];
      assert.equal(a.length, 2);
      assert.notEqual(a[0], a[1]);
      for (const x of a) assert.ok((LIVENESS_ACTIONS as readonly string[]).includes(x));
      seen.add(a.join(","));
    }
    assert.ok(seen.size > 1, "the same sequence every time");
    const consent = await challenge(f, w, w.persons.alice.personId, "consent");
    assert.equal(consent.body.actions, undefined);
  });

  test("the actions asked for, signed with their evidence, are accepted (enrol, then verify)", async () => {
    const ce = (await challenge(f, w, w.persons.alice.personId, "enrol")).body;
    const re = await f.inject("POST", "/v1/enrolments", await liveBody(ce, ce.actions, "enrol"));
    assert.equal(re.body.decision, "accept", JSON.stringify(re.body));
    const cv = (await challenge(f, w, w.persons.alice.personId, "verify")).body;
    const rv = await f.inject("POST", "/v1/verifications", await liveBody(cv, cv.actions));
    assert.equal(rv.body.decision, "accept", JSON.stringify(rv.body));
  });

  test("attack: a capture of an earlier session (another action sequence) is refused for every other sequence", async () => {
    for (const a of LIVENESS_ACTIONS) {
      for (const b of LIVENESS_ACTIONS) {
        if (a === b) continue;
        const ch = (await challenge(f, w, w.persons.alice.personId, "verify")).body;
        const recorded: LivenessAction[] = [a, b];
        if (recorded.join() === (ch.actions as string[]).join()) continue;
        await refusedBeforeParties(await liveBody(ch, recorded), "/v1/verifications", "LIVENESS_ACTIONS_MISMATCH");
      }
    }
  });

  test("attack: a request without the active step (a device that skipped the prompts) is refused", async () => {
    const ch = (await challenge(f, w, w.persons.alice.personId, "verify")).body;
    await refusedBeforeParties(await faceBody(w, w.persons.alice.personId, { ...ch, actions: undefined }, "verify", sameFace(w.persons.alice.face)), "/v1/verifications", "LIVENESS_ACTIONS_MISMATCH");
  });

  test("attack: evidence steps that do not name the actions in order are refused", async () => {
    const ch = (await challenge(f, w, w.persons.alice.personId, "verify")).body;
    const actions = ch.actions as LivenessAction[];
    const p = w.persons.alice;
    const swapped = stepsFor([actions[1], actions[0]]);
    // built by hand: the SDK's builder refuses such evidence itself
    const body = await buildFaceRequest({ deviceId: w.deviceId, personId: p.personId, purpose: "verify", challenge: { ...ch, actions: undefined }, embedding: sameFace(p.face), liveness: 0.97, modelVersion: ch.modelVersion, signingKey: w.deviceKey, authKey: w.authKey, trust: w.trust });
    const { signature: _s, ...unsigned } = body;
    const { signBody } = await import("./_setup.ts");
    const forged = await signBody(w.deviceKey, { ...unsigned, liveness: { score: 0.97, actions, steps: swapped } });
    await refusedBeforeParties(forged, "/v1/verifications", "LIVENESS_ACTIONS_MISMATCH");
  });

  test("attack: the actions changed after signing break the device signature", async () => {
    const ch = (await challenge(f, w, w.persons.alice.personId, "verify")).body;
    const other = LIVENESS_ACTIONS.filter((x) => x !== ch.actions[0] && x !== ch.actions[1]).slice(0, 2) as LivenessAction[];
    const body = await liveBody(ch, other);
    const tampered = { ...body, liveness: { ...body.liveness, actions: ch.actions, steps: stepsFor(ch.actions) } };
    const r = await f.inject("POST", "/v1/verifications", tampered);
    assert.equal(r.body.error.code, "SIGNATURE_INVALID");
  });
});

describe("still-image tools: an exemption only operators can grant (issue 17)", () => {
  let f: Fixture;
  let w: World;
  let still: { deviceId: string; key: Awaited<ReturnType<typeof generateSigningKeyPair>> };
  before(async () => {
    f = await setup("liveness-still", { livenessActions: 2, limits: { perPersonPerMinute: 1000 } });
    w = await registerWorld(f, ["alice"]);
    assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
    const key = await generateSigningKeyPair("INTL");
    const auth = await generateSealKeyPair("INTL");
    const d = await f.admin("POST", `/v1/admin/merchants/${w.merchantId}/devices`, { suite: "INTL", publicKey: toBase64url(key.publicKey), authKey: toBase64url(auth.publicKey), label: "cli", stillImage: true });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    assert.equal(d.body.stillImage, true);
    assert.equal(d.body.status, "pending"); // the exemption waits for the second operator with the device
    const a = await f.admin("POST", `/v1/admin/devices/${d.body.deviceId}/approve`, undefined, "operator");
    assert.equal(a.body.stillImage, true);
    still = { deviceId: d.body.deviceId, key };
  });
  after(() => f.close());

  test("a device registered as a still-image tool gets challenges without actions; a terminal registered without it gets them", async () => {
    const s = await challenge(f, w, w.persons.alice.personId, "enrol", still.deviceId, still.key);
    assert.equal(s.status, 201, JSON.stringify(s.body));
    assert.equal(s.body.actions, undefined);
    const t = await challenge(f, w, w.persons.alice.personId, "enrol");
    assert.equal(t.body.actions.length, 2);
    const list = await f.admin("GET", `/v1/admin/devices`, undefined, "operator");
    const flags = Object.fromEntries((list.body.devices as { deviceId: string; stillImage: boolean }[]).map((d) => [d.deviceId, d.stillImage]));
    assert.deepEqual(flags, { [w.deviceId]: false, [still.deviceId]: true });
  });

  test("attack: a terminal cannot claim the exemption in its own signed challenge request", async () => {
    const { signature: _s, ...unsigned } = await buildChallengeRequest({ deviceId: w.deviceId, personId: w.persons.alice.personId, purpose: "verify", signingKey: w.deviceKey, at: f.now() });
    for (const extra of [{ stillImage: true }, { actions: [] }, { livenessActions: 0 }]) {
      const claim = { ...unsigned, ...extra };
      const r = await f.inject("POST", "/v1/challenges", { ...claim, signature: toBase64url(await sign(w.deviceKey, utf8(canonicalJson(claim)))) });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.code, "INVALID_INPUT");
    }
  });
});

describe("active liveness off (livenessActions 0, the library default)", () => {
  let f: Fixture;
  let w: World;
  before(async () => {
    f = await setup("liveness-off");
    w = await registerWorld(f, ["alice"]);
    assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
  });
  after(() => f.close());

  test("challenges name no actions, and a request reporting some is refused", async () => {
    const ch = (await challenge(f, w, w.persons.alice.personId, "verify")).body;
    assert.equal(ch.actions, undefined);
    const p = w.persons.alice;
    const actions: LivenessAction[] = ["blink", "turn-left"];
    const body = await buildFaceRequest({ deviceId: w.deviceId, personId: p.personId, purpose: "verify", challenge: { ...ch, actions }, embedding: sameFace(p.face), liveness: 0.97, modelVersion: ch.modelVersion, active: { actions, steps: stepsFor(actions) }, signingKey: w.deviceKey, authKey: w.authKey, trust: w.trust });
    const r = await f.inject("POST", "/v1/verifications", body);
    assert.equal(r.body.error.code, "LIVENESS_ACTIONS_MISMATCH");
  });

  test("the option is range-checked", async () => {
    await assert.rejects(setup("liveness-bad", { livenessActions: 4 }), RangeError);
  });
});
