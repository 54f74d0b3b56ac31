/**
 * The real compute parties in one process: both @privface/party apps over SQLite in memory, the
 * in-memory transport between them, a local dealer standing in for the helper (it deals enrolment
 * bundles on demand, fills the verification pool with `fill`, and with `gallery` deals dedup queries
 * through P1's `/v1/dedup/items`), an in-memory audit sink. The
 * parties' own tests call the apps directly (`call`, `both`); `clients` reach them as the gateway
 * does (`PartyClient`, role "gateway", bodies through JSON as on the wire, errors as `PartyError`),
 * which is how the Party-API contract suite holds them and the fake parties to one behaviour.
 *
 * `setDown(party, true)` takes a party off the network: its client answers UNREACHABLE (no answer
 * came) and its peer loses the MPC link, as when the process is gone.
 */
import { deploymentSuite } from "@privface/config";
import { randomBytes } from "node:crypto";
import { AUDIT_SESSION_OPS, isPartyErrorCode, MODEL, modelParams, packItems, PARTIES, sealingKeyId, PARTY_ROUTES, PartyError, serverRoleOf, type AuditRecordsResponse, type PartyClient, type PartyName } from "@privface/contracts";
import { generateSealKeyPair, generateSigningKeyPair, type KeyPair, type PublicKey } from "@privface/crypto";
import { keepAnchor } from "@privface/audit";
import { closeDb, openDb, type Db } from "@privface/db";
import { deal, dealDedupBatch, encodeBundle, jsRowStore, newItemId, type HelperGallery, type Params } from "@privface/mpc";
import {
  createPartyApp, DedupStock, type DedupDeps, type PartyApp, createPartyMetrics, createPartyService, createPartyStore, openTemplateKeys, PartyGallery, type PartyGalleryOptions, type PartyAuditEntry, type PartyAuditSink, type PartyService, type PartyStore,
} from "@privface/party";
import { createMemoryNetwork, type MemoryNetwork } from "@privface/transport";
import { newSimDevice, simRegistration, type SimKeys } from "./gateway-sim.ts";

type CallerRole = "gateway" | "helper" | "p0" | "p1";

export interface InProcParties {
  params: Params;
  seeds: Record<PartyName, Uint8Array>;
  /** the gateway's signing key and both parties' sealing public keys */
  keys: SimKeys;
  /** both parties' sealing key pairs */
  sealKeys: Record<PartyName, KeyPair>;
  /** both parties' institution roots (public): what devices are provisioned with */
  roots: Record<PartyName, PublicKey>;
  net: MemoryNetwork;
  stores: Record<PartyName, PartyStore>;
  /** each party's database (SQLite in memory) */
  dbs: Record<PartyName, Db>;
  /** each party's route table (what its server serves) */
  apps: Record<PartyName, PartyApp>;
  /** each party's service (the same party, without HTTP) */
  services: Record<PartyName, PartyService>;
  audit: Record<PartyName, PartyAuditEntry[]>;
  /** When true for a party, its audit appends fail (disk full). */
  failAudit: Record<PartyName, boolean>;
  /** When true, the stand-in helper deals no enrolment bundles. */
  helperDown: { value: boolean };
  /** The seed both parties hold for re-randomisation (undefined when started with `pairSeed: null`). */
  pairSeed: Uint8Array | undefined;
  /** The ids of the enrolment bundles the stand-in helper dealt (what a helper knows). */
  dealtEnrol: string[];
  /** Added to both parties' clock (ms). */
  clock: { offset: number };
  /** The parties as the gateway reaches them. */
  clients: Record<PartyName, PartyClient>;
  /** With the `gallery` option: each party's dedup gallery (kept in step by its service; call `build` first). */
  galleries?: Record<PartyName, PartyGallery>;
  /**
   * With the `gallery` option, the stand-in helper's dedup dealing: `tamper` (when set) changes P1's
   * corrections of the i-th query of each batch (a cheating helper); `dealt` counts the queries dealt.
   */
  dedupHelper: { tamper: ((corrections: Uint32Array, i: number) => void) | null; dealt: number };
  /** A new gallery of `party` over its store and link (what a restarted party builds), not tied to the service. */
  newGallery(party: PartyName, epoch: number, more?: Partial<PartyGalleryOptions>): PartyGallery;
  /** The options of `party`'s gallery but the epoch (for a `GalleryKeeper`). */
  galleryOptions(party: PartyName): Omit<PartyGalleryOptions, "epoch">;
  /** Takes a party off the network (true) or brings it back (false). */
  setDown(party: PartyName, down: boolean): void;
  /** Deals `n` verification bundles into both pools. */
  fill(n: number): Promise<void>;
  call(party: PartyName, path: string, body?: unknown, role?: CallerRole): Promise<{ status: number; body: any }>;
  both(path: string, bodies: Record<PartyName, unknown>): Promise<Record<PartyName, { status: number; body: any }>>;
  close(): Promise<void>;
}

/**
 * `devicePolicy` (default `auto`): how the parties activate device registrations; the simulator's
 * device (`keys.device`) is registered at both parties (active under `auto`, pending under `operator`).
 */
export async function startInProcParties(
  opts: {
    commitWindowMs?: number;
    mpcTimeoutMs?: number;
    poolTarget?: number;
    failureBudget?: number;
    devicePolicy?: "auto" | "operator";
    /** default: the parties' (10 per minute, 200 per day) */
    volume?: { perMinute: number; perDay: number };
    /** the seed P0 and P1 share (re-randomisation): default a fresh one; null: none (shares stored as the run leaves them) */
    pairSeed?: Uint8Array | null;
    /** give each party a dedup gallery (@privface/party gallery.ts) of the deployed model version at this epoch */
    gallery?: { epoch: number };
    /** make each party a coordinator of gallery shards (no gallery of its own): its searches go to `dedupShards(p)` (service `DedupDeps.shards`) */
    dedupShards?: (p: PartyName) => NonNullable<DedupDeps["shards"]>;
    /** each party's current sealing key (default: fresh ones) */
    sealKeys?: Record<PartyName, KeyPair>;
    /** sealing keys each party is retiring (rotation): listed after the current one, still opened */
    retiredSealKeys?: Record<PartyName, KeyPair[]>;
  } = {},
): Promise<InProcParties> {
  const params = modelParams();
  const mpcTimeoutMs = opts.mpcTimeoutMs ?? 2_000;
  const suite = deploymentSuite();
  const gateway = await generateSigningKeyPair(suite);
  const sealKeys: Record<PartyName, KeyPair> = opts.sealKeys ?? { P0: await generateSealKeyPair(suite), P1: await generateSealKeyPair(suite) };
  const rootKeys: Record<PartyName, KeyPair> = { P0: await generateSigningKeyPair(suite), P1: await generateSigningKeyPair(suite) };
  const device = await newSimDevice();
  const nonceKeys = { P0: new Uint8Array(randomBytes(32)), P1: new Uint8Array(randomBytes(32)) };
  const seeds = { P0: new Uint8Array(randomBytes(32)), P1: new Uint8Array(randomBytes(32)) };
  const pairSeed = opts.pairSeed === null ? undefined : (opts.pairSeed ?? new Uint8Array(randomBytes(32)));
  const net = createMemoryNetwork({ receiveTimeoutMs: mpcTimeoutMs });
  const clock = { offset: 0 };
  const now = () => Date.now() + clock.offset;
  const dbs: Db[] = [];
  const closers: (() => Promise<void>)[] = [];
  const stores = {} as Record<PartyName, PartyStore>;
  const partyDbs = {} as Record<PartyName, Db>;
  for (const p of PARTIES) {
    const db = await openDb("sqlite::memory:");
    dbs.push(db);
    partyDbs[p] = db;
    // each party its own template-key register (in memory, like its database)
    const templateKeys = await openTemplateKeys(":memory:");
    closers.push(() => templateKeys.close());
    stores[p] = await createPartyStore(db, { role: p, dataKeys: { current: "k1", keys: new Map([["k1", new Uint8Array(randomBytes(32))]]) }, now, templateKeys });
  }
  const audit: Record<PartyName, PartyAuditEntry[]> = { P0: [], P1: [] };
  /** the same records as a party's audit chain holds them (seq, time, `op:purpose`), for its `auditRecords` route */
  const chained: Record<PartyName, AuditRecordsResponse["records"]> = { P0: [], P1: [] };
  const failAudit = { P0: false, P1: false };
  const helperDown = { value: false };
  const dealtEnrol: string[] = [];
  const apps = {} as Record<PartyName, PartyApp>;
  const services = {} as Record<PartyName, PartyService>;
  const galleryOptions = (p: PartyName) => ({ party: p, params, modelVersion: MODEL.version, seed: seeds[p], pairSeed, store: stores[p], transport: net.endpoint(serverRoleOf(p)), timeoutMs: mpcTimeoutMs });
  const newGallery = (p: PartyName, epoch: number, more: Partial<PartyGalleryOptions> = {}) => new PartyGallery({ ...galleryOptions(p), epoch, ...more });
  const galleries = opts.gallery ? { P0: newGallery("P0", opts.gallery.epoch), P1: newGallery("P1", opts.gallery.epoch) } : undefined;
  // the stand-in helper's dedup dealing: its copy of the masks, per gallery epoch, from both seeds
  const dedupHelper: InProcParties["dedupHelper"] = { tamper: null, dealt: 0 };
  let helperGallery: HelperGallery | null = null;
  const dedupStock = new DedupStock();
  async function dedupRefill(epoch: number, count: number, n: number): Promise<Uint8Array[]> {
    if (helperDown.value) throw new Error("helper down");
    const { masks, P0: p0, P1: p1 } = dealDedupBatch(helperGallery, { params, seeds, epoch, count, n, rows: jsRowStore, tamper: dedupHelper.tamper ?? undefined });
    helperGallery = masks;
    dedupHelper.dealt += n;
    // P1's halves first, through P1's route, as the helper delivers them
    const r = await apps.P1({ method: "POST", path: "/v1/dedup/items", role: "helper", body: undefined, raw: Buffer.from(packItems(p1)) });
    if (r.status !== 200) throw new Error(`P1 refused the dedup batch (HTTP ${r.status})`);
    return p0;
  }
  for (const p of PARTIES) {
    const sink: PartyAuditSink = {
      async append(r) {
        if (failAudit[p]) throw new Error("disk full");
        audit[p].push(r);
        if (r.session && (AUDIT_SESSION_OPS as readonly string[]).includes(r.op)) {
          chained[p].push({ seq: chained[p].length + 1, time: now(), op: r.purpose ? `${r.op}:${r.purpose}` : r.op, session: r.session, outcome: r.outcome, code: r.code ?? null });
        }
      },
    };
    const metrics = createPartyMetrics(p, { poolLevel: () => stores[p].poolLevel(), peerUp: () => true, helperUp: () => true });
    services[p] = createPartyService({
      party: p,
      params,
      sealKey: sealKeys[p],
      sealKeyId: await sealingKeyId(sealKeys[p]),
      retiredSealKeys: await Promise.all((opts.retiredSealKeys?.[p] ?? []).map(async (key) => ({ key, id: await sealingKeyId(key) }))),
      rootKey: rootKeys[p],
      devicePolicy: opts.devicePolicy ?? "auto",
      nonceKey: nonceKeys[p],
      ...(opts.volume ? { volume: opts.volume } : {}),
      poolSeed: seeds[p],
      pairSeed,
      gatewayKey: { suite: gateway.suite, publicKey: gateway.publicKey },
      store: stores[p],
      audit: sink,
      transport: net.endpoint(serverRoleOf(p)),
      metrics,
      enrolBundle:
        p === "P0"
          ? async () => {
              if (helperDown.value) throw new Error("helper down");
              const d = deal(params, newItemId(), seeds, { kind: "enrol" });
              dealtEnrol.push(d.id);
              await stores.P1.addItems([{ id: d.id, bytes: encodeBundle(d.P1) }]);
              return encodeBundle(d.P0);
            }
          : undefined,
      helperUp: () => true,
      poolTarget: opts.poolTarget ?? 100,
      commitWindowMs: opts.commitWindowMs ?? 60_000,
      mpcTimeoutMs,
      failureBudget: opts.failureBudget,
      now,
      gallery: galleries?.[p],
      dedup: opts.dedupShards ? { gallery: () => null, shards: opts.dedupShards(p) } : galleries ? { gallery: () => galleries[p], ...(p === "P0" ? { bundles: dedupRefill } : { stock: dedupStock }) } : undefined,
    });
    apps[p] = createPartyApp({ service: services[p], metrics, audit: sink, ...(p === "P1" && galleries ? { dedupStock } : {}), keepAnchor: (from, b) => keepAnchor(partyDbs[p], from, b.record, { at: b.at, now: now() }),
      auditRecords: async (q) => {
        const inRange = chained[p].filter((r) => r.time >= q.from && r.time <= q.to);
        return { records: inRange.slice(0, q.limit), truncated: inRange.length > q.limit };
      },
    });
    await services[p].registerDevice(simRegistration(device));
    audit[p].length = 0;
    chained[p].length = 0;
  }
  const call = async (party: PartyName, path: string, body?: unknown, role: CallerRole = "gateway") => {
    const r = await apps[party]({ method: body === undefined ? "GET" : "POST", path, role, body, raw: Buffer.alloc(0) });
    return { status: r.status, body: r.body as any };
  };

  const down = new Set<PartyName>();
  /** One Party-API call as the gateway's client makes it: JSON in and out, a failure as a PartyError. */
  const viaApi = async (party: PartyName, route: string, body?: unknown): Promise<any> => {
    if (down.has(party)) throw new PartyError("UNREACHABLE", `${party} is down`);
    const [method, path] = route.split(" ");
    const r = await apps[party]({ method, path, role: "gateway", body: body === undefined ? undefined : JSON.parse(JSON.stringify(body)), raw: Buffer.alloc(0) });
    if (r.status >= 200 && r.status < 300) return r.body;
    const err = (r.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    throw new PartyError(isPartyErrorCode(err?.code) ? err.code : "INTERNAL", typeof err?.message === "string" ? err.message : `HTTP ${r.status}`);
  };
  const client = (p: PartyName): PartyClient => ({
    enrol: (b) => viaApi(p, PARTY_ROUTES.enrol, b),
    commit: (b) => viaApi(p, PARTY_ROUTES.commit, b),
    abort: (b) => viaApi(p, PARTY_ROUTES.abort, b),
    verify: (b) => viaApi(p, PARTY_ROUTES.verify, b),
    dedup: (b) => viaApi(p, PARTY_ROUTES.dedup, b),
    delete: (b) => viaApi(p, PARTY_ROUTES.delete, b),
    health: () => viaApi(p, PARTY_ROUTES.health),
    keys: () => viaApi(p, PARTY_ROUTES.keys),
    nonces: (b) => viaApi(p, PARTY_ROUTES.nonces, b),
    registerDevice: (b) => viaApi(p, PARTY_ROUTES.registerDevice, b),
    metrics: () => viaApi(p, PARTY_ROUTES.metrics),
    anchor: (b) => viaApi(p, PARTY_ROUTES.anchor, b),
    auditRecords: (b) => viaApi(p, PARTY_ROUTES.auditRecords, b),
    close() {},
  });

  return {
    params,
    seeds,
    keys: {
      gateway,
      P0: { suite: sealKeys.P0.suite, publicKey: sealKeys.P0.publicKey },
      P1: { suite: sealKeys.P1.suite, publicKey: sealKeys.P1.publicKey },
      device,
      nonce: { P0: async () => (await services.P0.nonces(1)).nonces[0], P1: async () => (await services.P1.nonces(1)).nonces[0], P0items: async () => (await services.P0.nonces(1, true)).nonces[0] },
    },
    sealKeys,
    roots: { P0: { suite, kind: "sign", publicKey: rootKeys.P0.publicKey }, P1: { suite, kind: "sign", publicKey: rootKeys.P1.publicKey } },
    net,
    stores,
    dbs: partyDbs,
    apps,
    services,
    audit,
    failAudit,
    helperDown,
    dealtEnrol,
    pairSeed,
    clock,
    clients: { P0: client("P0"), P1: client("P1") },
    galleries,
    dedupHelper,
    newGallery,
    galleryOptions,
    setDown(party, isDown) {
      if (isDown) {
        down.add(party);
        net.disconnect(serverRoleOf(party));
      } else {
        down.delete(party);
        net.reconnect(serverRoleOf(party));
      }
    },
    async fill(n: number) {
      const p0 = [];
      const p1 = [];
      for (let i = 0; i < n; i++) {
        const d = deal(params, newItemId(), seeds, { kind: "verify" });
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
      for (const close of closers) await close();
    },
  };
}
