/**
 * The spot-check at pool intake (spotcheck.ts) with both real parties' stores in one process: P0
 * checks a dealt batch with P1 (P1's answers through JSON, as on the wire); an honest batch is added
 * without its sampled items, which P1 has marked used; a batch from a helper that makes every probe
 * match is dropped at both parties, raises the alert (metric, audit, error log) and stops refills:
 * P1 refuses the helper's deliveries, P0's refill job no longer asks it. Enrolment bundles go through
 * the same check, a batch at a time (enrol-stock.ts): a helper that deals them to accept any vector
 * (a wildcard template) is caught before one of them serves an enrolment.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createAuditLog } from "@privface/audit";
import { MODEL } from "@privface/contracts";
import { generateSigningKeyPair } from "@privface/crypto";
import { openDb } from "@privface/db";
import { enrolBodies, finishBodies, newId, randomFace, reconstruct, sameFace, verifyBodies } from "@privface/devstack/gateway-sim";
import { deal, encodeBundle, newItemId, type Dealt } from "@privface/mpc";
import { evilDeal } from "@privface/mpc/evil-dealer";
import { createPartyApp } from "../src/app.ts";
import { createEnrolStock } from "../src/enrol-stock.ts";
import { createPartyJobs } from "../src/jobs.ts";
import { createPartyMetrics } from "../src/metrics.ts";
import { createSpotCheckResponder, spotCheckIntake, type SpotCheckDeps } from "../src/spotcheck.ts";
import { makeInProc, type InProc } from "./_inproc.ts";

let h: InProc;
before(async () => {
  h = await makeInProc();
});
after(() => h.close());

interface Side {
  deps: SpotCheckDeps;
  counts: string[];
  logs: { event: string; [k: string]: unknown }[];
}
async function side(p: "P0" | "P1"): Promise<Side> {
  const s: Side = { counts: [], logs: [], deps: undefined as never };
  const log = (o: object) => s.logs.push(o as { event: string });
  // the real audit log (its field rules), as server.ts wires it, and the harness's list
  const real = await createAuditLog(await openDb("sqlite::memory:"), { role: p.toLowerCase(), signingKey: await generateSigningKeyPair("INTL") });
  s.deps = {
    party: p,
    poolSeed: h.seeds[p],
    store: h.stores[p],
    audit: {
      append: async (e) => {
        await real.append({ requester: e.requester, op: e.op, templateId: e.templateId, session: e.session, outcome: e.outcome, code: e.code ?? null });
        h.audit[p].push(e);
      },
    },
    count: (o) => s.counts.push(o),
    log: { info: log, warn: log, error: log },
  };
  return s;
}

/** The helper's delivery: P1's halves into P1's pool; P0's halves returned to P0. */
async function deliver(batch: Dealt[]): Promise<Uint8Array[]> {
  await h.stores.P1.addItems(batch.map((d) => ({ id: d.id, bytes: encodeBundle(d.P1) })));
  return batch.map((d) => encodeBundle(d.P0));
}

const wire = (x: unknown) => JSON.parse(JSON.stringify(x));

describe("spot-check at pool intake", () => {
  it("an honest batch passes: the sampled items are used at P1 and left out at P0; the rest serve verifications", async () => {
    const p0 = await side("P0"), p1 = await side("P1");
    const responder = createSpotCheckResponder(p1.deps);
    const batch = Array.from({ length: 32 }, () => deal(h.params, newItemId(), h.seeds, { kind: "verify" }));
    const items = await deliver(batch);
    const r = await spotCheckIntake(p0.deps, items, async (body) => wire(await responder.handle(wire(body))));
    assert.equal(r.ok, true, r.failures.join(","));
    assert.equal(r.sampled, 2);
    assert.equal(r.keep.length, 30);
    const kept = new Set(r.keep.map((k) => k.id));
    const sampled = batch.filter((d) => !kept.has(d.id));
    for (const d of sampled) await assert.rejects(h.stores.P1.markUsed(d.id), (e: { code?: string }) => e.code === "ITEM_REUSED", "a revealed item can never serve a session");
    assert.deepEqual([p0.counts, p1.counts], [["passed"], ["passed"]]);
    assert.equal(responder.blocked(), false);
    await h.stores.P0.addItems(r.keep);
    // the kept items work
    const x = randomFace(MODEL.dim);
    const templateId = newId(), session = newId();
    await h.both("/v1/enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MODEL.version, x }));
    await h.both("/v1/commit", await finishBodies(h.keys, "commit", { session, templateId, modelVersion: MODEL.version }));
    const v = await h.both("/v1/verify", await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MODEL.version, x: sameFace(x) }));
    assert.deepEqual(reconstruct(v.P0.body.resultShare, v.P1.body.resultShare), { valid: 1, match: 1 });
  });

  it("a connection reset after P1 answered `open`: P0's retry of the same step gets the same answer and the batch passes (no wasted batch)", async () => {
    const p0 = await side("P0"), p1 = await side("P1");
    const responder = createSpotCheckResponder(p1.deps);
    const items = await deliver(Array.from({ length: 32 }, () => deal(h.params, newItemId(), h.seeds, { kind: "verify" })));
    let lost = false;
    const r = await spotCheckIntake(p0.deps, items, async (body) => {
      const answer = wire(await responder.handle(wire(body)));
      if ((body as { step?: string }).step === "open" && !lost) {
        lost = true; // P1 answered, the answer never arrived: askPeer posts the same body again
        // while the batch is open, another coin for it is still refused (one sample per batch)
        await assert.rejects(responder.handle({ ...wire(body), coin: Buffer.alloc(32, 7).toString("base64") }), /being checked already/);
        return wire(await responder.handle(wire(body)));
      }
      return answer;
    });
    assert.ok(lost);
    assert.equal(r.ok, true, r.failures.join(","));
    assert.equal(r.keep.length, 30);
    assert.deepEqual([p0.counts, p1.counts], [["passed"], ["passed"]]);
  });

  it("a helper that makes every probe match is caught: batch dropped at both, alert raised, refills stopped", async () => {
    const p0 = await side("P0"), p1 = await side("P1");
    const responder = createSpotCheckResponder(p1.deps);
    const batch = Array.from({ length: 16 }, () => evilDeal(h.params, newItemId(), h.seeds, "match_everything", (n) => new Uint8Array(globalThis.crypto.getRandomValues(new Uint8Array(n)))));
    const items = await deliver(batch);
    const r = await spotCheckIntake(p0.deps, items, async (body) => wire(await responder.handle(wire(body))));
    assert.equal(r.ok, false);
    assert.deepEqual(r.keep, []);
    assert.ok(r.failures.includes("dcf_threshold") && r.failures.some((f) => f.startsWith("P1:")), r.failures.join(","));
    for (const d of batch) await assert.rejects(h.stores.P1.markUsed(d.id), (e: { code?: string }) => e.code === "ITEM_REUSED", "dropped at P1");
    // the alert: metric, audit, error log at both parties
    assert.deepEqual([p0.counts, p1.counts], [["failed"], ["failed"]]);
    for (const p of ["P0", "P1"] as const) assert.ok(h.audit[p].some((e) => e.op === "spotcheck" && e.outcome === "failed" && e.code === "SPOTCHECK_FAILED"), p);
    for (const s of [p0, p1]) assert.ok(s.logs.some((e) => e.event === "helper_cheat_detected" && String(e.failures).includes("dcf_threshold")));
    for (const s of [p0, p1]) assert.ok(s.logs.some((e) => e.event === "helper_cheat_detected"));
    for (const s of [p0, p1]) assert.ok(!s.logs.some((e) => e.event === "audit_failed"), "the audit record is valid");
    // P1 refuses the helper's deliveries from now on
    assert.equal(responder.blocked(), true);
    const metrics = createPartyMetrics("P1", { poolLevel: async () => 0, peerUp: () => true, helperUp: () => true });
    const app = createPartyApp({ service: h.services.P1, metrics, audit: { append: async () => {} }, spotCheck: responder });
    const res = await app({ method: "POST", path: "/v1/pool/items", role: "helper", body: undefined, raw: Buffer.alloc(0) });
    assert.equal(res.status, 503);
    assert.equal((res.body as { error: { code: string } }).error.code, "HELPER_UNAVAILABLE");
    const bad = await app({ method: "POST", path: "/v1/peer/spotcheck", role: "gateway", body: { step: "open" }, raw: Buffer.alloc(0) });
    assert.equal(bad.status, 403, "only P0 may run a spot-check with P1");
  });

  it("P0's refill job stops asking the helper after a failed intake; a passed intake adds only the kept items", async () => {
    let level = 0;
    const fetches: number[] = [];
    let verdict = true;
    const added: string[] = [];
    const jobs = createPartyJobs({
      party: "P0",
      store: {
        poolLevel: async () => level,
        addItems: async (its) => {
          added.push(...its.map((i) => i.id));
          level += its.length;
          return { added: its.length };
        },
        purge: async () => ({ sessions: 0, items: 0, ciphertexts: 0 }),
      },
      helper: {
        fetch: async (_k, n) => {
          fetches.push(n);
          return Array.from({ length: n }, () => encodeBundle(deal(h.params, newItemId(), h.seeds).P0));
        },
        probe: async () => {},
      },
      intake: async (items) => ({ ok: verdict, keep: verdict ? [{ id: "kept-0000000000000000000000000000", bytes: items[0] }] : [] }),
      recover: async () => ({ committed: 0, aborted: 0, waiting: 0 }),
      metrics: { refills: { inc: () => {} } as never },
      log: { info() {}, warn() {}, error() {} },
      poolLow: 1,
      poolTarget: 2,
      poolBatch: 4,
      recoveryIntervalMs: 60_000,
      retentionMs: 86_400_000,
    });
    await jobs.refill(true);
    // a spot-checked top-up asks for at least MIN_FETCH items, within a batch (4 here)
    assert.deepEqual(fetches, [4, 4]);
    assert.equal(added.length, 2);
    level = 0;
    verdict = false;
    await jobs.refill(true);
    assert.deepEqual(fetches, [4, 4, 4]);
    await jobs.refill(true);
    await jobs.refill(true);
    assert.deepEqual(fetches, [4, 4, 4], "no more refills from this helper");
    await jobs.stop();
  });
});

describe("spot-checked enrolment bundles (P0's stock)", () => {
  const rand = (n: number) => new Uint8Array(globalThis.crypto.getRandomValues(new Uint8Array(n)));

  it("an honest batch is checked once and then serves enrolments, each bundle once, in random order", async () => {
    const p0 = await side("P0"), p1 = await side("P1");
    const responder = createSpotCheckResponder(p1.deps);
    const fetches: number[] = [];
    const picks: number[] = [];
    const stock = createEnrolStock({
      fetch: async (n) => {
        fetches.push(n);
        return deliver(Array.from({ length: n }, () => deal(h.params, newItemId(), h.seeds, { kind: "enrol" })));
      },
      intake: (items) => spotCheckIntake(p0.deps, items, async (body) => wire(await responder.handle(wire(body)))),
      pick: (n) => (picks.push(n), n - 1 - (picks.length % n)),
    });
    // two enrolments at once on an empty stock share one fetch
    const [a, b] = await Promise.all([stock.take(), stock.take()]);
    assert.deepEqual(fetches, [16]);
    assert.deepEqual(p0.counts, ["passed"]);
    assert.equal(stock.size(), 13, "16 dealt, 1 opened and discarded, 2 taken");
    const ids = new Set([a, b].map((x) => Buffer.from(x).toString("hex")));
    assert.equal(ids.size, 2);
    const rest: Uint8Array[] = [];
    while (stock.size() > 0) rest.push(await stock.take());
    assert.equal(new Set([a, b, ...rest].map((x) => Buffer.from(x).toString("hex"))).size, 15, "never handed out twice");
    assert.deepEqual(fetches, [16], "no fetch while the stock lasts");
    assert.ok(picks.every((n, i) => n === 15 - i), "each take picks among all bundles left");
    await stock.take();
    assert.deepEqual(fetches, [16, 16]);
  });

  it("a helper that deals enrolment bundles accepting any vector is caught: no bundle served, alert raised, stock blocked", async () => {
    const p0 = await side("P0"), p1 = await side("P1");
    const responder = createSpotCheckResponder(p1.deps);
    let fetches = 0;
    const stock = createEnrolStock({
      fetch: async (n) => {
        fetches++;
        return deliver(Array.from({ length: n }, () => evilDeal(h.params, newItemId(), h.seeds, "match_everything", rand, "enrol")));
      },
      intake: (items) => spotCheckIntake(p0.deps, items, async (body) => wire(await responder.handle(wire(body)))),
    });
    await assert.rejects(stock.take(), /failed its spot-check/);
    assert.equal(stock.blocked(), true);
    assert.equal(stock.size(), 0);
    assert.deepEqual([p0.counts, p1.counts], [["failed"], ["failed"]]);
    for (const s of [p0, p1]) assert.ok(s.logs.some((e) => e.event === "helper_cheat_detected" && String(e.failures).includes("dcf_threshold")));
    assert.equal(responder.blocked(), true, "P1 refuses the helper's deliveries");
    await assert.rejects(stock.take(), /failed its spot-check/);
    assert.equal(fetches, 1, "the helper is not asked again");
  });

  it("a batch that leaves no bundle is an error, not an endless refetch", async () => {
    let fetches = 0;
    const stock = createEnrolStock({ fetch: async () => (fetches++, []), intake: async () => ({ ok: true, keep: [] }) });
    await assert.rejects(stock.take(), /left no enrolment bundle/);
    assert.equal(fetches, 1);
  });
});
