/**
 * The key ceremony's command (docs/operations.md "Keys in a PKCS#11 token"): `privface keys
 * hsm-generate` makes an Ed25519 key inside a SoftHSM2 token and writes its public half; the key then
 * signs through `pkcs11SignerFromUri` (what the gateway does at start) and verifies under that public
 * file; a second run with the same label or an existing file is refused and changes nothing; a URI with
 * the PIN in it is refused. Skips with a reason when SoftHSM2 or the pkcs11js binding is absent.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { utf8, verify } from "@privface/crypto";
import { readPublicKeyFile } from "@privface/crypto/node";
import { pkcs11SignerFromUri } from "@privface/crypto/pkcs11";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));
const MODULE = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"].find((f) => existsSync(f));
const hasBinding = (() => {
  try {
    createRequire(fileURLToPath(new URL("../../crypto/src/pkcs11.ts", import.meta.url)))("pkcs11js");
    return true;
  } catch {
    return false;
  }
})();
const skip =
  spawnSync("softhsm2-util", ["--version"], { stdio: "ignore" }).status !== 0 || !MODULE ? "SoftHSM2 is not installed (apt-get install softhsm2; .ci/run installs it)"
  : !hasBinding ? "the pkcs11js binding is not built (optional dependency)"
  : false;

describe("privface keys hsm-generate (SoftHSM2)", { skip }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let uri: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "privface-ceremony-"));
    mkdirSync(join(dir, "tokens"));
    writeFileSync(join(dir, "softhsm2.conf"), `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    env = { ...process.env, SOFTHSM2_CONF: join(dir, "softhsm2.conf") };
    delete env.PRIVFACE_PKCS11_PIN;
    const init = spawnSync("softhsm2-util", ["--init-token", "--free", "--label", "privface", "--pin", "2468-pin", "--so-pin", "1357-so"], { encoding: "utf8", env });
    assert.equal(init.status, 0, init.stderr);
    writeFileSync(join(dir, "pin"), "2468-pin\n", { mode: 0o600 });
    uri = `pkcs11:token=privface;object=gateway-signing?module-path=${MODULE}&pin-source=file:${join(dir, "pin")}`;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("makes the key in the token and writes its public half; the key signs there and verifies under that file", async () => {
    const pub = join(dir, "gateway-signing.pub.json");
    const r = spawnSync(process.execPath, [bin, "keys", "hsm-generate", "--uri", uri, "--public", pub], { encoding: "utf8", env });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { token: "privface", object: "gateway-signing", algorithm: "Ed25519", public: pub });
    assert.doesNotMatch(r.stdout + r.stderr, /2468-pin/);
    const key = readPublicKeyFile(pub);
    assert.deepEqual([key.suite, key.kind, key.publicKey.length], ["INTL", "sign", 32]);
    const saved = process.env.SOFTHSM2_CONF;
    process.env.SOFTHSM2_CONF = env.SOFTHSM2_CONF;
    try {
      const signer = await pkcs11SignerFromUri(uri, env);
      try {
        const msg = utf8("an authorisation");
        assert.equal(await verify(key, msg, await signer.sign(msg)), true);
      } finally {
        signer.close();
      }
    } finally {
      if (saved === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = saved;
    }
  });

  it("refuses: the same label again, an existing public file, a PIN in the URI — nothing changes", () => {
    const pub = join(dir, "gateway-signing.pub.json");
    const before = readFileSync(pub, "utf8");
    const again = spawnSync(process.execPath, [bin, "keys", "hsm-generate", "--uri", uri, "--public", join(dir, "other.pub.json")], { encoding: "utf8", env });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already holds a key labelled "gateway-signing"/);
    assert.equal(existsSync(join(dir, "other.pub.json")), false);
    const file = spawnSync(process.execPath, [bin, "keys", "hsm-generate", "--uri", uri.replace("gateway-signing", "second"), "--public", pub], { encoding: "utf8", env });
    assert.equal(file.status, 1);
    assert.match(file.stderr, /exists/);
    assert.equal(readFileSync(pub, "utf8"), before);
    const pinInUri = spawnSync(process.execPath, [bin, "keys", "hsm-generate", "--uri", `pkcs11:token=privface;object=third?module-path=${MODULE}&pin-value=2468-pin`, "--public", join(dir, "third.pub.json")], { encoding: "utf8", env });
    assert.equal(pinInUri.status, 1);
    assert.match(pinInUri.stderr, /pin-value is refused/);
  });
});
