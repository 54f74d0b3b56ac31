/** Dev PKI: certificates verify against the CA (openssl and node), roles map, expiry and foreign CAs are refused by real TLS. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
process.env.PRIVFACE_KEY_SECRET ??= "pki-test-key-secret-0123456789";
import { ensureDevPki, issueCertificate, createCa, roleOf, checkCertificate, readTlsMaterial, readTlsKey, usageOf, DEV_CERTS, type DevPki } from "../src/index.ts";

let root: string;
let pki: DevPki;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "privface-pki-test-"));
  pki = await ensureDevPki(join(root, "pki"));
});
after(() => rmSync(root, { recursive: true, force: true }));

test("ensureDevPki creates the CA and one key+cert per name, keys mode 0600", () => {
  assert.deepEqual(
    [...pki.created].sort(),
    ["ca.crl", "ca.crt", "ca.key", ...DEV_CERTS.flatMap((c) => [`${c.name}.crt`, `${c.name}.key`])].sort(),
  );
  for (const f of ["ca.key", ...DEV_CERTS.map((c) => `${c.name}.key`)]) {
    assert.equal(statSync(join(pki.dir, f)).mode & 0o777, 0o600, f);
  }
});

test("every certificate verifies against the CA (openssl verify and node X509Certificate)", () => {
  const ca = new X509Certificate(readFileSync(pki.ca.certPath));
  assert.equal(ca.ca, true);
  for (const c of Object.values(pki.certs)) {
    execFileSync("openssl", ["verify", "-CAfile", pki.ca.certPath, c.certPath], { stdio: "pipe" });
    const x = new X509Certificate(readFileSync(c.certPath));
    assert.equal(x.verify(ca.publicKey), true);
    assert.equal(x.ca, false);
    assert.match(x.subjectAltName ?? "", new RegExp(`URI:urn:privface:role:${c.role}`));
    assert.match(x.subjectAltName ?? "", /DNS:localhost/);
    assert.match(x.subjectAltName ?? "", /IP Address:127.0.0.1/);
    assert.equal(x.checkHost("localhost"), "localhost");
    assert.equal(x.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal((x.publicKey.asymmetricKeyDetails as { namedCurve?: string }).namedCurve, "prime256v1");
    assert.deepEqual(checkCertificate(c, pki.ca.certPath, c.role), { ok: true });
  }
});

test("roleOf maps each certificate to its role; gateway-client is role gateway", () => {
  for (const c of Object.values(pki.certs)) {
    assert.equal(roleOf(new X509Certificate(readFileSync(c.certPath))), c.role, c.name);
  }
  assert.equal(roleOf(new X509Certificate(readFileSync(pki.certs["gateway-client"].certPath))), "gateway");
  assert.equal(roleOf(new X509Certificate(readFileSync(pki.ca.certPath))), null);
  assert.equal(roleOf(null), null);
  assert.equal(roleOf({} as tls.PeerCertificate), null);
  const peer = (san: string, CN: string) => ({ subjectaltname: san, subject: { CN } }) as unknown as tls.PeerCertificate;
  assert.equal(roleOf(peer("URI:urn:privface:role:p1, DNS:localhost", "p1")), "p1");
  assert.equal(roleOf(peer("URI:urn:privface:role:root", "root")), null);
  assert.equal(roleOf(peer("URI:urn:privface:role:p0, URI:urn:privface:role:p1", "p0")), null);
  assert.equal(roleOf(peer("URI:urn:privface:role:p0", "p1")), null); // CN and SAN disagree
  assert.equal(roleOf(peer("URI:urn:privface:role:p0x", "x")), null);
  assert.equal(roleOf(peer("DNS:localhost", "helper")), "helper"); // CN fallback
  assert.equal(roleOf(peer("DNS:urn:privface:role:p0", "nobody")), null);
});

test("ensureDevPki is idempotent; it replaces only what is missing", async () => {
  const before = readFileSync(pki.certs.p0.certPath);
  const again = await ensureDevPki(pki.dir);
  assert.deepEqual(again.created, []);
  assert.deepEqual(readFileSync(pki.certs.p0.certPath), before);
  unlinkSync(pki.certs.p1.keyPath);
  const third = await ensureDevPki(pki.dir);
  assert.deepEqual(third.created.sort(), ["p1.crt", "p1.key"]);
  assert.deepEqual(readFileSync(pki.certs.p0.certPath), before);
});

test("expired certificates and certificates from a foreign CA are detected", async () => {
  const out = join(root, "extra");
  const expired = await issueCertificate({ dir: pki.dir, outDir: out, role: "gateway", name: "gateway-client", usage: "client", expired: true });
  const x = new X509Certificate(readFileSync(expired.certPath));
  assert.ok(new Date(x.validTo) < new Date());
  assert.deepEqual(checkCertificate(expired, pki.ca.certPath), { ok: false, reason: "expired" });
  const foreignCa = await createCa(join(root, "foreign"), { commonName: "rogue CA" });
  const rogue = await issueCertificate({ ca: foreignCa, outDir: join(root, "foreign"), role: "p0" });
  assert.deepEqual(checkCertificate(rogue, pki.ca.certPath), { ok: false, reason: "untrusted" });
  assert.throws(() => execFileSync("openssl", ["verify", "-CAfile", pki.ca.certPath, rogue.certPath], { stdio: "pipe" }));
  const future = await issueCertificate({ dir: pki.dir, outDir: out, role: "p1", name: "future", notBefore: new Date(Date.now() + 86_400_000), days: 2 });
  assert.deepEqual(checkCertificate(future, pki.ca.certPath), { ok: false, reason: "not-yet-valid" });
  await assert.rejects(issueCertificate({ dir: pki.dir, role: "root" as never }), { code: "BAD_INPUT" });
  await assert.rejects(issueCertificate({ dir: join(root, "nope"), role: "p0" }), { code: "CA_MISSING" });
});

test("real mutual TLS: valid client → role known; expired, foreign-CA or no certificate → refused", async () => {
  const srv = readTlsMaterial(pki.dir, "p0");
  const server = tls.createServer({ ...srv, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" }, (s) => {
    s.end(`hello ${roleOf(s.getPeerCertificate()) ?? "?"}\n`);
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const connect = (opts: tls.ConnectionOptions) =>
    new Promise<string>((resolve) => {
      let data = "";
      const s = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: srv.ca, ...opts });
      s.on("data", (d) => (data += d));
      s.on("error", () => resolve(data || "refused"));
      s.on("close", () => resolve(data || "refused"));
    });
  try {
    const gwc = readTlsMaterial(pki.dir, "gateway-client");
    assert.equal(await connect({ cert: gwc.cert, key: gwc.key }), "hello gateway\n");
    const expired = { cert: readFileSync(join(root, "extra", "gateway-client.crt")), key: readTlsKey(join(root, "extra", "gateway-client.key")) };
    assert.equal(await connect(expired), "refused");
    const rogue = { cert: readFileSync(join(root, "foreign", "p0.crt")), key: readTlsKey(join(root, "foreign", "p0.key")) };
    assert.equal(await connect(rogue), "refused");
    assert.equal(await connect({}), "refused");
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test("ensureDevPki called concurrently on an empty directory makes one consistent PKI", async () => {
  const dir = join(root, "concurrent");
  const [a, b] = await Promise.all([ensureDevPki(dir), ensureDevPki(dir)]);
  assert.equal(a.created.length + b.created.length, 3 + 2 * DEV_CERTS.length); // one of them did all the work (CA key, cert and CRL)
  for (const c of Object.values(a.certs)) assert.deepEqual(checkCertificate(c, a.ca.certPath, c.role), { ok: true });
});

test("server certificates carry only serverAuth, client certificates only clientAuth; every server that calls another has a client certificate", () => {
  const names = DEV_CERTS.map((c) => c.name);
  for (const n of ["gateway-client", "p0-client", "p1-client", "helper-client"]) assert.ok(names.includes(n), n);
  for (const c of DEV_CERTS) {
    const x = new X509Certificate(readFileSync(pki.certs[c.name].certPath));
    assert.equal(usageOf(x), c.usage, c.name);
    assert.deepEqual(x.keyUsage, [c.usage === "server" ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2"], c.name);
    assert.equal(roleOf(x), c.role, c.name);
  }
});

test("ensureDevPki re-issues a dual-use (serverAuth + clientAuth) server certificate of an earlier PKI", async () => {
  const dir = join(root, "dual");
  const first = await ensureDevPki(dir);
  // an earlier PKI's gateway certificate: both usages (issued by hand like the old ensureDevPki did)
  const x = await issueDual(first.dir, "gateway");
  assert.equal(usageOf(x), null);
  assert.deepEqual(checkCertificate({ ...first.certs.gateway, usage: "server" }, first.ca.certPath, "gateway"), { ok: false, reason: "wrong-usage" });
  const again = await ensureDevPki(dir);
  assert.deepEqual(again.created.sort(), ["gateway.crt", "gateway.key"]);
  assert.equal(usageOf(new X509Certificate(readFileSync(again.certs.gateway.certPath))), "server");
});

/** A leaf with both usages, signed by the CA of `dir`, written over `<name>.crt/.key`. */
async function issueDual(dir: string, name: string): Promise<X509Certificate> {
  const ext = join(dir, "dual.ext");
  writeFileSync(ext, `subjectAltName=URI:urn:privface:role:${name},DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n`);
  execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, `${name}.key`), "-out", join(dir, "dual.csr"), "-subj", `/CN=${name}`], { stdio: "pipe" });
  execFileSync("openssl", ["x509", "-req", "-in", join(dir, "dual.csr"), "-CA", join(dir, "ca.crt"), "-CAkey", join(dir, "ca.key"), "-passin", "env:PRIVFACE_KEY_SECRET", "-CAcreateserial", "-out", join(dir, `${name}.crt`), "-days", "2", "-extfile", ext], { stdio: "pipe" });
  return new X509Certificate(readFileSync(join(dir, `${name}.crt`)));
}

test("real mutual TLS (issue 12 item 9): the gateway's server certificate is no client credential, a client certificate no server credential", async () => {
  const srv = readTlsMaterial(pki.dir, "p0");
  const server = tls.createServer({ ...srv, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" }, (s) => {
    s.end(`hello ${roleOf(s.getPeerCertificate()) ?? "?"}\n`);
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const connect = (p: number, opts: tls.ConnectionOptions) =>
    new Promise<string>((resolve) => {
      let data = "";
      const s = tls.connect({ host: "127.0.0.1", port: p, servername: "localhost", ca: srv.ca, ...opts });
      s.on("data", (d) => (data += d));
      s.on("error", (e) => resolve(data || `refused: ${e.message}`));
      s.on("close", () => resolve(data || "refused"));
    });
  // a server presenting a client certificate
  const c = readTlsMaterial(pki.dir, "p1-client");
  const rogueServer = tls.createServer({ ca: c.ca, cert: c.cert, key: c.key, minVersion: "TLSv1.3" }, (s) => s.end("served\n"));
  rogueServer.on("tlsClientError", () => {});
  await new Promise<void>((r) => rogueServer.listen(0, "127.0.0.1", r));
  const roguePort = (rogueServer.address() as { port: number }).port;
  try {
    const gwServer = readTlsMaterial(pki.dir, "gateway");
    assert.match(await connect(port, { cert: gwServer.cert, key: gwServer.key }), /^refused/);
    const gwClient = readTlsMaterial(pki.dir, "gateway-client");
    assert.equal(await connect(port, { cert: gwClient.cert, key: gwClient.key }), "hello gateway\n");
    const p0Client = readTlsMaterial(pki.dir, "p0-client");
    assert.equal(await connect(port, { cert: p0Client.cert, key: p0Client.key }), "hello p0\n");
    assert.match(await connect(roguePort, { cert: gwClient.cert, key: gwClient.key }), /^refused: .*purpose/i);
  } finally {
    await new Promise((r) => server.close(r));
    await new Promise((r) => rogueServer.close(r));
  }
});

test("issue 13: private keys are encrypted PKCS#8 (scrypt) under the key secret; wrong secret and plaintext refused", async () => {
  for (const f of ["ca", ...DEV_CERTS.map((c) => c.name)]) {
    const pem = readFileSync(join(pki.dir, `${f}.key`), "utf8");
    assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, f);
    assert.doesNotMatch(pem, /-----BEGIN (EC )?PRIVATE KEY-----/, f);
  }
  // PBES2 with scrypt (OID 1.3.6.1.4.1.11591.4.11) and AES-256-CBC
  const asn1 = execFileSync("openssl", ["asn1parse", "-in", join(pki.dir, "p0.key")], { encoding: "utf8" });
  assert.match(asn1, /PBES2/);
  assert.match(asn1, /OBJECT +:scrypt\n[^]*INTEGER +:4000\n/); // N = 2^14
  assert.match(asn1, /aes-256-cbc/);
  const keyFile = join(pki.dir, "p0.key");
  assert.match(readTlsKey(keyFile).toString(), /^-----BEGIN PRIVATE KEY-----/); // in memory only
  const saved = process.env.PRIVFACE_KEY_SECRET;
  try {
    process.env.PRIVFACE_KEY_SECRET = "not-the-pki-test-secret";
    assert.throws(() => readTlsKey(keyFile), { code: "WRONG_KEY_SECRET" });
    // and ensureDevPki does not "repair" a home by replacing keys it cannot open
    await assert.rejects(ensureDevPki(pki.dir), { code: "WRONG_KEY_SECRET" });
  } finally {
    process.env.PRIVFACE_KEY_SECRET = saved;
  }
  // a plaintext key (a PKI of an earlier version) is refused, then encrypted in place by ensureDevPki
  const dir = join(root, "plaintext-pki");
  const made = await ensureDevPki(dir);
  const plain = execFileSync("openssl", ["pkey", "-in", join(dir, "helper.key"), "-passin", "env:PRIVFACE_KEY_SECRET"], { encoding: "utf8" });
  writeFileSync(join(dir, "helper.key"), plain, { mode: 0o600 });
  assert.throws(() => readTlsKey(join(dir, "helper.key")), { code: "PLAINTEXT_KEY_FILE" });
  assert.deepEqual((await ensureDevPki(dir)).created, ["helper.key"]);
  assert.match(readFileSync(join(dir, "helper.key"), "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  assert.equal(readTlsKey(join(dir, "helper.key")).toString(), plain);
  assert.ok(made.created.length > 0);
});
