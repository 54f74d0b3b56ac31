/**
 * The Party API's 1:N duplicate search (`POST /v1/dedup`, issue 15) on the real parties in one process
 * (devstack inproc-parties with galleries: both services, SQLite stores, the in-memory transport, the
 * stand-in helper dealing dedup queries through P1's `/v1/dedup/items`): an enrolment's prepared
 * template searched against the gallery of committed templates; the reconstructed bit equals the
 * plaintext "any live template scores ≥ threshold"; the search is bound to its enrolment session, is
 * single use, refuses without a ready gallery; a helper that deals a wrong query is caught by the
 * spot-check and no more dedup material is taken from it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { matchedTemplates, MODEL, PARTIES, type PartyName } from "@privface/contracts";
import { dedupBodies, deleteBodies, enrolBodies, finishBodies, maliciousProbe, newId, randomFace, reconstruct, sameFace } from "@privface/devstack/gateway-sim";
import { startInProcParties, type InProcParties } from "@privface/devstack/inproc-parties";

const MV = MODEL.version;
let h: InProcParties;

before(async () => {
  h = await startInProcParties({ gallery: { epoch: 11 } });
});
after(() => h.close());

async function enrol(x: Int8Array): Promise<{ session: string; templateId: string; valid: number }> {
  const session = newId(), templateId = newId();
  const e = await h.both("/v1/enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MV, x }));
  assert.equal(e.P0.status, 200, JSON.stringify(e.P0.body));
  return { session, templateId, valid: reconstruct(e.P0.body.resultShare, e.P1.body.resultShare).valid };
}
async function commit(e: { session: string; templateId: string }): Promise<void> {
  const c = await h.both("/v1/commit", await finishBodies(h.keys, "commit", { session: e.session, templateId: e.templateId, modelVersion: MV }));
  assert.equal(c.P0.status, 200);
  await Promise.all(PARTIES.map((p) => h.galleries![p].idle()));
}
async function dedup(e: { session: string; templateId: string }): Promise<{ status: Record<PartyName, number>; duplicate?: number; body: Record<PartyName, any> }> {
  const r = await h.both("/v1/dedup", await dedupBodies(h.keys, e));
  const status = { P0: r.P0.status, P1: r.P1.status };
  const body = { P0: r.P0.body, P1: r.P1.body };
  if (r.P0.status !== 200 || r.P1.status !== 200) return { status, body };
  return { status, body, duplicate: reconstruct(r.P0.body.resultShare, r.P1.body.resultShare).duplicate };
}
const code = (r: { body: Record<PartyName, any> }) => PARTIES.map((p) => r.body[p]?.error?.code ?? "ok");

describe("Party API dedup (in-process parties)", () => {
  const faces: Int8Array[] = [];

  it("without a built gallery: GALLERY_UNAVAILABLE at both, nothing dealt", async () => {
    const e = await enrol(randomFace(MODEL.dim));
    const r = await dedup(e);
    assert.deepEqual(code(r), ["GALLERY_UNAVAILABLE", "GALLERY_UNAVAILABLE"]);
    assert.equal(h.dedupHelper.dealt, 0);
    await Promise.all(PARTIES.map((p) => h.galleries![p].build()));
  });

  it("a new face is not a duplicate; the same face again is; each answer is an XOR share of one bit and the slots searched", async () => {
    for (let i = 0; i < 3; i++) {
      const x = randomFace(MODEL.dim);
      const e = await enrol(x);
      const r = await dedup(e);
      assert.deepEqual(r.status, { P0: 200, P1: 200 }, JSON.stringify(r.body));
      assert.equal(r.duplicate, 0);
      for (const p of PARTIES) {
        assert.deepEqual(Object.keys(r.body[p]).sort(), ["gallery", "resultShare", "session"]);
        assert.deepEqual(Object.keys(r.body[p].resultShare), ["duplicate"]);
        assert.equal(r.body[p].gallery, i);
      }
      await commit(e);
      faces.push(x);
    }
    const again = await enrol(sameFace(faces[1]));
    const r = await dedup(again);
    assert.equal(r.duplicate, 1, "the same person enrolled under a new template id is found");
    assert.equal(h.dedupHelper.dealt, 8, "per search: one query used, one sacrificed to the spot-check");
  });

  it("a malicious probe (crafted, invalid) is never a duplicate — not even of everyone", async () => {
    const e = await enrol(maliciousProbe(MODEL.dim));
    assert.equal(e.valid, 0);
    assert.equal((await dedup(e)).duplicate, 0);
  });

  it("a deleted template is no longer found", async () => {
    const x = randomFace(MODEL.dim);
    const e = await enrol(x);
    await commit(e);
    assert.equal((await dedup(await enrol(sameFace(x)))).duplicate, 1);
    const d = await h.both("/v1/delete", await deleteBodies(h.keys, { templateId: e.templateId }));
    assert.equal(d.P0.status, 200);
    await Promise.all(PARTIES.map((p) => h.galleries![p].idle()));
    assert.equal((await dedup(await enrol(sameFace(x)))).duplicate, 0);
  });

  it("the search is bound to its enrolment session and template, single use, and gone after commit or abort", async () => {
    const wrong = await enrol(randomFace(MODEL.dim));
    assert.deepEqual(code(await dedup({ session: wrong.session, templateId: newId() })), ["AUTH_INVALID", "AUTH_INVALID"]);
    for (const p of PARTIES) assert.ok(h.audit[p].some((a) => a.op === "dedup" && a.outcome === "refused" && a.code === "AUTH_INVALID" && a.session === wrong.session), `${p} audits the refusal`);
    // a refused request burns the session's search (its MPC session is closed at both, as for enrol and verify)
    assert.deepEqual(code(await dedup(wrong)), ["AUTH_REUSED", "AUTH_REUSED"]);
    const e = await enrol(randomFace(MODEL.dim));
    assert.deepEqual(code(await dedup({ session: newId(), templateId: e.templateId })), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"]);
    assert.deepEqual((await dedup(e)).status, { P0: 200, P1: 200 });
    assert.deepEqual(code(await dedup(e)), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"], "one search per enrolment: no oracle by repetition");
    const f = await enrol(randomFace(MODEL.dim));
    await commit(f);
    assert.deepEqual(code(await dedup(f)), ["SESSION_UNKNOWN", "SESSION_UNKNOWN"]);
    // the same bodies twice (a replay): the search ran once
    const g = await enrol(randomFace(MODEL.dim));
    const bodies = await dedupBodies(h.keys, g);
    assert.equal((await h.both("/v1/dedup", bodies)).P0.status, 200);
    const again = await h.both("/v1/dedup", bodies);
    assert.deepEqual([again.P0.body.error.code, again.P1.body.error.code], ["SESSION_UNKNOWN", "SESSION_UNKNOWN"]);
    // only the gateway may ask; only the helper may deliver
    assert.equal((await h.call("P0", "/v1/dedup", bodies.P0, "p1")).body.error.code, "FORBIDDEN_ROLE");
    assert.equal((await h.call("P1", "/v1/dedup/items", {}, "gateway")).body.error.code, "FORBIDDEN_ROLE");
  });

  it("attack: a helper that deals one wrong query of a pair is caught by the spot-check (the sacrificed one is drawn after dealing); then no more dedup material is taken from it", async () => {
    // the helper shifts c_j of slot 0 in the first query it deals of each batch; P0 draws which is used
    h.dedupHelper.tamper = (corr, i) => {
      if (i === 0) corr[0] += 1000;
    };
    const outcomes: string[] = [];
    for (let k = 0; k < 12 && !outcomes.includes("HELPER_UNAVAILABLE"); k++) {
      const r = await dedup(await enrol(sameFace(faces[0])));
      outcomes.push(code(r)[0]);
    }
    assert.ok(outcomes.includes("HELPER_UNAVAILABLE"), `caught within 12 searches (probability 1 − 2^-12): ${outcomes.join(",")}`);
    for (const p of PARTIES) {
      assert.ok(h.audit[p].some((a) => a.op === "spotcheck" && a.outcome === "failed" && a.code === "SPOTCHECK_FAILED"), `${p} audits the failure`);
      assert.equal(h.services[p].dedupBlocked(), true);
    }
    h.dedupHelper.tamper = null;
    const dealt = h.dedupHelper.dealt;
    const r = await dedup(await enrol(randomFace(MODEL.dim)));
    assert.deepEqual(code(r), ["HELPER_UNAVAILABLE", "HELPER_UNAVAILABLE"], "refused until an operator restarts the party");
    assert.equal(h.dedupHelper.dealt, dealt, "P0 no longer asks the helper");
  });
});

describe("Party API dedup: a deletion that reaches one party before a search and the other after it", () => {
  let g: InProcParties;
  before(async () => {
    g = await startInProcParties({ gallery: { epoch: 12 } });
    await Promise.all(PARTIES.map((p) => g.galleries![p].build()));
  });
  after(() => g.close());

  it("the template being deleted is searched at neither party (no random 'duplicate' from rows that differ)", async () => {
    for (let i = 0; i < 8; i++) {
      const x = randomFace(MODEL.dim);
      const session = newId(), templateId = newId();
      const e = await g.both("/v1/enrol", await enrolBodies(g.keys, { session, templateId, modelVersion: MV, x }));
      assert.equal(e.P0.status, 200);
      await g.both("/v1/commit", await finishBodies(g.keys, "commit", { session, templateId, modelVersion: MV }));
      await Promise.all(PARTIES.map((p) => g.galleries![p].idle()));
      // the gateway's deletion reaches P0 now, P1 only after the search
      const del = await deleteBodies(g.keys, { templateId });
      assert.equal((await g.call("P0", "/v1/delete", del.P0)).status, 200);
      await g.galleries!.P0.idle();
      const probe = { session: newId(), templateId: newId() };
      const pe = await g.both("/v1/enrol", await enrolBodies(g.keys, { ...probe, modelVersion: MV, x: sameFace(x) }));
      assert.equal(pe.P0.status, 200);
      const r = await g.both("/v1/dedup", await dedupBodies(g.keys, probe));
      assert.equal(r.P0.status, 200, JSON.stringify(r.P0.body));
      assert.equal(reconstruct(r.P0.body.resultShare, r.P1.body.resultShare).duplicate, 0, `round ${i}`);
      assert.equal((await g.call("P1", "/v1/delete", del.P1)).status, 200);
      await g.galleries!.P1.idle();
    }
  });
});

describe("Party API dedup with matches: the slot list is kept per gallery, and answers stay right after enrolments and deletions", () => {
  let g: InProcParties;
  before(async () => {
    g = await startInProcParties({ gallery: { epoch: 13 } });
    await Promise.all(PARTIES.map((p) => g.galleries![p].build()));
  });
  after(() => g.close());

  const committed = async (x: Int8Array) => {
    const e = { session: newId(), templateId: newId() };
    assert.equal((await g.both("/v1/enrol", await enrolBodies(g.keys, { ...e, modelVersion: MV, x }))).P0.status, 200);
    assert.equal((await g.both("/v1/commit", await finishBodies(g.keys, "commit", { ...e, modelVersion: MV }))).P0.status, 200);
    await Promise.all(PARTIES.map((p) => g.galleries![p].idle()));
    return e.templateId;
  };
  /** who matched probe `x` (the gateway's view), and each party's slot list */
  const search = async (x: Int8Array) => {
    const e = { session: newId(), templateId: newId() };
    assert.equal((await g.both("/v1/enrol", await enrolBodies(g.keys, { ...e, modelVersion: MV, x }))).P0.status, 200);
    const r = await g.both("/v1/dedup", await dedupBodies(g.keys, { ...e, matches: true }));
    assert.equal(r.P0.status, 200, JSON.stringify(r.P0.body).slice(0, 300));
    const dup = reconstruct(r.P0.body.resultShare, r.P1.body.resultShare).duplicate as 0 | 1;
    return { named: matchedTemplates(r.P0.body.matches, r.P1.body.matches, r.P0.body.gallery, dup), lists: { P0: r.P0.body.matches.templates, P1: r.P1.body.matches.templates } };
  };

  it("one list object per gallery state (not rebuilt per answer); a commit and a deletion each give a new, right one", async () => {
    const x = [randomFace(MODEL.dim), randomFace(MODEL.dim), randomFace(MODEL.dim)];
    const a = await committed(x[0]), b = await committed(x[1]);
    const s1 = await search(sameFace(x[0])), s2 = await search(sameFace(x[1]));
    assert.deepEqual(s1.named, [a]);
    assert.deepEqual(s2.named, [b]);
    for (const p of PARTIES) {
      assert.deepEqual(s1.lists[p], [a, b]);
      assert.equal(s2.lists[p], s1.lists[p], `${p}: the second answer reuses the list`);
    }
    const c = await committed(x[2]);
    const s3 = await search(sameFace(x[2]));
    assert.deepEqual(s3.named, [c], "a template committed after the list was made is named");
    for (const p of PARTIES) assert.deepEqual(s3.lists[p], [a, b, c]);
    const d = await g.both("/v1/delete", await deleteBodies(g.keys, { templateId: a }));
    assert.equal(d.P0.status, 200);
    await Promise.all(PARTIES.map((p) => g.galleries![p].idle()));
    const s4 = await search(sameFace(x[0])), s5 = await search(sameFace(x[1]));
    assert.deepEqual(s4.named, [], "a deleted template is no longer named");
    assert.deepEqual(s5.named, [b]);
    for (const p of PARTIES) {
      assert.deepEqual(s4.lists[p], [null, b, c], `${p}: the deleted slot is null`);
      assert.equal(s5.lists[p], s4.lists[p]);
    }
  });
});
