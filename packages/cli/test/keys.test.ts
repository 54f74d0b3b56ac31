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
