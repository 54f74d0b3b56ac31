/**
 * Gallery shards served by worker processes through NATS JetStream (issue 15; docs/protocol.md §14,
 * "Gallery shards"): helper, two coordinators (P0, P1) and, per party, two workers for each of two
 * shards — all separate processes over mutual TLS, on PostgreSQL, with the NATS server at
 * 127.0.0.1:4222 (skipped with the reason when it is not reachable). Subjects and streams are unique
 * per run.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dedupAnswer, MODEL, PartyError, type PartyClient } from "@privface/contracts";
import { ensureRuntime, freePorts, gatewayResultKey, spawnServer, type ServerHandle, type ServerName, type SpawnOptions } from "@privface/devstack";
import { batchedNonces, dedupBodies, deleteBodies, enrolBodies, finishBodies, newId, newSimDevice, randomFace, sameFace, simRegistration, type SimKeys } from "@privface/devstack/gateway-sim";
import { createPartyClient } from "@privface/gateway";
import { readKeyPairFile, readPublicKeyFile } from "@privface/crypto/node";
import { readTlsMaterial } from "@privface/pki";
import { shardOf } from "../../src/gallery.ts";
import { pgDb, type DbSetup } from "../_loopback.ts";

type Party = "P0" | "P1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const natsUp = await new Promise<boolean>((res) => {
  const s = connect(4222, "127.0.0.1");
  s.once("connect", () => (s.destroy(), res(true)));
  s.once("error", () => res(false));
});

describe("gallery shards: workers through NATS JetStream, two shards × two workers per party", { timeout: 600_000, skip: natsUp ? false : "no NATS server at 127.0.0.1:4222" }, () => {
  let home: string;
  let db: DbSetup;
  let opts: SpawnOptions;
  const coord = {} as Record<"helper" | "p0" | "p1", ServerHandle>;
  const workers: Record<string, ServerHandle> = {};
  const client = {} as Record<Party, PartyClient>;
  let keys: SimKeys;
  const logs: Record<string, Record<string, unknown>[]> = {};
  const tag = newId(6).toLowerCase().replace(/[^a-z0-9]/g, "x");
  let wports: number[];
  const faces: { x: Int8Array; shard: number }[] = [];
  /** slots of templates deleted since the workers started (searched, never matching) */
  let retired = 0;

  /** worker `w` (0 or 1) of shard `k` for `party`; P0's dials its paired P1 worker */
  const workerPort = (party: Party, k: number, w: number) => wports[(party === "P0" ? 0 : 4) + 2 * k + w];
  async function startWorker(party: Party, k: number, w: number, extra: Record<string, string> = {}) {
    const P = `PRIVFACE_${party}_`;
    const name = `${party}-${k}-${w}`;
    logs[name] = [];
    workers[name] = await spawnServer(party === "P0" ? "p0" : "p1", {
      ...opts,
      env: { ...opts.env, [`${P}PORT`]: String(workerPort(party, k, w)), [`${P}DEDUP_SHARDS`]: "0", [`${P}DEDUP_SHARD`]: `${k}/2`, ...(party === "P0" ? { [`${P}PEER_URL`]: `https://127.0.0.1:${workerPort("P1", k, w)}` } : {}), ...extra },
      onLog: (_n, line) => {
        try {
          logs[name].push(JSON.parse(line));
        } catch {
          /* not JSON */
        }
      },
    });
  }
  const galleryReady = (name: string) => logs[name]?.some((l) => l.event === "gallery_ready");
  async function waitFor(cond: () => boolean, ms = 60_000): Promise<void> {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) assert.fail("condition not reached in time");
      await sleep(100);
    }
  }
  async function enrol(x: Int8Array, commit: boolean) {
    const templateId = newId(), session = newId();
    const b = await enrolBodies(keys, { session, templateId, modelVersion: MODEL.version, x });
    await Promise.all([client.P0.enrol(b.P0), client.P1.enrol(b.P1)]);
    if (commit) {
      const f = await finishBodies(keys, "commit", { session, templateId, modelVersion: MODEL.version });
      await Promise.all([client.P0.commit(f.P0), client.P1.commit(f.P1)]);
    }
    return { templateId, session };
  }
  /** the duplicate answer of a search, or the two parties' error codes */
  async function search(x: Int8Array): Promise<{ duplicate?: 0 | 1; gallery?: number; codes?: string[] }> {
    const { templateId, session } = await enrol(x, false);
    const d = await dedupBodies(keys, { session, templateId });
    const r = await Promise.allSettled([client.P0.dedup(d.P0), client.P1.dedup(d.P1)]);
    if (r[0].status === "fulfilled" && r[1].status === "fulfilled") {
      assert.equal(r[0].value.gallery, r[1].value.gallery);
      return { duplicate: dedupAnswer(r[0].value.resultShare, r[1].value.resultShare), gallery: r[0].value.gallery };
    }
    return { codes: r.map((s) => (s.status === "rejected" ? ((s.reason as PartyError).code ?? String(s.reason)) : "ok")) };
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "privface-shards-"));
    const L = (await ensureRuntime(home)).layout;
    db = await pgDb();
    const [helper, p0, p1, gateway, ...rest] = await freePorts(12);
    wports = rest;
    const env: Record<string, string> = { ...db.env };
    for (const p of ["P0", "P1"]) {
      Object.assign(env, {
        [`PRIVFACE_${p}_NATS_URL`]: "nats://127.0.0.1:4222",
        [`PRIVFACE_${p}_DEDUP_NATS_PREFIX`]: `privface.test${tag}.${p.toLowerCase()}.dedup`,
        [`PRIVFACE_${p}_DEDUP_SHARDS`]: "2",
        [`PRIVFACE_${p}_DEDUP_SHARD_TIMEOUT_MS`]: "8000",
        [`PRIVFACE_${p}_DEDUP_ACK_WAIT_MS`]: "1500",
        [`PRIVFACE_${p}_MPC_TIMEOUT_MS`]: "3000",
        [`PRIVFACE_${p}_POOL_TARGET`]: "4",
        [`PRIVFACE_${p}_POOL_LOW`]: "2",
        [`PRIVFACE_${p}_POOL_BATCH`]: "4",
      });
    }
    opts = { home, ports: { helper, p0, p1, gateway }, env, readyTimeoutMs: 120_000 };
    coord.helper = await spawnServer("helper", opts);
    coord.p1 = await spawnServer("p1", opts);
    coord.p0 = await spawnServer("p0", opts);
    const tls = readTlsMaterial(join(home, "pki"), "gateway-client");
    client.P0 = createPartyClient({ url: `https://127.0.0.1:${p0}`, tls, party: "P0", resultKey: await gatewayResultKey(L, "P0") });
    client.P1 = createPartyClient({ url: `https://127.0.0.1:${p1}`, tls, party: "P1", resultKey: await gatewayResultKey(L, "P1") });
    keys = { gateway: await readKeyPairFile(L.gatewaySigningKey), P0: readPublicKeyFile(L.sealPub("p0")), P1: readPublicKeyFile(L.sealPub("p1")), device: await newSimDevice(), nonce: batchedNonces(client) };
    await Promise.all([client.P0.registerDevice(simRegistration(keys.device)), client.P1.registerDevice(simRegistration(keys.device))]);
    // the gallery: enrolled faces until both shards hold at least two
    while (![0, 1].every((k) => faces.filter((f) => f.shard === k).length >= 2)) {
      const x = randomFace(MODEL.dim);
      const { templateId } = await enrol(x, true);
      faces.push({ x, shard: shardOf(templateId, 2) });
    }
  });

  after(async () => {
    client.P0?.close();
    client.P1?.close();
    await Promise.all([...Object.values(workers), ...Object.values(coord)].map((s) => s.stop()));
    await db?.cleanup();
    if (home) rmSync(home, { recursive: true, force: true });
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
    const d = await deleteBodies(keys, { templateId });
    await Promise.all([client.P0.delete(d.P0), client.P1.delete(d.P1)]);
    await sleep(1_000);
    const r = await search(sameFace(x));
    assert.equal(r.duplicate, 0, "a deleted template never matches");
    // the slot stays (retired): the count covers it
    assert.equal(r.gallery, faces.length + 1);
    retired++;
  });

  it("a worker killed mid-query is replaced (JetStream redelivers to the other worker of the shard) without a wrong or partial answer", async () => {
    const killed = workers["P0-1-0"];
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
    assert.ok(logs["P0-1-1"].some((l) => l.event === "shard_query_started" && (l.attempt as number) >= 2), "JetStream redelivered the dead worker's query");
    // after: the shard still answers through its other worker, also for a face that is not there
    assert.deepEqual(await search(randomFace(MODEL.dim)), { duplicate: 0, gallery: faces.length + retired });
    assert.ok(logs["P0-1-1"].some((l) => l.event === "shard_query_started"), "the other worker served shard 1");
  });
});
