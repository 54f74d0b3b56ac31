/**
 * The GM suite end to end (issue 13): a deployment started with PRIVFACE_SUITE=gm — helper, P0 and
 * P1 as child processes, the gateway in this process — makes every key an SM2 / SM4 key, runs the
 * scenario catalogue (the same list integration.slow.test.ts runs in INTL), and writes audit chains
 * hashed with SM3 and signed with SM2. A server given the GM home while the deployment says INTL (a key
 * of the wrong suite) refuses to start and names the keys. CI runs the security and integration suites
 * with PRIVFACE_SUITE=gm too (.ci/run); this file keeps a GM run in `npm test`.
 */
process.env.PRIVFACE_SUITE = "gm";

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runtimeLayout } from "@privface/config";
import { canonicalJson } from "@privface/crypto";
import { readPublicKeyFile } from "@privface/crypto/node";
import { openDb, closeDb } from "@privface/db";
import { AUDIT_TABLE, verifyChain } from "@privface/audit";

const { expectationsOf, observedOf, runScenario, SCENARIOS, startStack, spawnServer, freePorts } = await import("@privface/devstack");
const { stackWorld } = await import("./_setup.ts");
const { loadGatewayConfig, openGatewayOptions } = await import("../src/config.ts");

describe("a GM deployment (PRIVFACE_SUITE=gm): real helper, P0, P1 and gateway", { timeout: 400_000 }, () => {
  let home: string;
  let stack: Awaited<ReturnType<typeof startStack>>;
  let w: Awaited<ReturnType<typeof stackWorld>>["w"];
  let closeClients = () => {};

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "privface-gm-"));
    const env: Record<string, string> = { PRIVFACE_GATEWAY_PARTY_TIMEOUT_MS: "6000" };
    for (const p of ["P0", "P1"]) Object.assign(env, { [`PRIVFACE_${p}_POOL_TARGET`]: "40", [`PRIVFACE_${p}_POOL_LOW`]: "10", [`PRIVFACE_${p}_POOL_BATCH`]: "20", [`PRIVFACE_${p}_MPC_TIMEOUT_MS`]: "5000" });
    stack = await startStack({ home, gateway: "in-process", env, readyTimeoutMs: 150_000 });
    const s = await stackWorld(stack);
    w = s.w;
    closeClients = () => (s.c.close(), s.op.close());
  });

  after(async () => {
    closeClients();
    await stack?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("every key the stack made is a GM key (SM2 key pairs, SM4 data keys)", () => {
    const L = runtimeLayout(home);
    const publics = readdirSync(L.dirs.public).filter((f) => f.endsWith(".json"));
    assert.ok(publics.length >= 10, `public keys: ${publics.join(", ")}`);
    for (const f of publics) assert.equal(readPublicKeyFile(join(L.dirs.public, f)).suite, "GM", f);
    // private files: the clear header of each encrypted key pair / data key names its suite
    for (const dir of ["p0", "p1", "gateway", "helper"] as const) {
      for (const f of readdirSync(L.keyDir(dir)).filter((n) => n.endsWith(".json"))) {
        const j = JSON.parse(readFileSync(join(L.keyDir(dir), f), "utf8")) as { kind?: string; suite?: string };
        if (j.kind === "key-pair" || j.kind === "data-key") assert.equal(j.suite, "GM", `${dir}/${f}`);
      }
    }
  });

  for (const s of SCENARIOS) {
    it(`GM: ${s.name}`, async () => {
      assert.deepEqual(observedOf(await runScenario(s, w)), expectationsOf(s));
    });
  }

  it("every server's audit chain is SM3-hashed and SM2-signed, and verifies", async () => {
    const L = runtimeLayout(home);
    for (const server of ["gateway", "p0", "p1", "helper"] as const) {
      const db = await openDb(`sqlite:${L.sqlite(server)}`);
      try {
        const key = readPublicKeyFile(L.auditPub(server));
        assert.equal(key.suite, "GM");
        const r = await verifyChain(db, key);
        assert.equal(r.ok, true, `${server}: ${JSON.stringify(r.firstBroken)}`);
        assert.ok(r.records > 0, server);
        const first = (await db.kysely.selectFrom(AUDIT_TABLE as never).selectAll().where("seq" as never, "=", 1 as never).executeTakeFirstOrThrow()) as Record<string, unknown>;
        const body = { v: 1, seq: 1, time: Number(first.time), role: first.role, requester: first.requester, op: first.op, templateId: first.template_id ?? null, session: first.session ?? null, outcome: first.outcome, code: first.code ?? null, prev: first.prev };
        assert.equal(first.hash, createHash("sm3").update(canonicalJson(body)).digest("base64url"), `${server}: record 1 is hashed with SM3`);
      } finally {
        await closeDb(db);
      }
    }
  });

  it("attack: servers given the GM home while the deployment says INTL (keys of the wrong suite) refuse to start and name the keys", async () => {
    const intl = { PRIVFACE_SUITE: "intl", PRIVFACE_HOME: home };
    // a party process: exit 2, the configuration's problems on stderr
    const [helper, p0, p1, gateway] = await freePorts(4);
    await assert.rejects(
      spawnServer("p0", { home, ports: { helper, p0, p1, gateway }, env: { PRIVFACE_SUITE: "intl" }, readyTimeoutMs: 60_000 }),
      (e: Error) => /PRIVFACE_P0_SEAL_KEY .* holds a GM key, but the deployment's suite is INTL/.test(e.message) && /PRIVFACE_P0_GATEWAY_KEY .* holds a GM key/.test(e.message),
    );
    // the gateway: its configuration names every key of the wrong suite
    assert.throws(() => loadGatewayConfig({ ...intl }), (e: Error) => /PRIVFACE_GATEWAY_SIGNING_KEY .* holds a GM key/.test(e.message) && /PRIVFACE_GATEWAY_P0_SEAL_KEY .* holds a GM key/.test(e.message));
    // and the other way round: an INTL key file in a GM deployment (the gateway's audit key replaced)
    const cfg = loadGatewayConfig({ PRIVFACE_SUITE: "gm", PRIVFACE_HOME: home, PRIVFACE_GATEWAY_AUDIT_KEY: join(home, "keys", "gateway", "audit-intl.json") });
    const { ensureKeyPairFile } = await import("@privface/crypto/node");
    await ensureKeyPairFile(cfg.auditKey, "INTL", "sign");
    assert.throws(() => loadGatewayConfig({ PRIVFACE_SUITE: "gm", PRIVFACE_HOME: home, PRIVFACE_GATEWAY_AUDIT_KEY: cfg.auditKey }), /PRIVFACE_GATEWAY_AUDIT_KEY .* holds an INTL key, but the deployment's suite is GM/);
    await assert.rejects(openGatewayOptions({ ...cfg, suite: "GM" }), /holds a INTL sign key, expected GM sign/);
  });
});
