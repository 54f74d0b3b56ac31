/** Configuration is checked at start-up (a bad config stops the server with every problem listed), and the masking helpers. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, loadGatewayConfig } from "../src/config.ts";
import { maskIdNumber, maskName, maskPhone } from "../src/_identity.ts";
import { ChallengeStore } from "../src/_challenges.ts";

test("loadGatewayConfig lists every problem of a bad configuration", () => {
  const home = mkdtempSync(join(tmpdir(), "privface-gw-cfg-"));
  try {
    assert.throws(
      () =>
        loadGatewayConfig({
          PRIVFACE_HOME: home,
          PRIVFACE_GATEWAY_PORT: "99999",
          PRIVFACE_GATEWAY_P0_URL: "http://plain",
          PRIVFACE_GATEWAY_DB: "mysql://x",
          PRIVFACE_GATEWAY_TLS: "maybe",
          PRIVFACE_GATEWAY_LIVENESS_THRESHOLD: "2",
        }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const text = (e as ConfigError).problems.join("\n");
        for (const k of ["PORT", "P0_URL", "DB", "TLS", "LIVENESS_THRESHOLD", "CA", "P0_SEAL_KEY"]) assert.match(text, new RegExp(`PRIVFACE_GATEWAY_${k}`));
        return true;
      },
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("main exits with code 2 and the problems on a bad configuration", () => {
  const home = mkdtempSync(join(tmpdir(), "privface-gw-cfg-"));
  try {
    const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", main], { env: { ...process.env, PRIVFACE_HOME: home, PRIVFACE_GATEWAY_PORT: "-1" }, encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /invalid configuration \(PRIVFACE_GATEWAY_\*\)/);
    assert.match(r.stderr, /PRIVFACE_GATEWAY_PORT/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("masks: ID-card number, phone, name", () => {
  assert.equal(maskIdNumber("110101199003071234"), "110101********1234");
  assert.equal(maskIdNumber("11010119900307123X"), "110101********123X");
  assert.equal(maskPhone("13800138000"), "138****8000");
  assert.equal(maskName("王小明"), "王**");
  assert.equal(maskName("A"), "*");
  assert.equal(maskIdNumber("12345"), "*****");
});

test("challenges: TTL at most 60 s, single use, bound", () => {
  assert.throws(() => new ChallengeStore(61_000), RangeError);
  const s = new ChallengeStore(60_000);
  const ch = s.issue({ value: "c".repeat(32), deviceId: "d", personId: "p", purpose: "verify", templateId: "t", modelVersion: "m", upgradeTo: undefined }, 1_000);
  assert.equal(ch.expiresAt, 61_000);
  assert.throws(() => s.check(ch.value, "d", "p", "enrol", 2_000), /another person, device or purpose/);
  assert.throws(() => s.check(ch.value, "d", "p", "verify", 61_001), /expired/);
  assert.equal(s.check(ch.value, "d", "p", "verify", 2_000), ch);
  assert.equal(s.consume(ch), true);
  assert.equal(s.consume(ch), false);
  assert.throws(() => s.check(ch.value, "d", "p", "verify", 2_000), /already been used/);
});
