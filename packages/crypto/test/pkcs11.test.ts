/**
 * The PKCS#11 key provider against SoftHSM2 (Debian's softhsm2; .ci/run installs it): keys made in
 * the token are non-extractable, signing happens in the token and verifies with node:crypto and with
 * @privface/crypto `verify`. Skips with a reason when SoftHSM2 or the pkcs11js binding is absent.
 * Also reports the signing latency through the token beside software keys (t.diagnostic).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as c from "../src/index.ts";
import { openPkcs11, pkcs11Signer, type Pkcs11Session } from "../src/pkcs11.ts";

export const SOFTHSM_MODULE = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"].find((f) => existsSync(f));
const hasBinding = (() => {
  try {
    createRequire(import.meta.url)("pkcs11js");
    return true;
  } catch {
    return false;
  }
})();
const skip =
  spawnSync("softhsm2-util", ["--version"], { stdio: "ignore" }).status !== 0 || !SOFTHSM_MODULE ? "SoftHSM2 is not installed (apt-get install softhsm2; .ci/run installs it)"
  : !hasBinding ? "the pkcs11js binding is not built (optional dependency)"
  : false;

const PIN = "4321-test-pin";
const ed25519Public = (raw: Uint8Array): KeyObject => createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: c.toBase64url(raw) }, format: "jwk" });
const p256Public = (point: Uint8Array): KeyObject =>
  createPublicKey({ key: { kty: "EC", crv: "P-256", x: c.toBase64url(point.subarray(1, 33)), y: c.toBase64url(point.subarray(33, 65)) }, format: "jwk" });

describe("PKCS#11 provider (SoftHSM2)", { skip }, () => {
  let dir: string;
  let s: Pkcs11Session;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "privface-softhsm-"));
    mkdirSync(join(dir, "tokens"));
    writeFileSync(join(dir, "softhsm2.conf"), `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    process.env.SOFTHSM2_CONF = join(dir, "softhsm2.conf"); // read by the module at C_Initialize
    const init = spawnSync("softhsm2-util", ["--init-token", "--free", "--label", "privface-test", "--pin", PIN, "--so-pin", "5678-so"], { encoding: "utf8" });
    assert.equal(init.status, 0, init.stderr);
  });
  after(() => {
    s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a wrong PIN or an unknown token is refused (PKCS11_ERROR)", async () => {
    await assert.rejects(openPkcs11({ module: SOFTHSM_MODULE!, token: "privface-test", pin: "0000-wrong" }), { code: "PKCS11_ERROR", message: /C_Login/ });
    await assert.rejects(openPkcs11({ module: SOFTHSM_MODULE!, token: "no-such-token", pin: PIN }), { code: "PKCS11_ERROR", message: /no token labelled/ });
    await assert.rejects(openPkcs11({ module: "/nonexistent/libpkcs11.so", token: "privface-test", pin: PIN }), { code: "PKCS11_UNAVAILABLE" });
  });

  it("Ed25519 key made in the token: signs in the token; node:crypto and @privface/crypto verify; CKA_VALUE refused", async () => {
    s = await openPkcs11({ module: SOFTHSM_MODULE!, token: "privface-test", pin: PIN });
    const k = s.generateKey("gw-sign", "Ed25519");
    assert.equal(k.publicKey.length, 32);
    const msg = c.utf8("authorisation #1");
    const sig = await k.sign(msg);
    assert.equal(sig.length, 64);
    assert.ok(nodeVerify(null, msg, ed25519Public(k.publicKey), sig));
    assert.ok(!nodeVerify(null, c.utf8("authorisation #2"), ed25519Public(k.publicKey), sig));
    const signer = pkcs11Signer(k);
    assert.equal(await c.verify({ suite: "INTL", kind: "sign", publicKey: signer.publicKey }, msg, await signer.sign(msg)), true);
    assert.throws(() => s.readPrivateValue("gw-sign"), { code: "PKCS11_ERROR", message: /C_GetAttributeValue.*(SENSITIVE|sensitive)/ });
    // found again by label (as a server does at start-up), same public key
    assert.deepEqual(s.key("gw-sign").publicKey, k.publicKey);
    assert.throws(() => s.key("no-such-key"), { code: "PKCS11_ERROR" });
  });

  it("EC P-256 key made in the token: ECDSA-SHA256 in the token verifies with node:crypto; CKA_VALUE refused", async () => {
    const k = s.generateKey("p256-sign", "ECDSA-P256");
    assert.equal(k.publicKey.length, 65);
    const msg = c.utf8("audit head");
    const sig = await k.sign(msg);
    assert.ok(nodeVerify("sha256", msg, { key: p256Public(k.publicKey), dsaEncoding: "ieee-p1363" }, sig));
    assert.ok(!nodeVerify("sha256", c.utf8("audit head!"), { key: p256Public(k.publicKey), dsaEncoding: "ieee-p1363" }, sig));
    assert.throws(() => s.readPrivateValue("p256-sign"), { code: "PKCS11_ERROR", message: /C_GetAttributeValue/ });
    assert.throws(() => pkcs11Signer(k), { code: "PKCS11_ERROR" });
  });

  it("latency: token vs software signing (reported, not asserted)", async (t) => {
    const n = 300;
    const msg = c.randomBytes(200);
    const time = async (f: () => Promise<unknown> | unknown) => {
      for (let i = 0; i < 20; i++) await f();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await f();
      return Number(process.hrtime.bigint() - t0) / 1000 / n;
    };
    const ed = s.key("gw-sign");
    const ec = s.key("p256-sign");
    const soft = await c.generateSigningKeyPair("INTL");
    const p256 = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const rows = {
      "token Ed25519": await time(() => ed.sign(msg)),
      "software Ed25519 (@privface/crypto sign)": await time(() => c.sign(soft, msg)),
      "token ECDSA P-256": await time(() => ec.sign(msg)),
      "software ECDSA P-256 (node:crypto)": await time(() => nodeSign("sha256", msg, p256)),
    };
    for (const [k, us] of Object.entries(rows)) t.diagnostic(`${k}: ${us.toFixed(1)} µs/op (n=${n})`);
    t.diagnostic(`loadavg ${spawnSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).stdout.trim()}`);
  });
});
