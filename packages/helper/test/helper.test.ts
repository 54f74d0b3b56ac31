/**
 * The helper app: only P0 may ask for a batch; P1's halves are delivered (to a stand-in P1 over mutual
 * TLS) before P0 gets its halves with the same ids; failures deliver nothing to P0; seeds, batch
 * encoding and configuration checks.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeBundle, makeParams } from "@privface/mpc";
import { createMtlsAgent, createMtlsServer, nodeHandler } from "@privface/transport";
import { makeTestPki, type TestPki } from "../../transport/test/_certs.ts";
import { unpackItems } from "@privface/contracts";
import { runtimeLayout } from "@privface/config";
import { ConfigError, createHelperApp, loadHelperConfig } from "../src/index.ts";

const params = makeParams({ d: 64, threshold: 1000 });
const paramsJson = { d: params.d, threshold: params.threshold, normLo: params.normLo, normHi: params.normHi };
let pki: TestPki;
let p1Server: import("node:https").Server;
let p1Url: string;
let p1Status = 200;
const delivered: Uint8Array[][] = [];
const seeds = { P0: new Uint8Array(randomBytes(32)), P1: new Uint8Array(randomBytes(32)) };

before(async () => {
  pki = makeTestPki();
  const mat = { ca: pki.ca, cert: pki.leaf.p1.cert, key: pki.leaf.p1.key };
  p1Server = createMtlsServer(
    mat,
    nodeHandler(async (req) => {
      assert.equal(req.role, "helper");
      if (p1Status !== 200) return { status: p1Status, body: { error: { code: "INTERNAL", message: "x" } } };
      const items = unpackItems(req.raw, { copy: true });
      delivered.push(items);
      return { status: 200, body: { added: items.length } };
    }, { maxBodyBytes: 64 << 20 }),
  );
  await new Promise<void>((r) => p1Server.listen(0, "127.0.0.1", r));
  p1Url = `https://127.0.0.1:${(p1Server.address() as AddressInfo).port}`;
});
after(async () => {
  p1Server.closeAllConnections();
  await new Promise((r) => p1Server.close(r));
  pki.cleanup();
});

function helper(audit?: () => Promise<void>, enrolPool = 0) {
  const agent = createMtlsAgent({ ca: pki.ca, cert: pki.leaf.helper.cert, key: pki.leaf.helper.key });
  return createHelperApp({ seeds, p1Url, agent, maxBatch: 16, audit, enrolPool });
}
const call = (h: ReturnType<typeof helper>, role: "p0" | "p1" | "gateway" | "helper" | null, body: unknown) =>
  h.app({ method: "POST", path: "/v1/pool/refill", role, body, raw: Buffer.alloc(0) });

describe("helper app", () => {
  it("deals a batch: P1's halves delivered first, P0's returned, same ids, audited", async () => {
    const audits: string[] = [];
    const h = helper(async () => void audits.push("deal"));
    const before = delivered.length;
    const r = await call(h, "p0", { kind: "verify", count: 5, params: paramsJson });
    assert.equal(r.status, 200);
    assert.equal(r.contentType, "application/octet-stream");
    const p0 = unpackItems(r.body as Buffer, { copy: true }).map(decodeBundle);
    const p1 = delivered[before].map(decodeBundle);
    assert.equal(p0.length, 5);
    assert.deepEqual(p0.map((b) => b.id), p1.map((b) => b.id));
    assert.ok(p0.every((b) => b.role === "P0" && b.kind === "verify"));
    assert.ok(p1.every((b) => b.role === "P1" && b.corrections && b.corrections.length > 0));
    assert.equal(new Set(p0.map((b) => b.id)).size, 5, "fresh ids");
    assert.deepEqual(audits, ["deal"]);
    const e = await call(h, "p0", { kind: "enrol", count: 1, params: paramsJson });
    assert.equal(decodeBundle(unpackItems(e.body as Buffer, { copy: true })[0]).kind, "enrol");
  });

  it("enrolment pool: bundles dealt ahead, P1's halves delivered before P0 gets any, each id once", async () => {
    const h = helper(undefined, 3);
    const before = delivered.length;
    // a verify refill names the parameters: the enrolment pool fills in the background
    assert.equal((await call(h, "p0", { kind: "verify", count: 1, params: paramsJson })).status, 200);
    for (let i = 0; i < 1000 && delivered.slice(before).flat().filter((b) => decodeBundle(b).kind === "enrol").length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    const ahead = delivered.slice(before).flat().map(decodeBundle).filter((b) => b.kind === "enrol");
    assert.equal(ahead.length, 3);
    const mark = delivered.length;
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(h, "p0", { kind: "enrol", count: 1, params: paramsJson });
      assert.equal(r.status, 200);
      const [b] = unpackItems(r.body as Buffer, { copy: true }).map(decodeBundle);
      assert.equal(b.kind, "enrol");
      assert.equal(b.role, "P0");
      got.push(b.id);
    }
    assert.deepEqual(got, ahead.map((b) => b.id), "served from the pool, in order, P1 already holds them");
    // the pool refills; an empty pool deals on demand, delivering to P1 first
    for (let i = 0; i < 1000 && delivered.length === mark; i++) await new Promise((r) => setTimeout(r, 10));
    const all = delivered.slice(before).flat().map((x) => decodeBundle(x).id);
    assert.equal(new Set(all).size, all.length, "no id dealt twice");
    const other = { ...paramsJson, d: 128 };
    const r = await call(h, "p0", { kind: "enrol", count: 1, params: other });
    const [b] = unpackItems(r.body as Buffer, { copy: true }).map(decodeBundle);
    assert.equal(b.params.d, 128, "other parameters are never served from the pool");
    assert.ok(delivered.slice(mark).flat().some((x) => decodeBundle(x).id === b.id));
    // let the background fill for the new parameters finish before the next test
    const filled = () => delivered.slice(mark).some((batch) => batch.length === 3 && decodeBundle(batch[0]).params.d === 128);
    for (let i = 0; i < 2000 && !filled(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(filled());
  });

  it("only P0 may ask", async () => {
    const h = helper();
    for (const role of ["p1", "gateway", "helper", null] as const) assert.equal((await call(h, role, { kind: "verify", count: 1, params: paramsJson })).status, 403);
  });

  it("refuses bad bodies with 400", async () => {
    const h = helper();
    for (const body of [
      { kind: "verify", count: 0, params: paramsJson },
      { kind: "verify", count: 17, params: paramsJson },
      { kind: "other", count: 1, params: paramsJson },
      { kind: "verify", count: 1, params: { ...paramsJson, d: 0 } },
      { kind: "verify", count: 1, params: paramsJson, extra: 1 },
      null,
    ]) {
      const r = await call(h, "p0", body);
      assert.equal(r.status, 400, JSON.stringify(body));
    }
  });

  it("P1 refusing or unreachable → 503 PEER_UNAVAILABLE and nothing for P0", async () => {
    const h = helper();
    p1Status = 500;
    try {
      const r = await call(h, "p0", { kind: "verify", count: 2, params: paramsJson });
      assert.equal(r.status, 503);
      assert.equal((r.body as { error: { code: string } }).error.code, "PEER_UNAVAILABLE");
    } finally {
      p1Status = 200;
    }
    const agent = createMtlsAgent({ ca: pki.ca, cert: pki.leaf.helper.cert, key: pki.leaf.helper.key });
    const down = createHelperApp({ seeds, p1Url: "https://127.0.0.1:1", agent });
    const r = await call(down, "p0", { kind: "verify", count: 1, params: paramsJson });
    assert.equal(r.status, 503);
    assert.equal(down.p1Up(), false);
    // several P1 workers (issue 16): one that cannot be reached is passed over, the batch goes to the next
    const workers = createHelperApp({ seeds, p1Url: "https://127.0.0.1:1", p1Urls: ["https://127.0.0.1:1", p1Url], agent });
    assert.equal((await call(workers, "p0", { kind: "verify", count: 1, params: paramsJson })).status, 200);
    assert.equal((await call(workers, "p0", { kind: "verify", count: 1, params: paramsJson })).status, 200);
  });

  it("a failing audit append fails the batch", async () => {
    const h = helper(async () => {
      throw new Error("disk full");
    });
    const r = await call(h, "p0", { kind: "verify", count: 1, params: paramsJson });
    assert.equal(r.status, 500);
  });

  it("health and metrics", async () => {
    const h = helper();
    await call(h, "p0", { kind: "verify", count: 1, params: paramsJson });
    const hr = await h.app({ method: "GET", path: "/v1/health", role: "p0", body: undefined, raw: Buffer.alloc(0) });
    assert.deepEqual(hr.body, { role: "helper", p1: "up" });
    const m = await h.app({ method: "GET", path: "/metrics", role: "p0", body: undefined, raw: Buffer.alloc(0) });
    assert.match(String(m.body), /privface_helper_items_dealt_total\{kind="verify"\} 1/);
  });
});

describe("config", () => {
  const dir = mkdtempSync(join(tmpdir(), "privface-helper-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a bad configuration lists every problem", () => {
    assert.throws(
      () => loadHelperConfig({ PRIVFACE_HOME: join(dir, "nothing"), PRIVFACE_HELPER_PORT: "http", PRIVFACE_HELPER_P1_URL: "ftp://x" }),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => /PORT/.test(p)) && e.problems.some((p) => /P1_URL/.test(p)) && e.problems.some((p) => /CERT/.test(p)),
    );
  });

  it("key separation (issue 12 item 7): a party's own key file is refused; the helper keeps its own seed copies", () => {
    const L = runtimeLayout(dir);
    assert.throws(
      () => loadHelperConfig({ PRIVFACE_HOME: dir, PRIVFACE_HELPER_SEED_P0: L.poolSeed("p0"), PRIVFACE_HELPER_AUDIT_KEY: L.auditKey("gateway") }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.some((p) => /PRIVFACE_HELPER_SEED_P0: .* key folder of p0; helper is never handed/.test(p)) &&
        e.problems.some((p) => /PRIVFACE_HELPER_AUDIT_KEY: .* key folder of gateway/.test(p)),
    );
    assert.throws(
      () => loadHelperConfig({ PRIVFACE_HOME: dir }),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.includes(L.helperPoolSeed("p0"))),
    );
  });
});

describe("helper app: dedup queries (issue 15)", () => {
  it("deals n queries over the first count slots of a gallery epoch: only for P0, P1's halves delivered first (same ids), each one right by the parties' spot-check", async () => {
    const { decodeDedupBundle, dedupSpotCheck, dedupSpotOpening, jsRowStore, newHelperGallery, newPartyGallery, openDedup, simulateGalleryAdd } = await import("@privface/mpc");
    const h = helper();
    const dedupCall = (role: "p0" | "p1" | "gateway", body: unknown) => h.app({ method: "POST", path: "/v1/dedup/refill", role, body, raw: Buffer.alloc(0) });
    const body = { epoch: 42, count: 9, n: 2, params: paramsJson };
    assert.equal((await dedupCall("p1", body)).status, 403);
    assert.equal((await dedupCall("gateway", body)).status, 403);
    assert.equal((await dedupCall("p0", { ...body, n: 9 })).status, 400);
    assert.equal((await dedupCall("p0", { ...body, extra: 1 })).status, 400);
    const before = delivered.length;
    const r = await dedupCall("p0", body);
    assert.equal(r.status, 200);
    const p0 = unpackItems(r.body as Buffer, { copy: true }).map(decodeDedupBundle);
    const p1 = delivered[before].map(decodeDedupBundle);
    assert.deepEqual(p0.map((b) => b.id), p1.map((b) => b.id));
    assert.ok(p0.every((b) => b.role === "P0" && b.epoch === 42 && b.count === 9) && p1.every((b) => b.role === "P1" && b.corrections));
    // the parties' galleries of 12 slots at epoch 42 (masks from the same seeds): the queries cover the first 9
    const w = { params, seeds, galleries: { P0: newPartyGallery("P0", params, 42, jsRowStore), P1: newPartyGallery("P1", params, 42, jsRowStore) }, helper: newHelperGallery(params, 42, jsRowStore) };
    simulateGalleryAdd(w, Array.from({ length: 12 }, () => ({ P0: new Uint32Array(randomBytes(4 * params.d).buffer), P1: new Uint32Array(randomBytes(4 * params.d).buffer) })));
    for (let i = 0; i < 2; i++) {
      const m0 = openDedup("P0", seeds.P0, params, p0[i]), m1 = openDedup("P1", seeds.P1, params, p1[i]);
      assert.deepEqual(dedupSpotCheck(w.galleries.P1, m1, dedupSpotOpening(w.galleries.P0, m0, new Uint32Array(m1.a.buffer, m1.a.byteOffset, params.d))), []);
    }
  });

  it("p1Url (a gallery shard worker of P1): delivered there, only to a server whose certificate names P1; a malformed one is refused", async () => {
    // the helper's agent as its server makes it (server.ts): it talks only to a P1 certificate
    const agent = createMtlsAgent({ ca: pki.ca, cert: pki.leaf.helper.cert, key: pki.leaf.helper.key }, 8, { expect: "p1" });
    const h = createHelperApp({ seeds, p1Url, agent, maxBatch: 16 });
    const dedupCall = (body: unknown) => h.app({ method: "POST", path: "/v1/dedup/refill", role: "p0", body, raw: Buffer.alloc(0) });
    const body = { epoch: 43, count: 3, n: 2, params: paramsJson };
    for (const bad of ["http://127.0.0.1:1", `${p1Url}/v1/other`, "https://user@host", 7]) assert.equal((await dedupCall({ ...body, p1Url: bad })).status, 400, String(bad));
    const before = delivered.length;
    assert.equal((await dedupCall({ ...body, p1Url })).status, 200);
    assert.equal(delivered.length, before + 1);
    // attack: P0 names its own server (a P0 certificate) to read P1's halves — the helper's agent refuses it
    let got = 0;
    const mat = { ca: pki.ca, cert: pki.leaf.p0.cert, key: pki.leaf.p0.key };
    const p0Server = createMtlsServer(mat, nodeHandler(async () => (got++, { status: 200, body: {} }), { maxBodyBytes: 64 << 20 }));
    await new Promise<void>((r) => p0Server.listen(0, "127.0.0.1", r));
    try {
      const r = await dedupCall({ ...body, p1Url: `https://127.0.0.1:${(p0Server.address() as AddressInfo).port}` });
      assert.equal(r.status, 503);
      assert.equal(got, 0, "nothing reached a server that is not P1");
    } finally {
      p0Server.closeAllConnections();
      await new Promise((r) => p0Server.close(r));
    }
  });
});
