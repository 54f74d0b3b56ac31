/**
 * `privface exit` (R15): P1 leaves. Dual control (the requester cannot approve; a wrong code is
 * refused; nothing changes), then every template erased and its key destroyed, the pool gone, every
 * private key file of P1 destroyed, a signed exit record that P0 verifies against the head of P1's
 * chain it keeps; P1's chain still verifies and ends with the exit; a backup taken before the exit
 * still opens with the key secret but none of its shares can be decrypted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportChain, keepAnchor, verifyChain } from "@privface/audit";
import { decryptKeyFile, keySecretFromEnv, readDataKeyFile, readKeyPairFile, readPublicKeyFile } from "@privface/crypto/node";
import { closeDb, openDb, toBytes } from "@privface/db";
import { runtimeLayout } from "@privface/config";
import { ensureRuntime } from "@privface/devstack";
import { createAuditLog } from "@privface/audit";
import { createPartyStore, loadPartyConfig, openTemplateKeys } from "@privface/party";
import { backupServer } from "../src/commands/backup.ts";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));

test("privface exit: two operators, P1's shares and keys destroyed, a signed exit record P0 verifies, earlier backups' shares no longer open", async () => {
  const home = mkdtempSync(join(tmpdir(), "privface-exit-"));
  try {
    await ensureRuntime(home);
    const env: NodeJS.ProcessEnv = { ...process.env, PRIVFACE_HOME: home };
    const L = runtimeLayout(home);
    const cfg = loadPartyConfig("P1", env);
    const p0 = loadPartyConfig("P0", env);
    // P1 holds three templates and some correlated randomness
    const ids = ["tpl_exit_aaaaaaaaaaaa", "tpl_exit_bbbbbbbbbbbb", "tpl_exit_cccccccccccc"];
    {
      const db = await openDb(cfg.db);
      const templateKeys = await openTemplateKeys(cfg.templateKeys);
      const dk = readDataKeyFile(cfg.dataKeys[0]);
      const store = await createPartyStore(db, { role: "P1", dataKeys: { current: dk.id, keys: new Map([[dk.id, dk.key]]) }, templateKeys });
      for (const t of ids) {
        await store.prepare(`sess_${t}`, t, "m1", new Uint8Array(512).fill(9));
        await store.commit(`sess_${t}`);
      }
      await store.addItems(Array.from({ length: 4 }, (_, i) => ({ id: `item-${i}`, bytes: new Uint8Array(256).fill(i) })));
      // P0 keeps the head of P1's chain (the audit anchors do this at every interval)
      const audit = await createAuditLog(db, { role: "p1", signingKey: await readKeyPairFile(cfg.auditKey) });
      await audit.append({ requester: "test", op: "seed", outcome: "ok" });
      const p0db = await openDb(p0.db);
      assert.equal((await keepAnchor(p0db, "p1", await audit.headRecord())).outcome, "stored");
      await closeDb(p0db);
      await closeDb(db);
      await templateKeys.close();
    }
    const backup = join(home, "p1-before-exit.backup");
    await backupServer("p1", backup, { operator: "alice", env });

    const cli = (...args: string[]) => spawnSync(process.execPath, [bin, "exit", ...args], { env, encoding: "utf8" });
    const req = cli("request", "--party", "p1", "--operator", "alice");
    assert.equal(req.status, 0, req.stderr);
    const { request } = JSON.parse(req.stdout) as { request: string };
    const out = join(home, "p1-exit.json");
    const keyFiles = [...cfg.dataKeys, cfg.sealKey, cfg.rootKey, cfg.auditKey, cfg.poolSeed, cfg.pairSeed, cfg.nonceKey, cfg.resultKey, cfg.key, cfg.clientKey, cfg.templateKeys];

    // dual control: the requester cannot approve, a wrong code is refused; nothing changes
    const same = cli("approve", "--party", "p1", "--operator", "alice", "--request", request, "--out", out);
    assert.notEqual(same.status, 0);
    assert.match(same.stderr, /SAME_APPROVER/);
    const wrong = cli("approve", "--party", "p1", "--operator", "bob", "--request", "exit_0000", "--out", out);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /EXIT_NOT_REQUESTED/);
    assert.ok(keyFiles.every((f) => existsSync(f)), "no key touched");
    assert.ok(!existsSync(out));

    const ok = cli("approve", "--party", "p1", "--operator", "bob", "--request", request, "--out", out);
    assert.equal(ok.status, 0, ok.stderr);
    const summary = JSON.parse(ok.stdout);
    assert.equal(summary.templatesErased, 3);
    assert.equal(summary.templateKeysDestroyed, 3);
    assert.equal(summary.poolItemsDiscarded, 4);
    assert.deepEqual([summary.requestedBy, summary.approvedBy], ["operator:alice", "operator:bob"]);

    // P1 holds no share, no pool item and none of its private keys
    const db = await openDb(cfg.db);
    try {
      const rows = await db.kysely.selectFrom("party_templates").select(["status", "share"]).execute();
      assert.equal(rows.length, 3);
      assert.ok(rows.every((r) => r.status === "deleted" && r.share === null));
      assert.equal((await db.kysely.selectFrom("party_pool_items").select("seq").execute()).length, 0);
      assert.ok((await db.kysely.selectFrom("party_pool").select("item_key").execute()).every((r) => r.item_key === null));
      for (const f of keyFiles) assert.ok(!existsSync(f), `${f} destroyed`);
      // its chain still verifies (public key) and ends with the request and the exit
      const auditPub = readPublicKeyFile(L.auditPub("p1"));
      assert.equal((await verifyChain(db, auditPub)).ok, true);
      const chain = await exportChain(db);
      assert.deepEqual(chain.slice(-1).map((r) => [r.op, r.requester, r.outcome]), [["exit", "operator:bob", "t3-k3-i4"]]);
      assert.ok(chain.some((r) => r.op === "exit.request" && r.requester === "operator:alice" && r.session === request));
    } finally {
      await closeDb(db);
    }

    // P0 verifies the record against P1's root and audit public keys and the head it keeps
    const verify = (record: string) =>
      spawnSync(process.execPath, [bin, "exit", "verify", "--record", record, "--root", L.rootPub("p1"), "--audit-key", L.auditPub("p1"), "--anchors", p0.db], { env, encoding: "utf8" });
    const v = verify(out);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(JSON.parse(v.stdout).ok, true);
    // an edited record does not verify
    const signed = JSON.parse(readFileSync(out, "utf8")) as { payload: string; sig: string };
    const edited = JSON.parse(Buffer.from(signed.payload, "base64url").toString("utf8"));
    edited.templatesErased = 0;
    const forged = join(home, "forged.json");
    writeFileSync(forged, JSON.stringify({ payload: Buffer.from(JSON.stringify(edited)).toString("base64url"), sig: signed.sig }));
    const bad = verify(forged);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /EXIT_RECORD_INVALID/);
    // a second approval of the same request is refused (the keys are gone anyway)
    assert.notEqual(cli("approve", "--party", "p1", "--operator", "carol", "--request", request, "--out", join(home, "again.json")).status, 0);

    // the backup taken before the exit: it opens with the key secret, but no share in it does
    const outer = JSON.parse(readFileSync(backup, "utf8"));
    const pt = Buffer.from(decryptKeyFile(outer.sealed, "backup", keySecretFromEnv(env), backup));
    const copy = join(home, "old-p1.sqlite");
    writeFileSync(copy, pt.subarray(4 + pt.readUInt32BE(0)));
    const old = await openDb(`sqlite:${copy}`);
    try {
      const shares = await old.kysely.selectFrom("party_templates").select(["template_id", "share"]).where("share", "is not", null).execute();
      assert.equal(shares.length, 3, "the older backup still holds the ciphertexts");
      assert.ok(shares.every((r) => toBytes(r.share)[0] === 0x02), "each under its template's key, which the register no longer holds (the register file itself is gone)");
      const register = await openTemplateKeys(":memory:");
      const store = await createPartyStore(old, { role: "P1", dataKeys: { current: "any", keys: new Map([["any", new Uint8Array(32)]]) }, templateKeys: register });
      for (const t of ids) await assert.rejects(store.loadActive(t), (e: { code?: string }) => e.code === "KEY_DESTROYED");
      await register.close();
    } finally {
      await closeDb(old);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
