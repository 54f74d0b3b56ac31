/**
 * Test fixture: a gateway on an in-memory SQLite database with the plaintext-twin fake parties
 * (@privface/devstack `createFakeParties`), operators of each role, and helpers that act as a device (request bodies are built
 * with @privface/device's `buildFaceRequest` from precomputed embeddings, exactly as the SDK does).
 */
import { randomBytes } from "node:crypto";
import {
  canonicalJson,
  generateDataKey,
  generateSealKeyPair,
  generateSigningKeyPair,
  sign,
  toBase64url,
  utf8,
  softwareSigner,
  type KeyPair,
} from "@privface/crypto";
import { openDb, type Db } from "@privface/db";
import { createAuditLog } from "@privface/audit";
import { buildChallengeRequest, buildFaceRequest, buildSignedPersonRequest, type DeviceTrust } from "@privface/device";
import type { PartyName } from "@privface/contracts";
import type { PublicKey } from "@privface/crypto";
import { createLogger, deploymentSuite } from "@privface/config";
import { auditSink, createGateway, type Gateway, type GatewayOptions, type GatewayService } from "../src/index.ts";
import { createFakeParties, runtimeTrust, scenarioWorld, type FakeParties, type GatewayClient, type ScenarioGateway, type ScenarioWorld, type Stack } from "@privface/devstack";
import { LogCapture } from "./_logscan.ts";
import type { ChallengeResponse } from "../src/schemas.ts";

export const MODEL_VERSION = "test-model.1";
/** the suite of every key of the fixture: PRIVFACE_SUITE (INTL by default; CI runs the security suites with gm too) */
export const SUITE = deploymentSuite();
export const TOKENS = {
  admin: "admin-token-0123456789",
  operator: "operator-token-0123456789",
  auditor: "auditor-token-0123456789",
  /** a second operator: dual control (R27) */
  operator2: "operator2-token-0123456789",
  /** a metrics scraper (GET /metrics only) */
  monitor: "monitor-token-0123456789",
};

/** The test operators' tokens expire in a year (tests that move the clock stay far below). */
export const TOKEN_EXPIRY = Date.now() + 365 * 86_400_000;

export interface Fixture {
  gw: Gateway;
  fake: FakeParties;
  log: LogCapture;
  gatewayKey: KeyPair;
  auditKey: KeyPair;
  /** the parties' institution roots, which the test devices are provisioned with */
  roots: Record<PartyName, PublicKey>;
  /** the gateway's clock (a device's clock agrees with it) */
  now(): number;
  db: Db;
  /** what the gateway was created with (`replica` makes another from it) */
  options: GatewayOptions;
  inject(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  admin(method: string, url: string, body?: unknown, role?: keyof typeof TOKENS, reason?: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/**
 * `parties.volume`: the fake parties' per-template verification budgets. The gateway's own tests run
 * many verifications of one person within a minute, so the default here is far above the parties'
 * (10 per minute); the budget's refusal at the gateway has its own test (security.test.ts).
 */
export async function setup(
  name: string,
  extra: Partial<GatewayOptions> = {},
  parties: { volume?: { perMinute: number; perDay: number }; /** with `extra.parties`: their roots */ roots?: Record<PartyName, PublicKey> } = {},
): Promise<Fixture> {
  const keys = { P0: await generateSealKeyPair(SUITE), P1: await generateSealKeyPair(SUITE) };
  const gatewayKey = await generateSigningKeyPair(SUITE);
  // the fake parties share the gateway's clock (tests that move it move both)
  const fake = createFakeParties({
    keys,
    gatewayKey: { suite: gatewayKey.suite, publicKey: gatewayKey.publicKey },
    volume: parties.volume ?? { perMinute: 10_000, perDay: 1_000_000 },
    ...(extra.now ? { now: extra.now } : {}),
  });
  const log = new LogCapture(name);
  const db = extra.db ?? (await openDb("sqlite::memory:"));
  const auditKey = await generateSigningKeyPair(SUITE);
  const audit = auditSink(await createAuditLog(db, { role: "gateway", signingKey: auditKey }));
  const options: GatewayOptions = {
    db,
    audit,
    parties: fake.clients,
    partyKeys: {
      P0: { suite: SUITE, publicKey: toBase64url(keys.P0.publicKey) },
      P1: { suite: SUITE, publicKey: toBase64url(keys.P1.publicKey) },
    },
    signer: softwareSigner(gatewayKey),
    dataKeys: [generateDataKey(SUITE, "gw-test-1")],
    indexKey: generateDataKey(SUITE, "gw-test-index").key,
    modelVersion: MODEL_VERSION,
    operators: [
      { id: "ada", role: "admin", token: TOKENS.admin, expiresAt: TOKEN_EXPIRY },
      { id: "oscar", role: "operator", token: TOKENS.operator, expiresAt: TOKEN_EXPIRY },
      { id: "aud", role: "auditor", token: TOKENS.auditor, expiresAt: TOKEN_EXPIRY },
      { id: "olga", role: "operator", token: TOKENS.operator2, expiresAt: TOKEN_EXPIRY },
      { id: "prom", role: "monitor", token: TOKENS.monitor, expiresAt: TOKEN_EXPIRY },
    ],
    logger: createLogger({ name: "gateway", destination: log, level: "info" }),
    ...extra,
  };
  const gw = await createGateway(options);
  return fixtureOf(gw, { fake, log, gatewayKey, auditKey, roots: parties.roots ?? (await fake.roots()), now: extra.now ?? Date.now, db, options });
}

/**
 * Another replica of the fixture's gateway (issue 16): a second `createGateway` over the same
 * database, parties, keys and audit log, with its own process state — pass `extra.shared` (a
 * `redisState` on the same Redis and prefix as the first) for the replicas to share challenges,
 * limits and busy marks. Close replicas before the fixture (each close also closes the database).
 */
export async function replica(f: Fixture, extra: Partial<GatewayOptions> = {}): Promise<Fixture> {
  const log = new LogCapture(`replica-${randomBytes(4).toString("hex")}`);
  // its own writer of the one audit chain, as a replica process has
  const audit = auditSink(await createAuditLog(f.db, { role: "gateway", signingKey: f.auditKey }));
  const options: GatewayOptions = { ...f.options, audit, logger: createLogger({ name: "gateway", destination: log, level: "info" }), shared: undefined, cacheDevices: undefined, ...extra };
  return fixtureOf(await createGateway(options), { ...f, log, options });
}

function fixtureOf(gw: Gateway, f: Omit<Fixture, "gw" | "inject" | "admin" | "close">): Fixture {
  const inject: Fixture["inject"] = async (method, url, body, headers = {}) => {
    const r = await gw.app.inject({ method: method as "GET", url, ...(body !== undefined ? { payload: body as object } : {}), headers });
    let parsed: unknown;
    try {
      parsed = r.body ? JSON.parse(r.body) : undefined;
    } catch {
      parsed = r.body;
    }
    return { status: r.statusCode, body: parsed, headers: r.headers as Record<string, unknown> };
  };
  return {
    ...f,
    gw,
    inject,
    admin: (method, url, body, role = "admin", reason) =>
      inject(method, url, body, { authorization: `Bearer ${TOKENS[role]}`, ...(reason ? { "x-privface-reason": reason } : {}) }),
    close: () => gw.close(),
  };
}

/**
 * Unlocks a person under dual control (R27): "operator" requests it, "operator2" approves. Answers
 * the approval's response (200 when unlocked), or the request's when that was refused.
 */
export async function unlockPerson(f: Fixture, personId: string, reason = "test unlock"): Promise<{ status: number; body: any }> {
  const r = await f.admin("POST", `/v1/admin/persons/${personId}/unlock`, undefined, "operator", reason);
  if (r.status !== 202) return r;
  return f.admin("POST", `/v1/admin/approvals/${r.body.approvalId}/approve`, undefined, "operator2", reason);
}

/**
 * Makes a running gateway deploy another model version, as a restart with another
 * PRIVFACE_GATEWAY_MODEL_VERSION would (R5), without the restart: tests of the model upgrade only.
 * It reaches into the service's settings, and fails loudly if that stops working.
 */
export function deployModel(service: GatewayService, version: string): void {
  (service as unknown as { c: { o: { modelVersion: string } } }).c.o.modelVersion = version;
  if (service.modelVersion !== version) throw new Error("deployModel: the service's settings moved; update this test seam");
}

/**
 * The typed scenario world on a real stack with an in-process gateway (integration tests): an admin
 * and an operator client (close them with the stack) and the world the scenario catalogue runs in.
 */
export async function stackWorld(stack: Stack): Promise<{ c: GatewayClient; op: GatewayClient; w: ScenarioWorld }> {
  const c = stack.client("admin");
  const op = stack.client("operator");
  const service = stack.gateway!.service;
  const w = await scenarioWorld({
    call: (method, path, body) => c.call(method, path, body),
    admin: (method, path, body) => c.admin(method, path, body),
    approver: (method, path, body) => op.admin(method, path, body),
    operator: (path, reason) => op.admin("GET", path, undefined, reason),
    modelVersion: () => service.modelVersion,
    deployModel: (version) => deployModel(service, version),
    roots: runtimeTrust(stack.home).roots,
  });
  return { c, op, w };
}

/** The fixture's gateway as the scenario catalogue drives it (@privface/devstack `runScenario`). */
export function scenarioGateway(f: Fixture): ScenarioGateway {
  return {
    call: (method, path, body) => f.inject(method, path, body),
    admin: (method, path, body) => f.admin(method, path, body, "admin"),
    approver: (method, path, body) => f.admin(method, path, body, "operator"),
    operator: (path, reason) => f.admin("GET", path, undefined, "operator", reason),
    modelVersion: () => f.gw.service.modelVersion,
    deployModel: (version) => deployModel(f.gw.service, version),
    roots: f.roots,
  };
}

// ---- embeddings -----------------------------------------------------------------------------------

/** A deterministic pseudo-random unit-ish vector (not quantised; the device quantises). */
export function randomEmbedding(d = 512, seed = randomBytes(4).readUInt32LE()): Float32Array {
  let s = seed >>> 0 || 1;
  const v = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    // xorshift + Box-Muller-ish sum of uniforms
    let acc = 0;
    for (let k = 0; k < 4; k++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      acc += s / 2 ** 32 - 0.5;
    }
    v[i] = acc;
  }
  return v;
}

/** The same face, slightly different capture: v + small noise. */
export function sameFace(v: Float32Array, noise = 0.15, seed = 7): Float32Array {
  const n = randomEmbedding(v.length, seed);
  let nv = 0;
  let nn = 0;
  for (let i = 0; i < v.length; i++) {
    nv += v[i] * v[i];
    nn += n[i] * n[i];
  }
  const k = (noise * Math.sqrt(nv)) / Math.sqrt(nn);
  return v.map((x, i) => x + k * n[i]);
}

// ---- device helpers -----------------------------------------------------------------------------

export interface World {
  merchantId: string;
  deviceId: string;
  deviceKey: KeyPair;
  /** the device's key-agreement key (statement MACs) and what it trusts */
  authKey: KeyPair;
  trust: DeviceTrust;
  persons: Record<string, { personId: string; face: Float32Array; idNumber: string; phone: string; name: string }>;
}

// Synthetic identities (placeholder names, test-range numbers): the log, database and heap scans
// look for exactly these values to prove identity data never leaves the gateway's encrypted columns.
export const PEOPLE = {
  alice: { role: "principal", name: "王小明", idNumber: "110101199003071234", phone: "13800138000" },
  bob: { role: "cashier", name: "李四", idNumber: "310104198805052345", phone: "13912345678" },
  carol: { role: "cashier", name: "张三", idNumber: "440303199212123456", phone: "13698765432" },
} as const;

export async function registerWorld(f: Fixture, people: (keyof typeof PEOPLE)[] = ["alice", "bob", "carol"]): Promise<World> {
  const m = await f.admin("POST", "/v1/admin/merchants", { name: "Test Shop" });
  if (m.status !== 201) throw new Error(`merchant: ${m.status} ${JSON.stringify(m.body)}`);
  const merchantId = m.body.merchantId as string;
  const deviceKey = await generateSigningKeyPair(SUITE);
  const authKey = await generateSealKeyPair(SUITE);
  const d = await f.admin("POST", `/v1/admin/merchants/${merchantId}/devices`, { suite: SUITE, publicKey: toBase64url(deviceKey.publicKey), authKey: toBase64url(authKey.publicKey), label: "till 1" });
  if (d.status !== 201) throw new Error(`device: ${d.status} ${JSON.stringify(d.body)}`);
  // the second approver (R27): another operator than the admin who registered it
  const a = await f.admin("POST", `/v1/admin/devices/${d.body.deviceId}/approve`, undefined, "operator");
  if (a.status !== 200) throw new Error(`device approval: ${a.status} ${JSON.stringify(a.body)}`);
  const persons: World["persons"] = {};
  let seed = 1000;
  for (const who of people) {
    const p = PEOPLE[who];
    const r = await f.admin("POST", `/v1/admin/merchants/${merchantId}/persons`, p);
    if (r.status !== 201) throw new Error(`person: ${r.status} ${JSON.stringify(r.body)}`);
    persons[who] = { personId: r.body.personId, face: randomEmbedding(512, seed++), idNumber: p.idNumber, phone: p.phone, name: p.name };
  }
  return { merchantId, deviceId: d.body.deviceId, deviceKey, authKey, trust: { roots: f.roots, seen: {} }, persons };
}

/** A challenge request signed by the world's device (or `deviceId` with `key`), as the SDK makes it. */
export async function challenge(f: Fixture, w: World, personId: string, purpose: string, deviceId = w.deviceId, key: KeyPair = w.deviceKey, at?: number) {
  return f.inject("POST", "/v1/challenges", await buildChallengeRequest({ deviceId, personId, purpose: purpose as "verify", signingKey: key, at: at ?? f.now() }));
}

export async function signBody<T extends object>(key: KeyPair, unsigned: T): Promise<T & { signature: string }> {
  return { ...unsigned, signature: toBase64url(await sign(key, utf8(canonicalJson(unsigned)))) };
}

export async function giveConsent(f: Fixture, w: World, personId: string) {
  const notice = (await f.inject("GET", "/v1/notices/current")).body;
  const ch = await challenge(f, w, personId, "consent");
  if (ch.status !== 201) return ch;
  const body = await signBody(w.deviceKey, {
    deviceId: w.deviceId,
    personId,
    challenge: ch.body.challenge,
    noticeVersion: notice.version,
    noticeHash: notice.hash,
    purposes: ["face-verification"],
  });
  return f.inject("POST", "/v1/consents", body);
}

export async function faceBody(
  w: World,
  personId: string,
  ch: ChallengeResponse,
  purpose: "enrol" | "verify",
  embedding: Float32Array | Int8Array,
  opts: { liveness?: number; modelVersion?: string; upgrade?: { modelVersion: string; embedding: Float32Array }; deviceId?: string; deviceKey?: KeyPair; authKey?: KeyPair } = {},
) {
  return buildFaceRequest({
    deviceId: opts.deviceId ?? w.deviceId,
    personId,
    purpose,
    challenge: ch,
    embedding,
    liveness: opts.liveness ?? 0.97,
    modelVersion: opts.modelVersion ?? ch.modelVersion ?? MODEL_VERSION,
    ...(opts.upgrade ? { upgrade: opts.upgrade } : {}),
    signingKey: opts.deviceKey ?? w.deviceKey,
    authKey: opts.authKey ?? w.authKey,
    trust: w.trust,
  });
}

export async function enrol(f: Fixture, w: World, who: string, embedding?: Float32Array) {
  const p = w.persons[who];
  const ch = await challenge(f, w, p.personId, "enrol");
  if (ch.status !== 201) return ch;
  return f.inject("POST", "/v1/enrolments", await faceBody(w, p.personId, ch.body, "enrol", embedding ?? p.face));
}

export async function verify(f: Fixture, w: World, who: string, embedding?: Float32Array, opts: Parameters<typeof faceBody>[5] = {}) {
  const p = w.persons[who];
  const ch = await challenge(f, w, p.personId, "verify", opts.deviceId, opts.deviceKey);
  if (ch.status !== 201) return ch;
  return f.inject("POST", "/v1/verifications", await faceBody(w, p.personId, ch.body, "verify", embedding ?? sameFace(p.face), opts));
}

export async function deregister(f: Fixture, w: World, who: string) {
  const p = w.persons[who];
  const ch = await challenge(f, w, p.personId, "deregister");
  if (ch.status !== 201) return ch;
  return f.inject("POST", "/v1/deregistrations", await buildSignedPersonRequest({ deviceId: w.deviceId, personId: p.personId, challenge: ch.body, signingKey: w.deviceKey }));
}
