import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { createMtlsServer, createWsTransport, encodeFrame, LINK_PATH, MAX_FRAMES_PER_MESSAGE, packFrames, type TlsMaterial, type WsTransport } from "../src/index.ts";
import { transportContract } from "../src/contract.ts";
import { makeTestPki, type TestPki } from "./_certs.ts";

let pki: TestPki;
before(() => {
  pki = makeTestPki();
});
after(() => pki.cleanup());

const mat = (r: "p0" | "p1" | "helper" | "gateway"): TlsMaterial => ({ ca: pki.ca, cert: pki.leaf[r].cert, key: pki.leaf[r].key });

async function listen(server: import("node:https").Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

async function pair(o: { pingEveryMs?: number } = {}) {
  const server = createMtlsServer(mat("p1"), (_req, res) => {
    res.writeHead(404).end();
  });
  const port = await listen(server);
  const b = createWsTransport({ role: "p1", tls: mat("p1"), server, accept: ["p0"], ...o });
  const a = createWsTransport({ role: "p0", tls: mat("p0"), dial: { p1: `wss://127.0.0.1:${port}` }, ...o });
  // wait for the link
  await a.send("p1", { session: "hello", step: 0, seq: 0, payload: new Uint8Array() });
  await b.receive("hello", { from: "p0" });
  return {
    a,
    b,
    port,
    server,
    close: async () => {
      await a.close();
      await b.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

transportContract("ws over mutual TLS", pair);

describe("ws transport: roles and certificates", () => {
  it("refuses a link from a role that is not allowed (helper certificate on the party link)", async () => {
    const { port, close } = await pair();
    try {
      const ws = new WebSocket(`wss://127.0.0.1:${port}${LINK_PATH}`, { ...mat("helper"), minVersion: "TLSv1.3" });
      const status = await new Promise<number>((resolve) => {
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("open", () => resolve(101));
        ws.on("error", () => resolve(-1));
      });
      assert.equal(status, 403);
    } finally {
      await close();
    }
  });

  it("closes the link when a frame claims a sender other than the certificate's role", async () => {
    const { b, port, close } = await pair();
    try {
      // a second p0-certified client sends a frame that claims to be from the helper
      const ws = new WebSocket(`wss://127.0.0.1:${port}${LINK_PATH}`, { ...mat("p0"), minVersion: "TLSv1.3" });
      await new Promise((r) => ws.on("open", r));
      const code = new Promise<number>((r) => ws.on("close", (c) => r(c)));
      ws.send(packFrames([encodeFrame("helper", { session: "forged", step: 0, seq: 0, payload: new Uint8Array([1]) })]));
      assert.equal(await code, 1008);
      await assert.rejects(b.receive("forged", { from: "helper", timeoutMs: 100 }), { code: "TIMEOUT" });
      assert.ok((b as { stats: { refused: number } }).stats.refused >= 1);
    } finally {
      await close();
    }
  });

  it("splits a burst of one turn into messages of at most MAX_FRAMES_PER_MESSAGE frames, in order", async () => {
    const { a, b, close } = await pair();
    try {
      const stats = (b as WsTransport).stats;
      const before = { ...stats };
      const n = 2 * MAX_FRAMES_PER_MESSAGE + 3;
      await Promise.all(Array.from({ length: n }, (_, i) => a.send("p1", { session: "burst", step: 1, seq: i, payload: new Uint8Array([i]) })));
      for (let i = 0; i < n; i++) {
        const f = await b.receive("burst", { from: "p0" });
        assert.deepEqual([f.seq, f.payload[0]], [i, i]);
      }
      assert.deepEqual([stats.received - before.received, stats.messages - before.messages], [n, 3]);
    } finally {
      await close();
    }
  });

  it("sends the frames of one event-loop turn as one link message", async () => {
    const { a, b, port, close } = await pair();
    try {
      const stats = (b as WsTransport).stats;
      const before = { ...stats };
      await Promise.all([0, 1, 2].map((i) => a.send("p1", { session: `turn-${i}`, step: 1, seq: 0, payload: new Uint8Array([i]) })));
      for (const i of [0, 1, 2]) assert.equal((await b.receive(`turn-${i}`, { from: "p0" })).payload[0], i);
      assert.deepEqual([stats.received - before.received, stats.messages - before.messages], [3, 1]);
      // the wire shape: three length-prefixed frames in one message, as a raw p0 client sees it accepted
      const ws = new WebSocket(`wss://127.0.0.1:${port}${LINK_PATH}`, { ...mat("p0"), minVersion: "TLSv1.3" });
      await new Promise((r) => ws.on("open", r));
      ws.send(packFrames([0, 1].map((i) => encodeFrame("p0", { session: `raw-${i}`, step: 2, seq: 0, payload: new Uint8Array([7 + i]) }))));
      assert.equal((await b.receive("raw-0", { from: "p0" })).payload[0], 7);
      assert.equal((await b.receive("raw-1", { from: "p0" })).payload[0], 8);
      ws.terminate();
    } finally {
      await close();
    }
  });

  it("closes the link on a message whose frame lengths do not add up", async () => {
    const { port, close } = await pair();
    try {
      const ws = new WebSocket(`wss://127.0.0.1:${port}${LINK_PATH}`, { ...mat("p0"), minVersion: "TLSv1.3" });
      await new Promise((r) => ws.on("open", r));
      const code = new Promise<number>((r) => ws.on("close", (c) => r(c)));
      const packed = packFrames([encodeFrame("p0", { session: "cut", step: 1, seq: 0, payload: new Uint8Array(10) })]);
      ws.send(packed.subarray(0, packed.length - 3));
      assert.equal(await code, 1008);
    } finally {
      await close();
    }
  });

  it("re-dials after the link drops", async () => {
    const { a, b, server, close } = await pair();
    try {
      server.closeAllConnections(); // drop the TLS sockets under the link
      await new Promise((r) => setTimeout(r, 50));
      await a.send("p1", { session: "again", step: 0, seq: 0, payload: new Uint8Array([9]) });
      assert.equal((await b.receive("again", { from: "p0" })).payload[0], 9);
    } finally {
      await close();
    }
  });

  it("measures the link's round-trip time with its keep-alive pings (the parties' link RTT metric)", async () => {
    const { a, b, close } = await pair({ pingEveryMs: 30 });
    try {
      assert.equal(a.rttMs("p1"), undefined, "no pong yet");
      assert.equal(a.rttMs("helper"), undefined, "no such link");
      const t0 = Date.now();
      while ((a.rttMs("p1") === undefined || b.rttMs("p0") === undefined) && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 20));
      for (const rtt of [a.rttMs("p1"), b.rttMs("p0")]) assert.ok(typeof rtt === "number" && rtt >= 0 && rtt < 5_000, String(rtt));
    } finally {
      await close();
    }
  });

  it("reports PEER_UNAVAILABLE when the peer is not listening", async () => {
    const a = createWsTransport({ role: "p0", tls: mat("p0"), dial: { p1: "wss://127.0.0.1:1" }, connectTimeoutMs: 200 });
    try {
      await assert.rejects(a.send("p1", { session: "s", step: 0, seq: 0, payload: new Uint8Array() }), { code: "PEER_UNAVAILABLE" });
    } finally {
      await a.close();
    }
  });
});

describe("mutual TLS refusal with real clients", () => {
  let server: import("node:https").Server;
  let port: number;
  before(async () => {
    server = createMtlsServer(mat("p1"), (req, res) => {
      res.writeHead(200).end("ok");
    });
    port = await listen(server);
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** Connects with node's tls module and reports whether an HTTP request gets an answer. */
  function nodeClient(opts: tls.ConnectionOptions): Promise<"answered" | "refused"> {
    return new Promise((resolve) => {
      const s = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: pki.ca, minVersion: "TLSv1.3", ...opts }, () => {
        s.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      });
      let data = "";
      s.on("data", (d) => (data += d));
      s.on("error", () => resolve("refused"));
      s.on("close", () => resolve(data.startsWith("HTTP/1.1 200") ? "answered" : "refused"));
    });
  }

  it("node tls: a certificate from the deployment CA is answered", async () => {
    assert.equal(await nodeClient({ cert: pki.leaf.p0.cert, key: pki.leaf.p0.key }), "answered");
  });
  it("node tls: a certificate from another CA is refused", async () => {
    assert.equal(await nodeClient({ cert: pki.rogue.cert, key: pki.rogue.key }), "refused");
  });
  it("node tls: an expired certificate is refused", async () => {
    assert.equal(await nodeClient({ cert: pki.expired.cert, key: pki.expired.key }), "refused");
  });
  it("node tls: no client certificate is refused", async () => {
    assert.equal(await nodeClient({}), "refused");
  });
  it("node tls: TLS 1.2 is refused", async () => {
    assert.equal(await nodeClient({ cert: pki.leaf.p0.cert, key: pki.leaf.p0.key, minVersion: "TLSv1.2", maxVersion: "TLSv1.2" }), "refused");
  });

  /** openssl s_client: sends an HTTP request and reports whether the server answered 200. */
  function sClient(extra: string[]): Promise<{ answered: boolean; out: string }> {
    return new Promise((resolve) => {
      const p = spawn("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost", "-CAfile", pki.caPath, "-tls1_3", "-quiet", ...extra], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (out += d));
      p.stdin.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      const t = setTimeout(() => p.kill(), 5_000);
      p.on("close", () => {
        clearTimeout(t);
        resolve({ answered: /HTTP\/1\.1 200/.test(out), out });
      });
    });
  }

  it("openssl s_client: the right certificate is answered", async () => {
    const r = await sClient(["-cert", pki.leaf.gateway.certPath, "-key", pki.leaf.gateway.keyPath]);
    assert.equal(r.answered, true, r.out);
  });
  it("openssl s_client: another CA's certificate is refused", async () => {
    const r = await sClient(["-cert", pki.rogue.certPath, "-key", pki.rogue.keyPath]);
    assert.equal(r.answered, false);
    assert.match(r.out, /alert|error|errno/i);
  });
  it("openssl s_client: an expired certificate is refused", async () => {
    const r = await sClient(["-cert", pki.expired.certPath, "-key", pki.expired.keyPath]);
    assert.equal(r.answered, false);
    assert.match(r.out, /alert|error|errno/i);
  });
  it("openssl s_client: no certificate is refused", async () => {
    const r = await sClient([]);
    assert.equal(r.answered, false);
    assert.match(r.out, /alert|error|errno/i);
  });
});
