/**
 * Both parties in one process: SQLite in memory, the in-memory transport, a local dealer standing in
 * for the helper, an in-memory audit sink. For fast tests of the session logic.
 */
import { randomBytes } from "node:crypto";
import { generateSealKeyPair, generateSigningKeyPair, type KeyPair } from "@privface/crypto";
import { openDb, closeDb, type Db } from "@privface/db";
import { modelParams } from "@privface/contracts";
import { deal, encodeBundle, newItemId, type Params } from "@privface/mpc";
import { createMemoryNetwork, type MemoryNetwork } from "@privface/transport";
import type { App } from "@privface/transport";
import { createPartyApp } from "../src/app.ts";
import { createPartyService, type PartyAuditEntry, type PartyAuditSink, type PartyService } from "../src/service.ts";
import { createPartyMetrics } from "../src/metrics.ts";
import { createPartyStore, type PartyStore } from "../src/store/index.ts";
import type { SimKeys } from "@privface/devstack/gateway-sim";

type Party = "P0" | "P1";

export interface InProc {
  params: Params;
  seeds: { P0: Uint8Array; P1: Uint8Array };
  keys: SimKeys;
  net: MemoryNetwork;
  stores: Record<Party, PartyStore>;
  /** each party's route table (what its server serves) */
  apps: Record<Party, App>;
  /** each party's service (the same party, without HTTP) */
  services: Record<Party, PartyService>;
  audit: Record<Party, PartyAuditEntry[]>;
  failAudit: Record<Party, boolean>;
  /** When true, the stand-in helper deals no enrolment bundles. */
  helperDown: { value: boolean };
  clock: { offset: number };
  fill(n: number): Promise<void>;
  call(party: Party, path: string, body?: unknown, role?: "gateway" | "helper" | "p0" | "p1"): Promise<{ status: number; body: any }>;
  both(path: string, bodies: Record<Party, unknown>): Promise<Record<Party, { status: number; body: any }>>;
  close(): Promise<void>;
}

export async function makeInProc(opts: { commitWindowMs?: number } = {}): Promise<InProc> {
  const params = modelParams();
  const gateway = await generateSigningKeyPair("INTL");
  const seal: Record<Party, KeyPair> = { P0: await generateSealKeyPair("INTL"), P1: await generateSealKeyPair("INTL") };
  const seeds = { P0: new Uint8Array(randomBytes(32)), P1: new Uint8Array(randomBytes(32)) };
  const net = createMemoryNetwork({ receiveTimeoutMs: 2_000 });
  const clock = { offset: 0 };
  const now = () => Date.now() + clock.offset;
  const dbs: Db[] = [];
  const stores = {} as Record<Party, PartyStore>;
  for (const p of ["P0", "P1"] as Party[]) {
    const db = await openDb("sqlite::memory:");
    dbs.push(db);
    stores[p] = await createPartyStore(db, { role: p, dataKeys: { current: "k1", keys: new Map([["k1", new Uint8Array(randomBytes(32))]]) }, now });
  }
  const audit: Record<Party, PartyAuditEntry[]> = { P0: [], P1: [] };
  const failAudit = { P0: false, P1: false };
  const helperDown = { value: false };
  const apps = {} as Record<Party, App>;
  const services = {} as Record<Party, PartyService>;
  for (const p of ["P0", "P1"] as Party[]) {
    const sink: PartyAuditSink = {
      async append(r) {
        if (failAudit[p]) throw new Error("disk full");
        audit[p].push(r);
      },
    };
    const metrics = createPartyMetrics(p, { poolLevel: () => stores[p].poolLevel(), peerUp: () => true, helperUp: () => true });
    services[p] = createPartyService({
      party: p,
      params,
      sealKey: seal[p],
      poolSeed: seeds[p],
      gatewayKey: { suite: gateway.suite, publicKey: gateway.publicKey },
      store: stores[p],
      audit: sink,
      transport: net.endpoint(p === "P0" ? "p0" : "p1"),
      metrics,
      enrolBundle:
        p === "P0"
          ? async () => {
              if (helperDown.value) throw new Error("helper down");
              const d = deal(params, newItemId(), seeds, { kind: "enrol" });
              await stores.P1.addItems([{ id: d.id, bytes: encodeBundle(d.P1) }]);
              return encodeBundle(d.P0);
            }
          : undefined,
      helperUp: () => true,
      poolTarget: 100,
      commitWindowMs: opts.commitWindowMs ?? 60_000,
      mpcTimeoutMs: 2_000,
      now,
    });
    apps[p] = createPartyApp({ service: services[p], metrics, audit: sink });
  }
  const call = async (party: Party, path: string, body?: unknown, role: "gateway" | "helper" | "p0" | "p1" = "gateway") => {
    const r = await apps[party]({ method: body === undefined ? "GET" : "POST", path, role, body, raw: Buffer.alloc(0) });
    return { status: r.status, body: r.body as any };
  };
  return {
    params,
    seeds,
    keys: { gateway, P0: { suite: "INTL", publicKey: seal.P0.publicKey }, P1: { suite: "INTL", publicKey: seal.P1.publicKey } },
    net,
    stores,
    apps,
    services,
    audit,
    failAudit,
    helperDown,
    clock,
    async fill(n: number) {
      const p0 = [], p1 = [];
      for (let i = 0; i < n; i++) {
        const d = deal(params, newItemId(), seeds);
        p0.push({ id: d.id, bytes: encodeBundle(d.P0) });
        p1.push({ id: d.id, bytes: encodeBundle(d.P1) });
      }
      await stores.P1.addItems(p1);
      await stores.P0.addItems(p0);
    },
    call,
    async both(path, bodies) {
      const [a, b] = await Promise.all([call("P0", path, bodies.P0), call("P1", path, bodies.P1)]);
      return { P0: a, P1: b };
    },
    async close() {
      for (const db of dbs) await closeDb(db);
    },
  };
}
