/**
 * Binds the helper app to an HTTPS mutual-TLS server. `startHelper(config)` → { port, close }.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { auditKeyId, createAuditLog, keyFingerprint, recordKeysInUse, sendAuditHead } from "@privface/audit";
import type { Log } from "@privface/config";
import { readKeyPairFile, readPoolSeedFile, readTlsKey } from "@privface/crypto/node";
import { closeDb, openDb } from "@privface/db";
import { createMtlsAgent, createMtlsServer, nodeHandler, readCrl, requestJson, watchCrl } from "@privface/transport";
import { createHelperApp } from "./app.ts";
import type { HelperConfig } from "./config.ts";

export interface RunningHelper {
  port: number;
  close(): Promise<void>;
}

export async function startHelper(cfg: HelperConfig, opts: { log?: Log } = {}): Promise<RunningHelper> {
  const ca = readFileSync(cfg.ca);
  const crl = readCrl(cfg.crl);
  const tls = { ca, crl, cert: readFileSync(cfg.cert), key: readTlsKey(cfg.key) };
  // towards P1: the helper's client certificate, and only a server whose certificate says p1
  const clientTls = { ca, crl, cert: readFileSync(cfg.clientCert), key: readTlsKey(cfg.clientKey) };
  const agent = createMtlsAgent(clientTls, 8, { expect: "p1" });
  const db = await openDb(cfg.db, { schema: cfg.dbSchema });
  const auditKey = await readKeyPairFile(cfg.auditKey);
  const auditLog = await createAuditLog(db, { role: "helper", signingKey: auditKey });
  const seeds = { P0: readPoolSeedFile(cfg.seedP0, "P0"), P1: readPoolSeedFile(cfg.seedP1, "P1") };
  // the keys this configuration names, against those of the last start (a rotation by configuration is in the chain too)
  await recordKeysInUse(db, auditLog, [
    { slot: "audit", id: auditKeyId(auditKey) },
    { slot: "p0-pool-seed", id: await keyFingerprint(seeds.P0) },
    { slot: "p1-pool-seed", id: await keyFingerprint(seeds.P1) },
    { slot: "tls", id: await keyFingerprint(tls.cert) },
    { slot: "tls.client", id: await keyFingerprint(clientTls.cert) },
  ]);
  const h = createHelperApp({
    seeds,
    p1Url: cfg.p1Url,
    p1Urls: cfg.p1Workers ? [...cfg.p1Workers.values()] : undefined,
    agent,
    maxBatch: cfg.maxBatch,
    enrolPool: cfg.enrolPool,
    audit: async (e) => {
      await auditLog.append({ requester: "p0", op: e.op, outcome: e.outcome, code: e.code ?? null, templateId: null, session: null });
    },
    auditCheck: () => auditLog.check(),
    log: opts.log,
  });
  const server = createMtlsServer(tls, nodeHandler(h.app, { admit: h.admit }));
  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(cfg.port, cfg.host, () => res());
  });
  // a CRL the CA rewrites is applied while the helper runs (transport crl.ts)
  const crlWatch = watchCrl(cfg.crl, { materials: [tls, clientTls], servers: [{ server, tls }], agents: [agent], onEvent: (e) => opts.log?.warn({ event: `crl_${e.type}` }) });
  const probe = setInterval(() => void h.probeP1(), 5_000);
  probe.unref();
  void h.probeP1();
  // the helper's audit log anchored at P1 (@privface/audit anchors.ts): a cut or rewritten log is seen there
  const anchor = () =>
    void sendAuditHead(auditLog, (body) => requestJson(agent, `${cfg.p1Url}/v1/audit/anchor`, "POST", body, { timeoutMs: 5_000 })).catch((e: Error) =>
      opts.log?.warn({ event: "audit_anchor_failed", reason: e.message }),
    );
  const anchorTimer = cfg.anchorEveryMs > 0 ? setInterval(anchor, cfg.anchorEveryMs) : undefined;
  anchorTimer?.unref();
  if (anchorTimer) anchor();
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      clearInterval(probe);
      crlWatch.stop();
      if (anchorTimer) clearInterval(anchorTimer);
      agent.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await closeDb(db);
    },
  };
}
