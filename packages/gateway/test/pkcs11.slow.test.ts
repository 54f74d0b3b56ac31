/**
 * Issue 13: the gateway's authorisation signing key in a PKCS#11 token (SoftHSM2). The stack runs
 * with PRIVFACE_GATEWAY_SIGNING_KEY=pkcs11:…: no signing key file is made, the token key's public half
 * is what the parties receive, and a genuine enrol + verify succeeds — the parties accepted
 * authorisations signed inside the token. Skips without SoftHSM2 or the pkcs11js binding.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runtimeLayout } from "@privface/config";
import { readPublicKeyFile } from "@privface/crypto/node";
import { openPkcs11 } from "@privface/crypto/pkcs11";
import { expectationsOf, observedOf, runScenario, SCENARIOS, startStack, type GatewayClient, type ScenarioWorld, type Stack } from "@privface/devstack";
import { loadGatewayConfig, ConfigError } from "../src/config.ts";
import { stackWorld } from "./_setup.ts";

const MODULE = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"].find((f) => existsSync(f));
const hasBinding = (() => {
  try {
    createRequire(import.meta.resolve("@privface/crypto/pkcs11"))("pkcs11js");
    return true;
  } catch {
    return false;
  }
})();
const skip = !MODULE || spawnSync("softhsm2-util", ["--version"], { stdio: "ignore" }).status !== 0 ? "SoftHSM2 is not installed (apt-get install softhsm2)" : !hasBinding ? "the pkcs11js binding is not built" : false;

describe("gateway signing key in a PKCS#11 token (SoftHSM2)", { skip, timeout: 300_000 }, () => {
  let dir: string;
  let home: string;
  let uri: string;
  let tokenPublic: Uint8Array;
  let stack: Stack;
  let c: GatewayClient;
  let op: GatewayClient;
  let w: ScenarioWorld;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "privface-gw-hsm-"));
    home = join(dir, "home");
    mkdirSync(join(dir, "tokens"));
    writeFileSync(join(dir, "softhsm2.conf"), `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    process.env.SOFTHSM2_CONF = join(dir, "softhsm2.conf"); // the gateway (in this process) opens the token
    const pin = "2468-gw-pin";
    const init = spawnSync("softhsm2-util", ["--init-token", "--free", "--label", "privface-gw", "--pin", pin, "--so-pin", "1357-so"], { encoding: "utf8" });
    assert.equal(init.status, 0, init.stderr);
    // the key ceremony: the signing key is generated inside the token and never leaves it
    const s = await openPkcs11({ module: MODULE!, token: "privface-gw", pin });
    tokenPublic = s.generateKey("gateway-signing", "Ed25519").publicKey;
    s.close();
    writeFileSync(join(dir, "pin"), pin + "\n", { mode: 0o600 });
    uri = `pkcs11:token=privface-gw;object=gateway-signing?module-path=${MODULE}&pin-source=file:${join(dir, "pin")}`;
    const env: Record<string, string> = { PRIVFACE_GATEWAY_SIGNING_KEY: uri };
    for (const p of ["P0", "P1"]) Object.assign(env, { [`PRIVFACE_${p}_POOL_TARGET`]: "40", [`PRIVFACE_${p}_POOL_LOW`]: "10", [`PRIVFACE_${p}_POOL_BATCH`]: "20" });
    stack = await startStack({ home, gateway: "in-process", env, readyTimeoutMs: 90_000 });
    ({ c, op, w } = await stackWorld(stack));
  });

  after(async () => {
    c?.close();
    op?.close();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("no signing key file; the parties receive the token key's public half", () => {
    const L = runtimeLayout(home);
    assert.equal(existsSync(L.gatewaySigningKey), false);
    assert.deepEqual(readPublicKeyFile(L.gatewaySigningPub).publicKey, tokenPublic);
  });

  it("genuine enrol and verify: the parties accept authorisations signed in the token", async () => {
    const genuine = SCENARIOS.find((s) => s.name.startsWith("genuine"))!;
    assert.deepEqual(observedOf(await runScenario(genuine, w)), expectationsOf(genuine));
  });

  it("a malformed PKCS#11 URI stops the configuration (SIGNING_KEY)", () => {
    assert.throws(
      () => loadGatewayConfig({ PRIVFACE_HOME: home, PRIVFACE_GATEWAY_SIGNING_KEY: "pkcs11:token=x?pin-value=1234" }),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => /PRIVFACE_GATEWAY_SIGNING_KEY: .*(module-path|pin-value)/.test(p)),
    );
  });
});
