/**
 * `privface keys destroy` under dual control (issue 14, R27): a retired key file is destroyed only when
 * one operator requested it and another approved the request within 24 h. Attacks first: one operator
 * alone (the single-step form, an approval without a request) destroys nothing; the requester cannot
 * approve their own request (SAME_APPROVER); an expired request, a request for another file and a
 * request already carried out are refused (DESTROY_NOT_REQUESTED); a refusal leaves the file and the
 * chain as they were. Then the approved destruction: the file gone, `key.destroy.request` and
 * `key.destroy` in the server's chain, which still verifies.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportChain, verifyRecords } from "@privface/audit";
import { readPublicKeyFile } from "@privface/crypto/node";
import { closeDb, openDb } from "@privface/db";
import { ensureRuntime } from "@privface/devstack";
import { loadPartyConfig } from "@privface/party";
import { approveDestroyKey, DESTROY_REQUEST_TTL_MS, requestDestroyKey } from "../src/commands/keys.ts";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));

test("privface keys destroy: attack — one operator alone, self-approval, an expired or foreign request destroy nothing; two operators destroy the file, audited", async () => {
  const home = mkdtempSync(join(tmpdir(), "privface-keys-destroy-"));
  try {
    const { layout: L } = await ensureRuntime(home);
    const env: NodeJS.ProcessEnv = { ...process.env, PRIVFACE_HOME: home };
    const cfg = loadPartyConfig("P1", env);
    const retired = join(home, "keys", "p1", "retired-result.json");
    const other = join(home, "keys", "p1", "retired-other.json");
    writeFileSync(retired, JSON.stringify({ kind: "retired", filler: "x".repeat(64) }));
    writeFileSync(other, "{}");
    const chain = async () => {
      const db = await openDb(cfg.db);
      try {
        return await exportChain(db);
      } finally {
        await closeDb(db);
      }
    };
    const refused = async (p: Promise<unknown>, code: RegExp) => {
      const before = (await chain()).length;
      await assert.rejects(p, code);
      assert.ok(existsSync(retired), "the file is still there");
      assert.equal((await chain()).length, before, "nothing recorded");
    };

    // attack: one operator alone — the single-step form is gone, an approval needs a request
    const single = spawnSync(process.execPath, [bin, "keys", "destroy", "--server", "p1", "--file", retired, "--operator", "bob"], { encoding: "utf8", env });
    assert.notEqual(single.status, 0);
    assert.ok(existsSync(retired));
    await refused(approveDestroyKey("p1", retired, { operator: "bob", request: "kd_000000000000000000000000" }, env), /DESTROY_NOT_REQUESTED/);

    // a file the configuration names: refused at the request already
    await refused(requestDestroyKey("p1", cfg.auditKey, { operator: "alice" }, env), /KEY_IN_USE/);

    const t0 = Date.now();
    const req = await requestDestroyKey("p1", retired, { operator: "alice" }, env, () => t0);
    assert.match(req.request, /^kd_[0-9a-f]{24}$/);
    assert.ok(existsSync(retired), "a request destroys nothing");

    // attack: the requester approves their own request
    await refused(approveDestroyKey("p1", retired, { operator: "alice", request: req.request }, env, () => t0 + 1000), /SAME_APPROVER/);
    // attack: the request's code used for another file
    await assert.rejects(approveDestroyKey("p1", other, { operator: "bob", request: req.request }, env, () => t0 + 1000), /DESTROY_NOT_REQUESTED/);
    assert.ok(existsSync(other));
    // the request expires
    await refused(approveDestroyKey("p1", retired, { operator: "bob", request: req.request }, env, () => t0 + DESTROY_REQUEST_TTL_MS + 1), /DESTROY_NOT_REQUESTED/);

    // a fresh request, approved by another operator (through the CLI)
    const r = spawnSync(process.execPath, [bin, "keys", "destroy", "request", "--server", "p1", "--file", retired, "--operator", "alice"], { encoding: "utf8", env });
    assert.equal(r.status, 0, r.stderr);
    const code = JSON.parse(r.stdout).request as string;
    const a = spawnSync(process.execPath, [bin, "keys", "destroy", "approve", "--server", "p1", "--file", retired, "--request", code, "--operator", "bob"], { encoding: "utf8", env });
    assert.equal(a.status, 0, a.stderr);
    assert.deepEqual(JSON.parse(a.stdout), { server: "p1", destroyed: retired, request: code, requestedBy: "operator:alice", approvedBy: "operator:bob" });
    assert.ok(!existsSync(retired), "destroyed");
    // carried out once: the same code again is refused
    writeFileSync(retired, "{}");
    await assert.rejects(approveDestroyKey("p1", retired, { operator: "carol", request: code }, env), /DESTROY_NOT_REQUESTED/);

    const records = await chain();
    const mine = records.filter((x) => x.op.startsWith("key.destroy")).map((x) => [x.op, x.session === code ? "code" : x.session, x.requester, x.outcome]);
    assert.deepEqual(mine, [
      ["key.destroy.request", req.request, "operator:alice", "requested"],
      ["key.destroy.request", "code", "operator:alice", "requested"],
      ["key.destroy", "code", "operator:bob", "ok"],
    ]);
    assert.equal((await verifyRecords(records, readPublicKeyFile(L.auditPub("p1")))).ok, true);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
