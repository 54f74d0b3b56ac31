/**
 * The parties' 1:N duplicate search over gallery shards as separate processes on this machine (issue 15;
 * docs/protocol.md §14 "Gallery shards"), shared by the suite packages/party/test/pg/shards.test.ts and
 * `privface bench dedup --shards`: a runtime home, the helper, the two party servers the gateway calls
 * (coordinators with `DEDUP_SHARDS=S`, over NATS JetStream; or, with `shards: 0`, single-process
 * parties that hold the whole gallery, `DEDUP_GALLERY=on`), shard workers started on demand (each a party
 * process with `DEDUP_SHARD=k/S`, P0's paired with the P1 worker of the same shard and index), gateway
 * clients of both parties, a registered simulated device, and the enrolment and search calls. Each party
 * on its own PostgreSQL schema (`db`); subjects and streams unique per cluster.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dedupAnswer, MODEL, type PartyClient, type PartyError, type PartyName } from "@privface/contracts";
import { readKeyPairFile, readPublicKeyFile } from "@privface/crypto/node";
import { openDb, closeDb } from "@privface/db";
import { createPartyClient } from "@privface/gateway";
import { createPartyStore, loadPartyConfig, openTemplateKeys, readStoreKeys } from "@privface/party";
import { readTlsMaterial } from "@privface/pki";
import { batchedNonces, dedupBodies, enrolBodies, finishBodies, newId, newSimDevice, simRegistration, type SimKeys } from "./gateway-sim.ts";
import { ensureRuntime, gatewayResultKey } from "./runtime.ts";
import { freePorts, spawnServer, stackEnv, type ServerHandle, type SpawnOptions } from "./stack.ts";

export interface ShardClusterOptions {
  /** gallery shards S (0: no shards — each party one process holding the whole gallery) */
  shards: number;
  /** worker processes per shard and party (ports are reserved for them; they start with `startWorker`) */
  workersPerShard: number;
  /** PRIVFACE_P0_DB, _DB_SCHEMA, PRIVFACE_P1_… (PostgreSQL) */
  dbEnv: Record<string, string>;
  /** more environment for both parties' servers (PRIVFACE_P0_…/P1_… names) */
  env?: Record<string, string>;
  natsUrl?: string;
  readyTimeoutMs?: number;
  /** the gateway clients' call timeout (default theirs: 10 s) */
  clientTimeoutMs?: number;
}

export interface SearchAnswer {
  duplicate?: 0 | 1;
  gallery?: number;
  /** the two parties' error codes when a party refused */
  codes?: string[];
}

export interface ShardCluster {
  home: string;
  keys: SimKeys;
  client: Record<PartyName, PartyClient>;
  /** worker processes by name `<party>-<shard>-<index>` */
  workers: Record<string, ServerHandle>;
  /** JSON log lines by server name (workers; `P0`, `P1` for the parties the gateway calls) */
  logs: Record<string, Record<string, unknown>[]>;
  startWorker(party: PartyName, k: number, w: number, extra?: Record<string, string>): Promise<ServerHandle>;
  /** the worker (or party) logged `gallery_ready` */
  galleryReady(name: string): boolean;
  waitFor(cond: () => boolean, ms?: number): Promise<void>;
  /** enrols `x` at both parties (a prepared enrolment; committed when `commit`) */
  enrol(x: Int8Array, commit: boolean): Promise<{ templateId: string; session: string }>;
  /** the duplicate answer of a search of `x` (enrolled, not committed, then searched) */
  search(x: Int8Array): Promise<SearchAnswer>;
  /** the search of a prepared enrolment alone (what a bench times) */
  searchPrepared(e: { templateId: string; session: string }): Promise<SearchAnswer>;
  /**
   * Writes templates straight into both parties' stores (as enrolment commits them, without the MPC
   * run: for a large gallery before its processes start). `shares(j)` gives template j's two Z_2^32
   * shares. Call before the processes that build galleries (workers; or `start` when `shards: 0`).
   */
  fill(n: number, shares: (j: number) => { templateId: string; P0: Uint32Array; P1: Uint32Array }, concurrency?: number): Promise<void>;
  /** starts the helper and both parties (the coordinators); called by `startShardCluster` unless `deferStart` */
  start(): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Makes the home and reserves the ports; `start()` (or `deferStart: false`, the default) starts the processes. */
export async function startShardCluster(o: ShardClusterOptions & { deferStart?: boolean }): Promise<ShardCluster> {
  const home = mkdtempSync(join(tmpdir(), "privface-shards-"));
  const L = (await ensureRuntime(home)).layout;
  const tag = newId(6).toLowerCase().replace(/[^a-z0-9]/g, "x");
  const S = o.shards, R = o.workersPerShard;
  const [helper, p0, p1, gateway, ...wports] = await freePorts(4 + 2 * S * R);
  const env: Record<string, string> = { ...o.dbEnv };
  for (const p of ["P0", "P1"]) {
    Object.assign(
      env,
      S > 0
        ? {
            [`PRIVFACE_${p}_NATS_URL`]: o.natsUrl ?? "nats://127.0.0.1:4222",
            [`PRIVFACE_${p}_DEDUP_NATS_PREFIX`]: `privface.test${tag}.${p.toLowerCase()}.dedup`,
            [`PRIVFACE_${p}_DEDUP_SHARDS`]: String(S),
          }
        : { [`PRIVFACE_${p}_DEDUP_GALLERY`]: "on" },
    );
  }
  Object.assign(env, o.env ?? {});
  const opts: SpawnOptions = { home, ports: { helper, p0, p1, gateway }, env, readyTimeoutMs: o.readyTimeoutMs ?? 120_000 };
  const coord: Partial<Record<"helper" | "p0" | "p1", ServerHandle>> = {};
  const workers: Record<string, ServerHandle> = {};
  const logs: Record<string, Record<string, unknown>[]> = {};
  const client = {} as Record<PartyName, PartyClient>;
  let keys!: SimKeys;
  const onLog = (name: string) => (_n: string, line: string) => {
    try {
      (logs[name] ??= []).push(JSON.parse(line));
    } catch {
      /* not JSON */
    }
  };
  const workerPort = (party: PartyName, k: number, w: number) => wports[(party === "P0" ? 0 : S * R) + R * k + w];

  const c: ShardCluster = {
    home,
    get keys() {
      return keys;
    },
    client,
    workers,
    logs,
    async startWorker(party, k, w, extra = {}) {
      if (!(k >= 0 && k < S && w >= 0 && w < R)) throw new RangeError(`worker ${k}/${w}: out of ${S} shards × ${R}`);
      const P = `PRIVFACE_${party}_`;
      const name = `${party}-${k}-${w}`;
      logs[name] = [];
      workers[name] = await spawnServer(party === "P0" ? "p0" : "p1", {
        ...opts,
        env: { ...opts.env, [`${P}PORT`]: String(workerPort(party, k, w)), [`${P}DEDUP_SHARDS`]: "0", [`${P}DEDUP_SHARD`]: `${k}/${S}`, ...(party === "P0" ? { [`${P}PEER_URL`]: `https://127.0.0.1:${workerPort("P1", k, w)}` } : {}), ...extra },
        onLog: onLog(name),
      });
      return workers[name];
    },
    galleryReady: (name) => logs[name]?.some((l) => l.event === "gallery_ready") ?? false,
    async waitFor(cond, ms = 60_000) {
      const t0 = Date.now();
      while (!cond()) {
        if (Date.now() - t0 > ms) throw new Error("condition not reached in time");
        await sleep(100);
      }
    },
    async enrol(x, commit) {
      const templateId = newId(), session = newId();
      const b = await enrolBodies(keys, { session, templateId, modelVersion: MODEL.version, x });
      await Promise.all([client.P0.enrol(b.P0), client.P1.enrol(b.P1)]);
      if (commit) {
        const f = await finishBodies(keys, "commit", { session, templateId, modelVersion: MODEL.version });
        await Promise.all([client.P0.commit(f.P0), client.P1.commit(f.P1)]);
      }
      return { templateId, session };
    },
    async searchPrepared({ templateId, session }) {
      const d = await dedupBodies(keys, { session, templateId });
      const r = await Promise.allSettled([client.P0.dedup(d.P0), client.P1.dedup(d.P1)]);
      if (r[0].status === "fulfilled" && r[1].status === "fulfilled") {
        if (r[0].value.gallery !== r[1].value.gallery) throw new Error(`the parties searched different galleries (${r[0].value.gallery}, ${r[1].value.gallery})`);
        return { duplicate: dedupAnswer(r[0].value.resultShare, r[1].value.resultShare), gallery: r[0].value.gallery };
      }
      return { codes: r.map((s) => (s.status === "rejected" ? ((s.reason as PartyError).code ?? String(s.reason)) : "ok")) };
    },
    async search(x) {
      return c.searchPrepared(await c.enrol(x, false));
    },
    async fill(n, shares, concurrency = 8) {
      const penv = { ...process.env, ...stackEnv(home, opts.ports), ...opts.env } as NodeJS.ProcessEnv;
      const stores = await Promise.all((["P0", "P1"] as const).map(async (p) => {
        const cfg = loadPartyConfig(p, penv);
        const db = await openDb(cfg.db, { schema: cfg.dbSchema, synchronous: cfg.synchronous });
        const templateKeys = await openTemplateKeys(cfg.templateKeys);
        return { db, templateKeys, store: await createPartyStore(db, { role: p, dataKeys: readStoreKeys(cfg), templateKeys }) };
      }));
      try {
        let next = 0;
        const one = async () => {
          for (let j = next++; j < n; j = next++) {
            const t = shares(j);
            const session = `fill-${tag}-${j}`;
            await Promise.all((["P0", "P1"] as const).map(async (p, i) => {
              const s = t[p];
              await stores[i].store.prepare(session, t.templateId, MODEL.version, new Uint8Array(s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength)));
              await stores[i].store.commit(session, { templateId: t.templateId });
            }));
          }
        };
        await Promise.all(Array.from({ length: concurrency }, one));
      } finally {
        for (const s of stores) {
          await s.templateKeys.close();
          await closeDb(s.db);
        }
      }
    },
    async start() {
      coord.helper = await spawnServer("helper", opts);
      coord.p1 = await spawnServer("p1", { ...opts, onLog: onLog("P1") });
      coord.p0 = await spawnServer("p0", { ...opts, onLog: onLog("P0") });
      const tls = readTlsMaterial(join(home, "pki"), "gateway-client");
      client.P0 = createPartyClient({ url: `https://127.0.0.1:${p0}`, tls, party: "P0", resultKey: await gatewayResultKey(L, "P0"), ...(o.clientTimeoutMs ? { timeoutMs: o.clientTimeoutMs } : {}) });
      client.P1 = createPartyClient({ url: `https://127.0.0.1:${p1}`, tls, party: "P1", resultKey: await gatewayResultKey(L, "P1"), ...(o.clientTimeoutMs ? { timeoutMs: o.clientTimeoutMs } : {}) });
      keys = { gateway: await readKeyPairFile(L.gatewaySigningKey), P0: readPublicKeyFile(L.sealPub("p0")), P1: readPublicKeyFile(L.sealPub("p1")), device: await newSimDevice(), nonce: batchedNonces(client) };
      await Promise.all([client.P0.registerDevice(simRegistration(keys.device)), client.P1.registerDevice(simRegistration(keys.device))]);
    },
    async close() {
      client.P0?.close();
      client.P1?.close();
      await Promise.all([...Object.values(workers), ...Object.values(coord)].map((s) => s!.stop()));
      rmSync(home, { recursive: true, force: true });
    },
  };
  if (!o.deferStart) await c.start();
  return c;
}
