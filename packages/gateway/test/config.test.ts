/** Configuration is checked at start-up (a bad config stops the server with every problem listed), and the masking helpers. */
import { after, before, describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { legacyIndexKey } from "../src/_identity.ts";
import { keyFolderOf, type RuntimeLayout } from "@privface/config";
import { generateSigningKeyPair, keyPairToJson, toBase64url } from "@privface/crypto";
import { readDataKeyFile, readKeyPairFile, readPoolSeedFile } from "@privface/crypto/node";
import { closeDb } from "@privface/db";
import { ensureRuntime } from "@privface/devstack";
import { ConfigError, loadGatewayConfig, openGatewayOptions } from "../src/config.ts";
import { maskIdNumber, maskName, maskPhone } from "../src/_identity.ts";
import { ChallengeStore } from "../src/_challenges.ts";
import { memoryState } from "../src/shared-state.ts";

test("loadGatewayConfig lists every problem of a bad configuration", () => {
  const home = mkdtempSync(join(tmpdir(), "privface-gw-cfg-"));
  try {
    assert.throws(
      () =>
        loadGatewayConfig({
          PRIVFACE_HOME: home,
          PRIVFACE_GATEWAY_PORT: "99999",
          PRIVFACE_GATEWAY_P0_URL: "http://plain",
          PRIVFACE_GATEWAY_DB: "mysql://x",
          PRIVFACE_GATEWAY_TLS: "maybe",
          PRIVFACE_GATEWAY_LIVENESS_THRESHOLD: "2",
          PRIVFACE_GATEWAY_SHARED_STATE: "redis",
        }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const text = (e as ConfigError).problems.join("\n");
        for (const k of ["PORT", "P0_URL", "DB", "TLS", "LIVENESS_THRESHOLD", "SHARED_STATE", "CA", "P0_SEAL_KEY"]) assert.match(text, new RegExp(`PRIVFACE_GATEWAY_${k}`));
        return true;
      },
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("main exits with code 2 and the problems on a bad configuration", () => {
  const home = mkdtempSync(join(tmpdir(), "privface-gw-cfg-"));
  try {
    const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", main], { env: { ...process.env, PRIVFACE_HOME: home, PRIVFACE_GATEWAY_PORT: "-1" }, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /invalid configuration \(PRIVFACE_GATEWAY_\*\)/);
    assert.match(r.stderr, /PRIVFACE_GATEWAY_PORT/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("masks: ID-card number, phone, name", () => {
  assert.equal(maskIdNumber("110101199003071234"), "110101********1234");
  assert.equal(maskIdNumber("11010119900307123X"), "110101********123X");
  assert.equal(maskPhone("13800138000"), "138****8000");
  assert.equal(maskName("王小明"), "王**");
  assert.equal(maskName("A"), "*");
  assert.equal(maskIdNumber("12345"), "*****");
});

test("challenges: TTL at most 60 s, single use, bound", async () => {
  let now = 1_000;
  const state = memoryState(() => now);
  assert.throws(() => new ChallengeStore(state, 61_000), RangeError);
  const s = new ChallengeStore(state, 60_000);
  const ch = await s.issue({ value: "c".repeat(32), deviceId: "d", personId: "p", purpose: "verify", templateId: "t", modelVersion: "m", upgradeTo: undefined }, now);
  assert.equal(ch.expiresAt, 61_000);
  now = 2_000;
  await assert.rejects(s.check(ch.value, "d", "p", "enrol", now), /another person, device or purpose/);
  await assert.rejects(s.check(ch.value, "d", "p", "verify", 61_001), /expired/);
  assert.deepEqual(await s.check(ch.value, "d", "p", "verify", now), JSON.parse(JSON.stringify(ch)));
  assert.equal(await s.consume(ch), true);
  assert.equal(await s.consume(ch), false);
  await assert.rejects(s.check(ch.value, "d", "p", "verify", now), /already been used/);
});

describe("key separation (issue 12 item 7): the gateway receives only the parties' public keys", () => {
  const home = mkdtempSync(join(tmpdir(), "privface-gw-keys-"));
  let L: RuntimeLayout;
  before(async () => {
    L = (await ensureRuntime(home)).layout;
  });
  after(() => rmSync(home, { recursive: true, force: true }));
  const refused = (env: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => loadGatewayConfig({ PRIVFACE_HOME: home, ...env }),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => re.test(p)),
    );

  it("a party's private sealing key is refused: from its folder, or copied anywhere else", () => {
    refused({ PRIVFACE_GATEWAY_P0_SEAL_KEY: L.sealKey("p0") }, /PRIVFACE_GATEWAY_P0_SEAL_KEY: .* private key folder of p0/);
    const copy = join(home, "copy-of-p1-seal.json");
    copyFileSync(L.sealKey("p1"), copy);
    refused({ PRIVFACE_GATEWAY_P1_SEAL_KEY: copy }, /PRIVFACE_GATEWAY_P1_SEAL_KEY: .* holds private key material/);
  });

  it("a key file of another server's folder is refused as the gateway's own key", () => {
    refused({ PRIVFACE_GATEWAY_SIGNING_KEY: L.auditKey("p0") }, /PRIVFACE_GATEWAY_SIGNING_KEY: .* key folder of p0/);
    refused({ PRIVFACE_GATEWAY_DATA_KEYS: `${L.gatewayDataKey},${L.dataKey("p1")}` }, /PRIVFACE_GATEWAY_DATA_KEYS: .* key folder of p1/);
  });

  it("the process refuses to start (exit 2) when handed a party's private key", () => {
    const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", main], { env: { ...process.env, PRIVFACE_HOME: home, PRIVFACE_GATEWAY_P0_SEAL_KEY: L.sealKey("p0") }, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /PRIVFACE_GATEWAY_P0_SEAL_KEY: .* private key folder of p0/);
  });

  it("active liveness (issue 17): two actions per enrol / verify challenge unless configured otherwise; more than 3 is refused", () => {
    assert.equal(loadGatewayConfig({ PRIVFACE_HOME: home }).livenessActions, 2);
    assert.equal(loadGatewayConfig({ PRIVFACE_HOME: home, PRIVFACE_GATEWAY_LIVENESS_ACTIONS: "0" }).livenessActions, 0);
    refused({ PRIVFACE_GATEWAY_LIVENESS_ACTIONS: "4" }, /PRIVFACE_GATEWAY_LIVENESS_ACTIONS/);
  });

  it("web mounts (issue 14): none by default; a prefix and an existing directory; anything else is refused", () => {
    assert.deepEqual(loadGatewayConfig({ PRIVFACE_HOME: home }).web, []);
    assert.deepEqual(loadGatewayConfig({ PRIVFACE_HOME: home, PRIVFACE_GATEWAY_WEB: `/pos/=${home}` }).web, [{ prefix: "/pos/", dir: home }]);
    refused({ PRIVFACE_GATEWAY_WEB: `/pos/=${join(home, "no-such-dir")}` }, /PRIVFACE_GATEWAY_WEB: .*no-such-dir \(\/pos\/\) is not a directory/);
    refused({ PRIVFACE_GATEWAY_WEB: `/v1/=${home}` }, /PRIVFACE_GATEWAY_WEB: expected \/name\/=\/absolute\/dir/);
  });

  it("shared state (issue 16): memory by default, or a redis:// URL; anything else is refused without echoing a password", async () => {
    assert.equal(loadGatewayConfig({ PRIVFACE_HOME: home }).sharedState, "memory");
    for (const bad of ["redis", "http://127.0.0.1:6379", "redis://", "mem"]) refused({ PRIVFACE_GATEWAY_SHARED_STATE: bad }, /PRIVFACE_GATEWAY_SHARED_STATE: expected "memory" or a redis:\/\/ or rediss:\/\/ URL/);
    assert.throws(
      () => loadGatewayConfig({ PRIVFACE_HOME: home, PRIVFACE_GATEWAY_SHARED_STATE: "https://u:s3cret@host:6379" }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes("s3cret") && /SHARED_STATE/.test(e.message),
    );
    const cfg = loadGatewayConfig({ PRIVFACE_HOME: home, PRIVFACE_GATEWAY_SHARED_STATE: "redis://127.0.0.1:6379/0" });
    assert.equal(cfg.sharedState, "redis://127.0.0.1:6379/0");
    const opts = await openGatewayOptions(cfg);
    try {
      assert.ok(opts.shared, "a Redis URL gives the gateway a shared state");
      assert.equal(opts.cacheDevices, undefined, "the device cache follows the shared state (off)");
    } finally {
      await opts.shared?.close();
      await closeDb(opts.db);
    }
    const mem = await openGatewayOptions(loadGatewayConfig({ PRIVFACE_HOME: home }));
    assert.equal(mem.shared, undefined);
    await closeDb(mem.db);
  });

  it("default layout: the loaded configuration names no party or helper key, and what it loads holds no party private key", async () => {
    const cfg = loadGatewayConfig({ PRIVFACE_HOME: home });
    const paths = Object.values(cfg).flatMap((v) => (typeof v === "string" ? [v] : Array.isArray(v) ? v : v && typeof v === "object" ? Object.values(v) : [])).filter((v): v is string => typeof v === "string");
    for (const p of paths) assert.ok(!["p0", "p1", "helper"].includes(keyFolderOf(p) ?? ""), `${p} is another server's key file`);
    assert.deepEqual(cfg.partySealKeys, { P0: L.sealPub("p0"), P1: L.sealPub("p1") });
    const secrets: string[] = [];
    for (const p of ["p0", "p1"] as const) {
      secrets.push(toBase64url((await readKeyPairFile(L.sealKey(p))).privateKey), toBase64url((await readKeyPairFile(L.auditKey(p))).privateKey));
      secrets.push(toBase64url(readDataKeyFile(L.dataKey(p)).key), toBase64url(readPoolSeedFile(L.poolSeed(p), p === "p0" ? "P0" : "P1")));
    }
    for (const p of paths.filter((f) => existsSync(f) && statSync(f).isFile())) {
      const text = readFileSync(p, "utf8");
      for (const s of secrets) assert.ok(!text.includes(s), `${p} holds a party secret`);
    }
    const opts = await openGatewayOptions(cfg);
    try {
      assert.deepEqual(Object.keys(opts.partyKeys.P0).sort(), ["publicKey", "suite"]);
      const seen = JSON.stringify(opts, (_k, v: unknown) => (v instanceof Uint8Array ? toBase64url(v) : v));
      for (const s of secrets) assert.ok(!seen.includes(s), "the gateway's options hold a party secret");
      // the blind-index key (issue 13): written at the first start with the value indexes were made
      // under (derived from the first data key), then its own key: a data-key rotation leaves it as is
      assert.deepEqual(opts.indexKey, legacyIndexKey(opts.dataKeys[0]));
    } finally {
      await closeDb(opts.db);
    }
    // a new key file, made by the gateway at start (a fresh id, never the old key's)
    const fresh = join(home, "keys", "gateway", "data-2027.json");
    const rotated = await openGatewayOptions(loadGatewayConfig({ PRIVFACE_HOME: home, PRIVFACE_GATEWAY_DATA_KEYS: `${fresh},${L.gatewayDataKey}` }));
    try {
      assert.notEqual(rotated.dataKeys[0].id, opts.dataKeys[0].id);
      assert.deepEqual(rotated.indexKey, opts.indexKey, "the index key does not follow the data keys");
    } finally {
      await closeDb(rotated.db);
    }
  });
});

describe("encrypted key files (issue 13): the gateway refuses a plaintext key, a wrong or missing secret", () => {
  const home = mkdtempSync(join(tmpdir(), "privface-gw-enc-"));
  let L: RuntimeLayout;
  before(async () => {
    L = (await ensureRuntime(home)).layout;
  });
  after(() => rmSync(home, { recursive: true, force: true }));
  const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
  const start = (env: Record<string, string | undefined>) =>
    spawnSync(process.execPath, ["--import", "tsx", main], { env: { ...process.env, PRIVFACE_HOME: home, PRIVFACE_GATEWAY_PORT: "0", PRIVFACE_KEY_SECRET_FILE: undefined, ...env }, encoding: "utf8", timeout: 120_000 });

  it("a wrong secret: WRONG_KEY_SECRET; no secret: KEY_SECRET_MISSING (exit 1, before listening)", () => {
    const wrong = start({ PRIVFACE_KEY_SECRET: "not-the-secret-of-this-home" });
    assert.equal(wrong.status, 1, wrong.stderr);
    assert.match(wrong.stderr, /privface gateway: failed to start: WRONG_KEY_SECRET: .*does not open/);
    assert.doesNotMatch(wrong.stdout, /ready/);
    const none = start({ PRIVFACE_KEY_SECRET: undefined });
    assert.equal(none.status, 1, none.stderr);
    assert.match(none.stderr, /KEY_SECRET_MISSING: .*PRIVFACE_KEY_SECRET/);
  });

  it("a plaintext signing key file: PLAINTEXT_KEY_FILE, in process and at process start", async () => {
    const plain = join(L.keyDir("gateway"), "plain-signing.json");
    writeFileSync(plain, JSON.stringify(keyPairToJson(await generateSigningKeyPair("INTL"))), { mode: 0o600 });
    await assert.rejects(openGatewayOptions(loadGatewayConfig({ ...process.env, PRIVFACE_HOME: home, PRIVFACE_GATEWAY_SIGNING_KEY: plain })), { code: "PLAINTEXT_KEY_FILE" });
    const r = start({ PRIVFACE_GATEWAY_SIGNING_KEY: plain });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /failed to start: PLAINTEXT_KEY_FILE: .*plain-signing\.json holds private key material in the clear/);
  });
});
