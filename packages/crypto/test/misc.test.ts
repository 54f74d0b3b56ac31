/** canonicalJson, base64url, data keys, key JSON and key files, Opener seam. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as c from "../src/index.ts";
import * as files from "../src/node.ts";

process.env.PRIVFACE_KEY_SECRET ??= "misc-test-key-secret-0123456789";

test("canonicalJson: key order independent, refuses what JSON cannot say", () => {
  assert.equal(c.canonicalJson({ b: 2, a: { d: [1, { y: 1, x: 2 }], c: null } }), c.canonicalJson({ a: { c: null, d: [1, { x: 2, y: 1 }] }, b: 2 }));
  assert.equal(c.canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
  assert.throws(() => c.canonicalJson(NaN), TypeError);
  assert.throws(() => c.canonicalJson({ x: Infinity }), TypeError);
  assert.throws(() => c.canonicalJson(10n), TypeError);
  assert.throws(() => c.canonicalJson(undefined), TypeError);
  assert.throws(() => c.canonicalJson(new Uint8Array(2)), TypeError);
  assert.throws(() => c.canonicalJson(new Date(0)), TypeError);
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assert.throws(() => c.canonicalJson(cyc), TypeError);
  const shared = { k: 1 };
  assert.equal(c.canonicalJson([shared, shared]), '[{"k":1},{"k":1}]'); // repeated, not cyclic
  // matches JSON.stringify on random key-sorted data
  for (let i = 0; i < 200; i++) {
    const o: Record<string, unknown> = {};
    for (let j = 0; j < 5; j++) o[`k${(i * 7 + j * 13) % 17}`] = j % 2 ? `s${i}\u0001"` : (i * j) / 7;
    const sorted = Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    assert.equal(c.canonicalJson(o), JSON.stringify(sorted));
  }
});

test("base64url round trips every length and refuses non-canonical text", () => {
  for (let n = 0; n < 70; n++) {
    const b = c.randomBytes(n);
    const t = c.toBase64url(b);
    assert.equal(t, Buffer.from(b).toString("base64url"));
    assert.deepEqual(c.fromBase64url(t), b);
  }
  for (const bad of ["a", "ab=", "a+b/", "ab c", "AB", "é"]) assert.throws(() => c.fromBase64url(bad), RangeError, bad);
  assert.equal(c.isBase64url("AA"), true);
  assert.equal(c.isBase64url("AB"), false); // non-zero trailing bits
});

for (const suite of c.SUITES) {
  test(`${suite}: data keys — round trip, key id, rotation, AAD and tamper`, async () => {
    const k1 = c.generateDataKey(suite, "p0-k1");
    const k2 = c.generateDataKey(suite, "p0-k2");
    assert.equal(k1.key.length, suite === "INTL" ? 32 : 16);
    const aad = c.utf8("tpl-1|fr512-v1");
    const blob = await c.encryptWithDataKey(k1, c.utf8("share bytes"), aad);
    assert.equal(c.dataKeyIdOf(blob), "p0-k1");
    assert.equal(c.fromUtf8(await c.decryptWithDataKey([k2, k1], blob, aad)), "share bytes");
    await assert.rejects(c.decryptWithDataKey([k2], blob, aad), { code: "UNKNOWN_KEY_ID" });
    await assert.rejects(c.decryptWithDataKey(k1, blob, c.utf8("tpl-2|fr512-v1")), { code: "AUTH_FAILED" });
    const forgedId = { ...k2, id: "p0-k1" };
    await assert.rejects(c.decryptWithDataKey(forgedId, blob, aad), { code: "AUTH_FAILED" });
    for (let i = 3; i < blob.length; i++) {
      const bad = blob.slice();
      bad[i] ^= 0x80;
      await assert.rejects(c.decryptWithDataKey([k1, k2], bad, aad), (e: c.CryptoError) => ["AUTH_FAILED", "UNKNOWN_KEY_ID"].includes(e.code));
    }
    await assert.rejects(c.decryptWithDataKey(k1, blob.subarray(0, 10), aad), { code: "ENVELOPE_TRUNCATED" });
    assert.throws(() => c.generateDataKey(suite, "bad id!"), TypeError);
  });

  test(`${suite}: key JSON round trip and validation`, async () => {
    for (const kp of [await c.generateSealKeyPair(suite), await c.generateSigningKeyPair(suite)]) {
      const json = c.keyPairToJson(kp);
      assert.deepEqual(Object.keys(json).sort(), ["kind", "privateKey", "publicKey", "suite"]);
      const back = await c.keyPairFromJson(JSON.parse(JSON.stringify(json)));
      assert.deepEqual(back, kp);
      assert.deepEqual(c.publicKeyFromJson(json), { suite, kind: kp.kind, publicKey: kp.publicKey });
      const other = kp.kind === "seal" ? await c.generateSealKeyPair(suite) : await c.generateSigningKeyPair(suite);
      await assert.rejects(c.keyPairFromJson({ ...json, publicKey: c.toBase64url(other.publicKey) }), { code: "BAD_KEY" });
      await assert.rejects(c.keyPairFromJson({ ...json, extra: 1 }), { code: "BAD_KEY" });
      await assert.rejects(c.keyPairFromJson({ ...json, suite: "RSA" }), { code: "BAD_KEY" });
      await assert.rejects(c.keyPairFromJson({ ...json, privateKey: "***" }), { code: "BAD_KEY" });
    }
    const dk = c.generateDataKey(suite, "d1");
    assert.deepEqual(c.dataKeyFromJson(JSON.parse(JSON.stringify(c.dataKeyToJson(dk)))), dk);
    assert.throws(() => c.dataKeyFromJson({ ...c.dataKeyToJson(dk), key: c.toBase64url(new Uint8Array(5)) }), { code: "BAD_KEY" });
  });
}

test("key files: created once with mode 0600, read back, kind/suite checked", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pf-keys-"));
  try {
    const p = join(dir, "keys", "p0-seal.json");
    const a = await files.ensureKeyPairFile(p, "INTL", "seal");
    assert.equal(a.created, true);
    assert.equal(statSync(p).mode & 0o777, 0o600);
    const b = await files.ensureKeyPairFile(p, "INTL", "seal");
    assert.equal(b.created, false);
    assert.deepEqual(b.key, a.key);
    await assert.rejects(files.ensureKeyPairFile(p, "GM", "seal"), { code: "BAD_KEY" });
    await assert.rejects(files.ensureKeyPairFile(p, "INTL", "sign"), { code: "BAD_KEY" });
    assert.deepEqual(files.readPublicKeyFile(p).publicKey, a.key.publicKey);
    const pubPath = join(dir, "keys", "p0-seal.pub.json");
    files.writePublicKeyFile(pubPath, a.key);
    assert.equal(JSON.parse(readFileSync(pubPath, "utf8")).privateKey, undefined);
    const d = files.ensureDataKeyFile(join(dir, "keys", "p0-data.json"), "GM", "p0-1");
    assert.equal(d.created, true);
    assert.deepEqual(files.ensureDataKeyFile(join(dir, "keys", "p0-data.json"), "GM", "p0-1").key, d.key);
    writeFileSync(join(dir, "broken.json"), "{");
    await assert.rejects(files.readKeyPairFile(join(dir, "broken.json")), { code: "BAD_KEY" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("softwareOpener opens what seal made (KeyProvider seam)", async () => {
  const kp = await c.generateSealKeyPair("GM");
  const opener = c.softwareOpener(kp);
  const aad = c.utf8("a");
  assert.deepEqual(await opener.open(await c.seal(kp, c.utf8("x"), aad), aad), c.utf8("x"));
  assert.equal(c.backendName, "node");
  assert.equal(c.toHex(await c.digest("sm3", c.utf8("abc"))), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  assert.equal(c.toHex(await c.digest("sha256", c.utf8("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

test("pool seed files: a 32-byte seed created once, mode 0600, bound to its party", () => {
  const dir = mkdtempSync(join(tmpdir(), "privface-seed-"));
  try {
    const f = join(dir, "keys", "p0-pool-seed.json");
    assert.equal(files.ensurePoolSeedFile(f, "P0"), true);
    assert.equal(files.ensurePoolSeedFile(f, "P0"), false);
    assert.equal(statSync(f).mode & 0o777, 0o600);
    assert.equal(files.readPoolSeedFile(f, "P0").length, 32);
    assert.throws(() => files.readPoolSeedFile(f, "P1"), /pool-seed for P1/);
    files.writeSecretJsonFile(join(dir, "short.json"), "pool-seed", "INTL", { kind: "pool-seed", party: "P0", seed: "AAAA" });
    assert.throws(() => files.readPoolSeedFile(join(dir, "short.json"), "P0"), /32 bytes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
