/**
 * Gateway configuration from `PRIVFACE_GATEWAY_*` environment variables, with defaults from the
 * runtime layout under `PRIVFACE_HOME` (or ./.privface). `loadGatewayConfig(env)` checks every value
 * and throws ConfigError listing every problem; `main.ts` prints it and exits 2 (a bad config stops
 * the server at start-up, not at the first request). `openGatewayOptions(cfg)` reads the files and
 * builds the options `startGateway` takes. The variables are listed in docs/operations.md (Configuration).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import { generateDataKey, softwareSigner, toBase64url, type DataKey, type PublicKey } from "@privface/crypto";
import { ensureDataKeyFile, ensureKeyPairFile, readDataKeyFile, readKeyPairFile, readPublicKeyFile, readTlsKey, writeDataKeyFile } from "@privface/crypto/node";
import { isPkcs11Uri, parsePkcs11Uri, pkcs11SignerFromUri } from "@privface/crypto/pkcs11";
import { openDb } from "@privface/db";
import { auditKeyId, createAuditLog, keyFingerprint, recordKeysInUse } from "@privface/audit";
import { LIVENESS_STEPS, MODEL, PARTIES, resultKey, type PartyClient, type PartyName } from "@privface/contracts";
import { ConfigError, envReader, type DeploymentSuite } from "@privface/config";
import type { Agent } from "node:https";
import { readCrl, watchCrl, type RpcClient } from "@privface/transport";
import { auditSink } from "./audit.ts";
import { operatorExpiry, type OperatorCredential } from "./app.ts";
import { DEFAULT_LIMITS } from "./service.ts";
import type { StartGatewayOptions } from "./server.ts";
import { legacyIndexKey } from "./_identity.ts";
import { createPartyClient } from "./party-client.ts";
import { createWorkerClients } from "./party-workers.ts";
import { redisState } from "./shared-state.ts";
import { parseWebMounts, type WebMount } from "./_web.ts";

export { ConfigError };

export interface GatewayConfig {
  /** the deployment's cipher suite (PRIVFACE_SUITE): every key the gateway reads or makes is of it */
  suite: DeploymentSuite;
  home: string;
  host: string;
  port: number;
  db: string;
  dbSchema: string | undefined;
  /** serve HTTPS with cert/key (default) or plain HTTP (loopback benchmarks only) */
  tls: boolean;
  cert: string;
  key: string;
  ca: string;
  /** the CA's CRL (a peer certificate it lists is refused); no file: no revocation */
  crl: string;
  clientCert: string;
  clientKey: string;
  partyUrls: Record<PartyName, string>;
  /** several worker processes of a party (party-workers.ts): name → URL (`PRIVFACE_GATEWAY_P0_WORKERS` / `_P1_WORKERS`); unset: `partyUrls` */
  partyWorkers: Record<PartyName, Map<string, string> | undefined>;
  partySealKeys: Record<PartyName, string>;
  /** the parties' public result keys (result-share MACs) */
  partyResultKeys: Record<PartyName, string>;
  /** a party's public result keys being retired (rotation): MACs under them still verify until removed */
  retiredPartyResultKeys: Record<PartyName, string[]>;
  partyTimeoutMs: number;
  /** the authorisation signing key: a key file, or `pkcs11:token=…;object=…?module-path=…&pin-source=file:…` (an Ed25519 key in a token) */
  signingKey: string;
  /** the gateway's result key pair (result-share MACs with each party) */
  resultKey: string;
  /** the gateway's result key pairs being retired (rotation): MACs under them still verify until removed */
  retiredResultKeys: string[];
  auditKey: string;
  dataKeys: string[];
  /** the ID-number blind index key: written at the first start (from the first data key, as indexes were made before), independent of the data keys after */
  indexKey: string;
  operators: string;
  modelVersion: string | undefined;
  challengeTtlMs: number;
  limits: typeof DEFAULT_LIMITS;
  personLockAfter: number;
  deviceLockAfter: number;
  personDailyFailures: number;
  deviceDailyFailures: number;
  recheckIntervalMs: number;
  auditAnchorIntervalMs: number;
  reverifyWindowMs: number;
  identityRetentionMs: number;
  livenessThreshold: number;
  livenessActions: number;
  /** the enrolment policy for duplicates (issue 15): off | reject */
  enrolDedup: "off" | "reject" | "hold";
  /** "memory" (one gateway) or a redis:// / rediss:// URL shared by several replicas (issue 16) */
  sharedState: string;
  logLevel: string;
  /** static web pages: URL prefix → directory (`/pos/=/abs/dir,…`) */
  web: WebMount[];
}

const P = "PRIVFACE_GATEWAY_";

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const r = envReader(P, env);
  const { home, layout: L, get, file, int, url } = r;
  const tls = r.oneOf("TLS", "on", ["on", "off"] as const) !== "off";
  // the authorisation signing key: a key file of the gateway, or a key in a PKCS#11 token (RFC 7512 URI)
  const signingUri = r.optional("SIGNING_KEY");
  if (isPkcs11Uri(signingUri)) {
    try {
      parsePkcs11Uri(signingUri);
    } catch (e) {
      r.problems.push(`${P}SIGNING_KEY: ${(e as Error).message}`);
    }
    // a token key signs Ed25519 (INTL) only: SoftHSM2 has no SM2 (crypto pkcs11.ts)
    if (r.suite === "GM") r.problems.push(`${P}SIGNING_KEY: a PKCS#11 token key signs with Ed25519 (INTL); a GM deployment's gateway signs with SM2 from a key file`);
  }
  const db = r.dbUrl("DB", `sqlite:${L.sqlite("gateway")}`);
  const liveness = Number(get("LIVENESS_THRESHOLD", String(MODEL.livenessThreshold)));
  if (!(liveness >= 0 && liveness <= 1)) r.problems.push(`${P}LIVENESS_THRESHOLD: expected a number in [0, 1]`);
  const sharedState = get("SHARED_STATE", "memory");
  if (sharedState !== "memory" && !isRedisUrl(sharedState)) {
    r.problems.push(`${P}SHARED_STATE: expected "memory" or a redis:// or rediss:// URL, got ${JSON.stringify(sharedState.replace(/\/\/[^@/]*@/, "//…@"))}`);
  }
  const cfg: GatewayConfig = {
    suite: r.suite,
    home,
    host: get("HOST", "127.0.0.1"),
    port: int("PORT", 7443, 0, 65535),
    db,
    dbSchema: r.optional("DB_SCHEMA"),
    tls,
    cert: file("CERT", L.cert("gateway").cert, tls),
    key: file("KEY", L.cert("gateway").key, tls),
    ca: file("CA", L.ca),
    crl: file("CRL", L.crl),
    clientCert: file("CLIENT_CERT", L.gatewayClient.cert),
    clientKey: file("CLIENT_KEY", L.gatewayClient.key),
    partyUrls: { P0: url("P0_URL", "https://127.0.0.1:7441"), P1: url("P1_URL", "https://127.0.0.1:7442") },
    partyWorkers: { P0: r.workers("P0_WORKERS"), P1: r.workers("P1_WORKERS") },
    // only the public halves: a private key file, or a file from a party's own folder, is refused
    partySealKeys: { P0: r.publicKey("P0_SEAL_KEY", L.sealPub("p0")), P1: r.publicKey("P1_SEAL_KEY", L.sealPub("p1")) },
    partyResultKeys: { P0: r.publicKey("P0_RESULT_KEY", L.resultPub("p0")), P1: r.publicKey("P1_RESULT_KEY", L.resultPub("p1")) },
    retiredPartyResultKeys: {
      P0: r.optional("P0_RETIRED_RESULT_KEYS") === undefined ? [] : r.publicKeyList("P0_RETIRED_RESULT_KEYS", ""),
      P1: r.optional("P1_RETIRED_RESULT_KEYS") === undefined ? [] : r.publicKeyList("P1_RETIRED_RESULT_KEYS", ""),
    },
    partyTimeoutMs: int("PARTY_TIMEOUT_MS", 10_000, 100, 600_000),
    signingKey: isPkcs11Uri(signingUri) ? signingUri : r.ownKey("SIGNING_KEY", L.gatewaySigningKey, "gateway", false),
    resultKey: r.ownKey("RESULT_KEY", L.resultKey("gateway"), "gateway", false),
    retiredResultKeys: r.optional("RETIRED_RESULT_KEYS") === undefined ? [] : r.ownKeyList("RETIRED_RESULT_KEYS", "", "gateway"),
    auditKey: r.ownKey("AUDIT_KEY", L.auditKey("gateway"), "gateway", false),
    dataKeys: r.ownKeyList("DATA_KEYS", L.gatewayDataKey, "gateway", false),
    indexKey: r.ownKey("INDEX_KEY", L.gatewayIndexKey, "gateway", false),
    operators: r.ownKey("OPERATORS", L.gatewayOperators, "gateway", false),
    modelVersion: r.optional("MODEL_VERSION"),
    challengeTtlMs: int("CHALLENGE_TTL_S", 60, 5, 60) * 1000,
    limits: {
      perPersonPerMinute: int("LIMIT_PERSON_PER_MIN", DEFAULT_LIMITS.perPersonPerMinute, 1, 1_000_000),
      perDevicePerMinute: int("LIMIT_DEVICE_PER_MIN", DEFAULT_LIMITS.perDevicePerMinute, 1, 1_000_000),
      perMerchantPerMinute: int("LIMIT_MERCHANT_PER_MIN", DEFAULT_LIMITS.perMerchantPerMinute, 1, 10_000_000),
      perSourcePerMinute: int("LIMIT_SOURCE_PER_MIN", DEFAULT_LIMITS.perSourcePerMinute, 1, 10_000_000),
    },
    personLockAfter: int("PERSON_LOCK_AFTER", 5, 1, 1000),
    deviceLockAfter: int("DEVICE_LOCK_AFTER", 20, 1, 100_000),
    personDailyFailures: int("PERSON_DAILY_FAILURES", 10, 1, 100_000),
    enrolDedup: r.oneOf("ENROL_DEDUP", "off", ["off", "reject", "hold"] as const),
    deviceDailyFailures: int("DEVICE_DAILY_FAILURES", 30, 1, 1_000_000),
    recheckIntervalMs: int("RECHECK_INTERVAL_S", 60, 0, 86_400) * 1000,
    auditAnchorIntervalMs: int("AUDIT_ANCHOR_S", 60, 0, 86_400) * 1000,
    reverifyWindowMs: int("REVERIFY_WINDOW_S", 300, 10, 86_400) * 1000,
    identityRetentionMs: int("IDENTITY_RETENTION_DAYS", 30, 0, 3650) * 86_400_000,
    livenessThreshold: liveness,
    livenessActions: int("LIVENESS_ACTIONS", 2, 0, LIVENESS_STEPS.max),
    sharedState,
    logLevel: get("LOG_LEVEL", "info"),
    web: parseWebMounts(r.optional("WEB"), r.problems, `${P}WEB`),
  };
  for (const m of cfg.web) if (!existsSync(m.dir) || !statSync(m.dir).isDirectory()) r.problems.push(`${P}WEB: ${m.dir} (${m.prefix}) is not a directory`);
  r.done();
  return cfg;
}

function isRedisUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === "redis:" || u.protocol === "rediss:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/**
 * Reads keys and certificates and builds `startGateway`'s options. Creates, on first use, the keys
 * only the gateway needs (audit key, data key, dev operators file); the signing and result keys are
 * created too if missing (the parties need their public halves: `ensureRuntime` makes them before
 * starting them). A PKCS#11 signing key is opened in its token (signing happens there); its public
 * half must be in keys/public (`ensureRuntime` writes it when given the same URI).
 */
export async function openGatewayOptions(cfg: GatewayConfig): Promise<StartGatewayOptions & { operatorsFile: string }> {
  const suite = cfg.suite;
  const signer = isPkcs11Uri(cfg.signingKey) ? await pkcs11SignerFromUri(cfg.signingKey) : softwareSigner((await ensureKeyPairFile(cfg.signingKey, suite, "sign")).key);
  const auditKey = (await ensureKeyPairFile(cfg.auditKey, suite, "sign")).key;
  // a key file made here gets a fresh id: a new first key must never share the id its rows name with the old one
  const dataKeys: DataKey[] = cfg.dataKeys.map((f) => ensureDataKeyFile(f, suite, `gateway-data-${randomBytes(6).toString("hex")}`).key);
  // the blind-index key is a key of its own, so the data keys can rotate: its first INTL value is the
  // one every index was made under (derived from the first data key), written once; GM (HMAC-SM3) is new
  if (!existsSync(cfg.indexKey)) {
    writeDataKeyFile(cfg.indexKey, suite === "GM" ? generateDataKey("GM", "gateway-index") : { suite, id: "gateway-index", key: legacyIndexKey(dataKeys[0]) });
  }
  const indexKey = readDataKeyFile(cfg.indexKey).key;
  const ownResult = (await ensureKeyPairFile(cfg.resultKey, suite, "seal")).key;
  const retiredOwn = await Promise.all(cfg.retiredResultKeys.map(readKeyPairFile));
  const operators = ensureOperators(cfg.operators);
  const seal = (f: string): PublicKey => readPublicKeyFile(f);
  const tlsMaterial = { ca: readFileSync(cfg.ca), crl: readCrl(cfg.crl), cert: readFileSync(cfg.clientCert), key: readTlsKey(cfg.clientKey) };
  // the MAC keys with each party: every pair of (own result key, the party's public result key) —
  // current ones first, then those being retired (docs/operations.md "Key rotation")
  const macKeys = async (p: PartyName) => {
    const out = [];
    for (const own of [ownResult, ...retiredOwn]) for (const f of [cfg.partyResultKeys[p], ...cfg.retiredPartyResultKeys[p]]) out.push(await resultKey(own, readPublicKeyFile(f), p));
    return out;
  };
  const resultKeys = { P0: await macKeys("P0"), P1: await macKeys("P1") };
  // a CRL the CA rewrites is applied while the gateway runs (transport crl.ts; the timer does not hold the process)
  const agents: Agent[] = [];
  const links: RpcClient[] = [];
  watchCrl(cfg.crl, { materials: [tlsMaterial], agents, links });
  const client = (p: PartyName, url = cfg.partyUrls[p]): PartyClient =>
    createPartyClient({ url, tls: tlsMaterial, timeoutMs: cfg.partyTimeoutMs, party: p, resultKey: resultKeys[p], links: (a, r) => void (agents.push(a), links.push(r)) });
  const { P0: w0, P1: w1 } = cfg.partyWorkers;
  const workerClients = (p: PartyName, w: Map<string, string> | undefined) => new Map([...(w ?? new Map([["default", cfg.partyUrls[p]]]))].map(([name, url]) => [name, client(p, url)]));
  const parties = w0 || w1 ? createWorkerClients({ workers: { P0: workerClients("P0", w0), P1: workerClients("P1", w1) }, namePeer: w1 !== undefined }) : { P0: client("P0"), P1: client("P1") };
  const db = await openDb(cfg.db, cfg.dbSchema ? { schema: cfg.dbSchema } : {});
  const auditLog = await createAuditLog(db, { role: "gateway", signingKey: auditKey });
  // the keys this configuration names, against those of the last start: a rotation done by configuration is in the chain too
  const fp = keyFingerprint;
  await recordKeysInUse(db, auditLog, [
    { slot: "sign", id: await fp(signer.publicKey) },
    { slot: "audit", id: auditKeyId(auditKey) },
    { slot: "result", id: await fp(ownResult.publicKey) },
    ...(await Promise.all(retiredOwn.map(async (k) => ({ slot: "result.retired", id: await fp(k.publicKey) })))),
    ...(await Promise.all(PARTIES.flatMap((p) => [cfg.partyResultKeys[p], ...cfg.retiredPartyResultKeys[p]].map(async (f, i) => ({ slot: `${p.toLowerCase()}-result${i === 0 ? "" : ".retired"}`, id: await fp(readPublicKeyFile(f).publicKey) }))))),
    ...(await Promise.all(dataKeys.map(async (k, i) => ({ slot: i === 0 ? "data" : "data.retired", id: await fp(k.key) })))),
    { slot: "index", id: await fp(indexKey) },
    { slot: "p0-seal", id: await fp(seal(cfg.partySealKeys.P0).publicKey) },
    { slot: "p1-seal", id: await fp(seal(cfg.partySealKeys.P1).publicKey) },
    { slot: "tls.client", id: await fp(tlsMaterial.cert) },
  ]);
  const audit = auditSink(auditLog);
  let modelVersion = cfg.modelVersion;
  if (!modelVersion) modelVersion = MODEL.version;
  const P0 = seal(cfg.partySealKeys.P0);
  const P1 = seal(cfg.partySealKeys.P1);
  return {
    host: cfg.host,
    port: cfg.port,
    db,
    audit,
    parties,
    partyKeys: { P0: { suite: P0.suite, publicKey: toBase64url(P0.publicKey) }, P1: { suite: P1.suite, publicKey: toBase64url(P1.publicKey) } },
    signer,
    dataKeys,
    indexKey,
    modelVersion,
    operators,
    https: cfg.tls ? { key: readTlsKey(cfg.key), cert: readFileSync(cfg.cert) } : null,
    challengeTtlMs: cfg.challengeTtlMs,
    limits: cfg.limits,
    personLockAfter: cfg.personLockAfter,
    deviceLockAfter: cfg.deviceLockAfter,
    personDailyFailures: cfg.personDailyFailures,
    enrolDedup: cfg.enrolDedup,
    deviceDailyFailures: cfg.deviceDailyFailures,
    recheckIntervalMs: cfg.recheckIntervalMs,
    auditAnchorIntervalMs: cfg.auditAnchorIntervalMs,
    reverifyWindowMs: cfg.reverifyWindowMs,
    identityRetentionMs: cfg.identityRetentionMs,
    livenessThreshold: cfg.livenessThreshold,
    livenessActions: cfg.livenessActions,
    // one Redis for several replicas (the device cache is then off: _context.ts)
    ...(cfg.sharedState !== "memory" ? { shared: redisState(cfg.sharedState) } : {}),
    web: cfg.web,
    operatorsFile: cfg.operators,
  };
}

/** How long the tokens of a development operators file live. */
export const DEV_OPERATOR_TOKEN_DAYS = 30;

/**
 * The operators file: `[{ id, role, token | tokenSha256, expiresAt }]` — every token expires
 * (`expiresAt`: ISO 8601 or ms since the epoch; issue 12 item 10). On first use a development file is
 * written (mode 0600) with one admin, two operators (operator, operator2: dual control), one auditor
 * and one monitor, random tokens valid
 * DEV_OPERATOR_TOKEN_DAYS days (delete the file to get new ones).
 */
export function ensureOperators(path: string): OperatorCredential[] {
  if (!existsSync(path)) {
    const expiresAt = new Date(Date.now() + DEV_OPERATOR_TOKEN_DAYS * 86_400_000).toISOString();
    // two operators: critical actions wait for a second, different one (R27)
    const ops = ([["admin", "admin"], ["operator", "operator"], ["operator2", "operator"], ["auditor", "auditor"], ["monitor", "monitor"]] as const).map(([id, role]) => ({
      id,
      role,
      token: `${id}-${randomBytes(18).toString("base64url")}`,
      expiresAt,
    }));
    writeSecretFile(path, JSON.stringify(ops, null, 2) + "\n");
  }
  const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
  if (!Array.isArray(parsed)) throw new ConfigError([`${P}OPERATORS: ${path} must hold a JSON array`]);
  const problems = (parsed as { id?: unknown; expiresAt?: unknown }[])
    .filter((o) => operatorExpiry(o?.expiresAt) === undefined)
    .map((o) => `${P}OPERATORS: operator ${String(o?.id)} in ${path} has no expiresAt (operator tokens expire: add an ISO 8601 date, or delete a development file to have a new one written)`);
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed as OperatorCredential[];
}

function writeSecretFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600, flag: "wx" });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
