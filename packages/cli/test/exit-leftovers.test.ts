/**
 * What an exit leaves elsewhere (issue 13): after P1's signed exit, `privface exit helper` destroys the
 * helper's copy of P1's pool seed (P0's stays) and records `exit.seed-destroy` in the helper's chain;
 * `privface exit revoke` revokes P1's server and client certificates in the CA's CRL (P0's stay
 * valid). Attack: either command given a forged record, or another party's, changes nothing
 * (EXIT_RECORD_INVALID).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportChain, verifyChain } from "@privface/audit";
import { runtimeLayout } from "@privface/config";
import { readPublicKeyFile } from "@privface/crypto/node";
import { closeDb, openDb } from "@privface/db";
import { ensureRuntime, freePorts } from "@privface/devstack";
import { loadHelperConfig } from "@privface/helper";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));

test("privface exit helper / revoke: the helper's seed copy destroyed and P1's certificates revoked after a verified exit; attack: a forged or another party's record changes nothing", async () => {
  const home = mkdtempSync(join(tmpdir(), "privface-exit-left-"));
  try {
    await ensureRuntime(home);
    const [port] = await freePorts(1);
    const env: NodeJS.ProcessEnv = { ...process.env, PRIVFACE_HOME: home, PRIVFACE_P1_PORT: String(port) };
    const L = runtimeLayout(home);
    const cli = (...args: string[]) => spawnSync(process.execPath, [bin, "exit", ...args], { env, encoding: "utf8" });
    const req = cli("request", "--party", "p1", "--operator", "alice");
    assert.equal(req.status, 0, req.stderr);
    const record = join(home, "p1-exit.json");
    const ok = cli("approve", "--party", "p1", "--operator", "bob", "--request", JSON.parse(req.stdout).request, "--out", record);
    assert.equal(ok.status, 0, ok.stderr);
    const keysOf = (p: string) => ["--root", L.rootPub(p as "p1"), "--audit-key", L.auditPub(p as "p1")];
    const helperCfg = loadHelperConfig(env);

    // attack: a forged record (edited payload), and P1's record presented as P0's
    const signed = JSON.parse(readFileSync(record, "utf8")) as { payload: string; sig: string };
    const forged = join(home, "forged.json");
    const body = JSON.parse(Buffer.from(signed.payload, "base64url").toString("utf8"));
    writeFileSync(forged, JSON.stringify({ payload: Buffer.from(JSON.stringify({ ...body, party: "P0" })).toString("base64url"), sig: signed.sig }));
    for (const args of [["--party", "p0", "--record", forged, ...keysOf("p1")], ["--party", "p0", "--record", record, ...keysOf("p1")], ["--party", "p0", "--record", record, ...keysOf("p0")]]) {
      const h = cli("helper", ...args, "--operator", "carol");
      assert.equal(h.status, 1, h.stdout);
      assert.match(h.stderr, /EXIT_RECORD_INVALID/);
      const v = cli("revoke", ...args);
      assert.equal(v.status, 1);
      assert.match(v.stderr, /EXIT_RECORD_INVALID/);
    }
    assert.ok(existsSync(helperCfg.seedP0) && existsSync(helperCfg.seedP1), "no seed touched");
    const crlBefore = readFileSync(L.crl);

    // the helper's copy of P1's seed
    const h = cli("helper", "--party", "p1", "--record", record, ...keysOf("p1"), "--operator", "carol");
    assert.equal(h.status, 0, h.stderr);
    assert.equal(JSON.parse(h.stdout).destroyed, true);
    assert.ok(!existsSync(helperCfg.seedP1), "the helper's copy of P1's seed is gone");
    assert.ok(existsSync(helperCfg.seedP0), "P0's stays");
    const db = await openDb(helperCfg.db);
    try {
      assert.equal((await verifyChain(db, readPublicKeyFile(L.auditPub("helper")))).ok, true);
      assert.deepEqual((await exportChain(db)).map((r) => [r.op, r.requester, r.outcome]).at(-1), ["exit.seed-destroy", "operator:carol", "ok"]);
    } finally {
      await closeDb(db);
    }

    // P1's certificates in the CRL, P0's not
    assert.deepEqual(readFileSync(L.crl), crlBefore, "the refused attempts revoked nothing");
    const v = cli("revoke", "--party", "p1", "--record", record, ...keysOf("p1"), "--dir", L.dirs.pki);
    assert.equal(v.status, 0, v.stderr);
    const crl = execFileSync("openssl", ["crl", "-in", L.crl, "-noout", "-text"], { encoding: "utf8" }).replace(/\s+/g, " ").toUpperCase();
    const serial = (f: string) => new X509Certificate(readFileSync(f)).serialNumber.toUpperCase();
    for (const f of [L.cert("p1").cert, L.clientCert("p1").cert]) assert.ok(crl.includes(`SERIAL NUMBER: ${serial(f)}`), `${f} revoked`);
    for (const f of [L.cert("p0").cert, L.clientCert("p0").cert]) assert.ok(!crl.includes(`SERIAL NUMBER: ${serial(f)}`), `${f} not revoked`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
