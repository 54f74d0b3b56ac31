/**
 * The dedup gallery in the real servers (`DEDUP_GALLERY=on`): helper, P0 and P1 as processes over
 * mutual TLS on SQLite. Both parties build their gallery at start at an epoch P0 names, keep it in
 * step with commits, and after P1 restarts both rebuild it from their databases at a later epoch
 * (what the `gallery_ready` log lines report: epoch and number of templates).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dedupAnswer, MODEL, type PartyClient } from "@privface/contracts";
import { ensureRuntime, freePorts, gatewayResultKey, spawnServer, type ServerHandle, type ServerName, type SpawnOptions } from "@privface/devstack";
import { batchedNonces, dedupBodies, enrolBodies, finishBodies, newId, newSimDevice, randomFace, reconstruct, sameFace, simRegistration, type SimKeys } from "@privface/devstack/gateway-sim";
import { createPartyClient } from "@privface/gateway";
import { readKeyPairFile, readPublicKeyFile } from "@privface/crypto/node";
import { readTlsMaterial } from "@privface/pki";

type Party = "P0" | "P1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("dedup gallery in the party servers (DEDUP_GALLERY=on)", { timeout: 180_000 }, () => {
  let home: string;
  let opts: SpawnOptions;
  const servers = {} as Record<ServerName, ServerHandle>;
  const client = {} as Record<Party, PartyClient>;
  let keys: SimKeys;
  const logs: Record<string, Record<string, unknown>[]> = { p0: [], p1: [], helper: [] };
  const start = async (n: ServerName) => {
    servers[n] = await spawnServer(n, opts);
  };
  /** the `gallery_ready` lines of a party, oldest first */
  const ready = (n: "p0" | "p1") => logs[n].filter((l) => l.event === "gallery_ready") as { epoch: number; templates: number }[];
  async function waitFor(cond: () => boolean, ms = 30_000): Promise<void> {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) assert.fail("condition not reached in time");
      await sleep(100);
    }
  }

  const faces: Int8Array[] = [];

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "privface-gallery-"));
    const L = (await ensureRuntime(home)).layout;
    const [helper, p0, p1, gateway] = await freePorts(4);
    const env: Record<string, string> = {};
    for (const p of ["P0", "P1"]) Object.assign(env, { [`PRIVFACE_${p}_DEDUP_GALLERY`]: "on", [`PRIVFACE_${p}_MPC_TIMEOUT_MS`]: "3000", [`PRIVFACE_${p}_POOL_TARGET`]: "4", [`PRIVFACE_${p}_POOL_LOW`]: "2", [`PRIVFACE_${p}_POOL_BATCH`]: "4" });
    const onLog = (server: ServerName, line: string) => {
      try {
        logs[server]?.push(JSON.parse(line));
      } catch {
        /* not JSON: ignored here (the loopback suite checks the format) */
      }
    };
    opts = { home, ports: { helper, p0, p1, gateway }, env, onLog, readyTimeoutMs: 90_000 };
    await Promise.all([start("helper"), start("p1"), start("p0")]);
    const tls = readTlsMaterial(join(home, "pki"), "gateway-client");
    client.P0 = createPartyClient({ url: `https://127.0.0.1:${p0}`, tls, party: "P0", resultKey: await gatewayResultKey(L, "P0") });
    client.P1 = createPartyClient({ url: `https://127.0.0.1:${p1}`, tls, party: "P1", resultKey: await gatewayResultKey(L, "P1") });
    keys = { gateway: await readKeyPairFile(L.gatewaySigningKey), P0: readPublicKeyFile(L.sealPub("p0")), P1: readPublicKeyFile(L.sealPub("p1")), device: await newSimDevice(), nonce: batchedNonces(client) };
    await Promise.all([client.P0.registerDevice(simRegistration(keys.device)), client.P1.registerDevice(simRegistration(keys.device))]);
  });

  after(async () => {
    client.P0?.close();
    client.P1?.close();
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("both parties build at start at the epoch P0 names; after enrolments and a restart of P1 both rebuild from their databases at a later epoch", async () => {
    await waitFor(() => ready("p0").length > 0 && ready("p1").length > 0);
    const [a0, a1] = [ready("p0").at(-1)!, ready("p1").at(-1)!];
    assert.equal(a0.epoch, a1.epoch);
    assert.equal(a0.templates, 0);
    for (let i = 0; i < 3; i++) {
      const templateId = newId();
      const session = newId();
      const x = randomFace(MODEL.dim);
      faces.push(x);
      const b = await enrolBodies(keys, { session, templateId, modelVersion: MODEL.version, x });
      const [e0, e1] = await Promise.all([client.P0.enrol(b.P0), client.P1.enrol(b.P1)]);
      assert.equal(reconstruct(e0.resultShare, e1.resultShare).valid, 1);
      const f = await finishBodies(keys, "commit", { session, templateId, modelVersion: MODEL.version });
      await Promise.all([client.P0.commit(f.P0), client.P1.commit(f.P1)]);
    }
    await sleep(500);
    for (const n of ["p0", "p1"] as const) assert.ok(!logs[n].some((l) => l.event === "gallery_stale"), `${n}: the gallery followed the commits`);
    const before = { p0: ready("p0").length, p1: ready("p1").length };
    await servers.p1.stop();
    await start("p1");
    await waitFor(() => ready("p0").length > before.p0 && ready("p1").length > 0 && ready("p1").at(-1)!.epoch === ready("p0").at(-1)!.epoch);
    const [b0, b1] = [ready("p0").at(-1)!, ready("p1").at(-1)!];
    assert.ok(b0.epoch > a0.epoch, `a later epoch (${b0.epoch} > ${a0.epoch})`);
    assert.deepEqual([b0.templates, b1.templates], [3, 3]);
  });

  it("the 1:N duplicate search through the servers (Party API dedup, result MACs checked by the gateway's client; the real helper deals each search): the same face again is a duplicate, a new face is not", async () => {
    const search = async (x: Int8Array) => {
      const templateId = newId(), session = newId();
      const b = await enrolBodies(keys, { session, templateId, modelVersion: MODEL.version, x });
      await Promise.all([client.P0.enrol(b.P0), client.P1.enrol(b.P1)]);
      const d = await dedupBodies(keys, { session, templateId });
      const [r0, r1] = await Promise.all([client.P0.dedup(d.P0), client.P1.dedup(d.P1)]);
      assert.deepEqual([r0.gallery, r1.gallery], [3, 3]);
      return dedupAnswer(r0.resultShare, r1.resultShare);
    };
    assert.equal(await search(sameFace(faces[1])), 1);
    assert.equal(await search(randomFace(MODEL.dim)), 0);
    for (const n of ["p0", "p1"] as const) assert.ok(!logs[n].some((l) => l.event === "helper_cheat_detected"));
  });
});
