/**
 * Certificate revocation (issue 13) on the servers' real TLS paths: the deployment CA revokes a
 * certificate (@privface/pki `revokeCertificate`, CRL `ca.crl`), and every link built from TLS
 * material holding that CRL refuses it — the HTTPS agent, the rpc WebSocket client (server
 * certificates) and the mutual-TLS server (client certificates).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
process.env.PRIVFACE_KEY_SECRET ??= "transport-crl-test-secret-0123456789";
import { ensureDevPki, readTlsMaterial, revokeCertificate } from "@privface/pki";
import { createMtlsAgent, createMtlsServer, createRpcClient, requestJson, serveRpc, type TlsMaterial } from "../src/index.ts";

let dir: string;
before(async () => {
  dir = join(mkdtempSync(join(tmpdir(), "privface-crl-")), "pki");
  await ensureDevPki(dir);
});
after(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

async function serve(tls: TlsMaterial) {
  const server = createMtlsServer(tls, (_q, res) => void res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  const rpc = serveRpc(server, async () => ({ status: 200, body: { ok: true } }));
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async close() {
      rpc.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** One HTTPS request and one rpc call from `client` to `url` (a server of role `expect`): "ok" or the error. */
async function call(client: TlsMaterial, url: string, expect: "p0" | "p1" = "p1"): Promise<{ https: string; rpc: string }> {
  const agent = createMtlsAgent(client, 1, { expect });
  const rpc = createRpcClient({ url, tls: client, expect, timeoutMs: 3_000, connectTimeoutMs: 3_000 });
  const outcome = (p: Promise<{ status: number }>) => p.then((r) => (r.status === 200 ? "ok" : `HTTP ${r.status}`), (e: Error) => e.message);
  try {
    return { https: await outcome(requestJson(agent, `${url}/x`, "GET")), rpc: await outcome(rpc.request("GET", "/x")) };
  } finally {
    agent.destroy();
    rpc.close();
  }
}

test("a revoked server certificate is refused by every client holding the CRL; a revoked client certificate by the server", async () => {
  const before = { p1: readTlsMaterial(dir, "p1"), p0c: readTlsMaterial(dir, "p0-client"), gwc: readTlsMaterial(dir, "gateway-client") };
  assert.ok(before.p1.crl, "the dev PKI publishes a CRL from the start");
  const s = await serve(before.p1);
  try {
    assert.deepEqual(await call(before.p0c, s.url), { https: "ok", rpc: "ok" });
    // the CA revokes P1's server certificate (a stolen key): a client that read the new CRL refuses P1
    const { serial } = await revokeCertificate(dir, join(dir, "p1.crt"));
    assert.match(serial, /^[0-9A-F]+$/);
    const p0c = readTlsMaterial(dir, "p0-client");
    const refused = await call(p0c, s.url);
    assert.match(refused.https, /revoked/i);
    assert.match(refused.rpc, /revoked/i);
    // without the new CRL it would still talk (the test can fail): revocation rests on the CRL
    assert.deepEqual(await call(before.p0c, s.url), { https: "ok", rpc: "ok" });
  } finally {
    await s.close();
  }
  // a revoked client certificate: P0's server (its CRL read at start) refuses the handshake
  await revokeCertificate(dir, join(dir, "gateway-client.crt"));
  const p0 = await serve(readTlsMaterial(dir, "p0"));
  try {
    const r = await call(before.gwc, p0.url, "p0");
    assert.notEqual(r.https, "ok");
    assert.notEqual(r.rpc, "ok");
    assert.deepEqual(await call(readTlsMaterial(dir, "p1-client"), p0.url, "p0"), { https: "ok", rpc: "ok" }, "other clients still talk");
  } finally {
    await p0.close();
  }
});

test("revokeCertificate: idempotent; a certificate from another CA is refused", async () => {
  const again = await revokeCertificate(dir, join(dir, "p1.crt"));
  const other = join(mkdtempSync(join(tmpdir(), "privface-crl-other-")), "pki");
  await ensureDevPki(other);
  try {
    await assert.rejects(revokeCertificate(dir, join(other, "p0.crt")), /not issued by the CA/);
    assert.equal((await revokeCertificate(dir, join(dir, "p1.crt"))).serial, again.serial);
  } finally {
    rmSync(join(other, ".."), { recursive: true, force: true });
  }
});
