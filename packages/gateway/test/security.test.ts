/**
 * Security cases (issue 5): each attack is refused with its own code and leaves nothing behind —
 * no decision recorded, no call to any party, no template.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateSigningKeyPair, toBase64url } from "@privface/crypto";
import { buildChallengeRequest, buildSignedPersonRequest } from "@privface/device";
import {
  challenge,
  enrol,
  faceBody,
  giveConsent,
  randomEmbedding,
  registerWorld,
  sameFace,
  setup,
  SUITE,
  signBody,
  verify,
  type Fixture,
  unlockPerson,
  type World,
} from "./_setup.ts";
import { scanLog } from "./_logscan.ts";

describe("security: refused with its own code, nothing stored", () => {
  let f: Fixture;
  let w: World;
  let skew = 0;
  before(async () => {
    f = await setup("security", { now: () => Date.now() + skew, personLockAfter: 3, deviceLockAfter: 6 });
    w = await registerWorld(f);
    for (const who of ["alice", "bob"]) {
      assert.equal((await giveConsent(f, w, w.persons[who].personId)).status, 201);
      assert.equal((await enrol(f, w, who)).body.decision, "accept");
    }
  });
  after(async () => {
    await f.close();
    const secrets = Object.values(w.persons).flatMap((p) => [p.idNumber, p.phone]);
    assert.deepEqual(scanLog(f.log.text, secrets), []);
  });

  /** Runs `attack` and checks the code and that nothing reached a party or the decision history. */
  async function refused(code: string, attack: () => Promise<{ status: number; body: any }>): Promise<void> {
    const decisions = await f.gw.service.store.countDecisions();
    const calls = f.fake.calls.length;
    const templates = f.fake.templates.size;
    const r = await attack();
    assert.equal(r.body?.error?.code, code, `expected ${code}, got ${r.status} ${JSON.stringify(r.body)}`);
    assert.ok(r.status >= 400);
    assert.equal(await f.gw.service.store.countDecisions(), decisions, "a decision was recorded");
    assert.equal(f.fake.calls.length, calls, "a party was called");
    assert.equal(f.fake.templates.size, templates, "a template changed");
  }

  async function verifyBody(who = "alice", embedding?: Float32Array) {
    const p = w.persons[who];
    const ch = await challenge(f, w, p.personId, "verify");
    assert.equal(ch.status, 201, JSON.stringify(ch.body));
    return faceBody(w, p.personId, ch.body, "verify", embedding ?? sameFace(p.face));
  }

  test("a replayed request is REPLAYED_REQUEST", async () => {
    const body = await verifyBody();
    assert.equal((await f.inject("POST", "/v1/verifications", body)).body.decision, "accept");
    await refused("REPLAYED_REQUEST", () => f.inject("POST", "/v1/verifications", body));
  });

  test("a reused challenge (new shares, new signature) is CHALLENGE_USED", async () => {
    const p = w.persons.alice;
    const ch = await challenge(f, w, p.personId, "verify");
    const first = await faceBody(w, p.personId, ch.body, "verify", sameFace(p.face));
    assert.equal((await f.inject("POST", "/v1/verifications", first)).body.decision, "accept");
    const second = await faceBody(w, p.personId, ch.body, "verify", sameFace(p.face, 0.1, 3));
    await refused("CHALLENGE_USED", () => f.inject("POST", "/v1/verifications", second));
  });

  test("an expired challenge is CHALLENGE_EXPIRED; an unknown one CHALLENGE_UNKNOWN", async () => {
    const body = await verifyBody();
    skew = 61_000;
    try {
      await refused("CHALLENGE_EXPIRED", () => f.inject("POST", "/v1/verifications", body));
    } finally {
      skew = 0;
    }
    const forged = await signBody(w.deviceKey, { ...(({ signature: _s, ...rest }) => rest)(await verifyBody()), challenge: "A".repeat(32) });
    await refused("CHALLENGE_UNKNOWN", () => f.inject("POST", "/v1/verifications", forged));
  });

  test("a challenge for another purpose or person is CHALLENGE_MISMATCH", async () => {
    const p = w.persons.alice;
    const ch = await challenge(f, w, p.personId, "deregister");
    const chBob = await challenge(f, w, w.persons.bob.personId, "verify");
    const body = await faceBody(w, p.personId, { ...ch.body, modelVersion: "test-model.1", keyLists: chBob.body.keyLists }, "verify", sameFace(p.face));
    await refused("CHALLENGE_MISMATCH", () => f.inject("POST", "/v1/verifications", body));
    const body2 = await faceBody(w, p.personId, chBob.body, "verify", sameFace(p.face));
    await refused("CHALLENGE_MISMATCH", () => f.inject("POST", "/v1/verifications", body2));
  });

  test("a wrong device signature is SIGNATURE_INVALID (other key, or a field changed after signing)", async () => {
    const other = await generateSigningKeyPair(SUITE);
    const p = w.persons.alice;
    const ch = await challenge(f, w, p.personId, "verify");
    const wrongKey = await faceBody(w, p.personId, ch.body, "verify", sameFace(p.face), { deviceKey: other });
    await refused("SIGNATURE_INVALID", () => f.inject("POST", "/v1/verifications", wrongKey));
    const good = await faceBody(w, p.personId, ch.body, "verify", sameFace(p.face));
    await refused("SIGNATURE_INVALID", () => f.inject("POST", "/v1/verifications", { ...good, liveness: { score: 0.99 } }));
    await refused("SIGNATURE_INVALID", () => f.inject("POST", "/v1/verifications", { ...good, shares: { P0: good.shares.P1, P1: good.shares.P0 } }));
    // the challenge was not burnt by the forgeries: the genuine body still goes through
    assert.equal((await f.inject("POST", "/v1/verifications", good)).body.decision, "accept");
  });

  test("a device of another merchant is DEVICE_MERCHANT_MISMATCH", async () => {
    const m2 = await f.admin("POST", "/v1/admin/merchants", { name: "Other Shop" });
    const key2 = await generateSigningKeyPair(SUITE);
    const d2 = await f.admin("POST", `/v1/admin/merchants/${m2.body.merchantId}/devices`, { suite: SUITE, publicKey: toBase64url(key2.publicKey), authKey: toBase64url(w.authKey.publicKey) });
    assert.equal(d2.status, 201);
    assert.equal((await f.admin("POST", `/v1/admin/devices/${d2.body.deviceId}/approve`, undefined, "operator")).status, 200);
    await refused("DEVICE_MERCHANT_MISMATCH", () => challenge(f, w, w.persons.alice.personId, "verify", d2.body.deviceId, key2));
    // a body naming the foreign device, signed by it, with a challenge issued to the shop's device
    const p = w.persons.alice;
    const ch = await challenge(f, w, p.personId, "verify");
    const body = await faceBody(w, p.personId, ch.body, "verify", sameFace(p.face), { deviceId: d2.body.deviceId, deviceKey: key2 });
    await refused("DEVICE_MERCHANT_MISMATCH", () => f.inject("POST", "/v1/verifications", body));
    await refused("DEVICE_UNAUTHENTICATED", () => challenge(f, w, p.personId, "verify", "dev_nope"));
    const rev = await f.admin("POST", `/v1/admin/devices/${d2.body.deviceId}/revoke`);
    assert.equal(rev.body.status, "revoked");
    await refused("DEVICE_REVOKED", () => challenge(f, w, "per_x", "verify", d2.body.deviceId, key2)); // told only to the key's holder
    await refused("DEVICE_UNAUTHENTICATED", () => challenge(f, w, "per_x", "verify", d2.body.deviceId, w.deviceKey));
  });

  test("missing consent is CONSENT_REQUIRED; after withdrawal (with a fresh verification) CONSENT_WITHDRAWN and the template is gone at both parties", async () => {
    const carol = w.persons.carol.personId;
    await refused("CONSENT_REQUIRED", () => challenge(f, w, carol, "enrol"));
    // a request built for a challenge obtained before the consent was withdrawn
    const p = w.persons.bob;
    const ch = await challenge(f, w, p.personId, "verify");
    const pending = await faceBody(w, p.personId, ch.body, "verify", sameFace(p.face));
    assert.equal((await verify(f, w, "bob")).body.decision, "accept");
    const wch = await challenge(f, w, p.personId, "withdraw");
    const before = f.fake.templates.size;
    const wd = await f.inject("POST", "/v1/consents/withdrawals", await buildSignedPersonRequest({ deviceId: w.deviceId, personId: p.personId, challenge: wch.body, signingKey: w.deviceKey }));
    assert.equal(wd.status, 200, JSON.stringify(wd.body));
    assert.equal(wd.body.status, "deleted");
    assert.ok(wd.body.consent.withdrawnAt > 0);
    assert.equal(f.fake.templates.size, before - 1);
    await refused("CONSENT_WITHDRAWN", () => f.inject("POST", "/v1/verifications", pending));
    await refused("CONSENT_WITHDRAWN", () => challenge(f, w, p.personId, "enrol"));
  });

  test("a stale privacy notice is NOTICE_MISMATCH", async () => {
    const ch = await challenge(f, w, w.persons.carol.personId, "consent");
    const body = await signBody(w.deviceKey, {
      deviceId: w.deviceId,
      personId: w.persons.carol.personId,
      challenge: ch.body.challenge,
      noticeVersion: "1999-01-01",
      noticeHash: "x",
      purposes: ["face-verification"],
    });
    const r = await f.inject("POST", "/v1/consents", body);
    assert.equal(r.body.error.code, "NOTICE_MISMATCH");
  });

  test("liveness below the threshold is LIVENESS_FAILED", async () => {
    const p = w.persons.alice;
    const ch = await challenge(f, w, p.personId, "verify");
    const body = await faceBody(w, p.personId, ch.body, "verify", sameFace(p.face), { liveness: 0.1 });
    await refused("LIVENESS_FAILED", () => f.inject("POST", "/v1/verifications", body));
  });

  test("a sealed share a party cannot open is SHARE_REJECTED, never an approval", async () => {
    const p = w.persons.alice;
    const ch = await challenge(f, w, p.personId, "verify");
    const good = await faceBody(w, p.personId, ch.body, "verify", sameFace(p.face));
    const { signature: _s, ...unsigned } = good;
    const t = Buffer.from(good.shares.P1, "base64url");
    t[t.length - 1] ^= 1;
    const body = await signBody(w.deviceKey, { ...unsigned, shares: { ...good.shares, P1: t.toString("base64url") } });
    const r = await f.inject("POST", "/v1/verifications", body);
    assert.equal(r.body.error.code, "SHARE_REJECTED");
  });

  test("a person is locked after repeated failures (PERSON_LOCKED) until an operator unlocks", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await verify(f, w, "alice", randomEmbedding(512, 500 + i))).body.reason, "NO_MATCH");
    await refused("PERSON_LOCKED", () => challenge(f, w, w.persons.alice.personId, "verify"));
    const byAuditor = await f.admin("POST", `/v1/admin/persons/${w.persons.alice.personId}/unlock`, undefined, "auditor", "customer called");
    assert.equal(byAuditor.body.error.code, "FORBIDDEN_ROLE");
    const byOperator = await unlockPerson(f, w.persons.alice.personId, "customer called");
    assert.equal(byOperator.status, 200, JSON.stringify(byOperator.body));
    assert.equal((await verify(f, w, "alice")).body.decision, "accept");
  });

  test("a device is locked after repeated failures across persons (DEVICE_LOCKED)", async () => {
    // the person lock (3) is reset by an operator in between; the device counts 6 failures in a row
    let fails = 0;
    for (let i = 0; i < 2; i++, fails++) await verify(f, w, "alice", randomEmbedding(512, 700 + i));
    const u = await unlockPerson(f, w.persons.alice.personId, "reset for test");
    assert.equal(u.status, 200);
    for (let i = 0; i < 2; i++, fails++) await verify(f, w, "alice", randomEmbedding(512, 800 + i));
    await unlockPerson(f, w.persons.alice.personId, "reset for test");
    for (let i = 0; i < 2; i++, fails++) await verify(f, w, "alice", randomEmbedding(512, 900 + i));
    assert.equal(fails, 6);
    await refused("DEVICE_LOCKED", () => challenge(f, w, w.persons.alice.personId, "verify"));
    const r = await f.admin("POST", `/v1/admin/devices/${w.deviceId}/unlock`, undefined, "operator", "till checked");
    assert.equal(r.status, 200);
    await unlockPerson(f, w.persons.alice.personId, "reset for test");
    assert.equal((await challenge(f, w, w.persons.alice.personId, "verify")).status, 201);
  });

  test("request hygiene: unknown fields, images, big bodies, unknown routes, internal errors", async () => {
    const body = await verifyBody();
    const extra = await f.inject("POST", "/v1/verifications", { ...body, score: 1 });
    assert.equal(extra.status, 400);
    assert.equal(extra.body.error.code, "INVALID_INPUT");
    const nested = await f.inject("POST", "/v1/challenges", { deviceId: w.deviceId, personId: w.persons.alice.personId, purpose: "verify", image: "x" });
    assert.equal(nested.body.error.code, "INVALID_INPUT");
    const img = await f.gw.app.inject({ method: "POST", url: "/v1/verifications", payload: Buffer.from([0xff, 0xd8, 0xff, 0xe0]), headers: { "content-type": "image/jpeg" } });
    assert.equal(img.statusCode, 415);
    assert.equal(JSON.parse(img.body).error.code, "UNSUPPORTED_MEDIA_TYPE");
    const text = await f.gw.app.inject({ method: "POST", url: "/v1/verifications", payload: "hello", headers: { "content-type": "text/plain" } });
    assert.equal(text.statusCode, 415);
    const big = await f.inject("POST", "/v1/verifications", { ...body, shares: { P0: "A".repeat(70_000), P1: "B" } });
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, "BODY_TOO_LARGE");
    const nf = await f.inject("GET", "/v1/nope");
    assert.equal(nf.body.error.code, "NOT_FOUND");
    const svc = f.gw.service as unknown as { currentNotice: () => Promise<unknown> };
    const orig = svc.currentNotice;
    svc.currentNotice = async () => {
      throw new Error("db password is hunter2 at /var/secret");
    };
    try {
      const e = await f.inject("GET", "/v1/notices/current");
      assert.equal(e.status, 500);
      assert.deepEqual(e.body, { error: { code: "INTERNAL", message: "internal error" } });
    } finally {
      svc.currentNotice = orig;
    }
    assert.ok(!f.log.text.includes("hunter2"));
  });
});

describe("rate limits (R24)", () => {
  test("per person, device and merchant, with the scope named", async () => {
    // a still clock: the windows are fixed minutes, and a minute turning mid-test would refill them
    const t = Date.now();
    const f = await setup("limits", { limits: { perPersonPerMinute: 2, perDevicePerMinute: 3, perMerchantPerMinute: 100 }, now: () => t });
    try {
      const w = await registerWorld(f, ["alice", "bob"]);
      const a = w.persons.alice.personId;
      const b = w.persons.bob.personId;
      assert.equal((await challenge(f, w, a, "consent")).status, 201);
      assert.equal((await challenge(f, w, a, "consent")).status, 201);
      const r = await challenge(f, w, a, "consent");
      assert.equal(r.body.error.code, "RATE_LIMITED");
      assert.equal(r.body.error.details.scope, "person");
      assert.ok(Number(r.headers["retry-after"]) > 0);
      assert.equal((await challenge(f, w, b, "consent")).status, 201);
      const d = await challenge(f, w, b, "consent");
      assert.equal(d.body.error.code, "RATE_LIMITED");
      assert.equal(d.body.error.details.scope, "device");
    } finally {
      await f.close();
    }
  });
});

describe("the parties' per-template volume budgets (decision 010 §4)", () => {
  test("past the parties' budget a verification is RATE_LIMITED (scope template), recorded, and nothing is computed", async () => {
    const f = await setup("volume", {}, { volume: { perMinute: 3, perDay: 100 } });
    try {
      const w = await registerWorld(f, ["alice", "bob"]);
      for (const who of ["alice", "bob"]) {
        assert.equal((await giveConsent(f, w, w.persons[who].personId)).status, 201);
        assert.equal((await enrol(f, w, who)).body.decision, "accept");
      }
      for (let i = 0; i < 3; i++) assert.equal((await verify(f, w, "alice")).body.decision, "accept");
      const calls = f.fake.calls.length;
      const r = await verify(f, w, "alice");
      assert.equal(r.status, 429, JSON.stringify(r.body));
      assert.equal(r.body.error.code, "RATE_LIMITED");
      assert.equal(r.body.error.details.scope, "template");
      assert.equal(f.fake.calls.slice(calls).filter((c) => c.op === "verify").length, 2, "both parties refused; no second attempt");
      assert.equal((await verify(f, w, "bob")).body.decision, "accept", "another person's template has its own budget");
    } finally {
      await f.close();
    }
  });
});

describe("challenge requests: signed by a registered device, cheap limits first, one answer for the unauthenticated (issue 12 item 6)", () => {
  test("attack: an unsigned or forged challenge request learns nothing about a person and spends no person's budget", async () => {
    const f = await setup("challenge-auth", { limits: { perPersonPerMinute: 5, perDevicePerMinute: 1000, perMerchantPerMinute: 1000, perSourcePerMinute: 1000 } });
    try {
      const w = await registerWorld(f, ["alice", "bob"]);
      await giveConsent(f, w, w.persons.alice.personId);
      await enrol(f, w, "alice");
      const stranger = await generateSigningKeyPair(SUITE);
      const answers = new Set<string>();
      const probes = [
        // unsigned (the old body), a stranger's key, a made-up device, a stale and a future clock
        () => f.inject("POST", "/v1/challenges", { deviceId: w.deviceId, personId: w.persons.alice.personId, purpose: "enrol" }),
        () => challenge(f, w, w.persons.alice.personId, "enrol", w.deviceId, stranger),
        () => challenge(f, w, w.persons.bob.personId, "verify", w.deviceId, stranger),
        () => challenge(f, w, "per_nobody", "verify", w.deviceId, stranger),
        () => challenge(f, w, w.persons.alice.personId, "verify", "dev_nope", stranger),
        () => challenge(f, w, w.persons.alice.personId, "verify", w.deviceId, w.deviceKey, Date.now() - 120_000),
        () => challenge(f, w, w.persons.alice.personId, "verify", w.deviceId, w.deviceKey, Date.now() + 120_000),
      ];
      for (let i = 0; i < 3; i++)
        for (const probe of probes) {
          const r = await probe();
          answers.add(`${r.status} ${r.body.error?.code}`);
          assert.equal(r.body.templateId, undefined);
        }
      // the schema refuses the unsigned body (400); every signed-but-unauthenticated one gets one answer
      assert.deepEqual([...answers].sort(), ["400 INVALID_INPUT", "401 DEVICE_UNAUTHENTICATED"]);
      // none of it spent alice's budget (5 a minute, 2 used by consent and enrolment): the real terminal still gets its 3
      for (let i = 0; i < 3; i++) assert.equal((await challenge(f, w, w.persons.alice.personId, "verify")).status, 201);
    } finally {
      await f.close();
    }
  });

  test("attack: a face request whose signature does not verify learns nothing about the device, the person or their state", async () => {
    const f = await setup("face-auth");
    try {
      const w = await registerWorld(f, ["alice", "bob"]);
      await giveConsent(f, w, w.persons.alice.personId);
      await enrol(f, w, "alice");
      // a second shop's device, then revoked: its state is told only to the holder of its key
      const m2 = await f.admin("POST", "/v1/admin/merchants", { name: "Other Shop" });
      const key2 = await generateSigningKeyPair(SUITE);
      const d2 = await f.admin("POST", `/v1/admin/merchants/${m2.body.merchantId}/devices`, { suite: SUITE, publicKey: toBase64url(key2.publicKey), authKey: toBase64url(w.authKey.publicKey) });
      await f.admin("POST", `/v1/admin/devices/${d2.body.deviceId}/approve`, undefined, "operator");
      await f.admin("POST", `/v1/admin/devices/${d2.body.deviceId}/revoke`);
      const stranger = await generateSigningKeyPair(SUITE);
      const ch = (await challenge(f, w, w.persons.alice.personId, "verify")).body;
      const forged = (personId: string, opts: { deviceId?: string } = {}) => faceBody(w, personId, ch, "verify", sameFace(w.persons.alice.face), { deviceKey: stranger, ...opts });
      const probes = [
        forged(w.persons.alice.personId), // enrolled, consented
        forged(w.persons.bob.personId), // no consent, not enrolled
        forged("per_nobody"), // no such person
        forged(w.persons.alice.personId, { deviceId: d2.body.deviceId }), // another merchant's revoked device
        forged(w.persons.alice.personId, { deviceId: "dev_nope" }), // no such device
      ];
      const answers = new Set<string>();
      // every signed device route goes through one admission (_admission.ts `admit`)
      for (const body of await Promise.all(probes)) {
        const r = await f.inject("POST", "/v1/verifications", body);
        answers.add(`${r.status} ${r.body.error?.code}`);
      }
      assert.deepEqual([...answers], ["401 SIGNATURE_INVALID"]);
      // the genuine terminal's request with the same challenge still goes through
      const good = await faceBody(w, w.persons.alice.personId, ch, "verify", sameFace(w.persons.alice.face));
      assert.equal((await f.inject("POST", "/v1/verifications", good)).body.decision, "accept");
    } finally {
      await f.close();
    }
  });

  test("a replayed signed challenge request is DEVICE_UNAUTHENTICATED (the first one is answered)", async () => {
    const f = await setup("challenge-replay");
    try {
      const w = await registerWorld(f, ["alice"]);
      const body = await buildChallengeRequest({ deviceId: w.deviceId, personId: w.persons.alice.personId, purpose: "consent", signingKey: w.deviceKey });
      assert.equal((await f.inject("POST", "/v1/challenges", body)).status, 201);
      const again = await f.inject("POST", "/v1/challenges", body);
      assert.equal(again.body.error.code, "DEVICE_UNAUTHENTICATED");
    } finally {
      await f.close();
    }
  });

  test("the per-source limit runs before any signature check: past it, RATE_LIMITED (scope source) without verifying anything", async () => {
    const f = await setup("source-limit", { limits: { perPersonPerMinute: 1000, perDevicePerMinute: 1000, perMerchantPerMinute: 1000, perSourcePerMinute: 5 } });
    try {
      const w = await registerWorld(f, ["alice"]);
      const verified = { n: 0 };
      const admission = (f.gw.service as unknown as { flows: { admission: { authenticDevice: (b: unknown) => Promise<unknown> } } }).flows.admission;
      const orig = admission.authenticDevice.bind(admission);
      admission.authenticDevice = async (b) => {
        verified.n++;
        return orig(b);
      };
      const forged = async () => f.inject("POST", "/v1/challenges", { deviceId: w.deviceId, personId: w.persons.alice.personId, purpose: "verify", at: Date.now(), nonce: "AAAAAAAAAAAAAAAA", signature: "AAAA" });
      const codes: string[] = [];
      for (let i = 0; i < 8; i++) codes.push((await forged()).body.error.code);
      assert.deepEqual(codes, [...Array(5).fill("DEVICE_UNAUTHENTICATED"), ...Array(3).fill("RATE_LIMITED")]);
      assert.equal(verified.n, 5, "the refused requests never reached the device check");
      const r = await f.inject("POST", "/v1/verifications", { anything: 1 });
      assert.equal(r.body.error.code, "RATE_LIMITED", "face requests count against the same source budget, before the schema");
      assert.equal(r.body.error.details.scope, "source");
    } finally {
      await f.close();
    }
  });
});
