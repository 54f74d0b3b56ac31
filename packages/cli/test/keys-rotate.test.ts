/**
 * `privface keys rotate --kind data|seal|sign|audit` (issue 13: one rotate command per key kind): the new
 * key in the deployment's suite, `key.rotate` in the server's chain, the configuration steps that
 * finish it; the audit key is handed over at once (the server stopped) and the chain verifies with
 * both keys. Refusals (a kind the server has not, a public half for a data key, an existing file)
 * change nothing. The restart that applies a rotation is recorded by the server itself
 * (audit/test/keys.test.ts; end to end: root-rotation.slow.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportChain, verifyChain } from "@privface/audit";
import { sealingKeyId } from "@privface/contracts";
import { readDataKeyFile, readKeyPairFile, readPublicKeyFile } from "@privface/crypto/node";
import { runtimeLayout } from "@privface/config";
import { closeDb, openDb } from "@privface/db";
import { ensureRuntime } from "@privface/devstack";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));

test("privface keys rotate --kind data|seal|sign|audit: the new key, key.rotate in the chain, the steps; audit handed over at once; refusals change nothing", async () => {
  const home = mkdtempSync(join(tmpdir(), "privface-keys-rotate-"));
  try {
    await ensureRuntime(home);
    const L = runtimeLayout(home);
    const env: NodeJS.ProcessEnv = { ...process.env, PRIVFACE_HOME: home, PRIVFACE_P0_PORT: "1", PRIVFACE_GATEWAY_PORT: "1" };
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, "keys", "rotate", ...args, "--operator", "alice"], { encoding: "utf8", env });
    const k = (name: string) => join(home, "keys", name);
    // refusals first: nothing written
    for (const [args, why] of [
      [["--server", "gateway", "--kind", "seal", "--out", k("gateway/x.json"), "--public", k("public/x.pub.json")], /--server must be p0, p1/],
      [["--server", "p0", "--kind", "sign", "--out", k("p0/x.json"), "--public", k("public/x.pub.json")], /--server must be gateway/],
      [["--server", "p0", "--kind", "data", "--out", k("p0/x.json"), "--public", k("public/x.pub.json")], /a data key has no public half/],
      [["--server", "p0", "--kind", "seal", "--out", L.sealKey("p0"), "--public", k("public/x.pub.json")], /exists/],
      [["--server", "p0", "--kind", "audit", "--out", k("p0/x.json")], /--public/],
    ] as const) {
      const r = run(...args);
      assert.equal(r.status, 1, args.join(" "));
      assert.match(r.stderr, why);
    }
    assert.equal(existsSync(k("p0/x.json")) || existsSync(k("gateway/x.json")) || existsSync(k("public/x.pub.json")), false);

    const data = run("--server", "p0", "--kind", "data", "--out", k("p0/data-2027.json"));
    assert.equal(data.status, 0, data.stderr);
    const d = JSON.parse(data.stdout);
    assert.equal(readDataKeyFile(k("p0/data-2027.json")).suite, "INTL");
    assert.match(d.next[0], new RegExp(`PRIVFACE_P0_DATA_KEYS=${k("p0/data-2027.json")},${L.dataKey("p0")}`));
    const seal = run("--server", "p1", "--kind", "seal", "--out", k("p1/seal-2027.json"), "--public", k("public/p1-seal-2027.pub.json"));
    assert.equal(seal.status, 0, seal.stderr);
    assert.equal(JSON.parse(seal.stdout).id, await sealingKeyId(await readKeyPairFile(k("p1/seal-2027.json"))));
    assert.match(JSON.parse(seal.stdout).next[0], /RETIRED_SEAL_KEYS/);
    const sign = run("--server", "gateway", "--kind", "sign", "--out", k("gateway/signing-2027.json"), "--public", k("public/gateway-signing-2027.pub.json"));
    assert.equal(sign.status, 0, sign.stderr);
    assert.deepEqual(readPublicKeyFile(k("public/gateway-signing-2027.pub.json")).publicKey, (await readKeyPairFile(k("gateway/signing-2027.json"))).publicKey);
    const audit = run("--server", "p0", "--kind", "audit", "--out", k("p0/audit-2027.json"), "--public", k("public/p0-audit-2027.pub.json"));
    assert.equal(audit.status, 0, audit.stderr);

    for (const [server, expect] of [["p0", ["key.rotate data:data-2027.json", "audit.key-handover", "audit.key-accepted"]], ["p1", ["key.rotate seal:seal-2027.json"]], ["gateway", ["key.rotate sign:signing-2027.json"]]] as const) {
      const db = await openDb(`sqlite:${L.sqlite(server)}`);
      try {
        const chain = await exportChain(db);
        assert.deepEqual(chain.map((r) => (r.op === "key.rotate" ? `${r.op} ${r.session}` : r.op)), expect, server);
        assert.ok(chain.filter((r) => r.op === "key.rotate").every((r) => r.requester === "operator:alice" && r.outcome === "begun"));
        const keys = server === "p0" ? [readPublicKeyFile(L.auditPub("p0")), readPublicKeyFile(k("public/p0-audit-2027.pub.json"))] : [readPublicKeyFile(L.auditPub(server))];
        assert.equal((await verifyChain(db, keys)).ok, true, server);
      } finally {
        await closeDb(db);
      }
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
