/**
 * The multi-process loopback suite: helper, P0 and P1 as separate processes over mutual TLS, driven
 * by a gateway simulator through the party client. One set of servers per file. Run on SQLite
 * (loopback.slow.test.ts) and on PostgreSQL (pg/loopback.test.ts).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { RuntimeLayout } from "@privface/config";
import { MODEL, PartyError, type PartyClient, type ResultKey } from "@privface/contracts";
import { readDataKeyFile, readKeyPairFile, readPoolSeedFile, readPublicKeyFile } from "@privface/crypto/node";
import { anchorsOf, exportChain, verifyChain } from "@privface/audit";
import { openDb, closeDb, sql } from "@privface/db";
import { ensureRuntime, gatewayResultKey, freePorts, spawnServer, type ServerHandle, type ServerName, type SpawnOptions } from "@privface/devstack";
import { batchedNonces, deleteBodies, enrolBodies, finishBodies, maliciousProbe, newId, newSimDevice, randomFace, reconstruct, sameFace, simRegistration, verifyBodies, type SimKeys } from "@privface/devstack/gateway-sim";
import { createPartyClient } from "@privface/gateway";
import { createMtlsAgent, requestJson } from "@privface/transport";
import { readTlsMaterial } from "@privface/pki";

type Party = "P0" | "P1";
const MV = MODEL.version;
const MV2 = "faceplugin-fr512-flip.2@next";
const POOL_TARGET = 40;
const POOL_LOW = 20;

export interface DbSetup {
  env: Record<string, string>;
  /** DB URL + schema per party, to inspect after the run. */
  urls: Record<Party, { url: string; schema?: string }>;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function loopbackSuite(name: string, makeDb: (home: string) => Promise<DbSetup>): void {
  describe(`loopback (${name}): helper + P0 + P1 as processes over mutual TLS`, { timeout: 300_000 }, () => {
    let home: string;
    let L: RuntimeLayout;
    let resultKeys: Record<Party, ResultKey>;
    let db: DbSetup;
    let opts: SpawnOptions;
    const servers = {} as Record<ServerName, ServerHandle>;
    const client = {} as Record<Party, PartyClient>;
    let keys: SimKeys;
    const logs: string[] = [];
    const logsBy: Partial<Record<ServerName, string[]>> = {};
    const traffic: string[] = []; // every HTTP body the gateway simulator sent or received
    const plain: Uint8Array[] = []; // plaintext shares the simulated device made
    const faces: Int8Array[] = [];

    const start = async (n: ServerName) => {
      servers[n] = await spawnServer(n, opts);
    };
    const rec = <T>(v: T): T => {
      traffic.push(JSON.stringify(v));
      return v;
    };
    async function both<T>(fn: (c: PartyClient, p: Party) => Promise<T>): Promise<Record<Party, T | PartyError>> {
      const [a, b] = await Promise.all((["P0", "P1"] as Party[]).map((p) => fn(client[p], p).then(rec, (e) => e as PartyError)));
      return { P0: a, P1: b };
    }
    const ok = <T>(v: T | PartyError): T => {
      if (v instanceof Error) assert.fail(`${(v as PartyError).code}: ${v.message}`);
      return v;
    };
    const code = (v: unknown) => (v instanceof PartyError ? v.code : "ok");

    async function enrol(x: Int8Array, commit = true) {
      const templateId = newId();
      const session = newId();
      const b = await enrolBodies(keys, { session, templateId, modelVersion: MV, x, plain });
      const r = await both((c, p) => c.enrol(rec(b[p])));
      assert.equal(reconstruct(ok(r.P0).resultShare, ok(r.P1).resultShare).valid, 1);
      if (commit) {
        const f = await finishBodies(keys, "commit", { session, templateId, modelVersion: MV });
        const c = await both((c, p) => c.commit(rec(f[p])));
        ok(c.P0);
        ok(c.P1);
      }
      return { templateId, session };
    }
    async function verify(templateId: string, x: Int8Array, modelVersion = MV) {
      const b = await verifyBodies(keys, { session: newId(), templateId, modelVersion, x, plain });
      return both((c, p) => c.verify(rec(b[p])));
    }
    const decision = (r: Record<Party, any>) => reconstruct(ok(r.P0).resultShare, ok(r.P1).resultShare);
    async function waitFor(cond: () => Promise<boolean>, ms = 15_000) {
      const t0 = Date.now();
      while (Date.now() - t0 < ms) {
        if (await cond().catch(() => false)) return;
        await sleep(100);
      }
      assert.fail("condition not reached in time");
    }
    /** Refills start below the low-water mark and fill up to the target. */
    const poolFull = async () => (await client.P0.health()).pool.level >= POOL_LOW;
    const linkUp = async () => (await client.P0.health()).peer === "up" && (await client.P1.health()).peer === "up";

    before(async () => {
      home = mkdtempSync(join(tmpdir(), "privface-loopback-"));
      L = (await ensureRuntime(home)).layout;
      resultKeys = { P0: await gatewayResultKey(L, "P0"), P1: await gatewayResultKey(L, "P1") };
      db = await makeDb(home);
      const [helper, p0, p1, gateway] = await freePorts(4);
      const env: Record<string, string> = { ...db.env, PRIVFACE_HELPER_AUDIT_ANCHOR_S: "1" };
      for (const p of ["P0", "P1"]) {
        Object.assign(env, {
          [`PRIVFACE_${p}_POOL_TARGET`]: String(POOL_TARGET),
          [`PRIVFACE_${p}_POOL_LOW`]: String(POOL_LOW),
          [`PRIVFACE_${p}_POOL_BATCH`]: "20",
          [`PRIVFACE_${p}_COMMIT_WINDOW_S`]: "2",
          [`PRIVFACE_${p}_RECOVERY_INTERVAL_S`]: "1",
          [`PRIVFACE_${p}_MPC_TIMEOUT_MS`]: "3000",
          [`PRIVFACE_${p}_VERIFY_PER_MIN`]: "1000",
          // the kills below leave verifications unaccounted, each counted as a failure (fail closed)
          [`PRIVFACE_${p}_FAILURE_BUDGET`]: "1000",
          [`PRIVFACE_${p}_AUDIT_ANCHOR_S`]: "1",
          [`PRIVFACE_${p}_CAPTURE_FILE`]: join(home, `capture-${p}.txt`),
        });
      }
      const onLog = (server: ServerName, line: string) => {
        logs.push(line);
        (logsBy[server] ??= []).push(line);
      };
      opts = { home, ports: { helper, p0, p1, gateway }, env, onLog, readyTimeoutMs: 90_000 };
      await Promise.all([start("helper"), start("p1"), start("p0")]);
      const tls = readTlsMaterial(join(home, "pki"), "gateway-client");
      client.P0 = createPartyClient({ url: `https://127.0.0.1:${p0}`, tls, party: "P0", resultKey: resultKeys.P0 });
      client.P1 = createPartyClient({ url: `https://127.0.0.1:${p1}`, tls, party: "P1", resultKey: resultKeys.P1 });
      keys = { gateway: await readKeyPairFile(L.gatewaySigningKey), P0: readPublicKeyFile(L.sealPub("p0")), P1: readPublicKeyFile(L.sealPub("p1")), device: await newSimDevice(), nonce: batchedNonces(client) };
      // the simulated terminal, forwarded to both parties' registries (the stack's policy is `auto`)
      await Promise.all([client.P0.registerDevice(simRegistration(keys.device)), client.P1.registerDevice(simRegistration(keys.device))]);
      await waitFor(poolFull);
      await waitFor(linkUp);
    });

    after(async () => {
      if (process.env.PRIVFACE_TEST_LOGS) (await import("node:fs")).writeFileSync(process.env.PRIVFACE_TEST_LOGS, logs.join("\n"));
      client.P0?.close();
      client.P1?.close();
      await Promise.all(Object.values(servers).map((s) => s.stop()));
      await db?.cleanup();
      if (home) rmSync(home, { recursive: true, force: true });
    });

    it("health: role, peer and helper up, pool filled by the helper", async () => {
      const h0 = await client.P0.health();
      const h1 = await client.P1.health();
      assert.equal(h0.role, "p0");
      assert.equal(h1.role, "p1");
      assert.equal(h0.peer, "up");
      assert.equal(h0.helper, "up");
      assert.ok(h1.pool.level >= h0.pool.level, `P1 holds every id P0 holds (${h1.pool.level} ≥ ${h0.pool.level})`);
      assert.match(await client.P0.metrics(), /privface_party_pool_level\{party="P0"\} \d+/);
      // every batch the pool holds passed the spot-check with P1 (spotcheck.ts), at both parties
      if (h0.pool.level > 0) {
        assert.match(await client.P0.metrics(), /privface_party_spotchecks_total\{outcome="passed",party="P0"\} [1-9]/);
        assert.match(await client.P1.metrics(), /privface_party_spotchecks_total\{outcome="passed",party="P1"\} [1-9]/);
      }
    });

    it("helper, P0 and P1 log pino JSON lines on stderr, each with its role, starting with `listening`", () => {
      for (const server of ["helper", "p0", "p1"] as const) {
        const lines = (logsBy[server] ?? []).map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.ok(lines.length > 0, `${server} logged`);
        assert.ok(lines.every((l) => l.role === server && typeof l.level === "number" && typeof l.time === "number"), `${server}: ${JSON.stringify(lines[0])}`);
        assert.ok(lines.some((l) => l.event === "listening" && typeof l.port === "number"), `${server} says where it listens`);
      }
    });

    it("enrol → verify: genuine accepted, impostor rejected, malicious probe valid=0", async () => {
      const x = randomFace(MODEL.dim);
      faces.push(x);
      const { templateId } = await enrol(x);
      assert.deepEqual(decision(await verify(templateId, sameFace(x))), { valid: 1, match: 1 });
      assert.deepEqual(decision(await verify(templateId, randomFace(MODEL.dim))), { valid: 1, match: 0 });
      assert.deepEqual(decision(await verify(templateId, maliciousProbe(MODEL.dim))), { valid: 0, match: 0 });
    });

    it("upgrade: verify carrying v_new, commit promotes, v_new verifies, v_old refused", async () => {
      const x = randomFace(MODEL.dim);
      faces.push(x);
      const { templateId } = await enrol(x);
      const session = newId();
      const b = await verifyBodies(keys, { session, templateId, modelVersion: MV, x: sameFace(x), upgrade: { modelVersion: MV2, x: sameFace(x) }, plain });
      const r = await both((c, p) => c.verify(rec(b[p])));
      assert.deepEqual(decision(r), { valid: 1, match: 1, upgradeValid: 1 });
      const f = await finishBodies(keys, "upgrade", { session, templateId, modelVersion: MV2 });
      const c = await both((c, p) => c.commit(rec(f[p])));
      ok(c.P0);
      ok(c.P1);
      assert.deepEqual(decision(await verify(templateId, sameFace(x), MV2)), { valid: 1, match: 1 });
      const old = await verify(templateId, x, MV);
      assert.deepEqual([code(old.P0), code(old.P1)], ["WRONG_MODEL_VERSION", "WRONG_MODEL_VERSION"]);
    });

    it("delete: erased at both, idempotent and answered", async () => {
      const { templateId } = await enrol(randomFace(MODEL.dim));
      const d1 = await deleteBodies(keys, { templateId });
      const r1 = await both((c, p) => c.delete(rec(d1[p])));
      assert.deepEqual([ok(r1.P0).existed, ok(r1.P1).existed], [true, true]);
      const d2 = await deleteBodies(keys, { templateId });
      const r2 = await both((c, p) => c.delete(rec(d2[p])));
      assert.deepEqual([ok(r2.P0).existed, ok(r2.P1).existed], [false, false]);
      const v = await verify(templateId, randomFace(MODEL.dim));
      assert.deepEqual([code(v.P0), code(v.P1)], ["UNKNOWN_TEMPLATE", "UNKNOWN_TEMPLATE"]);
    });

    it("only the gateway role may call the API (a P1 client certificate at P0 → 403)", async () => {
      const tls = readTlsMaterial(join(home, "pki"), "p1-client");
      const c = createPartyClient({ url: `https://127.0.0.1:${opts.ports.p0}`, tls, party: "P0", resultKey: resultKeys.P0 });
      try {
        const b = await deleteBodies(keys, { templateId: newId() });
        await assert.rejects(c.delete(b.P0), (e: PartyError) => e.status === 403 && e.code === "FORBIDDEN_ROLE");
      } finally {
        c.close();
      }
    });

    it("transport (issue 12 item 9): the gateway's server certificate is no client credential; the client checks the party's role; P1 refuses a wrong role's 256 MiB body unread", async () => {
      const pkiDir = join(home, "pki");
      const b = await deleteBodies(keys, { templateId: newId() });
      // the device-facing TLS key of the gateway, used as a client towards P0: the handshake fails
      const asServerCert = createPartyClient({ url: `https://127.0.0.1:${opts.ports.p0}`, tls: readTlsMaterial(pkiDir, "gateway"), party: "P0", resultKey: resultKeys.P0 });
      // the gateway's client, pointed at P1 while expecting P0: refused before anything is sent
      const wrongServer = createPartyClient({ url: `https://127.0.0.1:${opts.ports.p1}`, tls: readTlsMaterial(pkiDir, "gateway-client"), party: "P0", resultKey: resultKeys.P0 });
      try {
        await assert.rejects(asServerCert.delete(b.P0), (e: PartyError) => e.code === "UNREACHABLE");
        await assert.rejects(wrongServer.delete(b.P0), (e: PartyError) => e.code === "UNREACHABLE" && /role p1, expected p0/.test(e.message));
      } finally {
        asServerCert.close();
        wrongServer.close();
      }
      const gw = readTlsMaterial(pkiDir, "gateway-client");
      const t0 = performance.now();
      // the answer is 403, or — when the server's close overtakes the answer on a loaded machine — a reset;
      // either way the client could send only a sliver of the body
      const r = await new Promise<{ status: number; sent: number; error?: string }>((resolve, reject) => {
        let sent = 0;
        const total = 256 << 20;
        const guard = setTimeout(() => resolve({ status: -1, sent, error: "no answer within 60 s" }), 60_000);
        const req = httpsRequest({ host: "127.0.0.1", port: opts.ports.p1, servername: "localhost", method: "POST", path: "/v1/pool/items", ca: gw.ca, cert: gw.cert, key: gw.key, agent: false, headers: { "content-type": "application/octet-stream" } });
        req.on("response", (res) => {
          clearTimeout(guard);
          res.resume();
          resolve({ status: res.statusCode ?? 0, sent });
        });
        req.on("error", (e: NodeJS.ErrnoException) => {
          clearTimeout(guard);
          if (sent >= total) reject(e);
          else resolve({ status: 0, sent, error: e.code });
        });
        const chunk = Buffer.alloc(1 << 16);
        const pump = () => {
          while (sent < total) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once("drain", pump);
          }
          req.end();
        };
        pump();
      });
      assert.ok(r.status === 403 || (r.status === 0 && ["ECONNRESET", "EPIPE"].includes(r.error ?? "")), JSON.stringify(r));
      assert.ok(r.sent < 16 << 20, `P1 let the client send ${r.sent} bytes of 256 MiB (${Math.round(performance.now() - t0)} ms)`);
    });

    it("helper down with a full pool: verification still works", async () => {
      const x = randomFace(MODEL.dim);
      const { templateId } = await enrol(x);
      await waitFor(poolFull);
      await servers.helper.stop();
      try {
        assert.deepEqual(decision(await verify(templateId, sameFace(x))), { valid: 1, match: 1 });
        assert.deepEqual(decision(await verify(templateId, randomFace(MODEL.dim))), { valid: 1, match: 0 });
      } finally {
        await start("helper");
      }
    });

    it("peer down → PEER_UNAVAILABLE; back up → works again", async () => {
      const x = randomFace(MODEL.dim);
      const { templateId } = await enrol(x);
      await servers.p1.stop();
      const b = await verifyBodies(keys, { session: newId(), templateId, modelVersion: MV, x });
      await assert.rejects(client.P0.verify(b.P0), (e: PartyError) => e.code === "PEER_UNAVAILABLE" && e.status === 503);
      await start("p1");
      await waitFor(linkUp);
      await waitFor(poolFull);
      assert.deepEqual(decision(await verify(templateId, sameFace(x))), { valid: 1, match: 1 });
    });

    it("peer killed between prepare and commit: recovery leaves no one-sided template", async () => {
      const x = randomFace(MODEL.dim);
      const one = await enrol(x, false); // committed at P0 only
      const none = await enrol(randomFace(MODEL.dim), false); // committed nowhere
      const f = await finishBodies(keys, "commit", { session: one.session, templateId: one.templateId, modelVersion: MV });
      await servers.p1.stop("SIGKILL");
      ok(await client.P0.commit(f.P0).catch((e) => e));
      await start("p1");
      await waitFor(linkUp);
      // after the commit window (2 s) + margin, both recovery passes run (every 1 s)
      await sleep(4_500);
      assert.deepEqual(decision(await verify(one.templateId, sameFace(x))), { valid: 1, match: 1 });
      const v = await verify(none.templateId, randomFace(MODEL.dim));
      assert.deepEqual([code(v.P0), code(v.P1)], ["UNKNOWN_TEMPLATE", "UNKNOWN_TEMPLATE"]);
    });

    it("a party killed mid-verification: after restart no pool item is ever used twice", async () => {
      const x = randomFace(MODEL.dim);
      const { templateId } = await enrol(x);
      await waitFor(poolFull);
      const inflight = Array.from({ length: 24 }, () => verify(templateId, sameFace(x)));
      await sleep(15);
      await servers.p0.stop("SIGKILL");
      const results = await Promise.all(inflight);
      await start("p0");
      await waitFor(linkUp);
      await waitFor(poolFull);
      // P1 runs a template's verifications one at a time with their budget runs: the sessions the kill
      // cut off drain first (each up to MPC_TIMEOUT_MS), then the template answers again
      await waitFor(async () => {
        const r = await verify(templateId, sameFace(x));
        return !(r.P0 instanceof Error) && !(r.P1 instanceof Error);
      }, 150_000);
      const done = results.filter((r) => !(r.P0 instanceof Error) && !(r.P1 instanceof Error)).length;
      for (let i = 0; i < 3; i++) assert.deepEqual(decision(await verify(templateId, sameFace(x))), { valid: 1, match: 1 });
      // every item id used once per party, and by the same session at both parties
      const used: Record<Party, Map<string, string>> = { P0: new Map(), P1: new Map() };
      for (const p of ["P0", "P1"] as Party[]) {
        const h = await openDb(db.urls[p].url, db.urls[p].schema ? { schema: db.urls[p].schema } : {});
        try {
          const rows = await h.kysely.selectFrom("party_verifications").select(["session", "item_id"]).execute();
          for (const r of rows as { session: string; item_id: string }[]) {
            assert.ok(!used[p].has(r.item_id), `${p} used item ${r.item_id} twice`);
            used[p].set(r.item_id, r.session);
          }
        } finally {
          await closeDb(h);
        }
      }
      let shared = 0;
      for (const [id, s] of used.P1) {
        if (used.P0.has(id)) {
          shared++;
          assert.equal(used.P0.get(id), s, "the same item served the same session at both parties");
        }
      }
      assert.ok(shared >= 3 + done, `${shared} items used at both parties`);
    });

    it("pool exhausted (helper down) → POOL_EXHAUSTED at both parties", async () => {
      const x = randomFace(MODEL.dim);
      const { templateId } = await enrol(x);
      await servers.helper.stop();
      try {
        let last: Record<Party, unknown> | null = null;
        // (+ a batch of 64: the nonce source may hold item nonces whose items P0 reserved besides its level)
        for (let i = 0; i < POOL_TARGET + 5 + 64; i++) {
          last = await verify(templateId, x);
          if (code(last.P0) !== "ok") break;
        }
        assert.deepEqual([code(last!.P0), code(last!.P1)], ["POOL_EXHAUSTED", "POOL_EXHAUSTED"]);
        assert.match(await client.P0.metrics(), /privface_party_errors_total\{code="POOL_EXHAUSTED",party="P0"\} [1-9]/);
      } finally {
        await start("helper");
      }
      await waitFor(poolFull);
      assert.deepEqual(decision(await verify(templateId, sameFace(x))), { valid: 1, match: 1 });
    });

    it("audit anchors (issue 13): each party keeps the other's head, P1 the helper's; P0's tail cut while it is down is refused by P1 at P0's restart and found against P1's heads", async () => {
      const open = (p: Party) => openDb(db.urls[p].url, db.urls[p].schema ? { schema: db.urls[p].schema } : {});
      const p0Key = readPublicKeyFile(L.auditPub("p0"));
      const regressions = async () => Number(/privface_party_audit_anchor_regressions_total\{[^}]*from="p0"[^}]*\} (\d+)/.exec(await client.P1.metrics())?.[1] ?? 0);
      assert.equal(await regressions(), 0);
      // a few records at P0, then its head reaches P1 (every second)
      const x = randomFace(MODEL.dim);
      await enrol(x);
      let kept: { seq: number; hash: string }[] = [];
      await waitFor(async () => {
        const [d0, d1] = [await open("P0"), await open("P1")];
        try {
          const head = (await exportChain(d0)).at(-1)!;
          kept = await anchorsOf(d1, "p0");
          return kept.at(-1)?.seq === head.seq && (await anchorsOf(d0, "p1")).length > 0 && (await anchorsOf(d1, "helper")).length > 0;
        } finally {
          await closeDb(d0);
          await closeDb(d1);
        }
      });
      const d0 = await open("P0");
      assert.equal((await verifyChain(d0, p0Key, { anchors: kept })).ok, true);
      await closeDb(d0);
      // an insider deletes P0's newest records while P0 is down
      await servers.p0.stop();
      const cut = await open("P0");
      // cut right after a signed record before the kept head, as an insider would (else the chain alone shows it)
      const keepTo = (await exportChain(cut)).filter((r) => r.sig !== "" && r.seq < kept.at(-1)!.seq).at(-1)!.seq;
      await cut.kysely.deleteFrom("audit_records" as never).where("seq" as never, ">", keepTo as never).execute();
      assert.equal((await verifyChain(cut, p0Key)).ok, true, "the cut chain verifies on its own");
      await closeDb(cut);
      await start("p0");
      await waitFor(linkUp);
      // P0 sends its head at start: it goes back behind P1's, an alert at P1
      await waitFor(async () => (await regressions()) >= 1);
      assert.ok(logsBy.p1!.some((l) => l.includes('"audit_anchor_regressed"')));
      const [a0, a1] = [await open("P0"), await open("P1")];
      try {
        const r = await verifyChain(a0, p0Key, { anchors: await anchorsOf(a1, "p0") });
        assert.equal(r.ok, false);
        assert.ok(["truncated", "hash-mismatch"].includes(r.firstBroken!.reason), r.firstBroken!.reason);
      } finally {
        await closeDb(a0);
        await closeDb(a1);
      }
      // only the peer party, the gateway and the helper hand in heads: a metrics scraper's certificate is refused on the request line
      const monitorTls = readTlsMaterial(join(home, "pki"), "monitor-client");
      const agent = createMtlsAgent(monitorTls, 1, { expect: "p1" });
      try {
        const r = await requestJson(agent, `https://127.0.0.1:${opts.ports.p1}/v1/audit/anchor`, "POST", { record: kept.at(-1) });
        assert.equal(r.status, 403);
      } finally {
        agent.destroy();
      }
      await waitFor(poolFull);
    });

    it("database, logs and captured traffic never hold plaintext shares or key material", async () => {
      await Promise.all(Object.values(servers).map((s) => s.stop()));
      const secrets: { what: string; bytes: Buffer }[] = [];
      for (const s of plain) secrets.push({ what: "plaintext share", bytes: Buffer.from(s.subarray(0, 16)) });
      for (const x of faces) secrets.push({ what: "template vector", bytes: Buffer.from(x.buffer, x.byteOffset, 32) });
      for (const p of ["p0", "p1"] as const) {
        secrets.push({ what: `${p} seal key`, bytes: Buffer.from((await readKeyPairFile(L.sealKey(p))).privateKey) });
        secrets.push({ what: `${p} data key`, bytes: Buffer.from(readDataKeyFile(L.dataKey(p)).key) });
        secrets.push({ what: `${p} pool seed`, bytes: Buffer.from(readPoolSeedFile(L.poolSeed(p), p.toUpperCase() as Party)) });
        secrets.push({ what: `${p} audit key`, bytes: Buffer.from((await readKeyPairFile(L.auditKey(p))).privateKey) });
      }
      secrets.push({ what: "gateway signing key", bytes: Buffer.from(keys.gateway.privateKey) });
      const haystacks: { where: string; data: Buffer }[] = [
        { where: "logs", data: Buffer.from(logs.join("\n")) },
        { where: "HTTP bodies", data: Buffer.from(traffic.join("\n")) },
      ];
      for (const p of ["P0", "P1"]) {
        const f = join(home, `capture-${p}.txt`);
        assert.ok(existsSync(f), "frames were captured");
        const lines = readFileSync(f, "utf8").trim().split("\n");
        assert.ok(lines.length > 10);
        haystacks.push({ where: `ws frames ${p}`, data: Buffer.concat(lines.map((l) => Buffer.from(l.split(" ")[2], "base64"))) });
      }
      for (const p of ["P0", "P1"] as Party[]) {
        if (db.urls[p].url.startsWith("sqlite:")) {
          const dir = join(home, "data");
          for (const f of readdirSync(dir).filter((f) => f.startsWith(p.toLowerCase()))) haystacks.push({ where: `db file ${f}`, data: readFileSync(join(dir, f)) });
        } else {
          const h = await openDb(db.urls[p].url, { schema: db.urls[p].schema });
          try {
            for (const t of ["party_templates", "party_sessions", "party_verifications", "party_pool", "party_authorisations", "audit_records"]) {
              const rows = await h.kysely.selectFrom(t as never).selectAll().execute();
              haystacks.push({
                where: `table ${t} (${p})`,
                data: Buffer.concat(rows.flatMap((r) => Object.values(r as object).map((v) => (v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v)))))),
              });
            }
          } finally {
            await closeDb(h);
          }
        }
      }
      for (const h of haystacks) {
        const text = h.data.toString("latin1");
        for (const s of secrets) {
          assert.equal(h.data.indexOf(s.bytes), -1, `${s.what} found in ${h.where}`);
          const b64 = s.bytes.toString("base64url").slice(0, 20);
          assert.ok(!text.includes(b64), `${s.what} (base64url) found in ${h.where}`);
          const hex = s.bytes.toString("hex").slice(0, 32);
          assert.ok(!text.includes(hex), `${s.what} (hex) found in ${h.where}`);
        }
      }
    });
  });
}

/** SQLite: one file per party under the home's data/ directory (the default). */
export async function sqliteDb(home: string): Promise<DbSetup> {
  return {
    env: {},
    urls: { P0: { url: `sqlite:${join(home, "data", "p0.sqlite")}` }, P1: { url: `sqlite:${join(home, "data", "p1.sqlite")}` } },
    async cleanup() {},
  };
}

export const PG_URL = process.env.PRIVFACE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

/** PostgreSQL: a fresh schema per party for this run, dropped afterwards. */
export async function pgDb(): Promise<DbSetup> {
  const tag = newId(6).toLowerCase().replace(/[^a-z0-9]/g, "x");
  const schema = { P0: `pf_party_p0_${tag}`, P1: `pf_party_p1_${tag}` };
  return {
    env: { PRIVFACE_P0_DB: PG_URL, PRIVFACE_P0_DB_SCHEMA: schema.P0, PRIVFACE_P1_DB: PG_URL, PRIVFACE_P1_DB_SCHEMA: schema.P1 },
    urls: { P0: { url: PG_URL, schema: schema.P0 }, P1: { url: PG_URL, schema: schema.P1 } },
    async cleanup() {
      const h = await openDb(PG_URL);
      try {
        for (const s of Object.values(schema)) await sql.raw(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).execute(h.kysely);
      } finally {
        await closeDb(h);
      }
    },
  };
}
