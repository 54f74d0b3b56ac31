/**
 * Gallery shards served by worker processes through NATS JetStream (issue 15; docs/protocol.md §14,
 * "Gallery shards"): helper, two coordinators (P0, P1) and, per party, two workers for each of two
 * shards — all separate processes over mutual TLS, on PostgreSQL, with the NATS server at
 * 127.0.0.1:4222 (skipped with the reason when it is not reachable). Subjects and streams are unique
 * per run. The processes and calls: @privface/devstack/shard-cluster (shared with `privface bench dedup --shards`).
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { MODEL } from "@privface/contracts";
import { deleteBodies, randomFace, sameFace } from "@privface/devstack/gateway-sim";
import { startShardCluster, type ShardCluster } from "@privface/devstack/shard-cluster";
import { shardOf } from "../../src/gallery.ts";
import { pgDb, type DbSetup } from "../_loopback.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const natsUp = await new Promise<boolean>((res) => {
  const s = connect(4222, "127.0.0.1");
  s.once("connect", () => (s.destroy(), res(true)));
  s.once("error", () => res(false));
});

describe("gallery shards: workers through NATS JetStream, two shards × two workers per party", { timeout: 600_000, skip: natsUp ? false : "no NATS server at 127.0.0.1:4222" }, () => {
  let db: DbSetup;
  let c: ShardCluster;
  const faces: { x: Int8Array; shard: number }[] = [];
  /** slots of templates deleted since the workers started (searched, never matching) */
  let retired = 0;
  const startWorker = (...a: Parameters<ShardCluster["startWorker"]>) => c.startWorker(...a);
  const galleryReady = (name: string) => c.galleryReady(name);
  const waitFor = (cond: () => boolean) => c.waitFor(cond);
  const search = (x: Int8Array) => c.search(x);
  const enrol = (x: Int8Array, commit: boolean) => c.enrol(x, commit);

  before(async () => {
    db = await pgDb();
    const env: Record<string, string> = {};
    for (const p of ["P0", "P1"]) {
      Object.assign(env, {
        [`PRIVFACE_${p}_DEDUP_SHARD_TIMEOUT_MS`]: "8000",
        [`PRIVFACE_${p}_DEDUP_ACK_WAIT_MS`]: "1500",
        [`PRIVFACE_${p}_MPC_TIMEOUT_MS`]: "3000",
        [`PRIVFACE_${p}_POOL_TARGET`]: "4",
        [`PRIVFACE_${p}_POOL_LOW`]: "2",
        [`PRIVFACE_${p}_POOL_BATCH`]: "4",
      });
    }
    c = await startShardCluster({ shards: 2, workersPerShard: 2, dbEnv: db.env, env });
    // the gallery: enrolled faces until both shards hold at least two
    while (![0, 1].every((k) => faces.filter((f) => f.shard === k).length >= 2)) {
      const x = randomFace(MODEL.dim);
      const { templateId } = await enrol(x, true);
      faces.push({ x, shard: shardOf(templateId, 2) });
    }
  });

  after(async () => {
    await c?.close();
    await db?.cleanup();
  });

  it("a shard with no worker: GALLERY_UNAVAILABLE at both parties, never a partial answer", async () => {
    // shard 0 served (both workers of both parties), shard 1 by no one
    await Promise.all([startWorker("P1", 0, 0), startWorker("P1", 0, 1)]);
    await Promise.all([startWorker("P0", 0, 0), startWorker("P0", 0, 1)]);
    await waitFor(() => ["P0-0-0", "P0-0-1", "P1-0-0", "P1-0-1"].every(galleryReady));
    const t0 = Date.now();
    const r = await search(sameFace(faces.find((f) => f.shard === 0)!.x));
    assert.deepEqual(r.codes, ["GALLERY_UNAVAILABLE", "GALLERY_UNAVAILABLE"], `answered ${JSON.stringify(r)}`);
    assert.ok(Date.now() - t0 < 30_000);
  });

  it("two shards × two workers per party: the same face again is a duplicate whichever shard holds it, a new face is not; the whole gallery is searched", async () => {
    // worker 0 of P0 for shard 1 dies as soon as it has paired for a query (PRIVFACE_KILL_AT)
    await Promise.all([startWorker("P1", 1, 0), startWorker("P1", 1, 1)]);
    await Promise.all([startWorker("P0", 1, 0, { PRIVFACE_KILL_AT: "party:shard:paired" }), startWorker("P0", 1, 1)]);
    await waitFor(() => ["P0-1-0", "P0-1-1", "P1-1-0", "P1-1-1"].every(galleryReady));
    for (const k of [0, 1]) {
      const r = await search(sameFace(faces.find((f) => f.shard === k)!.x));
      assert.deepEqual(r, { duplicate: 1, gallery: faces.length }, `a face of shard ${k}`);
    }
    assert.deepEqual(await search(randomFace(MODEL.dim)), { duplicate: 0, gallery: faces.length });
  });

  it("the workers follow the coordinators' commits and deletions (JetStream subject <prefix>.g)", async () => {
    const x = randomFace(MODEL.dim);
    const { templateId } = await enrol(x, true);
    await sleep(1_000);
    assert.deepEqual(await search(sameFace(x)), { duplicate: 1, gallery: faces.length + 1 }, "a template committed after the workers started is searched");
    const d = await deleteBodies(c.keys, { templateId });
    await Promise.all([c.client.P0.delete(d.P0), c.client.P1.delete(d.P1)]);
    await sleep(1_000);
    const r = await search(sameFace(x));
    assert.equal(r.duplicate, 0, "a deleted template never matches");
    // the slot stays (retired): the count covers it
    assert.equal(r.gallery, faces.length + 1);
    retired++;
  });

  it("a worker killed mid-query is replaced (JetStream redelivers to the other worker of the shard) without a wrong or partial answer", async () => {
    const killed = c.workers["P0-1-0"];
    let n = 0;
    // until the arming worker has taken a query (the queue group may hand the first ones to the other)
    while (killed.proc.exitCode === null && killed.proc.signalCode === null && n < 12) {
      const r = await search(sameFace(faces.filter((f) => f.shard === 1)[n % 2].x));
      assert.deepEqual(r, { duplicate: 1, gallery: faces.length + retired }, `search ${n} (killed: ${killed.proc.exitCode})`);
      n++;
    }
    assert.ok(killed.proc.exitCode !== null || killed.proc.signalCode !== null, "the arming worker took a query and died");
    assert.equal(killed.proc.signalCode, "SIGKILL", "it died at the kill point (after pairing for a query), not of anything else");
    // the query it held was handed again (delivery count ≥ 2) to the other worker of the shard — every answer above was right
    assert.ok(c.logs["P0-1-1"].some((l) => l.event === "shard_query_started" && (l.attempt as number) >= 2), "JetStream redelivered the dead worker's query");
    // after: the shard still answers through its other worker, also for a face that is not there
    assert.deepEqual(await search(randomFace(MODEL.dim)), { duplicate: 0, gallery: faces.length + retired });
    assert.ok(c.logs["P0-1-1"].some((l) => l.event === "shard_query_started"), "the other worker served shard 1");
  });
});
