/**
 * The party-side dedup gallery (issue 15, src/gallery.ts) on the real parties in one process
 * (devstack inproc-parties: both services, SQLite stores, the in-memory transport): templates enrolled
 * through the normal enrol + commit path, galleries built from the stores with the δ openings over the
 * P0↔P1 transport, kept in step by the services, and a 1:N query run on the parties' rows with the
 * engine (simulateDedup; the helper's masks rebuilt from the seeds, as the helper would). The query is
 * not yet a party route: this tests the gallery, not a wired query.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MODEL, PARTIES, type PartyName } from "@privface/contracts";
import { deleteBodies, enrolBodies, finishBodies, newId, randomFace, reconstruct, sameFace, verifyBodies } from "@privface/devstack/gateway-sim";
import { startInProcParties, type InProcParties } from "@privface/devstack/inproc-parties";
import {
  expandSeedShare, helperGalleryAdd, helperGalleryRemove, jsRowStore, newHelperGallery, shareInput, simulateDedup, type ShareContext,
} from "@privface/mpc";
import { GalleryError, GalleryKeeper, shardOf, storeEpochClaim, type PartyGallery } from "../src/gallery.ts";

const MV = MODEL.version;
const MV2 = "faceplugin-fr512-flip.2@test";
type Pair = Record<PartyName, PartyGallery>;

let h: InProcParties;
let kept: Pair;
const faces = new Map<string, Int8Array>();

before(async () => {
  h = await startInProcParties({ gallery: { epoch: 7 } });
  kept = h.galleries!;
  await h.fill(4);
});
after(() => h.close());

async function enrol(x = randomFace(MODEL.dim)): Promise<string> {
  const templateId = newId();
  const session = newId();
  const e = await h.both("/v1/enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MV, x }));
  assert.equal(reconstruct(e.P0.body.resultShare, e.P1.body.resultShare).valid, 1);
  const c = await h.both("/v1/commit", await finishBodies(h.keys, "commit", { session, templateId, modelVersion: MV }));
  assert.equal(c.P0.status, 200);
  faces.set(templateId, x);
  return templateId;
}

const idle = (g: Pair) => Promise.all(PARTIES.map((p) => g[p].idle()));
const build = (g: Pair) => Promise.all(PARTIES.map((p) => g[p].build()));

/** One 1:N query of probe `x` against the two parties' galleries: the matching template ids. */
function query(g: Pair, x: Int8Array): string[] {
  assert.equal(g.P0.digest(), g.P1.digest(), "both parties hold the same slot → template list");
  const helper = newHelperGallery(h.params, g.P0.epoch, jsRowStore);
  if (g.P0.count > 0) helperGalleryAdd(helper, h.seeds, 0, g.P0.count);
  for (let j = 0; j < g.P0.count; j++) if (g.P0.templateAt(j) === null) helperGalleryRemove(helper, j);
  const ctx: ShareContext = { purpose: "enrol", challenge: "dedup-test", templateId: "probe", modelVersion: MV };
  const { seed0, share1 } = shareInput(x, ctx);
  const run = simulateDedup({ params: h.params, seeds: h.seeds, galleries: { P0: g.P0.rows, P1: g.P1.rows }, helper }, { P0: expandSeedShare(seed0, ctx, x.length), P1: share1 });
  return run.matches.map((j) => g.P0.templateAt(j)!).sort();
}

/** template id → the template y_j = G_j^(0) + G_j^(1) (what the two parties' rows jointly hold). */
function contents(g: Pair): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (let j = 0; j < g.P0.count; j++) {
    const id = g.P0.templateAt(j);
    if (id === null) continue;
    const a = g.P0.rows.online.row(j), b = g.P1.rows.online.row(j);
    out.set(id, Array.from({ length: h.params.d }, (_, k) => (a[k] + b[k]) | 0));
  }
  return out;
}

describe("party dedup gallery (in-process parties)", () => {
  let dup: string;
  let upgraded: string;

  it("builds from the stores' active templates (progress reported) and then follows enrolment commits", async () => {
    const before = [await enrol(), await enrol(), await enrol(), await enrol(), await enrol()];
    // a pending (uncommitted) enrolment is not in the gallery
    const pending = newId();
    await h.both("/v1/enrol", await enrolBodies(h.keys, { session: newId(), templateId: pending, modelVersion: MV, x: randomFace(MODEL.dim) }));
    const progress: number[] = [];
    const small = { P0: h.newGallery("P0", 100, { batch: 2, onProgress: (n) => progress.push(n) }), P1: h.newGallery("P1", 100, { batch: 2 }) };
    const [b0, b1] = await build(small);
    assert.deepEqual([b0.count, b1.count], [5, 5]);
    assert.deepEqual(progress, [2, 4, 5]);
    await build(kept);
    assert.equal(kept.P0.size, 5);
    assert.equal(kept.P0.slotOf(pending), undefined);
    dup = before[2];
    upgraded = before[3];
    for (let i = 0; i < 3; i++) await enrol();
    await idle(kept);
    assert.equal(kept.P0.stale, null);
    assert.equal(kept.P1.stale, null);
    assert.equal(kept.P0.size, 8);
    assert.equal(kept.P0.digest(), kept.P1.digest());
    // the rows hold exactly the enrolled templates
    const c = contents(kept);
    assert.equal(c.size, 8);
    for (const [id, y] of c) assert.deepEqual(y, Array.from(faces.get(id)!), `template ${id}`);
  });

  it("the δ rows stay in memory: no row of either party's gallery is in its database", () => {
    for (const p of PARTIES) {
      const file = h.dbs[p].sqlite!.serialize();
      for (let j = 0; j < kept[p].count; j++) {
        for (const rows of [kept[p].rows.delta, kept[p].rows.online]) {
          const r = rows.row(j).subarray(0, 16); // 64 bytes: a chance match is impossible
          assert.equal(file.indexOf(Buffer.from(r.buffer, r.byteOffset, r.byteLength)), -1, `${p} slot ${j}`);
        }
      }
    }
  });

  it("a planted duplicate finds exactly its template id; fresh faces find none", async () => {
    assert.deepEqual(query(kept, sameFace(faces.get(dup)!)), [dup]);
    assert.deepEqual(query(kept, sameFace(faces.get(upgraded)!)), [upgraded]);
    for (let i = 0; i < 3; i++) assert.deepEqual(query(kept, randomFace(MODEL.dim)), []);
  });

  it("a deleted template never matches again", async () => {
    const d = await h.both("/v1/delete", await deleteBodies(h.keys, { templateId: dup }));
    assert.equal(d.P0.status, 200);
    await idle(kept);
    assert.equal(kept.P0.slotOf(dup), undefined);
    assert.deepEqual(query(kept, sameFace(faces.get(dup)!)), []);
    assert.deepEqual(query(kept, faces.get(dup)!), []);
  });

  it("an upgrade promoted to another model version retires the template from this version's gallery and enters the new version's", async () => {
    const x = faces.get(upgraded)!;
    // a gallery of the new version (built before; told of the promotion as the service tells its gallery)
    const g2 = { P0: h.newGallery("P0", 20, { modelVersion: MV2 }), P1: h.newGallery("P1", 20, { modelVersion: MV2 }) };
    await build(g2);
    assert.equal(g2.P0.count, 0);
    const y2 = sameFace(x);
    const bodies = await verifyBodies(h.keys, { session: newId(), templateId: upgraded, modelVersion: MV, x: sameFace(x), upgrade: { modelVersion: MV2, x: y2 } });
    const v = await h.both("/v1/verify", bodies);
    assert.equal(reconstruct(v.P0.body.resultShare, v.P1.body.resultShare).upgradeValid, 1);
    const c = await h.both("/v1/commit", await finishBodies(h.keys, "upgrade", { session: bodies.P0.session, templateId: upgraded, modelVersion: MV2 }));
    assert.equal(c.P0.status, 200);
    await idle(kept);
    assert.equal(kept.P0.slotOf(upgraded), undefined);
    assert.equal(kept.P1.slotOf(upgraded), undefined);
    assert.deepEqual(query(kept, x), []);
    assert.equal(kept.P0.stale, null);
    for (const p of PARTIES) g2[p].committed(upgraded, MV2);
    await idle(g2);
    assert.deepEqual(contents(g2), new Map([[upgraded, Array.from(y2)]]));
    assert.deepEqual(query(g2, sameFace(y2)), [upgraded]);
  });

  it("the gallery rebuilt from the databases after a restart (new epoch) equals the one kept in step", async () => {
    const rebuilt = { P0: h.newGallery("P0", 8), P1: h.newGallery("P1", 8) };
    await build(rebuilt);
    assert.equal(rebuilt.P0.size, kept.P0.size);
    assert.deepEqual(contents(rebuilt), contents(kept));
    assert.notEqual(rebuilt.P0.count, kept.P0.count, "the kept gallery has retired slots, the rebuilt one none");
    const probes = [...faces.entries()].map(([, x]) => sameFace(x)).concat([randomFace(MODEL.dim)]);
    for (const x of probes) assert.deepEqual(query(rebuilt, x), query(kept, x));
    // the same template at another slot / epoch has other δ rows (fresh masks)
    const id = rebuilt.P0.templateAt(0)!;
    assert.notDeepEqual(Array.from(rebuilt.P0.rows.delta.row(0)), Array.from(kept.P0.rows.delta.row(kept.P0.slotOf(id)!)));
  });

  it("GalleryKeeper: the parties agree a fresh epoch (P0 names it), build, and follow the service's calls; a rebuild takes a later epoch", async () => {
    let clock = 1_900_000_000_000;
    const keepers = { P0: new GalleryKeeper({ ...h.galleryOptions("P0"), now: () => clock }), P1: new GalleryKeeper(h.galleryOptions("P1")) };
    const rebuild = () => Promise.all(PARTIES.map((p) => keepers[p].rebuild()));
    const [a0, a1] = await rebuild();
    assert.equal(a0.epoch, 1_900_000_000);
    assert.equal(a1.epoch, a0.epoch);
    const cur = () => ({ P0: keepers.P0.current!, P1: keepers.P1.current! });
    assert.deepEqual(contents(cur()), contents(kept));
    // the service's calls reach the current gallery (here made by hand, as the service makes them)
    const tid = await enrol();
    for (const p of PARTIES) keepers[p].committed(tid, MV);
    await idle(cur());
    assert.deepEqual(query(cur(), sameFace(faces.get(tid)!)), [tid]);
    for (const p of PARTIES) keepers[p].erased(tid);
    await idle(cur());
    assert.deepEqual(query(cur(), faces.get(tid)!), []);
    // same clock second: the next epoch is still a new one
    const [b0, b1] = await rebuild();
    assert.deepEqual([b0.epoch, b1.epoch], [a0.epoch + 1, a0.epoch + 1]);
    // P0 names an epoch P1 does not take up (P0 gives up), then both rebuild: P1 takes the latest
    clock += 60_000;
    await assert.rejects(keepers.P0.rebuild());
    clock += 1_000;
    const [c0, c1] = await rebuild();
    assert.equal(c0.epoch, 1_900_000_061);
    assert.equal(c1.epoch, c0.epoch);
    assert.deepEqual(contents(cur()), contents(kept));
    assert.equal(cur().P0.stale, null);
  });

  it("epochs are claimed in the institution's database: a keeper never names an epoch another process (a shard worker pair) named, even in the same clock second", async () => {
    const claim = storeEpochClaim(h.stores.P0);
    assert.equal(await claim(1_900_000_500), true);
    assert.equal(await claim(1_900_000_500), false, "a second claim of one epoch is refused");
    const keepers = { P0: new GalleryKeeper({ ...h.galleryOptions("P0"), now: () => 1_900_000_500_000, claimEpoch: claim }), P1: new GalleryKeeper(h.galleryOptions("P1")) };
    const [a0, a1] = await Promise.all(PARTIES.map((p) => keepers[p].rebuild()));
    assert.deepEqual([a0.epoch, a1.epoch], [1_900_000_501, 1_900_000_501]);
    assert.equal(await claim(1_900_000_501), false);
  });

  it("a shard's gallery holds exactly the templates shardOf assigns to it; the shards together hold the whole gallery", async () => {
    const S = 2;
    const shards = [0, 1].map((k) => ({ P0: h.newGallery("P0", 40 + k, { shard: { index: k, count: S } }), P1: h.newGallery("P1", 40 + k, { shard: { index: k, count: S } }) }));
    for (const g of shards) await build(g);
    const all = contents(kept);
    const parts = shards.map(contents);
    for (const [k, part] of parts.entries()) for (const id of part.keys()) assert.equal(shardOf(id, S), k);
    assert.equal(parts[0].size + parts[1].size, all.size);
    for (const part of parts) for (const [id, y] of part) assert.deepEqual(y, all.get(id));
    // a commit reaches only its shard's gallery
    const tid = await enrol();
    for (const g of shards) for (const p of PARTIES) g[p].committed(tid, MV);
    await Promise.all(shards.map(idle));
    assert.deepEqual(shards.map((g) => g.P0.slotOf(tid) !== undefined), [0, 1].map((k) => shardOf(tid, S) === k));
    for (const p of PARTIES) kept[p].committed(tid, MV);
    await idle(kept);
  });

  it("a peer that does not take part leaves the gallery stale, never half-built in silence", async () => {
    const lone = h.newGallery("P0", 9, { timeoutMs: 200 });
    await assert.rejects(lone.build(), (e: unknown) => e instanceof GalleryError && e.code === "GALLERY_MISMATCH");
    assert.match(lone.stale ?? "", /no frame .* within 200 ms/);
    await assert.rejects(lone.build(), (e: unknown) => e instanceof GalleryError && e.code === "GALLERY_BUILT");
  });

  it("parties whose lists differ refuse the exchange (GALLERY_MISMATCH)", async () => {
    // P1 builds another model version's gallery: different ids at the same slot
    const g = { P0: h.newGallery("P0", 10), P1: h.newGallery("P1", 10, { modelVersion: MV2 }) };
    const r = await Promise.allSettled([g.P0.build(), g.P1.build()]);
    for (const x of r) assert.ok(x.status === "rejected" && x.reason instanceof GalleryError && x.reason.code === "GALLERY_MISMATCH");
    assert.ok(g.P0.stale && g.P1.stale);
  });
});
