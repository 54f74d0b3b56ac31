/**
 * @privface/pki — the development PKI: a CA and one EC P-256 certificate per server, made with the
 * `openssl` CLI, plus mapping a TLS peer certificate to its privface role.
 *
 * Layout of a PKI directory (`$PRIVFACE_HOME/pki`):
 *   ca.key ca.crt                          the dev CA (keys mode 0600)
 *   helper.{key,crt} p0.{key,crt} p1.{key,crt} gateway.{key,crt}   TLS server certs (serverAuth only)
 *   gateway-client, p0-client, p1-client, helper-client .{key,crt}  client certs of the servers that
 *                                          call another (clientAuth only): gateway → parties,
 *                                          P0 ↔ P1 and party → helper, helper → P1
 * Private keys are encrypted PKCS#8 PEM (PBES2: scrypt N=2^14 r=8 p=1, AES-256-CBC) under the key
 * secret of the environment (PRIVFACE_KEY_SECRET / _FILE, @privface/crypto/node `keySecretFromEnv`);
 * the openssl CLI receives it in its environment, never argv. `readTlsKey` decrypts one in memory
 * for node:tls and refuses a plaintext key (PLAINTEXT_KEY_FILE) or a wrong secret (WRONG_KEY_SECRET).
 * A server certificate cannot authenticate a client, nor a client certificate a server: TLS checks
 * the extended key usage (OpenSSL's ssl_client / ssl_server purpose), so the gateway's device-facing
 * TLS key is no credential towards the parties. Every leaf carries its role in the subject CN
 * (`<role>` or `<role>-client`) and in the SAN URI `urn:privface:role:<role>`, plus DNS:localhost
 * and IP:127.0.0.1.
 */
import { X509Certificate, randomBytes, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { PeerCertificate } from "node:tls";
import { isServerRole, SERVER_ROLES, type ServerRole } from "@privface/contracts";
import { CryptoError } from "@privface/crypto";
import { isPlaintextPem, keySecretFromEnv, readTlsKey, readTlsPrivateKey, rememberTlsKey } from "@privface/crypto/node";

export { readTlsKey } from "@privface/crypto/node";
import { openssl, PkiError } from "./_openssl.ts";

export { PkiError } from "./_openssl.ts";


/** The certificates `ensureDevPki` makes: file base name → role and usage. */
export const DEV_CERTS: readonly { name: string; role: ServerRole; usage: "server" | "client" }[] = [
  { name: "helper", role: "helper", usage: "server" },
  { name: "p0", role: "p0", usage: "server" },
  { name: "p1", role: "p1", usage: "server" },
  { name: "gateway", role: "gateway", usage: "server" },
  { name: "gateway-client", role: "gateway", usage: "client" },
  { name: "p0-client", role: "p0", usage: "client" },
  { name: "p1-client", role: "p1", usage: "client" },
  { name: "helper-client", role: "helper", usage: "client" },
  { name: "monitor-client", role: "monitor", usage: "client" },
];

/** The extended key usage OIDs of TLS server and client authentication. */
const EKU = { server: "1.3.6.1.5.5.7.3.1", client: "1.3.6.1.5.5.7.3.2" } as const;

export interface CaFiles {
  keyPath: string;
  certPath: string;
}
export interface CertFiles {
  name: string;
  role: ServerRole;
  keyPath: string;
  certPath: string;
}
export interface DevPki {
  dir: string;
  ca: CaFiles;
  certs: Record<string, CertFiles>;
  /** File names created by this call (empty when everything was there and valid). */
  created: string[];
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

function writeFileAtomic(path: string, data: string | Buffer, mode: number): void {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(tmp, data, { mode, flag: "wx" });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** PBES2 of the encrypted PEM keys: scrypt at 16 MiB (OpenSSL's and Node's scrypt memory limit is 32 MiB). */
const PEM_SCRYPT = ["-v2", "aes-256-cbc", "-scrypt", "-scrypt_N", "16384", "-scrypt_r", "8", "-scrypt_p", "1"];

/** `pem` (a plaintext private key) as an encrypted PKCS#8 PEM under `secret`. */
async function encryptPem(pem: Buffer, secret: string): Promise<Buffer> {
  return openssl(["pkcs8", "-topk8", ...PEM_SCRYPT, "-passout", "env:PRIVFACE_PKI_PASS"], { input: pem.toString("latin1"), pass: secret });
}

/** openssl reads the passphrase of a key from the environment variable `_openssl.ts` sets */
const PASSIN = ["-passin", "env:PRIVFACE_PKI_PASS"];

/** A fresh EC P-256 private key, written encrypted (PKCS#8 PEM, scrypt) with mode 0600. */
async function newKey(path: string): Promise<void> {
  const pem = await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-pkeyopt", "ec_param_enc:named_curve"]);
  try {
    const secret = keySecretFromEnv();
    const enc = await encryptPem(pem, secret);
    writeFileAtomic(path, enc, 0o600);
    rememberTlsKey(enc, secret, pem); // known to this process without another scrypt
  } finally {
    pem.fill(0);
  }
}

/** Encrypt a plaintext PEM private key file in place (a home of an earlier version); false when already encrypted. */
export async function encryptTlsKeyInPlace(path: string): Promise<boolean> {
  const pem = readFileSync(path);
  try {
    if (!isPlaintextPem(pem)) return false;
    writeFileAtomic(path, await encryptPem(pem, keySecretFromEnv()), 0o600);
    return true;
  } finally {
    pem.fill(0);
  }
}

/** Create a CA (key + self-signed cert) in `dir` as `${name}.key` / `${name}.crt`. Overwrites. */
export async function createCa(dir: string, opts: { name?: string; commonName?: string; days?: number } = {}): Promise<CaFiles> {
  const name = opts.name ?? "ca";
  if (!NAME_RE.test(name)) throw new PkiError("BAD_INPUT", `CA name must match ${NAME_RE}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  await newKey(keyPath);
  const pem = await openssl([
    "req", "-x509", "-new", "-key", keyPath, ...PASSIN, "-sha256", "-days", String(opts.days ?? 3650),
    "-subj", `/O=privface dev/CN=${opts.commonName ?? "privface dev CA"}`,
    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-addext", "subjectKeyIdentifier=hash",
  ], { pass: keySecretFromEnv() });
  writeFileAtomic(certPath, pem, 0o644);
  return { keyPath, certPath };
}

/** OpenSSL time string (GeneralizedTime) for `openssl ca -startdate/-enddate`. */
function gtime(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, "").replace(/\.\d{3}/, "");
}

export interface IssueOptions {
  /** PKI directory holding ca.key / ca.crt (and where the leaf is written unless `outDir`). */
  dir?: string;
  /** Explicit CA files (e.g. a foreign CA in tests); default `${dir}/ca.{key,crt}`. */
  ca?: CaFiles;
  role: ServerRole;
  /** File base name (and CN); default the role. */
  name?: string;
  usage?: "server" | "client";
  outDir?: string;
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** Shorthand: validity ended yesterday (for tests of expired-certificate refusal). */
  expired?: boolean;
}

/** Issue an EC P-256 certificate for `role` signed by the CA. Returns the files it wrote (key 0600). */
export async function issueCertificate(opts: IssueOptions): Promise<CertFiles> {
  if (!isServerRole(opts.role)) throw new PkiError("BAD_INPUT", `role must be one of ${SERVER_ROLES.join(", ")}`);
  const name = opts.name ?? opts.role;
  if (!NAME_RE.test(name)) throw new PkiError("BAD_INPUT", `name must match ${NAME_RE}`);
  const ca = opts.ca ?? (opts.dir ? { keyPath: join(opts.dir, "ca.key"), certPath: join(opts.dir, "ca.crt") } : undefined);
  if (!ca) throw new PkiError("BAD_INPUT", "issueCertificate needs dir or ca");
  if (!existsSync(ca.keyPath) || !existsSync(ca.certPath)) throw new PkiError("CA_MISSING", `no CA at ${ca.certPath}`);
  const outDir = opts.outDir ?? opts.dir;
  if (!outDir) throw new PkiError("BAD_INPUT", "issueCertificate needs dir or outDir");
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const usage = opts.usage ?? (name.endsWith("-client") ? "client" : "server");
  const now = Date.now();
  const day = 86_400_000;
  let notBefore = opts.notBefore ?? new Date(now - 5 * 60_000);
  let notAfter = opts.notAfter ?? new Date(now + (opts.days ?? 825) * day);
  if (opts.expired) {
    notBefore = new Date(now - 30 * day);
    notAfter = new Date(now - day);
  }
  if (!(notAfter > notBefore)) throw new PkiError("BAD_INPUT", "notAfter must be after notBefore");

  const keyPath = join(outDir, `${name}.key`);
  const certPath = join(outDir, `${name}.crt`);
  const work = mkdtempSync(join(tmpdir(), "privface-ca-"));
  try {
    await newKey(keyPath);
    const csr = join(work, "req.csr");
    const pass = keySecretFromEnv();
    await openssl(["req", "-new", "-key", keyPath, ...PASSIN, "-subj", `/O=privface dev/CN=${name}`, "-out", csr], { pass });
    writeFileSync(join(work, "index.txt"), "");
    const serial = randomBytes(16);
    serial[0] &= 0x7f; // positive INTEGER
    serial[0] |= 0x10; // and exactly 16 bytes long
    writeFileSync(join(work, "serial"), serial.toString("hex").toUpperCase() + "\n");
    const eku = usage === "server" ? "serverAuth" : "clientAuth";
    const cnf = [
      "[ ca ]", "default_ca = dev",
      "[ dev ]", `dir = ${work}`, `database = ${join(work, "index.txt")}`, `new_certs_dir = ${work}`, `serial = ${join(work, "serial")}`,
      `certificate = ${ca.certPath}`, `private_key = ${ca.keyPath}`, "default_md = sha256", "policy = pol",
      "unique_subject = no", "copy_extensions = none", "x509_extensions = ext", "preserve = yes", "email_in_dn = no",
      "[ pol ]", "organizationName = optional", "commonName = supplied",
      "[ ext ]", "basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature,keyAgreement",
      `extendedKeyUsage = ${eku}`,
      `subjectAltName = URI:urn:privface:role:${opts.role},DNS:localhost,IP:127.0.0.1`,
      "subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid",
      "",
    ].join("\n");
    writeFileSync(join(work, "ca.cnf"), cnf);
    const out = join(work, "leaf.crt");
    await openssl([
      "ca", "-batch", "-notext", "-config", join(work, "ca.cnf"),
      "-startdate", gtime(notBefore), "-enddate", gtime(notAfter), "-in", csr, "-out", out, ...PASSIN,
    ], { pass });
    writeFileAtomic(certPath, readFileSync(out), 0o644);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { name, role: opts.role, keyPath, certPath };
}

export type CertStatus = { ok: true } | { ok: false; reason: "missing" | "unparsable" | "expired" | "not-yet-valid" | "untrusted" | "wrong-role" | "wrong-usage" | "key-mismatch" };

/** The one TLS usage a certificate's extended key usage allows ("server" or "client"), else null (none, or both). */
export function usageOf(cert: X509Certificate): "server" | "client" | null {
  const eku = cert.keyUsage ?? [];
  const server = eku.includes(EKU.server);
  const client = eku.includes(EKU.client);
  return server === client ? null : server ? "server" : "client";
}

/**
 * Is the certificate at `certPath` (with key `keyPath`) valid now, issued by `caCertPath`, for `role`
 * (and, with `usage`, for exactly that TLS usage)?
 */
export function checkCertificate(files: { certPath: string; keyPath?: string; usage?: "server" | "client" }, caCertPath: string, role?: ServerRole, now = new Date()): CertStatus {
  if (!existsSync(files.certPath) || (files.keyPath && !existsSync(files.keyPath)) || !existsSync(caCertPath)) return { ok: false, reason: "missing" };
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(files.certPath));
    ca = new X509Certificate(readFileSync(caCertPath));
  } catch {
    return { ok: false, reason: "unparsable" };
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return { ok: false, reason: "untrusted" };
  if (new Date(cert.validFrom) > now) return { ok: false, reason: "not-yet-valid" };
  if (new Date(cert.validTo) < now) return { ok: false, reason: "expired" };
  if (role && roleOf(cert) !== role) return { ok: false, reason: "wrong-role" };
  if (files.usage && usageOf(cert) !== files.usage) return { ok: false, reason: "wrong-usage" };
  if (files.keyPath) {
    try {
      if (!cert.checkPrivateKey(createPrivateKeySafe(files.keyPath))) return { ok: false, reason: "key-mismatch" };
    } catch (e) {
      if (e instanceof CryptoError) throw e; // a wrong or missing secret is no reason to replace the key
      return { ok: false, reason: "key-mismatch" };
    }
  }
  return { ok: true };
}

function createPrivateKeySafe(path: string): KeyObject {
  return readTlsPrivateKey(path);
}

/**
 * Make sure `dir` holds the dev CA and every certificate of DEV_CERTS. Creates only what is missing
 * or unusable (a leaf that is expired, does not match its key, is not from the CA — e.g. after
 * the CA was re-created — or allows another TLS usage than its own, as the earlier dual-use server
 * certificates did, is re-issued). Idempotent; returns what it created. Never prints keys.
 */
export async function ensureDevPki(dir: string): Promise<DevPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const release = await lockDir(join(dir, ".lock"));
  try {
    return await ensureDevPkiLocked(dir);
  } finally {
    release();
  }
}

/**
 * A lock directory, so that servers started together do not each create a CA. A lock older than
 * 60 s (a crashed holder) is taken over.
 */
async function lockDir(path: string, timeoutMs = 120_000): Promise<() => void> {
  const t0 = Date.now();
  for (;;) {
    try {
      mkdirSync(path);
      return () => rmSync(path, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      try {
        if (Date.now() - statSync(path).mtimeMs > 60_000) rmSync(path, { recursive: true, force: true });
      } catch {
        /* released meanwhile */
      }
      if (Date.now() - t0 > timeoutMs) throw new PkiError("BAD_INPUT", `${path} is held by another process`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function ensureDevPkiLocked(dir: string): Promise<DevPki> {
  const created: string[] = [];
  // keys of an earlier version were plaintext PEM: encrypt them in place
  for (const name of ["ca", ...DEV_CERTS.map((c) => c.name)]) {
    const f = join(dir, `${name}.key`);
    if (existsSync(f) && (await encryptTlsKeyInPlace(f))) created.push(`${name}.key`);
  }
  let ca: CaFiles = { keyPath: join(dir, "ca.key"), certPath: join(dir, "ca.crt") };
  const caOk = existsSync(ca.keyPath) && existsSync(ca.certPath) && (() => {
    try {
      const c = new X509Certificate(readFileSync(ca.certPath));
      return c.ca && c.checkPrivateKey(createPrivateKeySafe(ca.keyPath)) && new Date(c.validTo) > new Date();
    } catch (e) {
      if (e instanceof CryptoError) throw e;
      return false;
    }
  })();
  if (!caOk) {
    ca = await createCa(dir);
    created.push("ca.key", "ca.crt");
    rmSync(join(dir, "ca-db"), { recursive: true, force: true }); // revocations of an earlier CA
  }
  if (!caOk || !existsSync(join(dir, "ca.crl"))) {
    await writeCrl(dir);
    created.push("ca.crl");
  }
  const certs: Record<string, CertFiles> = {};
  for (const spec of DEV_CERTS) {
    const files = { name: spec.name, role: spec.role, keyPath: join(dir, `${spec.name}.key`), certPath: join(dir, `${spec.name}.crt`) };
    if (!checkCertificate({ ...files, usage: spec.usage }, ca.certPath, spec.role).ok) {
      await issueCertificate({ dir, role: spec.role, name: spec.name, usage: spec.usage });
      created.push(`${spec.name}.key`, `${spec.name}.crt`);
    }
    certs[spec.name] = files;
  }
  return { dir, ca, certs, created: [...new Set(created)] };
}

/**
 * PEM material for a server or client: its key (decrypted, in memory) and cert, the CA, and the CA's
 * CRL when there is one (for node:tls / https options).
 */
export function readTlsMaterial(dir: string, name: string): { ca: Buffer; cert: Buffer; key: Buffer; crl?: Buffer } {
  if (!NAME_RE.test(name)) throw new PkiError("BAD_INPUT", `name must match ${NAME_RE}`);
  const crl = readCrl(join(dir, "ca.crl"));
  return { ca: readFileSync(join(dir, "ca.crt")), cert: readFileSync(join(dir, `${name}.crt`)), key: readTlsKey(join(dir, `${name}.key`)), ...(crl ? { crl } : {}) };
}

/** The CRL file's PEM, or undefined when there is none (a deployment without revocation). */
export function readCrl(path: string | undefined): Buffer | undefined {
  return path && existsSync(path) ? readFileSync(path) : undefined;
}

// ---------------------------------------------------------------- revocation (CRL)

/** Validity of a CRL the dev CA writes; servers read it at start, so it outlives their runs. */
export const CRL_DAYS = 3650;

/**
 * The CA's revocation database (`ca-db/index.txt`, OpenSSL's format) and an `openssl ca` config for it.
 * Certificates are issued without it (issueCertificate); a revocation adds the certificate here.
 */
function caDb(dir: string): string {
  const db = join(dir, "ca-db");
  mkdirSync(db, { recursive: true, mode: 0o700 });
  if (!existsSync(join(db, "index.txt"))) writeFileSync(join(db, "index.txt"), "");
  if (!existsSync(join(db, "crlnumber"))) writeFileSync(join(db, "crlnumber"), "1000\n");
  const cnf = [
    "[ ca ]", "default_ca = dev",
    "[ dev ]", `database = ${join(db, "index.txt")}`, `crlnumber = ${join(db, "crlnumber")}`,
    `certificate = ${join(dir, "ca.crt")}`, `private_key = ${join(dir, "ca.key")}`, "default_md = sha256",
    `default_crl_days = ${CRL_DAYS}`, "unique_subject = no", "crl_extensions = crl_ext",
    "[ crl_ext ]", "authorityKeyIdentifier = keyid",
    "",
  ].join("\n");
  writeFileSync(join(db, "ca.cnf"), cnf);
  return join(db, "ca.cnf");
}

/** (Re)writes `ca.crl` from the CA's revocation database, signed by the CA. */
export async function writeCrl(dir: string): Promise<string> {
  const cnf = caDb(dir);
  const out = join(dir, "ca.crl");
  const pem = await openssl(["ca", "-gencrl", "-batch", "-config", cnf, ...PASSIN], { pass: keySecretFromEnv() });
  writeFileAtomic(out, pem, 0o644);
  return out;
}

/**
 * Revokes a certificate issued by this CA and rewrites `ca.crl`. Peers refuse it once they have read
 * the new CRL (servers read it at start). Revoking it again changes nothing.
 */
export async function revokeCertificate(dir: string, certPath: string): Promise<{ serial: string; crl: string }> {
  if (!existsSync(certPath)) throw new PkiError("BAD_INPUT", `no certificate at ${certPath}`);
  const cert = new X509Certificate(readFileSync(certPath));
  if (!cert.verify(new X509Certificate(readFileSync(join(dir, "ca.crt"))).publicKey)) throw new PkiError("BAD_INPUT", `${certPath} is not issued by the CA in ${dir}`);
  const cnf = caDb(dir);
  const listed = readFileSync(join(dir, "ca-db", "index.txt"), "utf8").split("\n").some((l) => l.startsWith("R\t") && l.split("\t")[3]?.toUpperCase() === cert.serialNumber.toUpperCase());
  if (!listed) await openssl(["ca", "-batch", "-config", cnf, "-revoke", certPath, ...PASSIN], { pass: keySecretFromEnv() });
  return { serial: cert.serialNumber, crl: await writeCrl(dir) };
}

const ROLE_URI = /(?:^|,\s*)URI:urn:privface:role:([^,\s]*)/g;

/**
 * The privface role a certificate names, or null. Reads the SAN URI `urn:privface:role:<role>`
 * (exactly one allowed); without one, falls back to the subject CN (a role, or `<role>-client` →
 * role). A CN that names a different role than the SAN gives null. This does NOT check the
 * chain or validity: call it only on a peer the TLS layer authenticated (`socket.authorized`).
 */
export function roleOf(cert: PeerCertificate | X509Certificate | null | undefined): ServerRole | null {
  if (!cert) return null;
  let san: string;
  let cn: string;
  if (cert instanceof X509Certificate) {
    san = cert.subjectAltName ?? "";
    cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? "";
  } else {
    if (Object.keys(cert).length === 0) return null;
    san = cert.subjectaltname ?? "";
    const c = cert.subject?.CN as unknown;
    cn = Array.isArray(c) ? "" : typeof c === "string" ? c : "";
  }
  const uris = [...san.matchAll(ROLE_URI)].map((m) => m[1]);
  const cnRole = cn.endsWith("-client") ? cn.slice(0, -"-client".length) : cn;
  if (uris.length > 1) return null;
  if (uris.length === 1) {
    const r = uris[0];
    if (!isServerRole(r)) return null;
    if (cn && isServerRole(cnRole) && cnRole !== r) return null;
    return r;
  }
  return isServerRole(cnRole) ? cnRole : null;
}

/** Default PKI directory of the runtime layout: `$PRIVFACE_HOME/pki` or `./.privface/pki`. */
export function defaultPkiDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.PRIVFACE_HOME ?? ".privface", "pki");
}
