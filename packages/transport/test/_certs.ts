/**
 * Test certificates made with the openssl CLI: a CA with one leaf per role (SAN URI
 * urn:privface:role:<role>, DNS localhost, IP 127.0.0.1), plus a leaf from another CA and an
 * expired leaf for the refusal tests.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pem {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}
export interface TestPki {
  dir: string;
  caPath: string;
  ca: string;
  leaf: Record<"helper" | "p0" | "p1" | "gateway", Pem>;
  rogue: Pem; // role p0, signed by another CA
  expired: Pem; // role p0, signed by the right CA, expired
  cleanup(): void;
}

const ossl = (dir: string, args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });

function makeCa(dir: string, name: string): void {
  ossl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${name}`]);
}

function makeLeaf(dir: string, ca: string, name: string, role: string, days = 2): Pem {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=DNS:localhost,IP:127.0.0.1,URI:urn:privface:role:${role}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  ossl(dir, ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${role}`]);
  ossl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", String(days), "-extfile", `${name}.ext`]);
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8"), certPath, keyPath };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "privface-pki-"));
  makeCa(dir, "ca");
  makeCa(dir, "other-ca");
  const leaf = {
    helper: makeLeaf(dir, "ca", "helper", "helper"),
    p0: makeLeaf(dir, "ca", "p0", "p0"),
    p1: makeLeaf(dir, "ca", "p1", "p1"),
    gateway: makeLeaf(dir, "ca", "gateway", "gateway"),
  };
  return {
    dir,
    caPath: join(dir, "ca.crt"),
    ca: readFileSync(join(dir, "ca.crt"), "utf8"),
    leaf,
    rogue: makeLeaf(dir, "other-ca", "rogue", "p0"),
    expired: makeLeaf(dir, "ca", "expired", "p0", -1),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
