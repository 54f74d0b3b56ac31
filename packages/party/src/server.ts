/**
 * Binds the party app to its I/O: HTTPS mutual-TLS server (gateway API, peer and helper endpoints;
 * the same gateway API over the `/v1/rpc` WebSocket, which the gateway's client uses; the
 * `/v1/link` WebSocket for MPC frames — P0 dials P1), the store and audit log in the party's
 * database, the pool refill loop (P0 asks the helper for batches when the pool is below the
 * low-water mark; the helper delivers P1's halves first) and the recovery pass (at start-up and
 * every RECOVERY_INTERVAL_S). `startParty(config)` → { port, close }.
 */
import { appendFileSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createAuditLog } from "@privface/audit";
import { readDataKeyFile, readKeyPairFile, readPoolSeedFile, readPublicKeyFile } from "@privface/crypto/node";
import { openDb, closeDb } from "@privface/db";
import { modelParams, peerOf, serverRoleOf, unpackItems } from "@privface/contracts";
import { bundleIdOf } from "@privface/mpc";
import { createMtlsAgent, createMtlsServer, createWsTransport, nodeHandler, requestJson, serveRpc } from "@privface/transport";
import { createPartyApp, type PeerSessionStatus } from "./app.ts";
import type { PartyConfig } from "./config.ts";
import { createPartyMetrics } from "./metrics.ts";
import { createPartyStore } from "./store/index.ts";
import { startCheckpointer } from "@privface/db/checkpointer";

export interface RunningParty {
  port: number;
  /** One recovery pass now (tests). */
  recover(): Promise<{ committed: number; aborted: number; waiting: number } | null>;
  /** Fill the pool to the target now (P0; resolves when done or the helper failed). */
  refill(): Promise<void>;
  close(): Promise<void>;
}

export async function startParty(cfg: PartyConfig, opts: { log?: (e: Record<string, unknown>) => void } = {}): Promise<RunningParty> {
  const log = opts.log ?? (() => {});
  const party = cfg.party;
  const role = serverRoleOf(party);
  const tls = { ca: readFileSync(cfg.ca), cert: readFileSync(cfg.cert), key: readFileSync(cfg.key) };
  const sealKey = await readKeyPairFile(cfg.sealKey);
  const auditKey = await readKeyPairFile(cfg.auditKey);
  const gatewayKey = readPublicKeyFile(cfg.gatewayKey);
  const poolSeed = readPoolSeedFile(cfg.poolSeed, party);
  const keys = new Map<string, Uint8Array>();
  let current = "";
  for (const f of cfg.dataKeys) {
    const dk = readDataKeyFile(f);
    if (dk.key.length !== 32) throw new Error(`data key ${f}: the party store needs a 32-byte (INTL) data key`);
    keys.set(dk.id, dk.key);
    if (!current) current = dk.id;
  }
  const params = modelParams();
  const db = await openDb(cfg.db, { schema: cfg.dbSchema, synchronous: cfg.synchronous });
  const store = await createPartyStore(db, { role: party, dataKeys: { current, keys } });
  const auditLog = await createAuditLog(db, { role, signingKey: auditKey });
  const checkpointer = startCheckpointer(db, { log });
  const agent = createMtlsAgent(tls, 16);

  const server = createMtlsServer(tls);
  const peerWs = cfg.peerUrl.replace(/^https:/, "wss:") + "/v1/link";
  const transport = createWsTransport({
    role,
    tls,
    server,
    accept: party === "P1" ? ["p0"] : [],
    dial: party === "P0" ? { p1: peerWs } : {},
    receiveTimeoutMs: cfg.mpcTimeoutMs,
    connectTimeoutMs: 1_000,
    onEvent: (e) => log({ event: `link_${e.type}`, role: e.role, reason: e.reason }),
    capture: cfg.captureFile ? (dir, peer, frame) => appendFileSync(cfg.captureFile!, `${dir} ${peer} ${Buffer.from(frame).toString("base64")}\n`) : undefined,
  });

  let helperUp = false;
  const metrics = createPartyMetrics(party, { poolLevel: () => store.poolLevel(), peerUp: () => transport.isUp(serverRoleOf(peerOf(party))), helperUp: () => helperUp });

  async function fromHelper(kind: "verify" | "enrol", count: number): Promise<Uint8Array[]> {
    let r;
    for (let attempt = 0; ; attempt++) {
      try {
        r = await requestJson(agent, `${cfg.helperUrl}/v1/pool/refill`, "POST", { kind, count, params }, { timeoutMs: 30_000 });
        break;
      } catch (e) {
        // a kept-alive socket to a restarted helper fails once: retry on a fresh connection
        if (attempt === 0 && /ECONNRESET|socket hang up/.test((e as Error).message)) continue;
        helperUp = false;
        throw e;
      }
    }
    if (r.status !== 200 || !Buffer.isBuffer(r.body)) {
      helperUp = r.status !== 0 && r.status < 500 ? helperUp : false;
      throw new Error(`helper answered HTTP ${r.status}`);
    }
    helperUp = true;
    return unpackItems(r.body, { maxItems: 100_000, copy: true });
  }

  let refilling: Promise<void> | null = null;
  // After a failed refill (helper down, or P1 refusing the delivery) the timer waits 0.5, 1, 2 … 30 s
  // before asking again: each attempt makes the helper deal a whole batch.
  let failures = 0;
  let retryAt = 0;
  function refill(force = false): Promise<void> {
    if (party !== "P0") return Promise.resolve();
    if (!refilling && (force || Date.now() >= retryAt)) {
      refilling = (async () => {
        try {
          let level = await store.poolLevel();
          if (level >= cfg.poolLow && level > 0) return;
          while (level < cfg.poolTarget && !closed) {
            const n = Math.min(cfg.poolBatch, cfg.poolTarget - level);
            const items = await fromHelper("verify", n);
            const { added } = await store.addItems(items.map((bytes) => ({ id: bundleIdOf(bytes), bytes })));
            metrics.refills.inc({ outcome: "ok" });
            level += added;
          }
          failures = 0;
        } catch (e) {
          retryAt = Date.now() + Math.min(30_000, 500 * 2 ** failures++);
          metrics.refills.inc({ outcome: "failed" });
          log({ event: "refill_failed", reason: (e as Error).message });
        } finally {
          refilling = null;
        }
      })();
    }
    return refilling ?? Promise.resolve();
  }
  const app = createPartyApp({
    party,
    params,
    sealKey,
    poolSeed,
    gatewayKey,
    store,
    audit: {
      async append(r) {
        await auditLog.append({
          requester: r.requester,
          op: r.purpose ? `${r.op}:${r.purpose}` : r.op,
          templateId: r.templateId,
          session: r.session,
          outcome: r.outcome,
          code: r.code ?? null,
        });
      },
    },
    transport,
    metrics,
    enrolBundle: party === "P0" ? async () => (await fromHelper("enrol", 1))[0] : undefined,
    helperUp: () => helperUp,
    poolTarget: cfg.poolTarget,
    commitWindowMs: cfg.commitWindowMs,
    mpcTimeoutMs: cfg.mpcTimeoutMs,
    log,
  });
  server.on("request", nodeHandler(app.app, { maxBodyBytes: party === "P1" ? 256 << 20 : 1 << 20 }));
  const rpc = serveRpc(server, app.app); // the gateway API over one WebSocket per client (transport rpc.ts)

  async function peerStatus(sessions: string[]): Promise<PeerSessionStatus[]> {
    const r = await requestJson(agent, `${cfg.peerUrl}/v1/peer/sessions`, "POST", { sessions }, { timeoutMs: 5_000 });
    if (r.status !== 200) throw new Error(`peer answered HTTP ${r.status}`);
    return (r.body as { sessions: PeerSessionStatus[] }).sessions;
  }
  async function recover() {
    try {
      const r = await app.recover(peerStatus);
      if (r.committed || r.aborted) log({ event: "recovery", ...r });
      return r;
    } catch (e) {
      log({ event: "recovery_failed", reason: (e as Error).message });
      return null;
    }
  }
  async function probeHelper() {
    if (party === "P0" && refilling) return;
    try {
      const r = await requestJson(agent, `${cfg.helperUrl}/v1/health`, "GET", undefined, { timeoutMs: 2_000 });
      helperUp = r.status === 200;
    } catch {
      helperUp = false;
    }
  }

  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(cfg.port, cfg.host, () => res());
  });
  let closed = false;
  async function purge() {
    try {
      const r = await store.purge({ sessionsMs: cfg.retentionMs, usedItemsMs: cfg.retentionMs });
      if (r.sessions || r.items) log({ event: "purged", ...r });
    } catch (e) {
      log({ event: "purge_failed", reason: (e as Error).message });
    }
  }
  const timers = [
    setInterval(() => void purge(), 3_600_000),
    setInterval(() => void recover(), cfg.recoveryIntervalMs),
    setInterval(() => void probeHelper(), 5_000),
    ...(party === "P0" ? [setInterval(() => void refill(), 500)] : []),
  ];
  for (const t of timers) t.unref();
  void probeHelper();
  void recover();
  if (party === "P0") void refill();

  return {
    port: (server.address() as AddressInfo).port,
    recover,
    refill: () => refill(true),
    async close() {
      closed = true;
      for (const t of timers) clearInterval(t);
      await transport.close();
      rpc.close();
      agent.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      if (refilling) await refilling.catch(() => {});
      await checkpointer.close();
      await closeDb(db);
    },
  };
}

