/**
 * `privface bench dedup --shards S` (issue 15): the parties' duplicate search through the real path —
 * the helper, both parties' servers, PostgreSQL (a schema per party, dropped at the end) and, for
 * S ≥ 1, NATS JetStream with S shards × `workersPerShard` worker processes per party (the setup of
 * packages/party/test/pg/shards.test.ts, @privface/devstack/shard-cluster); S = 0 is the unsharded
 * path (each party one process holding the whole gallery, `DEDUP_GALLERY=on`), for comparison at the
 * same N. The N templates are written straight into both stores (as enrolment commits them), then
 * the processes start and build their galleries (`boot_ms`: until every gallery is ready). Each
 * query is an enrolment prepared at both parties (not timed) and its search `POST /v1/dedup` at both
 * (timed, the two calls at once, as the gateway makes them); half the probes are a stored face with
 * noise (answer: duplicate), half fresh faces (answer: none). `exact`: every answer is the expected
 * one and covers all N slots.
 */
import { MODEL, type PartyName } from "@privface/contracts";
import { newId, randomFace, sameFace } from "../gateway-sim.ts";
import { startShardCluster } from "../shard-cluster.ts";
import { benchDatabase } from "./_postgres.ts";

export interface DedupShardsBenchResult {
  suite: "dedup-shards";
  n: number;
  shards: number;
  workers_per_shard: number;
  ms_per_query_p50: number;
  p99: number;
  ms_per_query_mean: number;
  queries: number;
  boot_ms: number;
  fill_ms: number;
  exact: boolean;
  /** answers that were not the expected one (each also written to stderr) */
  wrong: number;
}

export interface DedupShardsBenchOptions {
  n: number;
  shards: number;
  workersPerShard?: number;
  queries?: number;
  /** a postgres:// URL */
  db: string;
}

/** mulberry32: a seeded uniform [0, 1) for the synthetic faces */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function benchDedupShards(o: DedupShardsBenchOptions): Promise<DedupShardsBenchResult> {
  const { n, shards: S } = o;
  const R = o.workersPerShard ?? 1, queries = o.queries ?? 20;
  const db = benchDatabase(o.db, ["P0", "P1"]);
  const env: Record<string, string> = {};
  for (const p of ["P0", "P1"]) {
    Object.assign(env, {
      // a loaded 2-core machine: generous waits (a search that waits longer fails, and `exact` says so)
      [`PRIVFACE_${p}_DEDUP_SHARD_TIMEOUT_MS`]: "60000",
      [`PRIVFACE_${p}_DEDUP_ACK_WAIT_MS`]: "20000",
      [`PRIVFACE_${p}_MPC_TIMEOUT_MS`]: "20000",
      [`PRIVFACE_${p}_POOL_TARGET`]: "8",
      [`PRIVFACE_${p}_POOL_LOW`]: "4",
      [`PRIVFACE_${p}_POOL_BATCH`]: "8",
    });
  }
  const c = await startShardCluster({ shards: S, workersPerShard: R, dbEnv: db.env, env, deferStart: true, readyTimeoutMs: 300_000, clientTimeoutMs: 120_000 });
  try {
    const d = MODEL.dim, rnd = seeded(n * 31 + S);
    const planted: Int8Array[] = [];
    const every = Math.max(1, Math.floor(n / queries));
    const t0 = performance.now();
    await c.fill(n, (j) => {
      const x = randomFace(d, rnd);
      if (j % every === 0) planted.push(x);
      const P0 = new Uint32Array(d), P1 = new Uint32Array(d);
      for (let k = 0; k < d; k++) {
        P0[k] = Math.floor(rnd() * 2 ** 32);
        P1[k] = (x[k] - P0[k]) >>> 0;
      }
      return { templateId: newId(), P0, P1 };
    });
    const fillMs = performance.now() - t0;
    const t1 = performance.now();
    await c.start();
    const names: string[] = [];
    if (S === 0) names.push("P0", "P1");
    for (let k = 0; k < S; k++) {
      for (let w = 0; w < R; w++) {
        for (const p of ["P1", "P0"] as PartyName[]) {
          await c.startWorker(p, k, w);
          names.push(`${p}-${k}-${w}`);
        }
      }
    }
    await c.waitFor(() => names.every(c.galleryReady), 1_800_000);
    const bootMs = performance.now() - t1;
    const times: number[] = [];
    let wrong = 0;
    for (let q = -1; q < queries; q++) {
      // query −1 warms up (the helper derives its copy of each epoch's masks on the first search) and is not counted
      const dup = q % 2 === 0;
      const x = dup ? sameFace(planted[(q >>> 1) % planted.length], 0.3, rnd) : randomFace(d, rnd);
      const e = await c.enrol(x, false);
      const t = performance.now();
      const r = await c.searchPrepared(e);
      const ms = performance.now() - t;
      if (r.duplicate !== (dup ? 1 : 0) || r.gallery !== n) {
        wrong++;
        process.stderr.write(`bench dedup --shards: query ${q} (${dup ? "a stored face" : "a fresh face"}) answered ${JSON.stringify(r)} after ${Math.round(ms)} ms\n`);
      }
      if (q >= 0) times.push(ms);
    }
    times.sort((a, b) => a - b);
    const at = (p: number) => Math.round(times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)] * 10) / 10;
    return {
      suite: "dedup-shards", n, shards: S, workers_per_shard: S > 0 ? R : 0,
      ms_per_query_p50: at(0.5), p99: at(0.99), ms_per_query_mean: Math.round((times.reduce((s, t) => s + t, 0) / times.length) * 10) / 10,
      queries, boot_ms: Math.round(bootMs), fill_ms: Math.round(fillMs), exact: wrong === 0, wrong,
    };
  } finally {
    await c.close();
    await db.drop();
  }
}
