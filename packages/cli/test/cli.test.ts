import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportChain, type AuditRecord } from "@privface/audit";
import { ensureDataKeyFile, readDataKeyFile } from "@privface/crypto/node";
import { closeDb, openDb, type Db } from "@privface/db";
import { ensureRuntime } from "@privface/devstack";
import { createPartyStore, loadPartyConfig, openTemplateKeys, type PartyConfig, type PartyStore } from "@privface/party";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));

test("privface --help lists every registered command", () => {
  const out = execFileSync(process.execPath, [bin, "--help"], { encoding: "utf8" });
  assert.match(out, /Usage: privface/);
  assert.match(out, /version/);
});

test("an unknown command exits non-zero with a message", () => {
  assert.throws(
    () => execFileSync(process.execPath, [bin, "no-such-command"], { encoding: "utf8", stdio: "pipe" }),
    (err: { status: number; stderr: string }) => err.status !== 0 && /unknown command/.test(err.stderr),
  );
});

test("secrets on argv are refused before anything runs: --token, --id-number, --phone (also with =); the value is not echoed", () => {
  const cases = [
    ["gateway", "person-add", "--merchant", "mer_x", "--role", "cashier", "--name", "x", "--id-number", "110101199003071234", "--phone-file", "/nonexistent"],
    ["gateway", "person-add", "--merchant", "mer_x", "--role", "cashier", "--name", "x", "--id-number-file", "/nonexistent", "--phone=13800138000"],
    ["gateway", "merchant-add", "--name", "x", "--token", "admin-secret-token-123"],
    ["verify", "--image", "x.jpg", "--merchant", "m", "--person", "p", "--token=admin-secret-token-123"],
  ];
  for (const args of cases) {
    assert.throws(
      () => execFileSync(process.execPath, [bin, ...args], { encoding: "utf8", stdio: "pipe", env: { ...process.env, PRIVFACE_GATEWAY_URL: "https://127.0.0.1:1" } }),
      (err: { status: number; stderr: string }) =>
        err.status === 2 &&
        /secrets are never taken from the command line/.test(err.stderr) &&
        !/110101199003071234|13800138000|admin-secret-token-123/.test(err.stderr),
      args.join(" "),
    );
  }
});

test("person-add reads the ID and phone numbers from files (or the environment), not argv", () => {
  const out = execFileSync(process.execPath, [bin, "gateway", "person-add", "--help"], { encoding: "utf8" });
  assert.match(out, /--id-number-file/);
  assert.match(out, /--phone-file/);
  assert.match(out, /--token-file/);
  assert.doesNotMatch(out, /--id-number </);
  assert.doesNotMatch(out, /--token </);
});

/**
 * A fresh runtime home for P1's operator commands: `seed` writes rows through P1's store (under the
 * first data key), `chain` reads P1's audit chain back; the home is removed afterwards.
 */
async function withP1Home(fn: (h: { home: string; env: NodeJS.ProcessEnv; cfg: PartyConfig; seed(f: (store: PartyStore) => Promise<unknown>): Promise<void>; chain(): Promise<AuditRecord[]> }) => Promise<void>): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "privface-cli-party-"));
  try {
    await ensureRuntime(home);
    const env: NodeJS.ProcessEnv = { ...process.env, PRIVFACE_HOME: home };
    const cfg = loadPartyConfig("P1", env);
    const withDb = async <T>(f: (db: Db) => Promise<T>): Promise<T> => {
      const db = await openDb(cfg.db);
      try {
        return await f(db);
      } finally {
        await closeDb(db);
      }
    };
    const seed = (f: (store: PartyStore) => Promise<unknown>) =>
      withDb(async (db) => {
        const dk = readDataKeyFile(cfg.dataKeys[0]);
        const templateKeys = await openTemplateKeys(cfg.templateKeys);
        try {
          await f(await createPartyStore(db, { role: "P1", dataKeys: { current: dk.id, keys: new Map([[dk.id, dk.key]]) }, templateKeys }));
        } finally {
          await templateKeys.close();
        }
      });
    await fn({ home, env, cfg, seed, chain: () => withDb(exportChain) });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

test("privface party: a party operator lists, approves and revokes devices in the party's own registry, each change audited", () =>
  withP1Home(async ({ env, seed, chain }) => {
    // the gateway registered a device at P1 (policy operator: pending)
    await seed((store) => store.putDevice({ deviceId: "dev_till1", suite: "INTL", signingKey: "A".repeat(43), authKey: "B".repeat(43), status: "pending" }));
    const cli = (...args: string[]) => JSON.parse(execFileSync(process.execPath, [bin, "party", ...args], { encoding: "utf8", env }));
    assert.deepEqual(cli("devices", "--party", "p1", "--status", "pending").map((d: { deviceId: string }) => d.deviceId), ["dev_till1"]);
    assert.deepEqual(cli("approve-device", "dev_till1", "--party", "p1", "--operator", "zhang.wei"), { deviceId: "dev_till1", status: "active" });
    assert.deepEqual(cli("devices", "--party", "p1", "--status", "pending"), []);
    assert.deepEqual(cli("revoke-device", "dev_till1", "--party", "p1", "--operator", "li.na"), { deviceId: "dev_till1", status: "revoked" });
    assert.deepEqual(cli("approve-device", "dev_till1", "--party", "p1", "--operator", "zhang.wei"), { deviceId: "dev_till1", status: "revoked" }, "a revoked device stays revoked");
    // an unknown device: a clear error, exit code ≠ 0, nothing audited
    assert.throws(() => execFileSync(process.execPath, [bin, "party", "approve-device", "dev_nope", "--party", "p1", "--operator", "zhang.wei"], { encoding: "utf8", env, stdio: "pipe" }), (e: { status: number; stderr: string }) => e.status !== 0 && /DEVICE_UNKNOWN|no registered device/.test(e.stderr));
    assert.deepEqual(
      (await chain()).filter((r) => r.op.startsWith("device.")).map((r) => [r.requester, r.op, r.outcome]),
      [["operator:zhang.wei", "device.approve", "active"], ["operator:li.na", "device.revoke", "revoked"], ["operator:zhang.wei", "device.approve", "revoked"]],
    );
  }));

test("privface party rotate-data-key: every stored share moves to the first key of DATA_KEYS, audited; a second run finds nothing left", () =>
  withP1Home(async ({ home, env, cfg, seed, chain }) => {
    // two templates stored under the old key
    await seed(async (store) => {
      for (const t of ["tpl_rotate_aaaaaaaa", "tpl_rotate_bbbbbbbb"]) await store.prepare(`sess_${t}_0123456789abcdef`, t, "m1", new Uint8Array(512).fill(7));
    });
    // a new key first in DATA_KEYS, the old one after it
    const fresh = join(home, "keys", "p1", "data-2027.json");
    const { key } = ensureDataKeyFile(fresh, "INTL", "p1-data-2027");
    env.PRIVFACE_P1_DATA_KEYS = `${fresh},${cfg.dataKeys[0]}`;
    const cli = (...args: string[]) => JSON.parse(execFileSync(process.execPath, [bin, "party", ...args], { encoding: "utf8", env }));
    assert.deepEqual(cli("rotate-data-key", "--party", "p1", "--operator", "zhang.wei"), { keyId: key.id, templates: 2, items: 0 });
    assert.deepEqual(cli("rotate-data-key", "--party", "p1", "--operator", "zhang.wei"), { keyId: key.id, templates: 0, items: 0 });
    const db = await openDb(cfg.db);
    try {
      const rows = await db.kysely.selectFrom("party_templates").select(["key_id"]).execute();
      assert.deepEqual(rows.map((r) => r.key_id), [key.id, key.id]);
    } finally {
      await closeDb(db);
    }
    assert.deepEqual((await chain()).filter((r) => r.op === "key.rotate").map((r) => [r.requester, r.outcome]), [["operator:zhang.wei", "t2-i0"], ["operator:zhang.wei", "t0-i0"]]);
  }));
