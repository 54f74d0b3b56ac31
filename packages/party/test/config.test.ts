/**
 * Party configuration: every problem is listed, and the party process exits with code 2 and that
 * list at start-up (not at the first request).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
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

  it("accepts the runtime layout made by ensureRuntime", async () => {
    await ensureRuntime(home);
    const cfg = loadPartyConfig("P1", { PRIVFACE_HOME: home });
    assert.equal(cfg.port, 7442);
    assert.equal(cfg.peerUrl, "https://127.0.0.1:7441");
    assert.match(cfg.db, /p1\.sqlite$/);
  });

  it("the process exits 2 with the list at start-up", () => {
    const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", main, "P0"], {
      env: { ...process.env, PRIVFACE_HOME: home, PRIVFACE_P0_MPC_TIMEOUT_MS: "soon" },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /PRIVFACE_P0_MPC_TIMEOUT_MS: expected an integer/);
  });
});
