/** Encrypted key files (the embedded key provider): format, secret from the environment, refusals. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as c from "../src/index.ts";
import * as files from "../src/node.ts";

const SECRET = "keyfile-test-secret-0123456789";

/** run `fn` with PRIVFACE_KEY_SECRET / _FILE set to `env` (unset when undefined), then restore */
async function withEnv<T>(env: { secret?: string; file?: string }, fn: () => T | Promise<T>): Promise<T> {
  const saved = [process.env.PRIVFACE_KEY_SECRET, process.env.PRIVFACE_KEY_SECRET_FILE];
  const set = (k: string, v: string | undefined) => (v === undefined ? delete process.env[k] : (process.env[k] = v));
  set("PRIVFACE_KEY_SECRET", env.secret);
  set("PRIVFACE_KEY_SECRET_FILE", env.file);
  try {
    return await fn();
  } finally {
    set("PRIVFACE_KEY_SECRET", saved[0]);
    set("PRIVFACE_KEY_SECRET_FILE", saved[1]);
  }
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "pf-keyfile-"));
}

test("key pair, data key and seed files are encrypted: no private bytes, no private field on disk; they read back", async () => {
  const dir = tmp();
  try {
    await withEnv({ secret: SECRET }, async () => {
      for (const suite of ["INTL", "GM"] as const) {
        const p = join(dir, `${suite}-sign.json`);
        const { key } = await files.ensureKeyPairFile(p, suite, "sign");
        const text = readFileSync(p, "utf8");
        const j = JSON.parse(text);
        assert.equal(j.format, "privface-keyfile");
        assert.equal(j.kind, "key-pair");
        assert.equal(j.aead, suite === "GM" ? "SM4-GCM" : "AES-256-GCM");
        assert.deepEqual({ alg: j.kdf.alg, N: j.kdf.N, r: j.kdf.r, p: j.kdf.p }, { alg: "scrypt", N: 65536, r: 8, p: 1 });
        for (const enc of ["base64url", "base64", "hex"] as const) assert.ok(!text.includes(Buffer.from(key.privateKey).toString(enc)), enc);
        assert.ok(!/privateKey|"d"|PRIVATE KEY/.test(text));
        assert.deepEqual(await files.readKeyPairFile(p), key);
        assert.deepEqual(files.readPublicKeyFile(p).publicKey, key.publicKey);
      }
      const dk = files.ensureDataKeyFile(join(dir, "data.json"), "GM", "p0-1").key;
      assert.ok(!readFileSync(join(dir, "data.json"), "utf8").includes(c.toBase64url(dk.key)));
      assert.deepEqual(files.readDataKeyFile(join(dir, "data.json")), dk);
      files.ensurePoolSeedFile(join(dir, "pool.json"), "P0");
      assert.ok(!readFileSync(join(dir, "pool.json"), "utf8").includes('"seed"'));
      assert.equal(files.readPoolSeedFile(join(dir, "pool.json"), "P0").length, 32);
      files.ensurePairSeedFiles([join(dir, "pair0.json"), join(dir, "pair1.json")]);
      assert.deepEqual(files.readPairSeedFile(join(dir, "pair0.json")), files.readPairSeedFile(join(dir, "pair1.json")));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a wrong secret gives WRONG_KEY_SECRET; no secret or a short one gives KEY_SECRET_MISSING", async () => {
  const dir = tmp();
  try {
    const p = join(dir, "seal.json");
    await withEnv({ secret: SECRET }, () => files.ensureKeyPairFile(p, "INTL", "seal"));
    await withEnv({ secret: SECRET + "x" }, () => assert.rejects(files.readKeyPairFile(p), { code: "WRONG_KEY_SECRET" }));
    await withEnv({}, () => assert.rejects(files.readKeyPairFile(p), { code: "KEY_SECRET_MISSING" }));
    await withEnv({}, () => assert.throws(() => files.ensurePoolSeedFile(join(dir, "s.json"), "P0"), { code: "KEY_SECRET_MISSING" }));
    await withEnv({ secret: "short" }, () => assert.rejects(files.readKeyPairFile(p), { code: "KEY_SECRET_MISSING" }));
    // the secret may come from a file instead (trailing newline ignored)
    writeFileSync(join(dir, "secret"), SECRET + "\n", { mode: 0o600 });
    await withEnv({ file: join(dir, "secret") }, async () => assert.equal((await files.readKeyPairFile(p)).kind, "seal"));
    await withEnv({ file: join(dir, "nope") }, () => assert.rejects(files.readKeyPairFile(p), { code: "KEY_SECRET_MISSING" }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a plaintext key file is refused (PLAINTEXT_KEY_FILE) until encrypted in place", async () => {
  const dir = tmp();
  try {
    await withEnv({ secret: SECRET }, async () => {
      const kp = await c.generateSigningKeyPair("INTL");
      const p = join(dir, "signing.json");
      writeFileSync(p, JSON.stringify(c.keyPairToJson(kp)), { mode: 0o600 });
      await assert.rejects(files.readKeyPairFile(p), { code: "PLAINTEXT_KEY_FILE" });
      await assert.rejects(files.ensureKeyPairFile(p, "INTL", "sign"), { code: "PLAINTEXT_KEY_FILE" });
      writeFileSync(join(dir, "seed.json"), JSON.stringify({ kind: "pool-seed", party: "P0", seed: c.toBase64url(c.randomBytes(32)) }));
      assert.throws(() => files.readPoolSeedFile(join(dir, "seed.json"), "P0"), { code: "PLAINTEXT_KEY_FILE" });
      assert.equal(files.encryptKeyFileInPlace(p, "key-pair"), true);
      assert.equal(files.encryptKeyFileInPlace(p, "key-pair"), false);
      assert.deepEqual(await files.readKeyPairFile(p), kp);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the header is bound to the ciphertext: another kind or altered parameters do not open", async () => {
  const dir = tmp();
  try {
    await withEnv({ secret: SECRET }, async () => {
      const p = join(dir, "data.json");
      files.ensureDataKeyFile(p, "INTL", "k1");
      // a data-key file handed over as a key pair: refused by kind
      await assert.rejects(files.readKeyPairFile(p), { code: "BAD_KEY" });
      // relabelled as a key pair: the associated data no longer matches
      const j = JSON.parse(readFileSync(p, "utf8"));
      writeFileSync(p.replace("data", "relabelled"), JSON.stringify({ ...j, kind: "key-pair" }));
      await assert.rejects(files.readKeyPairFile(p.replace("data", "relabelled")), { code: "WRONG_KEY_SECRET" });
      writeFileSync(p.replace("data", "cheap"), JSON.stringify({ ...j, kdf: { ...j.kdf, N: 1 << 14 } }));
      assert.throws(() => files.readDataKeyFile(p.replace("data", "cheap")), { code: "WRONG_KEY_SECRET" });
      writeFileSync(p.replace("data", "huge"), JSON.stringify({ ...j, kdf: { ...j.kdf, N: 1 << 24 } }));
      assert.throws(() => files.readDataKeyFile(p.replace("data", "huge")), { code: "BAD_KEY" });
      writeFileSync(p.replace("data", "flip"), JSON.stringify({ ...j, ciphertext: c.toBase64url(c.randomBytes(40)) }));
      assert.throws(() => files.readDataKeyFile(p.replace("data", "flip")), { code: "WRONG_KEY_SECRET" });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
