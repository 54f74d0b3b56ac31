/**
 * Party configuration from `PRIVFACE_P0_*` / `PRIVFACE_P1_*` environment variables, with defaults
 * from the runtime layout under `PRIVFACE_HOME` (or ./.privface). `loadPartyConfig(party, env)`
 * checks every value and throws ConfigError listing every problem; main prints it and exits 2.
 * The table of variables is in docs/operations.md.
 */
import { ConfigError, envReader } from "@privface/config";
import { serverRoleOf, type PartyName } from "@privface/contracts";
import { MAX_BUDGET } from "@privface/mpc";
import { DEFAULT_FAILURE_BUDGET } from "./service.ts";

export { ConfigError };

export interface PartyConfig {
  /** the deployment's cipher suite (PRIVFACE_SUITE): every key file named here is checked to be of it */
  suite: "INTL" | "GM";
  party: PartyName;
  home: string;
  host: string;
  port: number;
  db: string;
  dbSchema: string | undefined;
  synchronous: "NORMAL" | "FULL";
  ca: string;
  /** the CA's CRL (a peer certificate it lists is refused); no file: no revocation */
  crl: string;
  cert: string;
  key: string;
  /** the party's client certificate towards the peer and the helper (clientAuth) */
  clientCert: string;
  clientKey: string;
  sealKey: string;
  /** sealing keys being retired (rotation): still listed and opened until removed */
  retiredSealKeys: string[];
  /** the institution root signing key that signs the sealing-key list (decision 010 §1) */
  rootKey: string;
  /** the root handover chain the party sends with its key lists (a JSON file; absent: no handover yet) */
  rootHandovers: string;
  /** the key of the party's nonces (decision 010 §3), a data-key file */
  nonceKey: string;
  /** per-template verification volume budgets (decision 010 §4) */
  volume: { perMinute: number; perDay: number };
  /** how device registrations forwarded by the gateway become active (decision 010 §2) */
  devicePolicy: "operator" | "auto";
  dataKeys: string[];
  /** the template-key register's SQLite file (store/template-keys.ts), outside the database and its backups */
  templateKeys: string;
  gatewayKey: string;
  /** gateway signing keys being retired (rotation): authorisations under them still verify until removed */
  retiredGatewayKeys: string[];
  /** the party's result key pair and the gateway's public result key (result-share MACs) */
  resultKey: string;
  gatewayResultKey: string;
  auditKey: string;
  poolSeed: string;
  /** the seed P0 and P1 share (re-randomisation of stored shares) */
  pairSeed: string;
  peerUrl: string;
  helperUrl: string;
  poolLow: number;
  poolTarget: number;
  poolBatch: number;
  commitWindowMs: number;
  recoveryIntervalMs: number;
  /** how often this party sends its audit head to the peer (an anchor, @privface/audit anchors.ts) */
  anchorEveryMs: number;
  mpcTimeoutMs: number;
  /** Finished sessions, verification records and used pool-item markers are purged after this long. */
  retentionMs: number;
  /** Failures per template per UTC day before its verifications are refused (counted inside MPC); P0 and P1 must agree. */
  failureBudget: number;
  /** Test/diagnostic only: append every MPC frame (base64, one per line) to this file. */
  captureFile: string | undefined;
  /** keep the in-memory dedup gallery (gallery.ts): built at start from the store, kept in step (both parties must agree) */
  dedupGallery: boolean;
  /** NATS server of this institution (shards.ts); unset: the gallery is served in this process */
  natsUrl: string | undefined;
  /** coordinator: the number of gallery shards its workers serve (0: no shards) */
  dedupShards: number;
  /** worker: the shard this process serves (its gallery holds only that shard; it takes queries from NATS) */
  dedupShard: { index: number; count: number } | undefined;
  /** subject prefix of this institution's dedup queries (the stream is named after it) */
  dedupNatsPrefix: string;
  /** coordinator: how long a search waits for every shard before GALLERY_UNAVAILABLE */
  dedupShardTimeoutMs: number;
  /** worker (P0): a query not acknowledged within this goes to another worker of the shard */
  dedupAckWaitMs: number;
  /**
   * This process's name as one of several worker processes of the party over one PostgreSQL schema
   * (workers.ts): peer links of every worker of the other party accepted, templates locked across
   * processes. Unset: the party is one process.
   */
  workerId: string | undefined;
  /** The other party's workers by name (`name=https://…,…`): P0 dials each and sends a session to the one the gateway names; HTTP calls to the peer try them in turn. */
  peerWorkers: Map<string, string> | undefined;
}

export function partyPrefix(party: PartyName): string {
  return `PRIVFACE_${party}_`;
}

export function loadPartyConfig(party: PartyName, env: NodeJS.ProcessEnv = process.env): PartyConfig {
  if (party !== "P0" && party !== "P1") throw new ConfigError([`party: expected P0 or P1, got ${JSON.stringify(party)}`]);
  const P = partyPrefix(party);
  const lc = serverRoleOf(party);
  const r = envReader(P, env);
  const { home, layout: L, get, file, int, url } = r;
  const sync = r.oneOf("DB_SYNCHRONOUS", "NORMAL", ["NORMAL", "FULL"] as const);
  const dataKeys = r.ownKeyList("DATA_KEYS", L.dataKey(lc), lc);
  const db = r.dbUrl("DB", `sqlite:${L.sqlite(lc)}`);
  const cfg: PartyConfig = {
    suite: r.suite,
    party,
    home,
    host: get("HOST", "127.0.0.1"),
    port: int("PORT", party === "P0" ? 7441 : 7442, 0, 65535),
    db,
    dbSchema: r.optional("DB_SCHEMA"),
    synchronous: sync,
    ca: file("CA", L.ca),
    crl: file("CRL", L.crl),
    cert: file("CERT", L.cert(lc).cert),
    key: file("KEY", L.cert(lc).key),
    clientCert: file("CLIENT_CERT", L.clientCert(lc).cert),
    clientKey: file("CLIENT_KEY", L.clientCert(lc).key),
    sealKey: r.ownKey("SEAL_KEY", L.sealKey(lc), lc),
    retiredSealKeys: r.optional("RETIRED_SEAL_KEYS") === undefined ? [] : r.ownKeyList("RETIRED_SEAL_KEYS", "", lc),
    rootKey: r.ownKey("ROOT_KEY", L.root(lc), lc),
    rootHandovers: get("ROOT_HANDOVERS", L.rootHandovers(lc)),
    nonceKey: r.ownKey("NONCE_KEY", L.nonceKey(lc), lc),
    volume: { perMinute: int("VERIFY_PER_MIN", 10, 1, 100_000), perDay: int("VERIFY_PER_DAY", 200, 1, 10_000_000) },
    devicePolicy: r.oneOf("DEVICE_APPROVAL", "operator", ["operator", "auto"] as const),
    dataKeys,
    templateKeys: get("TEMPLATE_KEYS", L.templateKeys(lc)),
    // only the gateway's public half: its private signing key (or any file of its folder) is refused
    gatewayKey: r.publicKey("GATEWAY_KEY", L.gatewaySigningPub),
    retiredGatewayKeys: r.optional("RETIRED_GATEWAY_KEYS") === undefined ? [] : r.publicKeyList("RETIRED_GATEWAY_KEYS", ""),
    resultKey: r.ownKey("RESULT_KEY", L.resultKey(lc), lc),
    gatewayResultKey: r.publicKey("GATEWAY_RESULT_KEY", L.resultPub("gateway")),
    auditKey: r.ownKey("AUDIT_KEY", L.auditKey(lc), lc),
    poolSeed: r.ownKey("POOL_SEED", L.poolSeed(lc), lc),
    pairSeed: r.ownKey("PAIR_SEED", L.pairSeed(lc), lc),
    peerUrl: url("PEER_URL", party === "P0" ? "https://127.0.0.1:7442" : "https://127.0.0.1:7441"),
    helperUrl: url("HELPER_URL", "https://127.0.0.1:7440"),
    poolLow: int("POOL_LOW", 1024, 0, 10_000_000),
    poolTarget: int("POOL_TARGET", 4096, 1, 10_000_000),
    poolBatch: int("POOL_BATCH", 256, 1, 1024),
    commitWindowMs: int("COMMIT_WINDOW_S", 120, 1, 86_400) * 1000,
    recoveryIntervalMs: int("RECOVERY_INTERVAL_S", 30, 1, 86_400) * 1000,
    anchorEveryMs: int("AUDIT_ANCHOR_S", 60, 1, 86_400) * 1000,
    mpcTimeoutMs: int("MPC_TIMEOUT_MS", 5_000, 100, 600_000),
    retentionMs: int("RETENTION_DAYS", 30, 1, 3650) * 86_400_000,
    failureBudget: int("FAILURE_BUDGET", DEFAULT_FAILURE_BUDGET, 1, MAX_BUDGET),
    captureFile: r.optional("CAPTURE_FILE"),
    dedupGallery: r.oneOf("DEDUP_GALLERY", "off", ["off", "on"] as const) === "on",
    natsUrl: r.optional("NATS_URL"),
    dedupShards: int("DEDUP_SHARDS", 0, 0, 1024),
    dedupShard: undefined as { index: number; count: number } | undefined,
    dedupNatsPrefix: r.optional("DEDUP_NATS_PREFIX") ?? `privface.${lc}.dedup`,
    dedupShardTimeoutMs: int("DEDUP_SHARD_TIMEOUT_MS", 15_000, 100, 600_000),
    dedupAckWaitMs: int("DEDUP_ACK_WAIT_MS", 5_000, 100, 600_000),
    workerId: r.optional("WORKER_ID"),
    peerWorkers: r.workers("PEER_WORKERS"),
  };
  const shard = r.optional("DEDUP_SHARD");
  if (shard !== undefined) {
    const m = /^(\d{1,4})\/(\d{1,4})$/.exec(shard);
    if (!m || Number(m[1]) >= Number(m[2])) r.problems.push(`${P}DEDUP_SHARD: expected k/S with 0 ≤ k < S`);
    else cfg.dedupShard = { index: Number(m[1]), count: Number(m[2]) };
  }
  if ((cfg.dedupShards > 0 || shard !== undefined) && cfg.natsUrl === undefined) r.problems.push(`${P}DEDUP_SHARDS / DEDUP_SHARD need ${P}NATS_URL`);
  if (cfg.dedupShards > 0 && shard !== undefined) r.problems.push(`${P}DEDUP_SHARDS (coordinator) and DEDUP_SHARD (worker) exclude each other`);
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(cfg.dedupNatsPrefix)) r.problems.push(`${P}DEDUP_NATS_PREFIX: expected NATS subject tokens separated by dots`);
  if (cfg.workerId !== undefined) {
    if (!/^[a-z0-9_-]{1,32}$/.test(cfg.workerId)) r.problems.push(`${P}WORKER_ID: expected [a-z0-9_-]{1,32}`);
    // what several processes share must be serialised in the database: PostgreSQL's row and advisory locks
    if (!/^postgres(ql)?:/.test(db)) r.problems.push(`${P}WORKER_ID: several worker processes need a PostgreSQL ${P}DB`);
    // the dedup gallery and its probes live in one process's memory
    if (cfg.dedupGallery) r.problems.push(`${P}WORKER_ID: the dedup gallery (${P}DEDUP_GALLERY=on) runs in one process only`);
  }
  // every MPC frame on disk: with the pool seeds both δ openings give the template (review L6) —
  // only under Node's test runner (which sets NODE_TEST_CONTEXT for the servers a test starts)
  if (cfg.captureFile !== undefined && !env.NODE_TEST_CONTEXT) {
    r.problems.push(`${P}CAPTURE_FILE: frame capture writes every MPC frame to disk and is refused outside tests`);
  }
  if (cfg.poolLow >= cfg.poolTarget) r.problems.push(`${P}POOL_LOW (${cfg.poolLow}) must be below ${P}POOL_TARGET (${cfg.poolTarget})`);
  r.done();
  return cfg;
}
