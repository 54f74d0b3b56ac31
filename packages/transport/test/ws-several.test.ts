/**
 * Several worker processes of one party on one peer (issue 16): P1 keeps the links of two P0
 * processes, answers each session over the link it came in on, and one P0's link going down fails
 * only that process's sessions.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, it } from "node:test";
import { createMtlsServer, createWsTransport, TransportError, type TlsMaterial } from "../src/index.ts";
import { makeTestPki, type TestPki } from "./_certs.ts";

let pki: TestPki;
before(() => {
  pki = makeTestPki();
});
after(() => pki.cleanup());
const mat = (r: "p0" | "p1"): TlsMaterial => ({ ca: pki.ca, cert: pki.leaf[r].cert, key: pki.leaf[r].key });
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function setup(several: boolean) {
  const server = createMtlsServer(mat("p1"), (_req, res) => void res.writeHead(404).end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const p1 = createWsTransport({ role: "p1", tls: mat("p1"), server, accept: ["p0"], ...(several ? { several: ["p0"], sessionKey: (s: string) => s.replace(/~.*$/, "") } : {}) });
  const dial = () => createWsTransport({ role: "p0", tls: mat("p0"), dial: { p1: `wss://127.0.0.1:${port}` } });
  const a = dial();
  await a.send("p1", { session: "hello-a", step: 1, seq: 0, payload: bytes("") });
  await p1.receive("hello-a", { from: "p0" });
  const b = dial();
  await b.send("p1", { session: "hello-b", step: 1, seq: 0, payload: bytes("") });
  await p1.receive("hello-b", { from: "p0" });
  return {
    p1, a, b,
    async close() {
      await Promise.all([a.close(), b.close(), p1.close()]);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

it("answers each P0 process's session over its own link, related sessions (sessionKey) too", async () => {
  const s = await setup(true);
  try {
    await s.a.send("p1", { session: "sess-a", step: 1, seq: 0, payload: bytes("from a") });
    await s.b.send("p1", { session: "sess-b", step: 1, seq: 0, payload: bytes("from b") });
    assert.equal(text((await s.p1.receive("sess-a", { from: "p0" })).payload), "from a");
    assert.equal(text((await s.p1.receive("sess-b", { from: "p0" })).payload), "from b");
    await s.p1.send("p0", { session: "sess-a", step: 2, seq: 0, payload: bytes("to a") });
    await s.p1.send("p0", { session: "sess-b", step: 2, seq: 0, payload: bytes("to b") });
    // a run P1 starts on a related session goes where its verification came from
    await s.p1.send("p0", { session: "sess-a~budget", step: 1, seq: 0, payload: bytes("budget a") });
    assert.equal(text((await s.a.receive("sess-a", { from: "p1", timeoutMs: 2_000 })).payload), "to a");
    assert.equal(text((await s.b.receive("sess-b", { from: "p1", timeoutMs: 2_000 })).payload), "to b");
    assert.equal(text((await s.a.receive("sess-a~budget", { from: "p1", timeoutMs: 2_000 })).payload), "budget a");
    // an abort of a session P1 never heard of goes to every P0 process
    await s.p1.send("p0", { session: "sess-c", step: 0, seq: 0, payload: bytes("abort") });
    assert.equal(text((await s.a.receive("sess-c", { from: "p1", timeoutMs: 2_000 })).payload), "abort");
    assert.equal(text((await s.b.receive("sess-c", { from: "p1", timeoutMs: 2_000 })).payload), "abort");
    // B goes away: its session fails at once, A's session still works
    await s.a.send("p1", { session: "live-a", step: 1, seq: 0, payload: bytes("x") });
    await s.b.send("p1", { session: "dead-b", step: 1, seq: 0, payload: bytes("y") });
    await s.p1.receive("live-a", { from: "p0" });
    await s.p1.receive("dead-b", { from: "p0" });
    const waitA = s.p1.receive("live-a", { from: "p0", timeoutMs: 5_000 });
    const waitB = s.p1.receive("dead-b", { from: "p0", timeoutMs: 5_000 });
    const t0 = Date.now();
    await s.b.close();
    await assert.rejects(waitB, (e: unknown) => e instanceof TransportError && e.code === "PEER_UNAVAILABLE");
    assert.ok(Date.now() - t0 < 3_000, "the dead link's session failed at once, not by timeout");
    assert.equal(s.p1.isUp("p0"), true);
    await s.a.send("p1", { session: "live-a", step: 2, seq: 0, payload: bytes("still here") });
    assert.equal(text((await waitA).payload), "still here");
    await s.p1.send("p0", { session: "live-a", step: 3, seq: 0, payload: bytes("ok") });
    assert.equal(text((await s.a.receive("live-a", { from: "p1", timeoutMs: 2_000 })).payload), "ok");
  } finally {
    await s.close();
  }
});

