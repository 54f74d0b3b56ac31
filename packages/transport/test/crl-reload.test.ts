/**
 * Revocation without a restart (issue 13): the CA revokes a certificate while the servers run, and
 * `watchCrl` applies the new CRL on real mutual TLS — a running server closes its connections and
 * refuses the revoked client from then on (also one that kept its connection open), and a running
 * client refuses a revoked server at its next request, over HTTPS and over its rpc WebSocket (the
 * link it had open is dropped and dialled again).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
process.env.PRIVFACE_KEY_SECRET ??= "transport-crl-test-secret-0123456789";
import { ensureDevPki, readTlsMaterial, revokeCertificate } from "@privface/pki";
import { createMtlsAgent, createMtlsServer, createRpcClient, requestJson, serveRpc, watchCrl, type TlsMaterial } from "../src/index.ts";

let dir: string;
before(async () => {
  dir = join(mkdtempSync(join(tmpdir(), "privface-crl-reload-")), "pki");
  await ensureDevPki(dir);
});
after(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

const outcome = (p: Promise<{ status: number }>) => p.then((r) => (r.status === 200 ? "ok" : `HTTP ${r.status}`), (e: Error) => e.message);

test("attack: a certificate revoked while everything runs is refused without a restart, by the server and by the client", async () => {
  const crl = join(dir, "ca.crl");
  // the server (P1) and its CRL watch
  const serverTls: TlsMaterial = readTlsMaterial(dir, "p1");
  const server = createMtlsServer(serverTls, (_q, res) => void res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  const rpcServer = serveRpc(server, async () => ({ status: 200, body: { ok: true } }));
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const serverEvents: string[] = [];
  const serverWatch = watchCrl(crl, { materials: [serverTls], servers: [{ server, tls: serverTls }], onEvent: (e) => serverEvents.push(e.type) });
  // a client (the gateway) and its CRL watch
  const clientTls: TlsMaterial = readTlsMaterial(dir, "gateway-client");
  const agent = createMtlsAgent(clientTls, 2, { expect: "p1" });
  const rpc = createRpcClient({ url, tls: clientTls, expect: "p1", timeoutMs: 3_000, connectTimeoutMs: 3_000 });
  const clientWatch = watchCrl(crl, { materials: [clientTls], agents: [agent], links: [rpc] });
  // P0's client: it keeps one connection open across the revocation
  const p0Agent = createMtlsAgent(readTlsMaterial(dir, "p0-client"), 1, { expect: "p1" });
  try {
    assert.equal(await outcome(requestJson(agent, `${url}/x`, "GET")), "ok");
    assert.equal(await outcome(rpc.request("GET", "/x")), "ok");
    assert.equal(await outcome(requestJson(p0Agent, `${url}/x`, "GET")), "ok");
    assert.equal(serverWatch.check(), false, "nothing changed yet");

    // the CA revokes P0's client certificate; the running server reloads: P0 is refused, even on the connection it kept
    await revokeCertificate(dir, join(dir, "p0-client.crt"));
    assert.equal(await outcome(requestJson(p0Agent, `${url}/x`, "GET")), "ok", "before the reload (the test can fail)");
    assert.equal(serverWatch.check(), true);
    assert.notEqual(await outcome(requestJson(p0Agent, `${url}/x`, "GET")), "ok", "its open connection is closed");
    assert.notEqual(await outcome(requestJson(p0Agent, `${url}/x`, "GET")), "ok", "and a new handshake refused");
    assert.equal(await outcome(requestJson(agent, `${url}/x`, "GET")), "ok", "other clients still talk, on the connection they kept");

    // the CA revokes P1's server certificate; the running client reloads: it refuses P1 over HTTPS and a new rpc link
    await revokeCertificate(dir, join(dir, "p1.crt"));
    assert.equal(await outcome(requestJson(agent, `${url}/x`, "GET")), "ok", "before the reload (the test can fail)");
    assert.equal(await outcome(rpc.request("GET", "/x")), "ok", "the rpc link stays open until the reload");
    assert.equal(clientWatch.check(), true);
    assert.match(await outcome(requestJson(agent, `${url}/x`, "GET")), /revoked/i);
    assert.match(await outcome(rpc.request("GET", "/x")), /revoked/i, "the open link was dropped and the new dial refused");

    // a file that is not a CRL is ignored: the last good CRL stays in force
    writeFileSync(crl, "not a crl");
    assert.equal(serverWatch.check(), false);
    assert.deepEqual(serverEvents, ["reloaded", "invalid"]);
    assert.notEqual(await outcome(requestJson(p0Agent, `${url}/x`, "GET")), "ok");
  } finally {
    serverWatch.stop();
    clientWatch.stop();
    agent.destroy();
    rpc.close();
    p0Agent.destroy();
    rpcServer.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
