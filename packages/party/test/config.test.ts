/**
 * Party configuration: every problem is listed, and the party process exits with code 2 and that
 * list at start-up (not at the first request).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { keyFolderOf, runtimeLayout } from "@privface/config";
import { ConfigError, loadPartyConfig } from "../src/config.ts";
import { ensureRuntime } from "@privface/devstack";

const home = mkdtempSync(join(tmpdir(), "privface-party-config-"));
after(() => rmSync(home, { recursive: true, force: true }));

describe("party configuration", () => {
  it("lists every bad variable", () => {
    assert.throws(
      () => loadPartyConfig("P0", { PRIVFACE_HOME: join(home, "missing"), PRIVFACE_P0_PORT: "x", PRIVFACE_P0_PEER_URL: "http://a", PRIVFACE_P0_POOL_LOW: "9000", PRIVFACE_P0_POOL_TARGET: "10" }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const all = e.problems.join("\n");
        for (const v of ["PRIVFACE_P0_PORT", "PRIVFACE_P0_PEER_URL", "PRIVFACE_P0_POOL_LOW", "PRIVFACE_P0_CERT", "PRIVFACE_P0_SEAL_KEY"]) assert.match(all, new RegExp(v));
        return true;
      },
    );
    assert.throws(() => loadPartyConfig("P2" as never, {}), ConfigError);
  });

  it("several workers (WORKER_ID, PEER_WORKERS): PostgreSQL only, no dedup gallery, named https workers (issue 16)", async () => {
    await ensureRuntime(home);
    const problems = (env: Record<string, string>) => {
      try {
        loadPartyConfig("P0", { PRIVFACE_HOME: home, ...env });
        return [];
      } catch (e) {
        return (e as ConfigError).problems;
      }
    };
    assert.match(problems({ PRIVFACE_P0_WORKER_ID: "a" }).join("\n"), /PRIVFACE_P0_WORKER_ID: several worker processes need a PostgreSQL/);
    const pg = { PRIVFACE_P0_DB: "postgres://postgres@127.0.0.1:5432/test", PRIVFACE_P0_WORKER_ID: "a" };
    assert.match(problems({ ...pg, PRIVFACE_P0_DEDUP_GALLERY: "on" }).join("\n"), /dedup gallery .* runs in one process only/);
    assert.match(problems({ ...pg, PRIVFACE_P0_WORKER_ID: "A b" }).join("\n"), /PRIVFACE_P0_WORKER_ID: expected/);
    for (const bad of ["a=http://x:1", "a=https://x:1,a=https://y:2", "https://x:1", ","]) assert.match(problems({ ...pg, PRIVFACE_P0_PEER_WORKERS: bad }).join("\n"), /PRIVFACE_P0_PEER_WORKERS: expected/, bad);
    const cfg = loadPartyConfig("P0", { PRIVFACE_HOME: home, ...pg, PRIVFACE_P0_PEER_WORKERS: "a=https://127.0.0.1:1/, b=https://127.0.0.1:2" });
    assert.equal(cfg.workerId, "a");
    assert.deepEqual([...cfg.peerWorkers!], [["a", "https://127.0.0.1:1"], ["b", "https://127.0.0.1:2"]]);
    // one process (the default): nothing of the kind
    const one = loadPartyConfig("P0", { PRIVFACE_HOME: home });
    assert.equal(one.workerId, undefined);
    assert.equal(one.peerWorkers, undefined);
  });

  it("frame capture to disk (CAPTURE_FILE) is refused outside tests (issue 12 item 10)", async () => {
    await ensureRuntime(home);
    const capture = { PRIVFACE_HOME: home, PRIVFACE_P0_CAPTURE_FILE: join(home, "frames.txt") };
    assert.throws(
      () => loadPartyConfig("P0", capture),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => /PRIVFACE_P0_CAPTURE_FILE: .*refused outside tests/.test(p)),
    );
    // under Node's test runner (what the loopback suite's servers inherit) it is accepted
    assert.equal(loadPartyConfig("P0", { ...capture, NODE_TEST_CONTEXT: "child-v8" }).captureFile, join(home, "frames.txt"));
  });

  it("accepts the runtime layout made by ensureRuntime", async () => {
    await ensureRuntime(home);
    const cfg = loadPartyConfig("P1", { PRIVFACE_HOME: home });
    assert.equal(cfg.port, 7442);
    assert.equal(cfg.peerUrl, "https://127.0.0.1:7441");
    assert.match(cfg.db, /p1\.sqlite$/);
  });

  it("gallery shards (NATS): single-process by default; a worker's k/S, a coordinator's S, and what they need", async () => {
    await ensureRuntime(home);
    const base = { PRIVFACE_HOME: home };
    const plain = loadPartyConfig("P0", base);
    assert.deepEqual([plain.natsUrl, plain.dedupShards, plain.dedupShard, plain.dedupNatsPrefix], [undefined, 0, undefined, "privface.p0.dedup"]);
    const w = loadPartyConfig("P1", { ...base, PRIVFACE_P1_NATS_URL: "nats://127.0.0.1:4222", PRIVFACE_P1_DEDUP_SHARD: "1/2" });
    assert.deepEqual(w.dedupShard, { index: 1, count: 2 });
    const refused = (env: Record<string, string>, re: RegExp) =>
      assert.throws(() => loadPartyConfig("P0", { ...base, ...env }), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => re.test(p)));
    refused({ PRIVFACE_P0_NATS_URL: "nats://x", PRIVFACE_P0_DEDUP_SHARD: "2/2" }, /DEDUP_SHARD: expected k\/S/);
    refused({ PRIVFACE_P0_DEDUP_SHARDS: "2" }, /need PRIVFACE_P0_NATS_URL/);
    refused({ PRIVFACE_P0_NATS_URL: "nats://x", PRIVFACE_P0_DEDUP_SHARDS: "2", PRIVFACE_P0_DEDUP_SHARD: "0/2" }, /exclude each other/);
    refused({ PRIVFACE_P0_DEDUP_NATS_PREFIX: "a.*.b" }, /DEDUP_NATS_PREFIX/);
  });

  it("key separation (issue 12 item 7): the gateway's private signing key, or another server's key file, is refused", async () => {
    const { layout: L } = await ensureRuntime(home);
    const refused = (party: "P0" | "P1", env: Record<string, string>, re: RegExp) =>
      assert.throws(
        () => loadPartyConfig(party, { PRIVFACE_HOME: home, ...env }),
        (e: unknown) => e instanceof ConfigError && e.problems.some((p) => re.test(p)),
      );
    refused("P0", { PRIVFACE_P0_GATEWAY_KEY: L.gatewaySigningKey }, /PRIVFACE_P0_GATEWAY_KEY: .* private key folder of gateway/);
    const copy = join(home, "copy-of-gateway-signing.json");
    copyFileSync(L.gatewaySigningKey, copy);
    refused("P1", { PRIVFACE_P1_GATEWAY_KEY: copy }, /PRIVFACE_P1_GATEWAY_KEY: .* holds private key material \("ciphertext"\)/);
    refused("P0", { PRIVFACE_P0_SEAL_KEY: L.sealKey("p1") }, /PRIVFACE_P0_SEAL_KEY: .* key folder of p1; p0 is never handed/);
    refused("P1", { PRIVFACE_P1_POOL_SEED: L.helperPoolSeed("p1") }, /PRIVFACE_P1_POOL_SEED: .* key folder of helper/);
    const cfg = loadPartyConfig("P0", { PRIVFACE_HOME: home });
    assert.equal(cfg.gatewayKey, L.gatewaySigningPub, "by default the party reads only the gateway's public half");
    for (const f of [cfg.sealKey, cfg.auditKey, cfg.poolSeed, cfg.pairSeed, ...cfg.dataKeys]) assert.equal(keyFolderOf(f), "p0");
    // the pair seed (re-randomisation) is the party's own: the peer's copy is refused like any other server's file
    refused("P0", { PRIVFACE_P0_PAIR_SEED: L.pairSeed("p1") }, /PRIVFACE_P0_PAIR_SEED: .* key folder of p1/);
    // rotation lists: retired gateway keys are public halves too, retired sealing keys the party's own
    refused("P0", { PRIVFACE_P0_RETIRED_GATEWAY_KEYS: `${L.gatewaySigningPub},${L.gatewaySigningKey}` }, /PRIVFACE_P0_RETIRED_GATEWAY_KEYS: .* private key folder of gateway/);
    refused("P0", { PRIVFACE_P0_RETIRED_SEAL_KEYS: L.sealKey("p1") }, /PRIVFACE_P0_RETIRED_SEAL_KEYS: .* key folder of p1/);
    assert.deepEqual([cfg.retiredGatewayKeys, cfg.retiredSealKeys], [[], []]);
    assert.deepEqual(loadPartyConfig("P0", { PRIVFACE_HOME: home, PRIVFACE_P0_RETIRED_GATEWAY_KEYS: L.gatewaySigningPub }).retiredGatewayKeys, [L.gatewaySigningPub]);
  });

  it("the process refuses to start (exit 2) when handed the gateway's private signing key", () => {
    const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", main, "P1"], {
      env: { ...process.env, PRIVFACE_HOME: home, PRIVFACE_P1_GATEWAY_KEY: runtimeLayout(home).gatewaySigningKey },
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /PRIVFACE_P1_GATEWAY_KEY: .* private key folder of gateway/);
  });

  it("the process exits 2 with the list at start-up", () => {
    const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", main, "P0"], {
      env: { ...process.env, PRIVFACE_HOME: home, PRIVFACE_P0_MPC_TIMEOUT_MS: "soon" },
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /PRIVFACE_P0_MPC_TIMEOUT_MS: expected an integer/);
  });
});
