/**
 * The gateway relays sealed shares it cannot open (R2, PFI-03): after enrolments and verifications
 * through a gateway running in its own process, neither its database files, nor its log, nor a heap
 * snapshot of the process contain any plaintext share (P0's seed, P0's expanded share, P1's share) or
 * the quantised vector, in raw bytes, base64, base64url or hex. The database holds no identity value
 * in the clear either, and the log passes the log scanner.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fork, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { contextAad, sealingKeyId, signKeyList } from "@privface/contracts";
import { canonicalJson, fromBase64url, generateSealKeyPair, generateSigningKeyPair, open, sign, toBase64url, utf8, type KeyPair } from "@privface/crypto";
import { buildChallengeRequest, buildFaceRequest } from "@privface/device";
import { expandSeedShare, quantise } from "@privface/mpc";
import { randomEmbedding, sameFace, PEOPLE } from "./_setup.ts";
import { scanLog } from "./_logscan.ts";

const dir = mkdtempSync(join(tmpdir(), "privface-gw-heap-"));
let child: ChildProcess;
let base = "";
const keys: Record<"P0" | "P1", KeyPair> = {} as never;
const roots: Record<"P0" | "P1", KeyPair> = {} as never;
const secrets: { label: string; bytes: Buffer }[] = [];

function ask<T>(msg: unknown): Promise<T> {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve(m as T));
    child.send(msg as object);
  });
}

async function call(method: string, path: string, body?: unknown, token?: string) {
  const r = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: (await r.json()) as any };
}

/** Opens what the device sealed (the test plays both parties) and remembers every plaintext form. */
async function remember(body: { shares: { P0: string; P1: string } }, ctx: { purpose: string; challenge: string; templateId: string; modelVersion: string }, q: Int8Array) {
  const seed0 = await open(keys.P0, fromBase64url(body.shares.P0), contextAad({ ...ctx, party: "P0" }));
  const share1 = await open(keys.P1, fromBase64url(body.shares.P1), contextAad({ ...ctx, party: "P1" }));
  const x0 = expandSeedShare(seed0, ctx, 512);
  secrets.push({ label: "P0 seed", bytes: Buffer.from(seed0) }, { label: "P1 share", bytes: Buffer.from(share1) }, { label: "P0 expanded share", bytes: Buffer.from(x0) }, { label: "quantised vector", bytes: Buffer.from(q.buffer, q.byteOffset, q.byteLength) });
}

function findIn(hay: Buffer, s: { label: string; bytes: Buffer }): string | undefined {
  const forms: [string, Buffer][] = [
    ["raw", s.bytes],
    ["base64url", Buffer.from(s.bytes.toString("base64url").slice(0, 20))],
    ["base64", Buffer.from(s.bytes.toString("base64").slice(0, 20))],
    ["hex", Buffer.from(s.bytes.toString("hex").slice(0, 32))],
  ];
  for (const [form, needle] of forms) if (hay.indexOf(needle) >= 0) return `${s.label} (${form})`;
  return undefined;
}

before(async () => {
  keys.P0 = await generateSealKeyPair("INTL");
  keys.P1 = await generateSealKeyPair("INTL");
  child = fork(fileURLToPath(new URL("./fixtures/child-gateway.ts", import.meta.url)), [], { execArgv: ["--import", "tsx", "--expose-gc"], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const partyKeys = { P0: { suite: "INTL", publicKey: toBase64url(keys.P0.publicKey) }, P1: { suite: "INTL", publicKey: toBase64url(keys.P1.publicKey) } };
  const keyLists: Record<string, unknown> = {};
  for (const p of ["P0", "P1"] as const) {
    roots[p] = await generateSigningKeyPair("INTL");
    const t = Date.now();
    keyLists[p] = await signKeyList(roots[p], { party: p, version: 1, issuedAt: t, expiresAt: t + 86_400_000, keys: [{ id: await sealingKeyId(keys[p]), suite: "INTL", publicKey: toBase64url(keys[p].publicKey) }] });
  }
  const { port } = await ask<{ port: number }>({ partyKeys, keyLists, dir });
  base = `http://127.0.0.1:${port}`;
});

function stop(): Promise<void> {
  if (child.exitCode !== null || !child.connected) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.send("stop");
  });
}

after(async () => {
  await stop();
  child.kill();
  rmSync(dir, { recursive: true, force: true });
});

test("no plaintext share in the gateway's database, log or heap", async () => {
  const token = "admin-token-0123456789";
  const m = await call("POST", "/v1/admin/merchants", { name: "Heap Shop" }, token);
  const deviceKey = await generateSigningKeyPair("INTL");
  const authKey = await generateSealKeyPair("INTL");
  const d = await call("POST", `/v1/admin/merchants/${m.body.merchantId}/devices`, { suite: "INTL", publicKey: toBase64url(deviceKey.publicKey), authKey: toBase64url(authKey.publicKey) }, token);
  assert.equal((await call("POST", `/v1/admin/devices/${d.body.deviceId}/approve`, undefined, "operator-token-0123456789")).status, 200);
  const p = await call("POST", `/v1/admin/merchants/${m.body.merchantId}/persons`, PEOPLE.alice, token);
  assert.equal(p.status, 201);
  const personId = p.body.personId as string;
  const deviceId = d.body.deviceId as string;
  const notice = (await call("GET", "/v1/notices/current")).body;
  const cc = await call("POST", "/v1/challenges", await buildChallengeRequest({ deviceId, personId, purpose: "consent", signingKey: deviceKey }));
  const unsigned = { deviceId, personId, challenge: cc.body.challenge, noticeVersion: notice.version, noticeHash: notice.hash, purposes: ["face-verification"] };
  const consent = await call("POST", "/v1/consents", { ...unsigned, signature: toBase64url(await sign(deviceKey, utf8(canonicalJson(unsigned)))) });
  assert.equal(consent.status, 201);

  const face = randomEmbedding(512, 31337);
  for (const purpose of ["enrol", "verify", "verify"] as const) {
    const ch = await call("POST", "/v1/challenges", await buildChallengeRequest({ deviceId, personId, purpose, signingKey: deviceKey }));
    assert.equal(ch.status, 201, JSON.stringify(ch.body));
    const emb = purpose === "enrol" ? face : sameFace(face, 0.1, purpose.length + secrets.length);
    const body = await buildFaceRequest({ deviceId, personId, purpose, challenge: ch.body, embedding: emb, liveness: 0.95, modelVersion: "test-model.1", signingKey: deviceKey, authKey, trust: { roots } });
    await remember(body, { purpose, challenge: ch.body.challenge, templateId: ch.body.templateId, modelVersion: "test-model.1" }, quantise(emb));
    const r = await call("POST", purpose === "enrol" ? "/v1/enrolments" : "/v1/verifications", body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.decision, "accept");
  }
  assert.equal(secrets.length, 12);

  const { snapshot } = await ask<{ snapshot: string }>("snapshot");
  const heap = readFileSync(snapshot);
  assert.ok(heap.length > 1_000_000, "heap snapshot looks empty");
  await stop();
  const db = Buffer.concat(["gateway.sqlite", "gateway.sqlite-wal"].map((f) => join(dir, f)).filter(existsSync).map((f) => readFileSync(f)));
  const log = readFileSync(join(dir, "gateway.log"));
  assert.ok(db.length > 0 && log.length > 0);

  // the search works: a planted secret is found in every form
  const planted = secrets[1];
  for (const enc of ["base64url", "base64", "hex"] as const) assert.ok(findIn(Buffer.from(`xx${planted.bytes.toString(enc)}yy`), planted));
  assert.ok(findIn(Buffer.concat([Buffer.from("abc"), planted.bytes]), planted));

  for (const [name, hay] of [["heap snapshot", heap], ["database", db], ["log", log]] as const) {
    for (const s of secrets) assert.equal(findIn(hay, s), undefined, `${name} contains ${findIn(hay, s)}`);
  }
  for (const v of [PEOPLE.alice.idNumber, PEOPLE.alice.phone, PEOPLE.alice.name]) assert.equal(db.indexOf(Buffer.from(v)), -1, "identity value in the clear in the database");
  assert.deepEqual(scanLog(log.toString("utf8"), [PEOPLE.alice.idNumber, PEOPLE.alice.phone]), []);
});
