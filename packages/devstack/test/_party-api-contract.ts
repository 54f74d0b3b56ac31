/**
 * partyApiContract(name, makeParties): what P0 and P1 answer at the Party API (@privface/contracts
 * `PartyClient`), as one node:test suite run against every implementation the gateway can be given:
 * the real parties in one process (`startInProcParties`) and the plaintext-twin fake parties
 * (`createFakeParties`) the gateway's fast tests run on. The suite is the judge: where the two differ,
 * the fake is wrong. Bodies are made as the gateway makes them (@privface/devstack/gateway-sim).
 *
 * What a party cannot know is part of the contract: it holds XOR shares of (valid, match,
 * upgradeValid) only, so it prepares an invalid enrolment and stages an invalid or unmatched upgrade
 * like any other, and a commit activates them. Refusing those is the gateway's job.
 */
import { deploymentSuite } from "@privface/config";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { checkKeyList, matchedTemplates, MODEL, PARTIES, PartyError, sealingKeyId, type PartyClient, type PartyErrorCode, type PartyName, type TrustError } from "@privface/contracts";
import type { AuthPayload, SignedAuthorisation } from "@privface/contracts/auth";
import { createAuditLog, sendAuditHead } from "@privface/audit";
import { generateSigningKeyPair, type KeyPair, type PublicKey } from "@privface/crypto";
import { closeDb, openDb } from "@privface/db";
import {
  authorise,
  authoriseBody,
  dedupBodies,
  deleteBodies,
  enrolBodies,
  finishBodies,
  maliciousProbe,
  newId,
  newSimDevice,
  randomFace,
  reconstruct,
  sameFace,
  sealedBodies,
  simRegistration,
  verifyBodies,
  type SimKeys,
} from "../src/gateway-sim.ts";

export interface PartyApiHarness {
  /** P0 and P1 as the gateway reaches them */
  clients: Record<PartyName, PartyClient>;
  /** the gateway's signing key (the parties trust it), the parties' sealing public keys and a device registered (active) at both */
  keys: SimKeys;
  /** the parties' institution roots (public): what devices are provisioned with */
  roots: Record<PartyName, PublicKey>;
  /** Takes a party off the network (its client: UNREACHABLE; its peer loses the link), or brings it back. */
  setDown(party: PartyName, down: boolean): void;
  /** resolves when the parties' dedup galleries have taken in the commits and deletions made so far */
  galleryIdle?(): Promise<void>;
  close(): Promise<void>;
}

/** a body, or `{ error: code }` */
type Answer = Record<string, any>;
type Method = "enrol" | "commit" | "abort" | "verify" | "delete" | "dedup";

const MV = MODEL.version;
const MV2 = "contract-model.2";
const D = MODEL.dim;

/** A call's answer: the body, or `{ error: code }` for a PartyError (anything else is a bug and rethrown). */
async function answer(p: Promise<unknown>): Promise<Answer> {
  try {
    return (await p) as Record<string, any>;
  } catch (e) {
    if (e instanceof PartyError) return { error: e.code };
    throw e;
  }
}
const payloadOf = (a: SignedAuthorisation): AuthPayload => JSON.parse(Buffer.from(a.payload, "base64url").toString("utf8"));
const codes = (r: Record<PartyName, Answer>) => PARTIES.map((p) => (r[p] as { error?: string }).error ?? "ok");
const bit = (v: unknown) => v === 0 || v === 1;

export function partyApiContract(name: string, makeParties: () => Promise<PartyApiHarness>): void {
  describe(`Party API contract: ${name}`, { timeout: 120_000 }, () => {
    let h: PartyApiHarness;
    before(async () => {
      h = await makeParties();
    });
    after(() => h.close());

    /** Both parties called in parallel, as the gateway does. */
    async function both(method: Method, bodies: Record<PartyName, unknown>): Promise<Record<PartyName, Answer>> {
      const [P0, P1] = await Promise.all(PARTIES.map((p) => answer((h.clients[p][method] as (b: unknown) => Promise<unknown>)(bodies[p]))));
      return { P0, P1 };
    }
    const one = (p: PartyName, method: Method, body: unknown) => answer((h.clients[p][method] as (b: unknown) => Promise<unknown>)(body));
    const result = (r: Record<PartyName, Answer>) => reconstruct(r.P0.resultShare, r.P1.resultShare);

    async function enrol(x: Int8Array, templateId = newId(), session = newId()) {
      const r = await both("enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MV, x }));
      return { templateId, session, r };
    }
    const commit = async (session: string, templateId: string, op: "commit" | "upgrade" = "commit", modelVersion = op === "commit" ? MV : MV2) =>
      both("commit", await finishBodies(h.keys, op, { session, templateId, modelVersion }));
    const abort = async (session: string, templateId: string) => both("abort", await finishBodies(h.keys, "abort", { session, templateId }));
    const del = async (templateId: string) => both("delete", await deleteBodies(h.keys, { templateId }));
    async function verify(templateId: string, x: Int8Array, modelVersion = MV, upgrade?: { modelVersion: string; x: Int8Array }) {
      const bodies = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion, x, ...(upgrade ? { upgrade } : {}) });
      return { session: bodies.P0.session, r: await both("verify", bodies) };
    }
    async function enrolled(x = randomFace(D)) {
      const e = await enrol(x);
      assert.deepEqual(codes(e.r), ["ok", "ok"], JSON.stringify(e.r));
      assert.deepEqual(codes(await commit(e.session, e.templateId)), ["ok", "ok"]);
      return { templateId: e.templateId, x };
    }

    // first: later tests commit an invalid (all-127) template, which scores high against many faces
    it("dedup: a prepared enrolment against the committed templates — one XOR-shared bit and the slots searched; the same face again is a duplicate, a new face, a malicious probe or a deleted template's face is not", async () => {
      const search = async (e: { session: string; templateId: string }) => both("dedup", await dedupBodies(h.keys, e));
      const a = await enrolled();
      await h.galleryIdle?.();
      const e = await enrol(randomFace(D));
      const r = await search(e);
      for (const p of PARTIES) {
        assert.deepEqual(Object.keys(r[p]).sort(), ["gallery", "resultShare", "session"], JSON.stringify(r[p]));
        assert.equal(r[p].session, e.session);
        assert.deepEqual(Object.keys(r[p].resultShare), ["duplicate"]);
        assert.ok(bit(r[p].resultShare.duplicate) && Number.isInteger(r[p].gallery) && r[p].gallery >= 1);
      }
      assert.deepEqual(result(r), { duplicate: 0 });
      assert.deepEqual(result(await search(await enrol(sameFace(a.x)))), { duplicate: 1 });
      assert.deepEqual(result(await search(await enrol(maliciousProbe(D)))), { duplicate: 0 }, "an invalid probe matches nothing");
      assert.deepEqual(codes(await del(a.templateId)), ["ok", "ok"]);
      await h.galleryIdle?.();
      assert.deepEqual(result(await search(await enrol(sameFace(a.x)))), { duplicate: 0 });
    });

    it("dedup with matches: each party answers its share of the per-slot bits and the slots' template ids; only both together name the matching templates, the same as the duplicate bit", async () => {
      const search = async (e: { session: string; templateId: string }) => both("dedup", await dedupBodies(h.keys, { ...e, matches: true }));
      const x = randomFace(D);
      const a = await enrolled(x);
      const b = await enrolled(sameFace(x));
      const c = await enrolled();
      await h.galleryIdle?.();
      const named = (r: Record<PartyName, Answer>) => matchedTemplates(r.P0.matches, r.P1.matches, r.P0.gallery, result(r).duplicate as 0 | 1);
      const r = await search(await enrol(sameFace(x)));
      for (const p of PARTIES) {
        assert.deepEqual(Object.keys(r[p]).sort(), ["gallery", "matches", "resultShare", "session"], JSON.stringify(r[p]).slice(0, 300));
        assert.deepEqual(Object.keys(r[p].matches).sort(), ["share", "templates"]);
        assert.equal(r[p].matches.templates.length, r[p].gallery);
        for (const t of [a, b, c]) assert.ok(r[p].matches.templates.includes(t.templateId), "every live template has its slot");
      }
      assert.equal(r.P0.gallery, r.P1.gallery);
      assert.deepEqual(result(r), { duplicate: 1 });
      assert.deepEqual(named(r).sort(), [a.templateId, b.templateId].sort());
      // either share alone is not the answer: over a few searches, P0's share differs from the match bits
      const shares = new Set<string>();
      for (let i = 0; i < 3; i++) shares.add((await search(await enrol(sameFace(x)))).P0.matches.share);
      assert.ok(shares.size > 1, "P0's share is fresh each search");
      assert.deepEqual(named(await search(await enrol(randomFace(D)))), []);
      assert.deepEqual(named(await search(await enrol(maliciousProbe(D)))), [], "an invalid probe matches nothing");
      const plain = await both("dedup", await dedupBodies(h.keys, await enrol(sameFace(x))));
      assert.equal(plain.P0.matches, undefined, "without the flag, no matches");
      for (const t of [a, b, c]) assert.deepEqual(codes(await del(t.templateId)), ["ok", "ok"]);
      await h.galleryIdle?.();
      assert.deepEqual(named(await search(await enrol(sameFace(x)))), [], "deleted templates never match");
    });

    it("dedup: bound to its enrolment session and template, once per enrolment, not after commit; only with a dedup authorisation", async () => {
      const search = async (e: { session: string; templateId: string }) => both("dedup", await dedupBodies(h.keys, e));
      const e = await enrol(randomFace(D));
      assert.deepEqual(codes(await search({ session: newId(), templateId: e.templateId })), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"]);
      assert.deepEqual(codes(await search(e)), ["ok", "ok"]);
      assert.deepEqual(codes(await search(e)), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"], "one search per enrolment");
      const f = await enrol(randomFace(D));
      assert.deepEqual(codes(await search({ session: f.session, templateId: newId() })), ["AUTH_INVALID", "AUTH_INVALID"]);
      const g = await enrol(randomFace(D));
      const other = await finishBodies(h.keys, "commit", { session: g.session, templateId: g.templateId, modelVersion: MV });
      assert.deepEqual(codes(await both("dedup", other)), ["AUTH_INVALID", "AUTH_INVALID"], "a commit authorisation is not a dedup one");
      const c = await enrol(randomFace(D));
      assert.deepEqual(codes(await commit(c.session, c.templateId)), ["ok", "ok"]);
      assert.deepEqual(codes(await search(c)), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"]);
    });

    it("enrol, commit, verify: the answers have exactly the documented fields; valid and match come back as XOR shares of bits", async () => {
      const x = randomFace(D);
      const e = await enrol(x);
      for (const p of PARTIES) {
        assert.deepEqual(Object.keys(e.r[p]).sort(), ["resultShare", "session"], p);
        assert.equal(e.r[p].session, e.session);
        assert.deepEqual(Object.keys(e.r[p].resultShare), ["valid"]);
        assert.ok(bit(e.r[p].resultShare.valid));
      }
      assert.deepEqual(result(e.r), { valid: 1 });
      const c = await commit(e.session, e.templateId);
      assert.deepEqual(c, { P0: { templateId: e.templateId, status: "active" }, P1: { templateId: e.templateId, status: "active" } });
      const g = await verify(e.templateId, sameFace(x));
      for (const p of PARTIES) {
        assert.deepEqual(Object.keys(g.r[p]).sort(), ["resultShare", "session"], p);
        assert.deepEqual(Object.keys(g.r[p].resultShare).sort(), ["match", "valid"], "no upgradeValid without an upgrade");
        assert.ok(bit(g.r[p].resultShare.valid) && bit(g.r[p].resultShare.match));
      }
      assert.deepEqual(result(g.r), { valid: 1, match: 1 });
      assert.deepEqual(result((await verify(e.templateId, randomFace(D))).r), { valid: 1, match: 0 });
      assert.deepEqual(result((await verify(e.templateId, maliciousProbe(D))).r), { valid: 0, match: 0 });
    });

    it("an invalid template enrols with valid = 0 and is prepared all the same: abort removes it, a commit would activate it", async () => {
      const a = await enrol(maliciousProbe(D));
      assert.deepEqual(result(a.r), { valid: 0 });
      assert.deepEqual(codes(await abort(a.session, a.templateId)), ["ok", "ok"]);
      assert.deepEqual(codes((await verify(a.templateId, randomFace(D))).r), ["UNKNOWN_TEMPLATE", "UNKNOWN_TEMPLATE"]);
      assert.deepEqual(codes(await commit(a.session, a.templateId)), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"]);
      // the parties cannot tell: only the gateway, which combines the shares, may refuse to commit
      const b = await enrol(maliciousProbe(D));
      assert.deepEqual(result(b.r), { valid: 0 });
      assert.deepEqual(codes(await commit(b.session, b.templateId)), ["ok", "ok"]);
      const v = await verify(b.templateId, randomFace(D));
      assert.deepEqual(codes(v.r), ["ok", "ok"]);
      assert.equal(result(v.r).valid, 1, "the probe is valid; the template is not checked again");
    });

    it("commit and abort are idempotent with fresh authorisations, refused out of order, and bound to their session", async () => {
      const x = randomFace(D);
      const e = await enrol(x);
      assert.deepEqual(codes(await commit(e.session, e.templateId)), ["ok", "ok"]);
      assert.deepEqual(await commit(e.session, e.templateId), { P0: { templateId: e.templateId, status: "active" }, P1: { templateId: e.templateId, status: "active" } });
      const same = await finishBodies(h.keys, "commit", { session: e.session, templateId: e.templateId, modelVersion: MV });
      assert.deepEqual(codes(await both("commit", same)), ["ok", "ok"]);
      assert.deepEqual(codes(await both("commit", same)), ["AUTH_REUSED", "AUTH_REUSED"], "an authorisation is single use");
      assert.deepEqual(codes(await abort(e.session, e.templateId)), ["TEMPLATE_EXISTS", "TEMPLATE_EXISTS"], "a committed enrolment is deleted, not aborted");

      const a = await enrol(x);
      assert.deepEqual(await abort(a.session, a.templateId), { P0: { templateId: a.templateId, status: "aborted" }, P1: { templateId: a.templateId, status: "aborted" } });
      assert.deepEqual(codes(await abort(a.session, a.templateId)), ["ok", "ok"]);
      assert.deepEqual(codes(await commit(a.session, a.templateId)), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"]);
      assert.deepEqual(codes((await enrol(x, a.templateId)).r), ["ok", "ok"], "an aborted enrolment leaves nothing: its id can be enrolled");

      assert.deepEqual(codes(await commit(newId(), newId())), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"], "never prepared");
      const early = { session: newId(), templateId: newId() };
      assert.deepEqual(codes(await abort(early.session, early.templateId)), ["ok", "ok"], "an abort before its enrolment is remembered");
      assert.deepEqual(codes((await enrol(x, early.templateId, early.session)).r), ["INVALID_INPUT", "INVALID_INPUT"], "the late enrolment is refused");

      const p = await enrol(x);
      const other = await enrolled();
      assert.deepEqual(codes(await both("commit", await finishBodies(h.keys, "commit", { session: p.session, templateId: other.templateId, modelVersion: MV }))), ["AUTH_INVALID", "AUTH_INVALID"], "another template");
      assert.deepEqual(codes(await commit(p.session, p.templateId, "upgrade", MV)), ["AUTH_INVALID", "AUTH_INVALID"], "the upgrade op on an enrolment");
      assert.deepEqual(codes(await commit(p.session, p.templateId, "commit", MV2)), ["AUTH_INVALID", "AUTH_INVALID"], "another model version");
      assert.deepEqual(codes(await both("abort", await finishBodies(h.keys, "abort", { session: p.session, templateId: other.templateId }))), ["AUTH_INVALID", "AUTH_INVALID"], "abort: another template");
      assert.deepEqual(codes(await commit(p.session, p.templateId)), ["ok", "ok"], "the refusals left the session as it was");
    });

    it("an enrolment under a template id in use, pending or deleted is TEMPLATE_EXISTS; ids are never reused", async () => {
      const x = randomFace(D);
      const pending = await enrol(x);
      assert.deepEqual(codes((await enrol(x, pending.templateId)).r), ["TEMPLATE_EXISTS", "TEMPLATE_EXISTS"]);
      const { templateId } = await enrolled(x);
      assert.deepEqual(codes((await enrol(x, templateId)).r), ["TEMPLATE_EXISTS", "TEMPLATE_EXISTS"]);
      assert.deepEqual(codes(await del(templateId)), ["ok", "ok"]);
      assert.deepEqual(codes((await enrol(x, templateId)).r), ["TEMPLATE_EXISTS", "TEMPLATE_EXISTS"]);
      const replay = await enrolBodies(h.keys, { session: newId(), templateId: newId(), modelVersion: MV, x });
      assert.deepEqual(codes(await both("enrol", replay)), ["ok", "ok"]);
      assert.deepEqual(codes(await both("enrol", replay)), ["TEMPLATE_EXISTS", "TEMPLATE_EXISTS"], "an enrolment sent again");
    });

    it("authorisation refusals at the party shown them: expired, wrong op / party / session / template / model / digest, bad signature", async () => {
      const { templateId, x } = await enrolled();
      const stranger = await generateSigningKeyPair(deploymentSuite());
      for (const party of PARTIES) {
        const body = (await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x }))[party];
        const other = (await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: randomFace(D) }))[party];
        const base = { op: "verify" as const, party, session: body.session, templateId, modelVersion: MV, digest: payloadOf(body.authorisation).digest };
        const cases: [string, PartyErrorCode, Parameters<typeof authorise>[1], KeyPair?][] = [
          ["expired", "AUTH_EXPIRED", { ...base, expires: Date.now() - 1 }],
          ["wrong op", "AUTH_INVALID", { ...base, op: "enrol" }],
          ["wrong party", "AUTH_INVALID", { ...base, party: party === "P0" ? "P1" : "P0" }],
          ["wrong session", "AUTH_INVALID", { ...base, session: other.session }],
          ["wrong template", "AUTH_INVALID", { ...base, templateId: newId() }],
          ["wrong model version", "AUTH_INVALID", { ...base, modelVersion: MV2 }],
          ["wrong digest", "AUTH_INVALID", { ...base, digest: payloadOf(other.authorisation).digest }],
          ["signed by another key", "AUTH_INVALID", base, stranger],
        ];
        for (const [what, code, a, key] of cases) {
          const r = await one(party, "verify", { ...body, authorisation: await authorise(key ?? h.keys.gateway, a) });
          assert.deepEqual(r, { error: code }, `${party} verify, ${what}`);
        }
        const forged = await authorise(h.keys.gateway, base);
        const payload = Buffer.from(JSON.stringify({ ...payloadOf(forged), templateId: newId() })).toString("base64url");
        assert.deepEqual(await one(party, "verify", { ...body, authorisation: { ...forged, payload } }), { error: "AUTH_INVALID" }, `${party} verify, payload changed after signing`);
        assert.deepEqual(await one(party, "verify", { ...body, authorisation: { ...forged, sig: forged.sig.slice(0, -4) + (forged.sig.endsWith("AAAA") ? "BBBB" : "AAAA") } }), { error: "AUTH_INVALID" }, `${party} verify, bad signature`);

        const e = (await enrolBodies(h.keys, { session: newId(), templateId: newId(), modelVersion: MV, x }))[party];
        const eAuth = (op: "enrol" | "verify", expires?: number) =>
          authorise(h.keys.gateway, { op, party, session: e.session, templateId: e.templateId, modelVersion: MV, digest: payloadOf(e.authorisation).digest, ...(expires ? { expires } : {}) });
        assert.deepEqual(await one(party, "enrol", { ...e, authorisation: await eAuth("enrol", Date.now() - 1) }), { error: "AUTH_EXPIRED" }, `${party} enrol, expired`);
        assert.deepEqual(await one(party, "enrol", { ...e, authorisation: await eAuth("verify") }), { error: "AUTH_INVALID" }, `${party} enrol, wrong op`);

        const f = { session: newId(), templateId };
        assert.deepEqual(await one(party, "commit", { ...f, authorisation: await authorise(h.keys.gateway, { op: "commit", party, ...f, modelVersion: MV, expires: Date.now() - 1 }) }), { error: "AUTH_EXPIRED" }, `${party} commit, expired`);
        assert.deepEqual(await one(party, "commit", { ...f, authorisation: await authorise(stranger, { op: "commit", party, ...f, modelVersion: MV }) }), { error: "AUTH_INVALID" }, `${party} commit, another key`);
        assert.deepEqual(await one(party, "abort", { ...f, authorisation: await authorise(h.keys.gateway, { op: "commit", party, ...f }) }), { error: "AUTH_INVALID" }, `${party} abort, wrong op`);
        assert.deepEqual(await one(party, "delete", { templateId, authorisation: await authorise(h.keys.gateway, { op: "verify", party, session: newId(), templateId }) }), { error: "AUTH_INVALID" }, `${party} delete, wrong op`);
        assert.deepEqual(await one(party, "delete", { templateId, authorisation: await authorise(h.keys.gateway, { op: "delete", party, session: newId(), templateId: newId() }) }), { error: "AUTH_INVALID" }, `${party} delete, another template`);
        assert.deepEqual(await one(party, "delete", { templateId, authorisation: await authorise(h.keys.gateway, { op: "delete", party, session: newId(), templateId, expires: Date.now() - 1 }) }), { error: "AUTH_EXPIRED" }, `${party} delete, expired`);
      }
      assert.deepEqual(result((await verify(templateId, sameFace(x))).r), { valid: 1, match: 1 }, "nothing refused was applied");
    });

    it("a body a party cannot take is INVALID_INPUT: an unknown field, a malformed statement or MAC, an upgrade to the current model", async () => {
      const { templateId, x } = await enrolled();
      for (const party of PARTIES) {
        const v = (await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x }))[party];
        assert.deepEqual(await one(party, "verify", { ...v, score: 1 }), { error: "INVALID_INPUT" }, `${party}: unknown field`);
        assert.deepEqual(await one(party, "verify", { ...v, statement: { ...v.statement, kind: "other" } }), { error: "INVALID_INPUT" }, `${party}: not a statement`);
        assert.deepEqual(await one(party, "verify", { ...v, mac: "short" }), { error: "INVALID_INPUT" }, `${party}: not a MAC`);
        const u = (await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x, upgrade: { modelVersion: MV2, x } }))[party];
        const same = { ...u, upgrade: { ...u.upgrade!, modelVersion: MV } };
        assert.deepEqual(await one(party, "verify", { ...same, authorisation: await authoriseBody(h.keys, "verify", party, same) }), { error: "INVALID_INPUT" }, `${party}: upgrade to the current model`);
        assert.deepEqual(await one(party, "commit", { session: newId(), templateId }), { error: "INVALID_INPUT" }, `${party}: commit without an authorisation`);
      }
    });

    it("a refusal at one party is answered by its peer with the same code (the peer gives the run up)", async () => {
      const { templateId, x } = await enrolled();
      for (const party of PARTIES) {
        const b = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x });
        b[party].authorisation = (await deleteBodies(h.keys, { templateId })).P0.authorisation;
        assert.deepEqual(codes(await both("verify", b)), ["AUTH_INVALID", "AUTH_INVALID"], `${party} refused the authorisation`);
        const s = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x });
        const t = Buffer.from(s[party].sealedShare, "base64url");
        t[t.length - 1] ^= 1;
        s[party].sealedShare = t.toString("base64url");
        s[party].authorisation = await authoriseBody(h.keys, "verify", party, s[party]);
        assert.deepEqual(codes(await both("verify", s)), ["STATEMENT_INVALID", "STATEMENT_INVALID"], `${party} received an envelope the device did not make`);
      }
      const replay = await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x });
      assert.deepEqual(codes(await both("verify", replay)), ["ok", "ok"]);
      assert.deepEqual(codes(await both("verify", replay)), ["AUTH_REUSED", "AUTH_REUSED"], "a verification sent again");
      assert.deepEqual(result((await verify(templateId, sameFace(x))).r), { valid: 1, match: 1 });
    });

    it("UNKNOWN_TEMPLATE (never enrolled, pending, deleted) and WRONG_MODEL_VERSION, at both parties", async () => {
      const x = randomFace(D);
      assert.deepEqual(codes((await verify(newId(), x)).r), ["UNKNOWN_TEMPLATE", "UNKNOWN_TEMPLATE"], "never enrolled");
      const pending = await enrol(x);
      assert.deepEqual(codes((await verify(pending.templateId, x)).r), ["UNKNOWN_TEMPLATE", "UNKNOWN_TEMPLATE"], "not committed");
      const { templateId } = await enrolled(x);
      assert.deepEqual(codes((await verify(templateId, x, MV2)).r), ["WRONG_MODEL_VERSION", "WRONG_MODEL_VERSION"]);
      assert.deepEqual(codes(await del(templateId)), ["ok", "ok"]);
      assert.deepEqual(codes((await verify(templateId, x)).r), ["UNKNOWN_TEMPLATE", "UNKNOWN_TEMPLATE"], "deleted");
    });

    it("upgrade: a verification stages the new template and answers upgradeValid; an upgrade commit promotes it, the old version is then WRONG_MODEL_VERSION", async () => {
      const { templateId, x } = await enrolled();
      const y = randomFace(D);
      const v = await verify(templateId, sameFace(x), MV, { modelVersion: MV2, x: y });
      for (const p of PARTIES) assert.deepEqual(Object.keys(v.r[p].resultShare).sort(), ["match", "upgradeValid", "valid"], p);
      assert.deepEqual(result(v.r), { valid: 1, match: 1, upgradeValid: 1 });
      assert.deepEqual(codes((await verify(templateId, sameFace(x))).r), ["ok", "ok"], "staged, not yet promoted");
      assert.deepEqual(await commit(v.session, templateId, "upgrade"), { P0: { templateId, status: "active" }, P1: { templateId, status: "active" } });
      assert.deepEqual(codes(await commit(v.session, templateId, "upgrade")), ["ok", "ok"], "idempotent");
      assert.deepEqual(result((await verify(templateId, sameFace(y), MV2)).r), { valid: 1, match: 1 });
      assert.deepEqual(result((await verify(templateId, sameFace(x), MV2)).r), { valid: 1, match: 0 }, "the new template is the new face");
      assert.deepEqual(codes((await verify(templateId, sameFace(x))).r), ["WRONG_MODEL_VERSION", "WRONG_MODEL_VERSION"]);
    });

    it("upgrade: the parties stage what they compute — an invalid upgrade template (upgradeValid = 0) or one carried by a non-matching probe is promoted by a commit", async () => {
      // The parties hold shares of (valid, match, upgradeValid) only: the gateway must read all three
      // before it commits an upgrade (issue 12). A fake that staged only valid upgrades hid that.
      const a = await enrolled();
      const bad = await verify(a.templateId, sameFace(a.x), MV, { modelVersion: MV2, x: maliciousProbe(D) });
      assert.deepEqual(result(bad.r), { valid: 1, match: 1, upgradeValid: 0 });
      assert.deepEqual(codes(await commit(bad.session, a.templateId, "upgrade")), ["ok", "ok"]);
      assert.deepEqual(codes((await verify(a.templateId, sameFace(a.x))).r), ["WRONG_MODEL_VERSION", "WRONG_MODEL_VERSION"], "the invalid template is active");
      assert.deepEqual(codes((await verify(a.templateId, randomFace(D), MV2)).r), ["ok", "ok"]);

      const b = await enrolled();
      const y = randomFace(D);
      const impostor = await verify(b.templateId, randomFace(D), MV, { modelVersion: MV2, x: y });
      assert.deepEqual(result(impostor.r), { valid: 1, match: 0, upgradeValid: 1 });
      assert.deepEqual(codes(await commit(impostor.session, b.templateId, "upgrade")), ["ok", "ok"]);
      assert.deepEqual(result((await verify(b.templateId, sameFace(y), MV2)).r), { valid: 1, match: 1 }, "the impostor's upgrade face is the template");
    });

    it("upgrade: abort discards the staged version; an upgrade commit of a verification without one, after an abort or after a delete is SESSION_UNKNOWN", async () => {
      const { templateId, x } = await enrolled();
      const v = await verify(templateId, sameFace(x), MV, { modelVersion: MV2, x: randomFace(D) });
      assert.deepEqual(result(v.r).upgradeValid, 1);
      assert.deepEqual(await abort(v.session, templateId), { P0: { templateId, status: "aborted" }, P1: { templateId, status: "aborted" } });
      assert.deepEqual(codes(await commit(v.session, templateId, "upgrade")), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"]);
      assert.deepEqual(result((await verify(templateId, sameFace(x))).r), { valid: 1, match: 1 }, "the old version stays");
      const plain = await verify(templateId, sameFace(x));
      assert.deepEqual(codes(await commit(plain.session, templateId, "upgrade")), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"], "no upgrade carried");
      const staged = await verify(templateId, sameFace(x), MV, { modelVersion: MV2, x: randomFace(D) });
      assert.deepEqual(codes(staged.r), ["ok", "ok"]);
      assert.deepEqual(codes(await del(templateId)), ["ok", "ok"]);
      assert.deepEqual(codes(await commit(staged.session, templateId, "upgrade")), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"], "a deleted template is not brought back");
      assert.deepEqual(codes((await verify(templateId, x, MV2)).r), ["UNKNOWN_TEMPLATE", "UNKNOWN_TEMPLATE"]);
    });

    it("delete answers whether the template existed, at each party; deleting an absent template is answered too", async () => {
      const { templateId } = await enrolled();
      assert.deepEqual(await del(templateId), { P0: { templateId, deleted: true, existed: true }, P1: { templateId, deleted: true, existed: true } });
      assert.deepEqual(await del(templateId), { P0: { templateId, deleted: true, existed: false }, P1: { templateId, deleted: true, existed: false } });
      const never = newId();
      assert.deepEqual(await del(never), { P0: { templateId: never, deleted: true, existed: false }, P1: { templateId: never, deleted: true, existed: false } });
      const pending = await enrol(randomFace(D));
      assert.deepEqual(await del(pending.templateId), { P0: { templateId: pending.templateId, deleted: true, existed: true }, P1: { templateId: pending.templateId, deleted: true, existed: true } });
      assert.deepEqual(codes(await commit(pending.session, pending.templateId)), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"], "a deleted enrolment cannot be committed");
    });

    for (const down of PARTIES) {
      const up: PartyName = down === "P0" ? "P1" : "P0";
      it(`${down} down: its client answers UNREACHABLE; ${up} answers PEER_UNAVAILABLE to the MPC calls, reports the peer down, and still answers commit, abort and delete`, async () => {
        const { templateId, x } = await enrolled();
        const pending = await enrol(randomFace(D));
        const gone = await enrolled();
        h.setDown(down, true);
        try {
          const v = await verify(templateId, sameFace(x));
          assert.deepEqual(v.r[down], { error: "UNREACHABLE" });
          assert.deepEqual(v.r[up], { error: "PEER_UNAVAILABLE" });
          if (down === "P1") assert.deepEqual(codes((await enrol(x)).r), ["PEER_UNAVAILABLE", "UNREACHABLE"]);
          assert.deepEqual(await answer(h.clients[down].health()), { error: "UNREACHABLE" });
          const health = await h.clients[up].health();
          assert.deepEqual([health.role, health.peer], [up === "P0" ? "p0" : "p1", "down"]);
          assert.deepEqual((await commit(pending.session, pending.templateId))[up], { templateId: pending.templateId, status: "active" });
          assert.deepEqual((await abort(newId(), newId()))[up].status, "aborted");
          assert.deepEqual((await del(gone.templateId))[up], { templateId: gone.templateId, deleted: true, existed: true });
          assert.deepEqual((await del(gone.templateId))[down], { error: "UNREACHABLE" });
        } finally {
          h.setDown(down, false);
        }
        assert.deepEqual((await h.clients[up].health()).peer, "up");
        assert.deepEqual(result((await verify(templateId, sameFace(x))).r), { valid: 1, match: 1 }, "back up");
        assert.deepEqual((await del(gone.templateId))[down], { templateId: gone.templateId, deleted: true, existed: true }, "the party that was down still holds what it held");
      });
    }

    // ---- decision 010: the parties check the device themselves, and certify their sealing keys

    it("each party serves its sealing-key list signed by its institution root, naming the key it opens with", async () => {
      for (const party of PARTIES) {
        const { keyList } = await h.clients[party].keys();
        const { current, list } = await checkKeyList(h.roots[party], party, keyList);
        assert.equal(list.party, party);
        assert.equal(current.id, await sealingKeyId(h.keys[party]));
        await assert.rejects(checkKeyList(h.roots[party === "P0" ? "P1" : "P0"], party, keyList), (e: TrustError) => e.code === "KEY_LIST_UNTRUSTED");
      }
    });

    it("a device unknown to the parties → DEVICE_UNKNOWN; registered (policy auto) → answered; revoked → DEVICE_UNKNOWN", async () => {
      const { templateId, x } = await enrolled();
      const device = await newSimDevice();
      const bodies = async (xx: Int8Array) => verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x: xx, device });
      assert.deepEqual(codes(await both("verify", await bodies(x))), ["DEVICE_UNKNOWN", "DEVICE_UNKNOWN"]);
      for (const party of PARTIES) assert.deepEqual(await h.clients[party].registerDevice(simRegistration(device)), { deviceId: device.id, status: "active" });
      assert.deepEqual(result((await both("verify", await bodies(sameFace(x))))), { valid: 1, match: 1 });
      for (const party of PARTIES) assert.deepEqual(await h.clients[party].registerDevice({ deviceId: device.id, revoke: true }), { deviceId: device.id, status: "revoked" });
      assert.deepEqual(codes(await both("verify", await bodies(x))), ["DEVICE_UNKNOWN", "DEVICE_UNKNOWN"]);
    });

    it("statement refusals: an envelope the device did not make, an enrolment envelope as a probe, a statement for another template → STATEMENT_INVALID", async () => {
      const { templateId, x } = await enrolled();
      const session = newId();
      const genuine = await sealedBodies(h.keys, "verify", { session, templateId, modelVersion: MV, x: randomFace(D) });
      const resealed = await sealedBodies(h.keys, "verify", { session, templateId, modelVersion: MV, x, challenge: genuine.P0.statement.challenge });
      const signed = async (b: Record<PartyName, any>, op: "enrol" | "verify" = "verify") => {
        const out = {} as Record<PartyName, any>;
        for (const p of PARTIES) out[p] = { ...b[p], authorisation: await authoriseBody(h.keys, op, p, b[p]) };
        return out;
      };
      const swapped = { P0: { ...genuine.P0, sealedShare: resealed.P0.sealedShare }, P1: { ...genuine.P1, sealedShare: resealed.P1.sealedShare } };
      assert.deepEqual(codes(await both("verify", await signed(swapped))), ["STATEMENT_INVALID", "STATEMENT_INVALID"], "re-sealed envelopes");
      const enrolMade = await sealedBodies(h.keys, "enrol", { session: newId(), templateId, modelVersion: MV, x });
      assert.deepEqual(codes(await both("verify", await signed(enrolMade))), ["STATEMENT_INVALID", "STATEMENT_INVALID"], "enrolment envelope as a probe");
      const relabelled = { P0: { ...enrolMade.P0, statement: { ...enrolMade.P0.statement, purpose: "verify" } }, P1: { ...enrolMade.P1, statement: { ...enrolMade.P1.statement, purpose: "verify" } } };
      assert.deepEqual(codes(await both("verify", await signed(relabelled))), ["STATEMENT_INVALID", "STATEMENT_INVALID"], "purpose relabelled (MAC)");
      const other = await enrolled();
      const b = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x });
      const retargeted = { P0: { ...b.P0, templateId: other.templateId }, P1: { ...b.P1, templateId: other.templateId } };
      assert.deepEqual(codes(await both("verify", await signed(retargeted))), ["STATEMENT_INVALID", "STATEMENT_INVALID"], "another template");
      assert.deepEqual(result((await verify(templateId, sameFace(x))).r), { valid: 1, match: 1 }, "nothing refused was applied");
    });

    it("freshness: a replayed envelope → NONCE_REUSED; a challenge without this party's nonce → NONCE_INVALID", async () => {
      const { templateId, x } = await enrolled();
      const b = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x: sameFace(x) });
      const signed = async (bb: Record<PartyName, any>) => {
        const out = {} as Record<PartyName, any>;
        for (const p of PARTIES) out[p] = { ...bb[p], authorisation: await authoriseBody(h.keys, "verify", p, bb[p]) };
        return out;
      };
      assert.deepEqual(result(await both("verify", await signed(b))), { valid: 1, match: 1 });
      const session = newId();
      assert.deepEqual(codes(await both("verify", await signed({ P0: { ...b.P0, session }, P1: { ...b.P1, session } }))), ["NONCE_REUSED", "NONCE_REUSED"]);
      const plain = await sealedBodies(h.keys, "verify", { session: newId(), templateId, modelVersion: MV, x, challenge: newId(18) });
      assert.deepEqual(codes(await both("verify", await signed(plain))), ["NONCE_INVALID", "NONCE_INVALID"]);
      for (const p of PARTIES) {
        const n = await h.clients[p].nonces({ count: 3 });
        assert.equal(n.nonces.length, 3);
        assert.ok(n.expiresAt > Date.now());
        assert.deepEqual(await answer(h.clients[p].nonces({ count: 0 })), { error: "INVALID_INPUT" });
      }
    });
    it("audit records (read-only, for the auditor's reconciliation): each party answers its records of an enrolment, its commit and a verification, by session, the same at both; a bad range is INVALID_INPUT", async () => {
      const from = Date.now();
      const e = await enrol(randomFace(D));
      assert.deepEqual(codes(e.r), ["ok", "ok"]);
      assert.deepEqual(codes(await commit(e.session, e.templateId)), ["ok", "ok"]);
      const v = await verify(e.templateId, randomFace(D));
      assert.deepEqual(codes(v.r), ["ok", "ok"]);
      const seen: Record<string, string[]> = {};
      for (const p of PARTIES) {
        const r = await h.clients[p].auditRecords({ from, to: Date.now() + 1000, limit: 1000 });
        assert.equal(r.truncated, false);
        const mine = r.records.filter((x) => x.session === e.session || x.session === v.session);
        for (const x of r.records) assert.deepEqual(Object.keys(x).sort(), ["code", "op", "outcome", "seq", "session", "time"]);
        seen[p] = mine.map((x) => `${x.op.split(":")[0]}:${x.outcome}:${x.session === e.session ? "e" : "v"}`);
        assert.deepEqual(seen[p], ["enrol:prepared:e", "commit:active:e", "verify:computed:v"], p);
        const one = await h.clients[p].auditRecords({ from, to: Date.now() + 1000, limit: 1 });
        assert.equal(one.records.length, 1);
        assert.equal(one.truncated, true);
        assert.deepEqual((await h.clients[p].auditRecords({ from: from - 10_000_000, to: from - 5_000_000, limit: 10 })).records, []);
        for (const bad of [{ from: 2, to: 1, limit: 1 }, { from: 0, to: 1, limit: 0 }, { from: 0, to: 1, limit: 1001 }, { from: -1, to: 1, limit: 1 }]) {
          assert.deepEqual(await answer(h.clients[p].auditRecords(bad)), { error: "INVALID_INPUT" }, JSON.stringify(bad));
        }
      }
    });
    it("audit anchors: each party keeps the gateway's newest audit record; a newer one with the record at the kept seq; one that goes back is refused", async () => {
      const key = await generateSigningKeyPair(deploymentSuite());
      const db = await openDb("sqlite::memory:");
      try {
        const log = await createAuditLog(db, { role: "gateway", signingKey: key });
        const entry = (i: number) => ({ requester: "device:d1", op: "verify", session: `g-${i}`, outcome: "ok" });
        for (let i = 0; i < 3; i++) await log.append(entry(i));
        for (const p of PARTIES) {
          const post = async (b: { record: unknown; at?: unknown }) => ({ status: 200, body: await h.clients[p].anchor(b) });
          assert.deepEqual(await sendAuditHead(log, post), { outcome: "stored", want: 3 }, p);
          assert.deepEqual(await h.clients[p].anchor({ record: await log.headRecord() }), { outcome: "known", want: 3 });
        }
        await log.append(entry(3));
        for (const p of PARTIES) {
          assert.deepEqual(await h.clients[p].anchor({ record: await log.headRecord() }), { outcome: "want", want: 3 }, "a newer head alone is not kept");
          assert.deepEqual(await h.clients[p].anchor({ record: await log.headRecord(), at: await log.recordAt(3) }), { outcome: "stored", want: 4 });
          assert.deepEqual(await h.clients[p].anchor({ record: await log.recordAt(3) }), { outcome: "regressed", want: 4 }, "a head behind the kept one");
          assert.deepEqual(await answer(h.clients[p].anchor({ record: { ...(await log.headRecord())!, outcome: "forged" } })), { error: "INVALID_INPUT" });
        }
      } finally {
        await closeDb(db);
      }
    });
  });
}
