import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it, test } from "node:test";
import { ConfigError, envReader, keyFolderOf, runtimeLayout } from "../src/index.ts";

test("envReader: defaults for unset and empty variables, typed values when set", () => {
  const r = envReader("X_", { X_PORT: "8080", X_URL: "https://h:1//", X_EMPTY: "", X_MODE: "FULL", PRIVFACE_HOME: "/tmp/h" });
  assert.equal(r.home, "/tmp/h");
  assert.equal(r.int("PORT", 1, 0, 65535), 8080);
  assert.equal(r.int("EMPTY", 7, 0, 10), 7);
  assert.equal(r.get("EMPTY", "d"), "d");
  assert.equal(r.optional("EMPTY"), undefined);
  assert.equal(r.url("URL", "https://x"), "https://h:1");
  assert.equal(r.oneOf("MODE", "NORMAL", ["NORMAL", "FULL"] as const), "FULL");
  assert.equal(r.dbUrl("DB", "sqlite:/tmp/a.sqlite"), "sqlite:/tmp/a.sqlite");
  r.done();
});

test("envReader: every problem is collected and named, then done() throws one ConfigError", () => {
  const r = envReader("X_", { X_PORT: "70000", X_URL: "http://h", X_DB: "mysql://h", X_MODE: "fast", X_HOME: "/tmp/x" });
  assert.equal(r.home, "/tmp/x");
  r.int("PORT", 1, 0, 65535);
  r.url("URL", "https://x");
  r.dbUrl("DB", "sqlite:a");
  r.oneOf("MODE", "NORMAL", ["NORMAL", "FULL"] as const);
  r.file("CA", "/no/such/file");
  assert.throws(
    () => r.done(),
    (e: unknown) => e instanceof ConfigError && ["X_PORT", "X_URL", "X_DB", "X_MODE", "X_CA"].every((k) => e.problems.some((p) => p.startsWith(k))),
  );
});

test("runtimeLayout: one key folder per server with only its own files, public halves in keys/public", () => {
  const L = runtimeLayout("/tmp/h");
  for (const p of ["p0", "p1"] as const) {
    for (const f of [L.sealKey(p), L.dataKey(p), L.poolSeed(p), L.auditKey(p), L.resultKey(p), L.root(p), L.nonceKey(p)]) assert.equal(keyFolderOf(f), p, f);
    assert.equal(keyFolderOf(L.resultPub(p)), "public");
    assert.equal(keyFolderOf(L.helperPoolSeed(p)), "helper");
    for (const f of [L.sealPub(p), L.rootPub(p)]) assert.equal(keyFolderOf(f), "public", f);
  }
  for (const f of [L.gatewaySigningKey, L.gatewayDataKey, L.gatewayOperators, L.auditKey("gateway"), L.resultKey("gateway")]) assert.equal(keyFolderOf(f), "gateway", f);
  assert.equal(keyFolderOf(L.gatewaySigningPub), "public");
  assert.equal(keyFolderOf(L.auditPub("p0")), "public");
  assert.equal(keyFolderOf(L.cliDeviceKey("m1")), null);
  assert.equal(keyFolderOf(L.ca), null);
  assert.deepEqual(L.gatewayClient, L.clientCert("gateway"));
  assert.equal(keyFolderOf("/elsewhere/keys/p1/anything.json"), "p1", "any runtime home");
});

describe("envReader key files: a server is never handed another server's private key", () => {
  const dir = mkdtempSync(join(tmpdir(), "privface-config-keys-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const L = runtimeLayout(dir);
  const write = (path: string, o: unknown) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(o));
  };
  const pair = { suite: "INTL", kind: "seal", publicKey: "AAAA", privateKey: "BBBB" };
  write(L.sealKey("p0"), pair);
  write(L.sealPub("p0"), { suite: "INTL", kind: "seal", publicKey: "AAAA" });
  write(join(dir, "elsewhere", "copy.json"), pair);
  write(join(dir, "elsewhere", "seed.json"), { kind: "pool-seed", party: "P0", seed: "x" });

  it("publicKey accepts a public key file", () => {
    const r = envReader("X_", { PRIVFACE_HOME: dir });
    assert.equal(r.publicKey("PUB", L.sealPub("p0")), L.sealPub("p0"));
    r.done();
  });
  it("publicKey refuses a private key JSON, a secret of any kind, and a file in a server's folder", () => {
    const r = envReader("X_", { PRIVFACE_HOME: dir, X_A: join(dir, "elsewhere", "copy.json"), X_B: join(dir, "elsewhere", "seed.json"), X_C: L.sealKey("p0") });
    r.publicKey("A", L.sealPub("p0"));
    r.publicKey("B", L.sealPub("p0"));
    r.publicKey("C", L.sealPub("p0"));
    assert.throws(
      () => r.done(),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.problems.join("\n"), /X_A: .* holds private key material \("privateKey"\)/);
        assert.match(e.problems.join("\n"), /X_B: .* holds private key material \("seed"\)/);
        assert.match(e.problems.join("\n"), /X_C: .* lies in the private key folder of p0/);
        return true;
      },
    );
  });
  it("ownKey and ownKeyList refuse a file from another server's folder", () => {
    const r = envReader("X_", { PRIVFACE_HOME: dir, X_SEAL: L.sealKey("p0"), X_DATA: `${L.gatewayDataKey},${L.dataKey("p0")}` });
    assert.equal(r.ownKey("SEAL", L.sealKey("p0"), "p0"), L.sealKey("p0"));
    r.done();
    const r2 = envReader("X_", { PRIVFACE_HOME: dir, X_SEAL: L.sealKey("p0"), X_DATA: `${L.gatewayDataKey},${L.dataKey("p0")}` });
    r2.ownKey("SEAL", L.sealKey("p1"), "p1");
    assert.deepEqual(r2.ownKeyList("DATA", L.gatewayDataKey, "gateway", false), [L.gatewayDataKey, L.dataKey("p0")]);
    assert.throws(
      () => r2.done(),
      (e: unknown) => e instanceof ConfigError && e.problems.length === 2 && /X_SEAL: .* key folder of p0; p1 is never handed/.test(e.problems[0]) && /X_DATA: .* key folder of p0; gateway/.test(e.problems[1]),
    );
  });
});

test("PRIVFACE_SUITE: intl by default, gm on request; a key file of the other suite and a bad value are problems naming the variable", () => {
  const dir = mkdtempSync(join(tmpdir(), "privface-suite-"));
  try {
    const pub = join(dir, "gateway-signing.pub.json");
    writeFileSync(pub, JSON.stringify({ suite: "INTL", kind: "sign", publicKey: "A".repeat(43) }));
    const enc = join(dir, "data.json");
    writeFileSync(enc, JSON.stringify({ format: "privface-keyfile", v: 1, kind: "data-key", suite: "GM", kdf: {}, aead: "SM4-GCM", nonce: "", ciphertext: "" }));
    const seed = join(dir, "seed.json");
    writeFileSync(seed, JSON.stringify({ format: "privface-keyfile", v: 1, kind: "pool-seed", suite: "INTL", kdf: {}, aead: "AES-256-GCM", nonce: "", ciphertext: "" }));
    const read = (env: NodeJS.ProcessEnv) => {
      const r = envReader("PRIVFACE_T_", { PRIVFACE_HOME: dir, ...env });
      r.publicKey("GATEWAY_KEY", pub);
      r.ownKey("DATA_KEY", enc, "p0");
      r.ownKey("SEED", seed, "p0");
      return r;
    };
    assert.equal(read({}).suite, "INTL");
    assert.deepEqual(read({}).problems.map((p) => p.split(" ")[0]), ["PRIVFACE_T_DATA_KEY"]);
    const gm = read({ PRIVFACE_SUITE: "gm" });
    assert.equal(gm.suite, "GM");
    assert.deepEqual(gm.problems.map((p) => p.split(" ")[0]), ["PRIVFACE_T_GATEWAY_KEY"], "a seed has no suite");
    assert.match(gm.problems[0], /holds an INTL key, but the deployment's suite is GM \(PRIVFACE_SUITE=gm\)/);
    assert.throws(() => read({ PRIVFACE_SUITE: "sm" }).done(), (e: Error) => e instanceof ConfigError && /PRIVFACE_SUITE: expected intl or gm, got "sm"/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
