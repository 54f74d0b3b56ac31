/**
 * End to end with the real servers: helper, P0 and P1 as child processes over mutual TLS
 * (@privface/party), the gateway over HTTPS in this process, a device acting with @privface/device's
 * request builders. The scenario catalogue (@privface/devstack `SCENARIOS`: genuine, impostor,
 * malicious probe and template, replay, model upgrade, invalid upgrade, deregistration, withdrawal —
 * the same list flows.test.ts runs on the fake parties), then a party down (MPC_UNAVAILABLE). All
 * servers' logs pass the log scanner.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectationsOf, observedOf, runScenario, SCENARIOS, startStack, type GatewayClient, type ScenarioWorld, type Stack } from "@privface/devstack";
import { stackWorld } from "./_setup.ts";
import { scanLog } from "./_logscan.ts";

describe("gateway + real helper, P0, P1 on loopback", { timeout: 300_000 }, () => {
  let home: string;
  let stack: Stack;
  let c: GatewayClient;
  let op: GatewayClient;
  let w: ScenarioWorld;
  const logs: string[] = [];

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "privface-gw-e2e-"));
    const env: Record<string, string> = {};
    for (const p of ["P0", "P1"]) Object.assign(env, { [`PRIVFACE_${p}_POOL_TARGET`]: "60", [`PRIVFACE_${p}_POOL_LOW`]: "20", [`PRIVFACE_${p}_POOL_BATCH`]: "20", [`PRIVFACE_${p}_MPC_TIMEOUT_MS`]: "3000" });
    env.PRIVFACE_GATEWAY_PARTY_TIMEOUT_MS = "4000";
    stack = await startStack({ home, gateway: "in-process", env, readyTimeoutMs: 90_000, onLog: (s, l) => logs.push(`${s} ${l}`) });
    ({ c, op, w } = await stackWorld(stack));
  });

  after(async () => {
    c?.close();
    op?.close();
    await stack?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
    const secrets = (w?.identities ?? []).flatMap((p) => [p.idNumber, p.phone, p.name]);
    assert.deepEqual(scanLog(logs.join("\n"), secrets), [], "log scanner");
  });

  it("health is ok with both parties and the peer link up", async () => {
    const h = await c.call("GET", "/v1/health");
    assert.deepEqual(h.body, { status: "ok", parties: { P0: "up", P1: "up" } });
  });

  for (const s of SCENARIOS) {
    it(s.name, async () => {
      assert.deepEqual(observedOf(await runScenario(s, w)), expectationsOf(s));
    });
  }

  it("with P1 down: MPC_UNAVAILABLE, never an approval, recorded for re-check", async () => {
    const p = await w.person();
    assert.equal((await p.step({ do: "consent" })).decision, "accept");
    assert.equal((await p.step({ do: "enrol", face: "genuine" })).reason, "ENROLLED");
    await stack.servers.p1!.stop();
    const r = await p.step({ do: "verify", face: "genuine" });
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.reason, "MPC_UNAVAILABLE");
    const checks = await op.admin("GET", "/v1/admin/rechecks");
    assert.ok(checks.body.rechecks.some((x: { op: string; personId: string }) => x.op === "verify" && x.personId === p.personId));
    const h = await c.call("GET", "/v1/health");
    assert.equal(h.body.status, "degraded");
  });
});
