/**
 * Binds the party to its I/O: the HTTPS mutual-TLS server (gateway API, peer and helper endpoints;
 * the same gateway API over the `/v1/rpc` WebSocket, which the gateway's client uses; the `/v1/link`
 * WebSocket for MPC frames — P0 dials P1), the store and audit log in the party's database, the
 * helper link, the service and its route table, and the background jobs (jobs.ts: pool refill,
 * recovery, purge, helper probe). `startParty(config)` → { port, close }.
 */
import { appendFileSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createAuditLog, keepAnchor, sendAuditHead } from "@privface/audit";
import { silentLog, type Log } from "@privface/config";
import { MODEL, modelParams, peerOf, resultKey, sealingKeyId, serverRoleOf, type ServerRole } from "@privface/contracts";
import { readDataKeyFile, readKeyPairFile, readPairSeedFile, readPoolSeedFile, readPublicKeyFile, readTlsKey } from "@privface/crypto/node";
import { closeDb, openDb } from "@privface/db";
import { startCheckpointer } from "@privface/db/checkpointer";
import { createMtlsAgent, createMtlsServer, readCrl, createWsTransport, nodeHandler, requestJson, serveRpc, watchCrl } from "@privface/transport";
import { readStoreKeys } from "./admin.ts";
import { createPartyApp } from "./app.ts";
import type { PartyConfig } from "./config.ts";
import { createEnrolStock } from "./enrol-stock.ts";
import { GalleryKeeper, runGalleryKeeper } from "./gallery.ts";
import { DedupStock } from "./session.ts";
import { createHelperLink } from "./helper-link.ts";
import { createPartyJobs } from "./jobs.ts";
import { createPartyMetrics } from "./metrics.ts";
import { createPartyService, type PartyAuditSink, type PeerSessionStatus, type RecoveryResult } from "./service.ts";
import { createSpotCheckResponder, spotCheckIntake, type SpotCheckDeps } from "./spotcheck.ts";
import { createPartyStore, openTemplateKeys } from "./store/index.ts";

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
  const sealKeyId = await sealingKeyId(sealKey);
  const retiredSealKeys = await Promise.all(cfg.retiredSealKeys.map(async (f) => { const key = await readKeyPairFile(f); return { key, id: await sealingKeyId(key) }; }));
  const nonceKey = readDataKeyFile(cfg.nonceKey).key;
  const resultMacKey = await resultKey(await readKeyPairFile(cfg.resultKey), readPublicKeyFile(cfg.gatewayResultKey), party);
  const poolSeed = readPoolSeedFile(cfg.poolSeed, party);
  const pairSeed = readPairSeedFile(cfg.pairSeed);
  const params = modelParams();
  const db = await openDb(cfg.db, { schema: cfg.dbSchema, synchronous: cfg.synchronous });
  const templateKeys = await openTemplateKeys(cfg.templateKeys);
  const store = await createPartyStore(db, { role: party, dataKeys: readStoreKeys(cfg), templateKeys });
  const auditLog = await createAuditLog(db, { role, signingKey: auditKey });
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
  const transport = createWsTransport({
    role,
    tls,
    clientTls,
    server,
    accept: party === "P1" ? ["p0"] : [],
    dial: party === "P0" ? { p1: peerWs } : {},
    receiveTimeoutMs: cfg.mpcTimeoutMs,
    connectTimeoutMs: 1_000,
    onEvent: (e) => {
      const entry = { event: `link_${e.type}`, peer: e.role, reason: e.reason };
      if (e.type === "up") log.info(entry);
      else log.warn(entry);
      if (e.type === "up") galleryRun?.linkUp();
    },
    capture: cfg.captureFile ? (dir, peer, frame) => appendFileSync(cfg.captureFile!, `${dir} ${peer} ${Buffer.from(frame).toString("base64")}\n`) : undefined,
  });

  // the in-memory dedup gallery (gallery.ts): δ rows in memory only, rebuilt at a fresh epoch after any restart
  let lastPct = -1;
  const keeper = cfg.dedupGallery
    ? new GalleryKeeper({
        party, params, modelVersion: MODEL.version, seed: poolSeed, pairSeed, store, transport, timeoutMs: cfg.mpcTimeoutMs, log,
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
    const post = () => requestJson(peerAgent, `${cfg.peerUrl}/v1/peer/spotcheck`, "POST", body, { timeoutMs: 30_000 });
    // a kept-alive socket to a restarted peer fails once: retry on a fresh connection (an enrolment waits on this)
    const r = await post().catch((e: Error) => (/ECONNRESET|socket hang up/.test(e.message) ? post() : Promise.reject(e)));
    if (r.status !== 200) throw new Error(`peer answered the spot-check with HTTP ${r.status}`);
    return r.body;
  };
  const intake = (items: Uint8Array[]) => spotCheckIntake(spotDeps, items, askPeer);
  // enrolment bundles are spot-checked too, a batch at a time (enrol-stock.ts)
  const dedupStock = party === "P1" && keeper ? new DedupStock() : undefined;
  const enrolStock = party === "P0" ? createEnrolStock({ fetch: (n) => helper.fetch("enrol", n), intake }) : undefined;
  const service = createPartyService({
    party,
    params,
    sealKey,
    sealKeyId,
    retiredSealKeys,
    rootKey,
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
    gallery: keeper,
    // the 1:N duplicate search over the gallery (Party API dedup): P0 asks the helper per search, P1 keeps its deliveries
    dedup: keeper ? { gallery: () => keeper.current, ...(party === "P0" ? { bundles: helper.dedup } : { stock: dedupStock }) } : undefined,
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
  const sendAnchor = async () => void (await sendAuditHead(auditLog, (body) => requestJson(peerAgent, `${cfg.peerUrl}/v1/audit/anchor`, "POST", body, { timeoutMs: 5_000 })));
  const app = createPartyApp({ service, metrics, audit, log, resultKey: resultMacKey, spotCheck: responder, keepAnchor: keep, dedupStock });
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
    const r = await requestJson(peerAgent, `${cfg.peerUrl}/v1/peer/sessions`, "POST", { sessions }, { timeoutMs: 5_000 });
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
  jobs.start();
  if (keeper) galleryRun = runGalleryKeeper(keeper, { party, log, retryMs: 2_000 });

  return {
    port: (server.address() as AddressInfo).port,
    recover: jobs.recover,
    refill: () => jobs.refill(true),
    async close() {
      crlWatch.stop();
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
      await closeDb(db);
      await templateKeys.close();
    },
  };
}
