/** `privface keys encrypt` (issue 13): plaintext key files of an earlier home encrypted in place under the environment's secret. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateDataKey, generateSigningKeyPair, keyPairToJson, dataKeyToJson, toBase64url } from "@privface/crypto";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));
const SECRET = "cli-keys-test-secret-0123456789";

test("privface keys encrypt: JSON key files and a PEM key, in place; refused without a secret", async () => {
  const dir = mkdtempSync(join(tmpdir(), "privface-keys-cli-"));
  try {
    const kp = await generateSigningKeyPair("INTL");
    const dk = generateDataKey("GM", "p0-1");
    const seed = toBase64url(new Uint8Array(32).fill(7));
    const files = { sign: join(dir, "signing.json"), data: join(dir, "data.json"), seed: join(dir, "pool-seed.json"), tls: join(dir, "p0.key") };
    writeFileSync(files.sign, JSON.stringify(keyPairToJson(kp)));
    writeFileSync(files.data, JSON.stringify(dataKeyToJson(dk)));
    writeFileSync(files.seed, JSON.stringify({ kind: "pool-seed", party: "P0", seed }));
    const pem = execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], { encoding: "utf8" });
    writeFileSync(files.tls, pem);
    const run = (env: Record<string, string | undefined>) =>
      spawnSync(process.execPath, [bin, "keys", "encrypt", ...Object.values(files)], { encoding: "utf8", env: { ...process.env, PRIVFACE_KEY_SECRET: undefined, PRIVFACE_KEY_SECRET_FILE: undefined, ...env } });
    const none = run({});
    assert.equal(none.status, 1);
    assert.match(none.stderr, /KEY_SECRET_MISSING/);
    assert.equal(readFileSync(files.tls, "utf8"), pem, "nothing touched without a secret");
    const first = run({ PRIVFACE_KEY_SECRET: SECRET });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout.match(/: encrypted$/gm)?.length, 4, first.stdout);
    assert.doesNotMatch(first.stdout + first.stderr, new RegExp(toBase64url(kp.privateKey)));
    for (const f of Object.values(files)) assert.doesNotMatch(readFileSync(f, "utf8"), /privateKey|"key"|"seed"|-----BEGIN PRIVATE KEY/, f);
    assert.equal(run({ PRIVFACE_KEY_SECRET: SECRET }).stdout.match(/already encrypted$/gm)?.length, 4);
    // and they read back under the secret
    process.env.PRIVFACE_KEY_SECRET = SECRET;
    const node = await import("@privface/crypto/node");
    assert.deepEqual(await node.readKeyPairFile(files.sign), kp);
    assert.deepEqual(node.readDataKeyFile(files.data), dk);
    assert.equal(toBase64url(node.readPoolSeedFile(files.seed, "P0")), seed);
    assert.equal(node.readTlsKey(files.tls).toString(), execFileSync("openssl", ["pkey"], { input: pem, encoding: "utf8" }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("privface keys generate: encrypted sealing and GM data key files for a rotation; an existing file is refused", async () => {
  const { readDataKeyFile, readKeyPairFile } = await import("@privface/crypto/node");
  const { sealingKeyId } = await import("@privface/contracts");
  const dir = mkdtempSync(join(tmpdir(), "privface-keys-gen-"));
  try {
    const env = { ...process.env, PRIVFACE_KEY_SECRET: SECRET };
    const gen = (...args: string[]) => spawnSync(process.execPath, [bin, "keys", "generate", ...args], { encoding: "utf8", env });
    const seal = join(dir, "seal-2027.json");
    const r = gen("--kind", "seal", "--suite", "INTL", "--out", seal);
    assert.equal(r.status, 0, r.stderr);
    const kp = await readKeyPairFile(seal);
    assert.equal(kp.kind, "seal");
    assert.equal(JSON.parse(r.stdout).id, await sealingKeyId(kp));
    assert.match(readFileSync(seal, "utf8"), /privface-keyfile/);
    const data = join(dir, "data-gm.json");
    assert.equal(gen("--kind", "data", "--suite", "GM", "--id", "p0-gm-2027", "--out", data).status, 0);
    const dk = readDataKeyFile(data);
    assert.deepEqual([dk.suite, dk.id, dk.key.length], ["GM", "p0-gm-2027", 16]);
    // a gateway signing key for a rotation, with its public half for the parties
    const { readPublicKeyFile } = await import("@privface/crypto/node");
    const sign = join(dir, "signing-2027.json");
    const signPub = join(dir, "gateway-signing-2027.pub.json");
    assert.equal(gen("--kind", "sign", "--suite", "INTL", "--out", sign, "--public", signPub).status, 0);
    assert.deepEqual(readPublicKeyFile(signPub).publicKey, (await readKeyPairFile(sign)).publicKey);
    assert.doesNotMatch(readFileSync(signPub, "utf8"), /privateKey|ciphertext/);
    const again = gen("--kind", "seal", "--suite", "INTL", "--out", seal);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /exists/);
    assert.deepEqual((await readKeyPairFile(seal)).publicKey, kp.publicKey, "the file is unchanged");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
