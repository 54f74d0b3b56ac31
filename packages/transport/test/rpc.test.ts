import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { createMtlsServer, createRpcClient, RPC_PATH, serveRpc, type App, type RpcClient, type TlsMaterial } from "../src/index.ts";
import { makeTestPki, type TestPki } from "./_certs.ts";

let pki: TestPki;
before(() => {
  pki = makeTestPki();
});
after(() => pki.cleanup());

const mat = (r: "p0" | "p1" | "helper" | "gateway"): TlsMaterial => ({ ca: pki.ca, cert: pki.leaf[r].cert, key: pki.leaf[r].key });

/** An rpc server (role p0) whose app echoes the caller's role and body; `hold` delays answers. */
async function serve(app?: App) {
  const server = createMtlsServer(mat("p0"), (_req, res) => void res.writeHead(404).end());
  const calls: string[] = [];
  const rpc = serveRpc(
    server,
    app ??
      (async (req) => {
        calls.push(`${req.method} ${req.path}`);
        if (req.path === "/slow") await new Promise((r) => setTimeout(r, 200));
        if (req.path === "/throw") throw new Error("boom");
        return { status: req.path === "/missing" ? 404 : 200, body: { role: req.role, echo: req.body } };
      }),
  );
  const sockets: import("node:stream").Duplex[] = [];
  server.on("upgrade", (_req, socket) => sockets.push(socket));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    server,
    calls,
    /** Drops the upgraded (rpc) connections from the server side. */
    drop: () => sockets.forEach((x) => x.destroy()),
    close: async () => {
      rpc.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Runs `fn` with a fresh server and a client of it (`tls`, default the gateway's), closing both after. */
async function withClient(fn: (c: RpcClient, s: Awaited<ReturnType<typeof serve>>) => Promise<void>, opts: { tls?: TlsMaterial; timeoutMs?: number } = {}) {
  const s = await serve();
  const c = createRpcClient({ url: s.url, tls: opts.tls ?? mat("gateway"), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
  try {
    await fn(c, s);
  } finally {
    c.close();
    await s.close();
  }
}

describe("rpc over a mutual-TLS WebSocket", () => {
  it("routes calls to the app with the caller's certificate role and returns status and body", () =>
    withClient(async (c, s) => {
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => c.request("POST", "/v1/verify", { i })));
      many.forEach((r, i) => assert.deepEqual(r, { status: 200, body: { role: "gateway", echo: { i } } }));
      assert.deepEqual(await c.request("GET", "/missing"), { status: 404, body: { role: "gateway" } });
      assert.equal((await c.request("GET", "/throw")).status, 500);
      assert.equal(s.calls.length, 22);
    }));

  it("refuses a client whose certificate is from another CA", () =>
    withClient(
      async (c, s) => {
        await assert.rejects(c.request("POST", "/v1/verify", {}));
        assert.equal(s.calls.length, 0);
      },
      { tls: { ca: pki.ca, cert: pki.rogue.cert, key: pki.rogue.key } },
    ));

  it("closes the link on a message that is not a JSON array of calls", async () => {
    const s = await serve();
    const ws = new WebSocket(s.url.replace("https", "wss") + RPC_PATH, { ...mat("gateway"), minVersion: "TLSv1.3" });
    try {
      await new Promise((r) => ws.on("open", r));
      const code = new Promise<number>((r) => ws.on("close", (c) => r(c)));
      ws.send(JSON.stringify({ id: 1, method: "GET", path: "/x" }));
      assert.equal(await code, 1008);
      assert.equal(s.calls.length, 0);
    } finally {
      ws.terminate();
      await s.close();
    }
  });

  it("fails the calls in flight when the link drops and dials again for the next call", () =>
    withClient(async (c, s) => {
      await c.request("GET", "/warm");
      const slow = c.request("GET", "/slow");
      await new Promise((r) => setTimeout(r, 50));
      s.drop();
      await assert.rejects(slow, /closed/);
      assert.equal((await c.request("GET", "/again")).status, 200);
    }));

  it("fails the calls (and does not throw) when the server answers something that is not an array", async () => {
    const server = createMtlsServer(mat("p0"));
    const wss = new WebSocketServer({ server });
    wss.on("connection", (ws) => ws.on("message", () => ws.send(JSON.stringify({ id: 1, status: 200 }))));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const c = createRpcClient({ url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, tls: mat("gateway") });
    try {
      await assert.rejects(c.request("POST", "/v1/verify", {}), /closed/);
    } finally {
      c.close();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("times a call out and rejects at once when nobody listens", () =>
    withClient(
      async (c) => {
        const dead = createRpcClient({ url: "https://127.0.0.1:1", tls: mat("gateway") });
        try {
          await assert.rejects(c.request("GET", "/slow"), /timed out/);
          await assert.rejects(dead.request("GET", "/x"));
        } finally {
          dead.close();
        }
      },
      { timeoutMs: 50 },
    ));
});
