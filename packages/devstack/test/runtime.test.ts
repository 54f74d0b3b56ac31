/**
 * `ensureRuntime`: one key folder per server (mode 0700) holding only that server's private
 * material, the public halves in keys/public, idempotent, and keys of the earlier flat layout moved.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runtimeLayout } from "@privface/config";
import { generateSigningKeyPair, keyPairToJson, toBase64url } from "@privface/crypto";
import { readDataKeyFile, readKeyPairFile, readPairSeedFile, readPoolSeedFile, readPublicKeyFile } from "@privface/crypto/node";
import { ensureRuntime, privateKeyFiles } from "../src/runtime.ts";

/** every file under `dir`, recursively */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe("ensureRuntime key folders (issue 12 item 7)", () => {
  const root = mkdtempSync(join(tmpdir(), "privface-runtime-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("each server's folder holds only its own files (mode 0700); keys/public only public halves", async () => {
    const home = join(root, "fresh");
    const { layout: L, created } = await ensureRuntime(home);
    const ls = (d: string) => readdirSync(d).sort();
    assert.deepEqual(ls(L.dirs.keys), ["cli", "gateway", "helper", "p0", "p1", "public"]);
    assert.deepEqual(ls(L.keyDir("p0")), ["audit.json", "data.json", "nonce.json", "pair-seed.json", "pool-seed.json", "result.json", "root.json", "seal.json"]);
    assert.deepEqual(ls(L.keyDir("p1")), ["audit.json", "data.json", "nonce.json", "pair-seed.json", "pool-seed.json", "result.json", "root.json", "seal.json"]);
    // the pair seed: one seed at both parties, no copy in the helper's folder (checked just below)
    assert.deepEqual(readPairSeedFile(L.pairSeed("p0")), readPairSeedFile(L.pairSeed("p1")));
    assert.deepEqual(ls(L.keyDir("helper")), ["audit.json", "p0-pool-seed.json", "p1-pool-seed.json"]);
    assert.deepEqual(ls(L.keyDir("gateway")), ["audit.json", "result.json", "signing.json"]);
    for (const s of ["helper", "p0", "p1", "gateway"] as const) assert.equal(statSync(L.keyDir(s)).mode & 0o777, 0o700, s);
    assert.deepEqual(ls(L.dirs.public), [
      "gateway-audit.pub.json", "gateway-result.pub.json", "gateway-signing.pub.json", "helper-audit.pub.json",
      "p0-audit.pub.json", "p0-result.pub.json", "p0-root.pub.json", "p0-seal.pub.json", "p1-audit.pub.json", "p1-result.pub.json", "p1-root.pub.json", "p1-seal.pub.json",
    ]);
    for (const f of ls(L.dirs.public)) {
      const j = JSON.parse(readFileSync(join(L.dirs.public, f), "utf8")) as Record<string, unknown>;
      assert.deepEqual(Object.keys(j).sort(), ["kind", "publicKey", "suite"], f);
    }
    for (const p of ["p0", "p1"] as const) {
      assert.deepEqual(readPublicKeyFile(L.sealPub(p)).publicKey, (await readKeyPairFile(L.sealKey(p))).publicKey);
      assert.deepEqual(readPublicKeyFile(L.rootPub(p)).publicKey, (await readKeyPairFile(L.root(p))).publicKey, "devices are provisioned with the root's public half");
      assert.equal(readFileSync(L.helperPoolSeed(p), "utf8"), readFileSync(L.poolSeed(p), "utf8"));
      assert.equal(statSync(L.helperPoolSeed(p)).mode & 0o777, 0o600);
    }
    assert.deepEqual(readPublicKeyFile(L.gatewaySigningPub).publicKey, (await readKeyPairFile(L.gatewaySigningKey)).publicKey);
    assert.ok(created.includes("keys/p0/seal.json") && created.includes("keys/public/p0-seal.pub.json"));
    assert.deepEqual((await ensureRuntime(home)).created, [], "idempotent");
  });

  it("moves the keys of the earlier flat keys/ folder into their server's folder", async () => {
    const home = join(root, "legacy");
    const first = runtimeLayout(join(root, "fresh"));
    const L = runtimeLayout(home);
    mkdirSync(L.dirs.keys, { recursive: true });
    const old = { "p0-seal.json": first.sealKey("p0"), "p1-data.json": first.dataKey("p1"), "p0-pool-seed.json": first.poolSeed("p0"), "gateway-signing.json": first.gatewaySigningKey };
    for (const [name, from] of Object.entries(old)) writeFileSync(join(L.dirs.keys, name), readFileSync(from));
    await ensureRuntime(home);
    assert.equal(readFileSync(L.sealKey("p0"), "utf8"), readFileSync(first.sealKey("p0"), "utf8"));
    assert.equal(readFileSync(L.dataKey("p1"), "utf8"), readFileSync(first.dataKey("p1"), "utf8"));
    assert.equal(readFileSync(L.helperPoolSeed("p0"), "utf8"), readFileSync(first.poolSeed("p0"), "utf8"));
    assert.equal(readFileSync(L.gatewaySigningPub, "utf8"), readFileSync(first.gatewaySigningPub, "utf8"));
    assert.deepEqual(readdirSync(L.dirs.keys).filter((f) => f.endsWith(".json")), [], "nothing left in the flat folder");
  });

  it("issue 13: after first run no file of the home holds plaintext private key material", async () => {
    const home = join(root, "scan");
    const { layout: L } = await ensureRuntime(home);
    // the secrets themselves, in the encodings a file could hold them in
    const secrets: string[] = [];
    for (const [path, kind] of privateKeyFiles(L).filter(([p]) => existsSync(p))) {
      const raw =
        kind === "key-pair" ? (await readKeyPairFile(path)).privateKey
        : kind === "data-key" ? readDataKeyFile(path).key
        : kind === "pool-seed" ? readPoolSeedFile(path, path.includes("p1") ? "P1" : "P0")
        : readPairSeedFile(path);
      secrets.push(toBase64url(raw), Buffer.from(raw).toString("base64"), Buffer.from(raw).toString("hex"));
    }
    const files = walk(home);
    assert.ok(files.length > 40, `${files.length} files`);
    for (const f of files) {
      const text = readFileSync(f, "latin1");
      assert.doesNotMatch(text, /-----BEGIN (EC |RSA |)PRIVATE KEY-----/, `${f} holds a plaintext PEM private key`);
      assert.doesNotMatch(text, /"(privateKey|d|seed|key|secret)"\s*:/, `${f} holds a private field in the clear`);
      for (const s of secrets) assert.ok(!text.includes(s), `${f} holds a private key's bytes`);
    }
  });

  it("issue 13: a home of the earlier version (plaintext key files) is encrypted in place, keys unchanged", async () => {
    const home = join(root, "plaintext");
    const L = runtimeLayout(home);
    mkdirSync(L.keyDir("gateway"), { recursive: true });
    const kp = await generateSigningKeyPair("INTL");
    writeFileSync(L.gatewaySigningKey, JSON.stringify(keyPairToJson(kp)));
    const { created } = await ensureRuntime(home);
    assert.ok(created.includes("keys/gateway/signing.json"));
    assert.doesNotMatch(readFileSync(L.gatewaySigningKey, "utf8"), /privateKey/);
    assert.deepEqual(await readKeyPairFile(L.gatewaySigningKey), kp);
  });
});
