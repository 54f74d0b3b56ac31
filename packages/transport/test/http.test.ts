/**
 * Issue 12 item 9 at the transport: admission before the body (a wrong role is answered without the
 * body being read, a route's body cap holds for declared and streamed lengths), and clients that
 * check the server's role (HTTPS agent, rpc WebSocket, link dial).
 */
import assert from "node:assert/strict";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createMtlsAgent, createMtlsServer, createRpcClient, nodeHandler, requestJson, serveRpc, type Admission, type RequestHead, type TlsMaterial } from "../src/index.ts";
import { makeTestPki, type TestPki } from "./_certs.ts";

let pki: TestPki;
before(() => {
  pki = makeTestPki();
});
after(() => pki.cleanup());

const mat = (r: "p0" | "p1" | "helper" | "gateway"): TlsMaterial => ({ ca: pki.ca, cert: pki.leaf[r].cert, key: pki.leaf[r].key });

/** A P1-like server: POST /items only for role helper (cap 1 MiB), counting the bytes it read off the wire. */
async function serve() {
  const sockets: import("node:net").Socket[] = [];
  const heads: RequestHead[] = [];
  const admit = (h: RequestHead): Admission => {
    heads.push(h);
    if (h.path !== "/items") return { ok: false, response: { status: 404, body: { error: { code: "NOT_FOUND" } } } };
    return h.role === "helper" ? { ok: true, maxBodyBytes: 1 << 20 } : { ok: false, response: { status: 403, body: { error: { code: "FORBIDDEN_ROLE", message: `role ${h.role}` } } } };
  };
  const handler = nodeHandler(async (req) => ({ status: 200, body: { role: req.role, bytes: req.raw.length } }), { admit });
  const server = createMtlsServer(mat("p1"), handler);
  server.on("connection", (s: import("node:net").Socket) => sockets.push(s)); // the TCP sockets under TLS
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    heads,
    /** bytes read from all TCP connections so far */
    seen: () => sockets.reduce((n, s) => n + s.bytesRead, 0),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Streams `total` bytes (optionally without content-length) and resolves with the answer and how much the client got to send. */
function post(port: number, tls: TlsMaterial, total: number, declare: boolean): Promise<{ status: number; body: string; sent: number; ms: number; error?: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let sent = 0;
    const guard = setTimeout(() => resolve({ status: -1, body: "no answer within 60 s", sent, ms: performance.now() - t0 }), 60_000);
    const req = https.request({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      method: "POST",
      path: "/items",
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      agent: false,
      headers: { "content-type": "application/octet-stream", ...(declare ? { "content-length": total } : {}) },
    });
    req.on("response", (res) => {
      clearTimeout(guard);
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, sent, ms: performance.now() - t0 }));
      res.on("error", () => resolve({ status: res.statusCode ?? 0, body, sent, ms: performance.now() - t0 }));
    });
    // the server closes after its answer: on a loaded machine the close may overtake the answer (a reset)
    req.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(guard);
      if (sent >= total) reject(e);
      else resolve({ status: 0, body: "", sent, ms: performance.now() - t0, error: e.code });
    });
    const chunk = Buffer.alloc(1 << 16, 7);
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

describe("admission before the body (issue 12 item 9)", () => {
  it("a 256 MiB body from a wrong role is refused (403) without the server reading it", async () => {
    const s = await serve();
    try {
      for (const declare of [true, false]) {
        const r = await post(s.port, mat("gateway"), 256 << 20, declare);
        assert.ok((r.status === 403 && /FORBIDDEN_ROLE/.test(r.body)) || (r.status === 0 && ["ECONNRESET", "EPIPE"].includes(r.error ?? "")), JSON.stringify(r));
        assert.ok(r.sent < 16 << 20, `the client got to send ${r.sent} bytes of 256 MiB`);
      }
      assert.ok(s.seen() < 16 << 20, `the server read ${s.seen()} bytes off the wire for two 256 MiB bodies`);
    } finally {
      await s.close();
    }
  });

  it("the right role's body is read up to the route's cap: a larger declared or streamed body → 413, connection closed", async () => {
    const s = await serve();
    try {
      const ok = await post(s.port, mat("helper"), 1 << 20, true);
      assert.equal(ok.status, 200);
      assert.deepEqual(JSON.parse(ok.body), { role: "helper", bytes: 1 << 20 });
      const seenBefore = s.seen();
      const declared = await post(s.port, mat("helper"), 64 << 20, true);
      assert.ok(declared.status === 413 || ["ECONNRESET", "EPIPE"].includes(declared.error ?? ""), JSON.stringify(declared));
      assert.ok(declared.sent < 16 << 20, `sent ${declared.sent}`);
      assert.ok(s.seen() - seenBefore < 16 << 20, `read ${s.seen() - seenBefore} bytes of a 64 MiB body declared too long`);
      const streamed = await post(s.port, mat("helper"), 64 << 20, false);
      assert.ok(streamed.status === 413 || ["ECONNRESET", "EPIPE"].includes(streamed.error ?? ""), JSON.stringify(streamed));
      assert.ok(streamed.sent < 16 << 20, `sent ${streamed.sent}`);
      assert.ok(s.seen() - seenBefore < 32 << 20, `read ${s.seen() - seenBefore} bytes of a 64 MiB over-long stream`);
    } finally {
      await s.close();
    }
  });
});

describe("clients check the server's role (issue 12 item 9)", () => {
  it("an HTTPS agent expecting p0 refuses a p1 server; expecting p1 it talks", async () => {
    const s = await serve();
    const wrong = createMtlsAgent(mat("helper"), 1, { expect: "p0" });
    const right = createMtlsAgent(mat("helper"), 1, { expect: "p1" });
    try {
      await assert.rejects(requestJson(wrong, `https://127.0.0.1:${s.port}/items`, "POST", {}), (e: Error) => /server certificate names role p1, expected p0/.test(e.message));
      assert.equal(s.heads.length, 0, "no request reached the wrong server");
      assert.equal((await requestJson(right, `https://127.0.0.1:${s.port}/items`, "POST", {})).status, 200);
    } finally {
      wrong.destroy();
      right.destroy();
      await s.close();
    }
  });

  it("the rpc client expecting p0 refuses a server with another role; serveRpc with roles refuses other callers", async () => {
    const server = createMtlsServer(mat("p1"), (_q, res) => void res.writeHead(404).end());
    const rpc = serveRpc(server, async (req) => ({ status: 200, body: { role: req.role } }), { roles: ["gateway"] });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const wrongServer = createRpcClient({ url, tls: mat("gateway"), expect: "p0", timeoutMs: 2_000 });
    const wrongCaller = createRpcClient({ url, tls: mat("helper"), expect: "p1", timeoutMs: 2_000 });
    const right = createRpcClient({ url, tls: mat("gateway"), expect: "p1", timeoutMs: 2_000 });
    try {
      await assert.rejects(wrongServer.request("GET", "/x"));
      const refused = await wrongCaller.request("GET", "/x");
      assert.equal(refused.status, 403, "refused at the upgrade, before any message");
      assert.equal(refused.body.error.code, "FORBIDDEN_ROLE");
      assert.deepEqual((await right.request("GET", "/x")).body, { role: "gateway" });
    } finally {
      for (const c of [wrongServer, wrongCaller, right]) c.close();
      rpc.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
