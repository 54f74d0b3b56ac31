/**
 * Result-key rotation (issue 13): `privface keys rotate --kind result` makes the new key pair in the
 * deployment's suite, writes its public half and records `key.rotate` in the server's audit chain; the
 * gateway, given the party's new and retired public result keys, accepts answers MACed under either,
 * and once the retired key is removed, refuses an answer MACed under it (attack: a stolen retired
 * result key). A party's root: root-rotation.slow.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportChain, verifyChain } from "@privface/audit";
import { checkResultMac, resultKey, resultMac, type ResultBinding } from "@privface/contracts";
import { readKeyPairFile, readPublicKeyFile } from "@privface/crypto/node";
import { closeDb, openDb } from "@privface/db";
import { ensureRuntime } from "@privface/devstack";
import { loadGatewayConfig } from "@privface/gateway";
import { loadPartyConfig } from "@privface/party";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));

test("privface keys rotate --kind result: a new key, key.rotate audited; the gateway accepts old and new during the rotation; attack: the retired key after it is refused", async () => {
  const home = mkdtempSync(join(tmpdir(), "privface-result-rotate-"));
  try {
    const { layout: L } = await ensureRuntime(home);
    const env: NodeJS.ProcessEnv = { ...process.env, PRIVFACE_HOME: home };
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env });
    const out = join(home, "keys", "p0", "result-2027.json");
    const pub = join(home, "keys", "public", "p0-result-2027.pub.json");
    const r = run("keys", "rotate", "--server", "p0", "--kind", "result", "--out", out, "--public", pub, "--operator", "alice");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).suite, "INTL");
    const cfg = loadPartyConfig("P0", env);
    const db = await openDb(cfg.db);
    try {
      const chain = await exportChain(db);
      assert.deepEqual(chain.map((x) => [x.op, x.requester, x.session]).at(-1), ["key.rotate", "operator:alice", "result:result-2027.json"]);
      assert.equal((await verifyChain(db, readPublicKeyFile(L.auditPub("p0")))).ok, true);
    } finally {
      await closeDb(db);
    }
    // the gateway during the rotation: P0's new public key current, the old one retired
    const during = loadGatewayConfig({ ...env, PRIVFACE_GATEWAY_P0_RESULT_KEY: pub, PRIVFACE_GATEWAY_P0_RETIRED_RESULT_KEYS: L.resultPub("p0") });
    assert.deepEqual(during.retiredPartyResultKeys.P0, [L.resultPub("p0")]);
    assert.throws(() => loadGatewayConfig({ ...env, PRIVFACE_GATEWAY_P0_RETIRED_RESULT_KEYS: L.resultKey("p0") }), /private key folder of p0|holds private key material/);
    const gw = await readKeyPairFile(L.resultKey("gateway"));
    const gwPub = readPublicKeyFile(L.resultPub("gateway"));
    const [oldP0, newP0] = [await readKeyPairFile(L.resultKey("p0")), await readKeyPairFile(out)];
    const binding: ResultBinding = { op: "verify", party: "P0", session: "s-rot-1", templateId: "tpl_rot_1", authorisation: { payload: "cGF5bG9hZA" }, resultShare: { valid: 1, match: 0 } };
    const byOld = await resultMac(await resultKey(oldP0, gwPub, "P0"), binding);
    const byNew = await resultMac(await resultKey(newP0, gwPub, "P0"), binding);
    const keysDuring = [await resultKey(gw, readPublicKeyFile(pub), "P0"), await resultKey(gw, readPublicKeyFile(L.resultPub("p0")), "P0")];
    assert.equal(await checkResultMac(keysDuring, binding, byOld), true);
    assert.equal(await checkResultMac(keysDuring, binding, byNew), true);
    const keysAfter = [keysDuring[0]];
    assert.equal(await checkResultMac(keysAfter, binding, byNew), true);
    assert.equal(await checkResultMac(keysAfter, binding, byOld), false, "an answer under the retired key is refused once it is removed");
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
