/**
 * A party's root rotates end to end (issue 13): the real helper, P0 and P1 as child processes, the
 * gateway in this process, and a terminal provisioned with the old roots. `privface keys rotate
 * --kind root` makes P0's new root, appends the handover the old root signs to P0's ROOT_HANDOVERS and
 * records `key.rotate` in P0's chain; P0 is refused with the old root from then on (ROOT_RETIRED);
 * started with the new root, it signs its key lists with it and sends the chain, and the terminal —
 * still holding the old root — follows the handover, verifies, and trusts only the new root after.
 * The old root file is destroyed (`key.destroy`). P0's data key rotates at the same restart: the
 * party re-wraps the rows under the old key in the background (`key.rotate data:<id>`), the old key
 * then leaves the configuration and is destroyed — not before (KEY_IN_USE while rows name it). Attacks on the handover itself (a forged one, the
 * old root signing after it): device/test/root-handover.test.ts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportChain, keyFingerprint, verifyChain } from "@privface/audit";
import { checkKeyList } from "@privface/contracts";
import { readDataKeyFile, readPublicKeyFile } from "@privface/crypto/node";
import { runtimeLayout } from "@privface/config";
import { closeDb, openDb } from "@privface/db";
import { runtimeTrust, scenarioWorld, stackEnv, startStack, type ScenarioPerson, type ScenarioWorld, type Stack } from "@privface/devstack";
import { loadPartyConfig, startParty } from "@privface/party";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));
const POOL: Record<string, string> = {};
for (const p of ["P0", "P1"]) Object.assign(POOL, { [`PRIVFACE_${p}_POOL_TARGET`]: "20", [`PRIVFACE_${p}_POOL_LOW`]: "5", [`PRIVFACE_${p}_POOL_BATCH`]: "10" });

describe("root rotation end to end: real helper, P0, P1; a terminal provisioned with the old root", { timeout: 300_000 }, () => {
  let home: string;
  let stack: Stack;
  let w: ScenarioWorld;
  let person: ScenarioPerson;
  let running = false;
  const roots = {} as ReturnType<typeof runtimeTrust>["roots"];
  const extra: Record<string, string> = { ...POOL };
  const start = async () => {
    stack = await startStack({ home, gateway: "in-process", env: extra, console: false, readyTimeoutMs: 90_000 });
    running = true;
  };
  const stop = async () => {
    if (running) await stack.stop();
    running = false;
  };
  const env = () => ({ ...process.env, ...stackEnv(home, stack.ports), ...extra });
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: env() });
  /** `keys destroy` under dual control: alice requests, bob approves; the approval's result and the request code */
  const destroy = (file: string) => {
    const rq = run("keys", "destroy", "request", "--server", "p0", "--file", file, "--operator", "alice");
    assert.equal(rq.status, 0, rq.stderr);
    const code = (JSON.parse(rq.stdout) as { request: string }).request;
    return { r: run("keys", "destroy", "approve", "--server", "p0", "--file", file, "--request", code, "--operator", "bob"), code };
  };
  const destroyed: string[] = [];

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "privface-root-rotate-"));
    await start();
    Object.assign(roots, runtimeTrust(home).roots); // what the terminal was provisioned with: the old roots
    w = await scenarioWorld({
      call: (m, p, b) => stack.client("admin").call(m, p, b),
      admin: (m, p, b) => stack.client("admin").admin(m, p, b),
      approver: (m, p, b) => stack.client("operator").admin(m, p, b),
      operator: (p, reason) => stack.client("operator").admin("GET", p, undefined, reason),
      modelVersion: () => stack.gateway!.service.modelVersion,
      deployModel: () => assert.fail("no model change here"),
      roots,
    });
  });

  after(async () => {
    await stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("before: the terminal enrols and matches under the old roots", async () => {
    person = await w.person();
    assert.equal((await person.step({ do: "consent" })).decision, "accept");
    assert.equal((await person.step({ do: "enrol", face: "genuine" })).reason, "ENROLLED");
    assert.equal((await person.step({ do: "verify", face: "genuine" })).reason, "MATCH");
  });

  it("privface keys rotate --kind root: a new root, the handover signed by the old one, key.rotate in P0's chain; the old root is then refused at start (ROOT_RETIRED)", async () => {
    const L = runtimeLayout(home);
    const out = join(home, "keys", "p0", "root-2027.json");
    const pub = join(home, "keys", "public", "p0-root-2027.pub.json");
    const r = run("keys", "rotate", "--server", "p0", "--kind", "root", "--out", out, "--public", pub, "--operator", "alice");
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.seq, 1);
    const chain = JSON.parse(readFileSync(L.rootHandovers("p0"), "utf8"));
    assert.equal(chain.length, 1);
    // a second rotation from the retired root is refused and changes nothing
    const again = run("keys", "rotate", "--server", "p0", "--kind", "root", "--out", join(home, "x.json"), "--public", join(home, "x.pub.json"), "--operator", "alice");
    assert.equal(again.status, 1);
    assert.match(again.stderr, /ROOT_RETIRED/);
    assert.equal(existsSync(join(home, "x.json")), false);
    assert.equal(JSON.parse(readFileSync(L.rootHandovers("p0"), "utf8")).length, 1);
    // the party with its old root: refused before it opens anything
    await assert.rejects(startParty(loadPartyConfig("P0", env())), /ROOT_RETIRED/);
    const db = await openDb(`sqlite:${L.sqlite("p0")}`);
    try {
      const rec = (await exportChain(db)).filter((x) => x.op === "key.rotate").at(-1);
      assert.deepEqual([rec?.requester, rec?.session], ["operator:alice", "root:1"]);
      assert.equal((await verifyChain(db, readPublicKeyFile(L.auditPub("p0")))).ok, true);
    } finally {
      await closeDb(db);
    }
    extra.PRIVFACE_P0_ROOT_KEY = out;
    // the data key rotates at the same restart: a new key first in DATA_KEYS, the old one after it
    const data = join(home, "keys", "p0", "data-2027.json");
    assert.equal(run("keys", "generate", "--kind", "data", "--suite", "INTL", "--out", data).status, 0);
    // attack on the data: the old key destroyed while stored rows are still under it (taken out of the configuration first) → refused, kept
    const early = spawnSync(process.execPath, [bin, "keys", "destroy", "request", "--server", "p0", "--file", L.dataKey("p0"), "--operator", "alice"], { encoding: "utf8", env: { ...env(), PRIVFACE_P0_DATA_KEYS: data } });
    assert.equal(early.status, 1);
    assert.match(early.stderr, /KEY_IN_USE/);
    assert.equal(existsSync(L.dataKey("p0")), true);
    extra.PRIVFACE_P0_DATA_KEYS = `${data},${L.dataKey("p0")}`;
  });

  it("after a restart with the new root: P0's list is signed by it and carries the handover; the terminal still holding the old root follows it, matches, and trusts only the new root", async () => {
    await stop();
    await start();
    const newRoot = readPublicKeyFile(join(home, "keys", "public", "p0-root-2027.pub.json"));
    const oldRoot = roots.P0;
    const { keyList } = await stack.partyClient("P0").keys();
    const viaOld = await checkKeyList(oldRoot, "P0", keyList);
    assert.deepEqual(Buffer.from(viaOld.root.publicKey), Buffer.from(newRoot.publicKey), "followed from the old root to the new");
    await assert.rejects(checkKeyList(oldRoot, "P0", { ...keyList, payload: Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(keyList.payload, "base64url").toString()), handovers: undefined })).toString("base64url") }), { code: "KEY_LIST_UNTRUSTED" });
    assert.equal((await person.step({ do: "verify", face: "genuine" })).reason, "MATCH");
    assert.equal((await person.step({ do: "verify", face: "impostor" })).reason, "NO_MATCH");
    assert.deepEqual(Buffer.from(roots.P0.publicKey), Buffer.from(newRoot.publicKey), "the terminal now trusts P0's new root");
    assert.notDeepEqual(Buffer.from(roots.P1.publicKey), Buffer.from(newRoot.publicKey));
    assert.notDeepEqual(Buffer.from(oldRoot.publicKey), Buffer.from(newRoot.publicKey));
    // the restart with the new ROOT_KEY is in P0's chain too (configuration-driven key events: @privface/audit recordKeysInUse)
    const db = await openDb(`sqlite:${runtimeLayout(home).sqlite("p0")}`);
    try {
      const keyOps = (await exportChain(db)).filter((x) => x.op === "key.activate" || x.op === "key.retire").map((x) => `${x.op} ${x.session}`);
      assert.ok(keyOps.includes(`key.retire root:${await keyFingerprint(oldRoot.publicKey)}`), keyOps.join("\n"));
      assert.ok(keyOps.includes(`key.activate root:${await keyFingerprint(newRoot.publicKey)}`), keyOps.join("\n"));
      assert.ok(keyOps.includes(`key.activate data.retired:${await keyFingerprint(readDataKeyFile(runtimeLayout(home).dataKey("p0")).key)}`), "the data key rotation too");
      assert.ok(keyOps.includes(`key.activate seal:${JSON.parse(Buffer.from(keyList.payload, "base64url").toString()).keys[0].id}`), "the first start recorded the whole key set");
    } finally {
      await closeDb(db);
    }
  });

  it("the data key: the party re-wraps the rows under the old key in the background (key.rotate in its chain); then the old key leaves the configuration, the person still matches, and the old file is destroyed", async () => {
    const L = runtimeLayout(home);
    const db = await openDb(`sqlite:${L.sqlite("p0")}`);
    try {
      let rewrapped;
      for (let i = 0; i < 100 && !rewrapped; i++) {
        rewrapped = (await exportChain(db)).find((x) => x.op === "key.rotate" && x.session?.startsWith("data:"));
        if (!rewrapped) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(rewrapped, "the background re-wrap recorded key.rotate data:<id>");
      assert.equal(rewrapped.requester, "config");
      assert.match(rewrapped.outcome, /^t1-i\d+$/, "the one enrolled template (and the unused pool items) moved");
    } finally {
      await closeDb(db);
    }
    await stop();
    extra.PRIVFACE_P0_DATA_KEYS = join(home, "keys", "p0", "data-2027.json");
    await start();
    assert.equal((await person.step({ do: "verify", face: "genuine" })).reason, "MATCH");
    const { r, code } = destroy(L.dataKey("p0"));
    assert.equal(r.status, 0, r.stderr);
    destroyed.push(code);
    assert.equal(existsSync(L.dataKey("p0")), false);
  });

  it("the old root file is destroyed, recorded as key.destroy", async () => {
    const L = runtimeLayout(home);
    const { r, code } = destroy(L.root("p0"));
    assert.equal(r.status, 0, r.stderr);
    destroyed.push(code);
    assert.equal(existsSync(L.root("p0")), false);
    const db = await openDb(`sqlite:${L.sqlite("p0")}`);
    try {
      assert.deepEqual((await exportChain(db)).filter((x) => x.op === "key.destroy").map((x) => [x.requester, x.session]), destroyed.map((code) => ["operator:bob", code]));
    } finally {
      await closeDb(db);
    }
  });
});
