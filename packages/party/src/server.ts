/**
 * Binds the party to its I/O: the HTTPS mutual-TLS server (gateway API, peer and helper endpoints;
 * the same gateway API over the `/v1/rpc` WebSocket, which the gateway's client uses; the `/v1/link`
 * WebSocket for MPC frames — P0 dials P1), the store and audit log in the party's database, the
 * helper link, the service and its route table, and the background jobs (jobs.ts: pool refill,
 * recovery, purge, helper probe). `startParty(config)` → { port, close }.
 */
import { appendFileSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { auditKeyId, createAuditLog, keepAnchor, keyFingerprint, recordKeysInUse, recordsBetween, sendAuditHead } from "@privface/audit";
import { silentLog, type Log } from "@privface/config";
import { AUDIT_SESSION_OPS, MODEL, modelParams, peerOf, resultKey, sealingKeyId, serverRoleOf, type AuditRecordsRequest, type AuditRecordsResponse, type ServerRole } from "@privface/contracts";
import { readDataKeyFile, readKeyPairFile, readPairSeedFile, readPoolSeedFile, readPublicKeyFile, readTlsKey } from "@privface/crypto/node";
import { closeDb, openDb } from "@privface/db";
import { startCheckpointer } from "@privface/db/checkpointer";
import { createMtlsAgent, createMtlsServer, readCrl, createWsTransport, nodeHandler, requestJson, serveRpc, watchCrl } from "@privface/transport";
import { readStoreKeys } from "./admin.ts";
import { createPartyApp } from "./app.ts";
import type { PartyConfig } from "./config.ts";
import { createEnrolStock } from "./enrol-stock.ts";
import { GalleryKeeper, runGalleryKeeper, storeEpochClaim } from "./gallery.ts";
import { DedupStock } from "./session.ts";
import { createShardCoordinator, runShardWorker } from "./shards.ts";
import { createHelperLink } from "./helper-link.ts";
import { createPartyJobs } from "./jobs.ts";
import { createPartyMetrics } from "./metrics.ts";
import { createPartyService, type PartyAuditSink, type PeerSessionStatus, type RecoveryResult } from "./service.ts";
import { createSpotCheckResponder, spotCheckIntake, type SpotCheckDeps } from "./spotcheck.ts";
import { createPartyStore, openTemplateKeys } from "./store/index.ts";
import { checkCurrentRoot, readRootHandovers } from "./root-chain.ts";
import { createPeerLinks, createTemplateLocks, workerLinkOptions } from "./workers.ts";

export interface RunningParty {
  port: number;
  /** One recovery pass now (tests). */
  recover(): Promise<RecoveryResult | null>;
  /** Fill the pool to the target now (P0; resolves when done or the helper failed). */
  refill(): Promise<void>;
  close(): Promise<void>;
}

export async function startParty(cfg: PartyConfig, opts: { log?: Log } = {}): Promise<RunningParty> {
  const log = opts.log ?? silentLog;
  const party = cfg.party;
  const role = serverRoleOf(party);
  const ca = readFileSync(cfg.ca);
  const crl = readCrl(cfg.crl);
  const tls = { ca, crl, cert: readFileSync(cfg.cert), key: readTlsKey(cfg.key) };
  const clientTls = { ca, crl, cert: readFileSync(cfg.clientCert), key: readTlsKey(cfg.clientKey) };
  const sealKey = await readKeyPairFile(cfg.sealKey);
  const auditKey = await readKeyPairFile(cfg.auditKey);
  const gatewayKey = [cfg.gatewayKey, ...cfg.retiredGatewayKeys].map(readPublicKeyFile);
  const rootKey = await readKeyPairFile(cfg.rootKey);
  const rootHandovers = await readRootHandovers(cfg.rootHandovers, party);
  checkCurrentRoot(rootHandovers, rootKey, cfg.rootKey);
  const sealKeyId = await sealingKeyId(sealKey);
  const retiredSealKeys = await Promise.all(cfg.retiredSealKeys.map(async (f) => { const key = await readKeyPairFile(f); return { key, id: await sealingKeyId(key) }; }));
  const nonceKey = readDataKeyFile(cfg.nonceKey); // GM: HMAC-SM3 (contracts nonce.ts)
  const ownResultKey = await readKeyPairFile(cfg.resultKey);
  const gatewayResultKey = readPublicKeyFile(cfg.gatewayResultKey);
  const resultMacKey = await resultKey(ownResultKey, gatewayResultKey, party);
  const poolSeed = readPoolSeedFile(cfg.poolSeed, party);
  const pairSeed = readPairSeedFile(cfg.pairSeed);
  const params = modelParams();
  const db = await openDb(cfg.db, { schema: cfg.dbSchema, synchronous: cfg.synchronous });
  const templateKeys = await openTemplateKeys(cfg.templateKeys);
  const dataKeys = readStoreKeys(cfg);
  const store = await createPartyStore(db, { role: party, dataKeys, templateKeys });
  const auditLog = await createAuditLog(db, { role, signingKey: auditKey });
  // the keys this configuration names, against those of the last start: a rotation done by configuration is in the chain too
  const fp = keyFingerprint;
  await recordKeysInUse(db, auditLog, [
    { slot: "seal", id: sealKeyId },
    ...retiredSealKeys.map((k) => ({ slot: "seal.retired", id: k.id })),
    { slot: "root", id: await fp(rootKey.publicKey) },
    { slot: "audit", id: auditKeyId(auditKey) },
    { slot: "result", id: await fp(ownResultKey.publicKey) },
    { slot: "gateway-result", id: await fp(gatewayResultKey.publicKey) },
    ...(await Promise.all(gatewayKey.map(async (k, i) => ({ slot: i === 0 ? "gateway-sign" : "gateway-sign.retired", id: await fp(k.publicKey) })))),
    ...(await Promise.all([...dataKeys.keys.values()].map(async (k, i) => ({ slot: i === 0 ? "data" : "data.retired", id: await fp(k) })))),
    { slot: "nonce", id: await fp(nonceKey.key) },
    { slot: "pool-seed", id: await fp(poolSeed) },
    { slot: "pair-seed", id: await fp(pairSeed) },
    { slot: "tls", id: await fp(tls.cert) },
    { slot: "tls.client", id: await fp(clientTls.cert) },
  ]);
  // a database copied back by hand (not `privface restore`) may hold templates erased since: drop them
  const dropped = await store.dropDestroyed();
  if (dropped > 0) {
    await auditLog.append({ requester: "recovery", op: "template.drop-erased", templateId: null, session: null, outcome: `t${dropped}`, code: null });
    log.warn({ event: "erased_templates_dropped", count: dropped });
  }
  const checkpointer = startCheckpointer(db, { log: (e) => log.warn(e) });
  // calls out present the client certificate and talk only to the role they meant to call
  const helperAgent = createMtlsAgent(clientTls, 16, { expect: "helper" });
  const peerAgent = createMtlsAgent(clientTls, 4, { expect: serverRoleOf(peerOf(party)) });

  const server = createMtlsServer(tls);
  const peerWs = cfg.peerUrl.replace(/^https:/, "wss:") + "/v1/link";
  // several workers of the other party (workers.ts): P0 holds a link to each P1 worker, P1 keeps every P0 worker's link
  const peerUrls = cfg.peerWorkers ? [...cfg.peerWorkers.values()] : [cfg.peerUrl];
  const linkOptions = {
    role,
    tls,
    clientTls,
    server,
    ...(cfg.workerId ? workerLinkOptions(party) : {}),
    receiveTimeoutMs: cfg.mpcTimeoutMs,
    connectTimeoutMs: 1_000,
    onEvent: (e) => {
      const entry = { event: `link_${e.type}`, peer: e.role, reason: e.reason };
      if (e.type === "up") log.info(entry);
      else log.warn(entry);
      if (e.type === "up") galleryRun?.linkUp();
    },
    capture: cfg.captureFile ? (dir: string, peer: string, frame: Uint8Array) => appendFileSync(cfg.captureFile!, `${dir} ${peer} ${Buffer.from(frame).toString("base64")}\n`) : undefined,
  } satisfies Parameters<typeof createWsTransport>[0];
  const peerLinks = party === "P0" && cfg.peerWorkers ? createPeerLinks({ ...linkOptions, peer: "p1", workers: cfg.peerWorkers }) : undefined;
  const transport = peerLinks ?? createWsTransport({ ...linkOptions, accept: party === "P1" ? ["p0"] : [], dial: party === "P0" ? { p1: peerWs } : {} });
  const templateLocks = cfg.workerId && db.pool ? createTemplateLocks(db.pool, `${cfg.dbSchema ?? "public"}\0${party}`, { waitMs: 2 * cfg.mpcTimeoutMs + 1_000 }) : undefined;
  /** A call to the peer party's HTTP API: its workers in turn, the next one when a worker cannot be reached. */
  const peerRequest = async (path: string, body: unknown, timeoutMs: number) => {
    let last: unknown;
    for (const url of peerUrls) {
      try {
        return await requestJson(peerAgent, `${url}${path}`, "POST", body, { timeoutMs });
      } catch (e) {
        last = e;
      }
    }
    throw last;
  };

  // the in-memory dedup gallery (gallery.ts): δ rows in memory only, rebuilt at a fresh epoch after any restart
  let lastPct = -1;
  // a gallery shard worker (shards.ts, DEDUP_SHARD) keeps the gallery of its shard only
  const keeper = cfg.dedupGallery || cfg.dedupShard
    ? new GalleryKeeper({
        party, params, modelVersion: MODEL.version, seed: poolSeed, pairSeed, store, transport, timeoutMs: cfg.mpcTimeoutMs, log, shard: cfg.dedupShard,
        // epochs claimed in the institution's database: its shard workers never share a mask
        claimEpoch: party === "P0" ? storeEpochClaim(store) : undefined,
        onProgress: (done, total) => {
          const pct = Math.floor((100 * done) / Math.max(1, total) / 10) * 10;
          if (pct !== lastPct) log.info({ event: "gallery_progress", done, total });
          lastPct = pct;
        },
      })
    : undefined;
  let galleryRun: ReturnType<typeof runGalleryKeeper> | undefined;
  const helper = createHelperLink(helperAgent, cfg.helperUrl, params);
  const metrics = createPartyMetrics(party, { poolLevel: () => store.poolLevel(), poolTarget: cfg.poolTarget, peerUp: () => transport.isUp(serverRoleOf(peerOf(party))), helperUp: helper.up, peerRttMs: () => transport.rttMs(serverRoleOf(peerOf(party))), auditCheck: () => auditLog.check() });
  const audit: PartyAuditSink = {
    async append(e) {
      await auditLog.append({ requester: e.requester, op: e.purpose ? `${e.op}:${e.purpose}` : e.op, templateId: e.templateId, session: e.session, outcome: e.outcome, code: e.code ?? null });
    },
  };
  // the spot-check of every dealt batch, over the parties' own link (spotcheck.ts)
  const spotDeps: SpotCheckDeps = { party, poolSeed, store, audit, count: (outcome) => metrics.spotChecks.inc({ outcome }), log };
  const responder = party === "P1" ? createSpotCheckResponder(spotDeps) : undefined;
  const askPeer = async (body: unknown): Promise<unknown> => {
    const post = () => peerRequest("/v1/peer/spotcheck", body, 30_000);
    // a kept-alive socket to a restarted peer fails once: retry on a fresh connection (an enrolment waits on this)
    const r = await post().catch((e: Error) => (/ECONNRESET|socket hang up/.test(e.message) ? post() : Promise.reject(e)));
    if (r.status !== 200) throw new Error(`peer answered the spot-check with HTTP ${r.status}`);
    return r.body;
  };
  const intake = (items: Uint8Array[]) => spotCheckIntake(spotDeps, items, askPeer);
  // enrolment bundles are spot-checked too, a batch at a time (enrol-stock.ts)
  const dedupStock = party === "P1" && keeper ? new DedupStock() : undefined;
  // a coordinator of gallery shards (DEDUP_SHARDS): the search runs on the workers, through NATS JetStream
  const coordinator = cfg.dedupShards > 0 ? await createShardCoordinator({ url: cfg.natsUrl!, prefix: cfg.dedupNatsPrefix, party, shards: cfg.dedupShards, transport, timeoutMs: cfg.dedupShardTimeoutMs, log }) : undefined;
  const enrolStock = party === "P0" ? createEnrolStock({ fetch: (n) => helper.fetch("enrol", n), intake }) : undefined;
  const service = createPartyService({
    party,
    params,
    sealKey,
    sealKeyId,
    retiredSealKeys,
    rootKey,
    rootHandovers,
    devicePolicy: cfg.devicePolicy,
    volume: cfg.volume,
    nonceKey,
    poolSeed,
    pairSeed,
    gatewayKey,
    store,
    audit,
    transport,
    metrics,
    enrolBundle: enrolStock?.take,
    helperUp: helper.up,
    poolTarget: cfg.poolTarget,
    commitWindowMs: cfg.commitWindowMs,
    mpcTimeoutMs: cfg.mpcTimeoutMs,
    failureBudget: cfg.failureBudget,
    log,
    // a coordinator tells its shard workers (through NATS); otherwise the gallery in this process
    gallery: coordinator?.hooks ?? keeper,
    // the 1:N duplicate search over the gallery (Party API dedup): P0 asks the helper per search, P1 keeps its deliveries
    templateLock: templateLocks?.lock,
    // a worker of several learns the P0 worker of a session from its first frame (decision 012)
    startOnNamedItem: !cfg.workerId,
    dedup: coordinator
      ? { gallery: () => null, shards: coordinator.search }
      : keeper ? { gallery: () => keeper.current, ...(party === "P0" ? { bundles: helper.dedup } : { stock: dedupStock }) } : undefined,
  });
  // audit anchors (@privface/audit anchors.ts): the peer's and the gateway's heads kept here; one that goes back is an alert
  const keep = async (from: ServerRole, body: { record?: unknown; at?: unknown }) => {
    const receipt = await keepAnchor(db, from, body.record, { at: body.at });
    if (receipt.outcome === "regressed") {
      metrics.anchorRegressions.inc({ from });
      log.error({ event: "audit_anchor_regressed", from });
      await audit.append({ op: "audit.anchor", session: null, templateId: null, requester: from, purpose: null, outcome: "regressed" });
    }
    return receipt;
  };
  const sendAnchor = async () => void (await sendAuditHead(auditLog, (body) => peerRequest("/v1/audit/anchor", body, 5_000)));
  const auditRecords = async (q: AuditRecordsRequest): Promise<AuditRecordsResponse> => {
    const r = await recordsBetween(db, q, (x) => x.session !== null && (AUDIT_SESSION_OPS as readonly string[]).includes(x.op.split(":")[0]));
    return { records: r.records.map((x) => ({ seq: x.seq, time: x.time, op: x.op, session: x.session!, outcome: x.outcome, code: x.code })), truncated: r.truncated };
  };
  const app = createPartyApp({ service, metrics, audit, log, resultKey: resultMacKey, spotCheck: responder, keepAnchor: keep, dedupStock, bindPeer: peerLinks?.bind, auditRecords });
  // the route and the caller's role are checked before a body is read; each route has its own body cap
  server.on("request", nodeHandler(app, { admit: app.admit }));
  const rpc = serveRpc(server, app, { roles: ["gateway"] }); // the gateway API over one WebSocket (transport rpc.ts)
  // a CRL the CA rewrites is applied while the party runs (transport crl.ts): connections, agents and the peer link
  const crlWatch = watchCrl(cfg.crl, {
    materials: [tls, clientTls],
    servers: [{ server, tls }],
    agents: [helperAgent, peerAgent],
    links: [transport],
    onEvent: (e) => log.warn({ event: `crl_${e.type}` }),
  });

  async function peerStatus(sessions: string[]): Promise<PeerSessionStatus[]> {
    const r = await peerRequest("/v1/peer/sessions", { sessions }, 5_000);
    if (r.status !== 200) throw new Error(`peer answered HTTP ${r.status}`);
    return (r.body as { sessions: PeerSessionStatus[] }).sessions;
  }
  const jobs = createPartyJobs({
    party,
    intake: party === "P0" ? intake : undefined,
    store,
    helper,
    recover: () => service.recover(peerStatus),
    rerandomise: (o) => service.rerandomise(o),
    // DATA_KEYS names older keys too: move what is still under them under the current one, audited
    rewrap:
      dataKeys.keys.size > 1
        ? async () => {
            const r = await store.rotateDataKey(dataKeys.current);
            if (r.templates + r.items > 0) await auditLog.append({ requester: "config", op: "key.rotate", templateId: null, session: `data:${await keyFingerprint(dataKeys.keys.get(dataKeys.current)!)}`, outcome: `t${r.templates}-i${r.items}`, code: null });
            return r;
          }
        : undefined,
    metrics,
    log,
    poolLow: cfg.poolLow,
    poolTarget: cfg.poolTarget,
    poolBatch: cfg.poolBatch,
    recoveryIntervalMs: cfg.recoveryIntervalMs,
    retentionMs: cfg.retentionMs,
    anchor: sendAnchor,
    checkpoint: { pending: () => store.pendingCheckpoint(), retry: () => store.retryCheckpoint() },
    anchorEveryMs: cfg.anchorEveryMs,
  });

  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(cfg.port, cfg.host, () => res());
  });
  // a shard worker serves searches only: the pool, recovery and purge jobs are the coordinator's
  if (!cfg.dedupShard) jobs.start();
  if (keeper) galleryRun = runGalleryKeeper(keeper, { party, log, retryMs: 2_000 });
  const worker = cfg.dedupShard
    ? await runShardWorker({ url: cfg.natsUrl!, prefix: cfg.dedupNatsPrefix, party, shard: cfg.dedupShard, transport, search: service.searchGallery, gallery: keeper!, ready: () => keeper?.current?.ready ?? false, peerUrl: cfg.peerUrl, ackWaitMs: cfg.dedupAckWaitMs, log })
    : undefined;

  return {
    port: (server.address() as AddressInfo).port,
    recover: jobs.recover,
    refill: () => jobs.refill(true),
    async close() {
      crlWatch.stop();
      await worker?.stop();
      await coordinator?.close();
      const jobsEnded = jobs.stop();
      await transport.close();
      await galleryRun?.stop();
      rpc.close();
      helperAgent.destroy();
      peerAgent.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await jobsEnded;
      await checkpointer.close();
      templateLocks?.close();
      await closeDb(db);
      await templateKeys.close();
    },
  };
}
