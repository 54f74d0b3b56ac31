/** `privface certs init` through the real CLI: creates once, then nothing; never prints key material. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../cli/bin/privface.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "privface-certs-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("privface certs init --dir DIR", () => {
  const first = spawnSync(process.execPath, [bin, "certs", "init", "--dir", join(dir, "pki")], { encoding: "utf8" });
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /created ca\.key, ca\.crt, ca\.crl, helper\.key/);
  assert.match(first.stdout, /gateway-client\s+role gateway/);
  const keyPem = readFileSync(join(dir, "pki", "p0.key"), "utf8");
  const keyBody = keyPem.split("\n")[1];
  for (const out of [first.stdout, first.stderr]) {
    assert.doesNotMatch(out, /PRIVATE KEY/);
    assert.ok(!out.includes(keyBody));
  }
  const second = spawnSync(process.execPath, [bin, "certs", "init", "--dir", join(dir, "pki")], { encoding: "utf8" });
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /nothing created/);
  // PRIVFACE_HOME default
  const home = spawnSync(process.execPath, [bin, "certs", "init"], { encoding: "utf8", env: { ...process.env, PRIVFACE_HOME: join(dir, "home") } });
  assert.equal(home.status, 0, home.stderr);
  assert.match(home.stdout, new RegExp(`${join(dir, "home", "pki").replace(/[/.]/g, "\\$&")}: created`));
});

test("privface certs revoke NAME: the certificate is in the CA's CRL; an unknown name is an error", () => {
  const pki = join(dir, "pki-revoke");
  assert.equal(spawnSync(process.execPath, [bin, "certs", "init", "--dir", pki], { encoding: "utf8" }).status, 0);
  const r = spawnSync(process.execPath, [bin, "certs", "revoke", "p1", "--dir", pki], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const serial = /serial ([0-9A-F]+)/.exec(r.stdout)![1];
  assert.match(r.stdout, /restart every server/);
  const crl = spawnSync("openssl", ["crl", "-in", join(pki, "ca.crl"), "-noout", "-text"], { encoding: "utf8" });
  assert.match(crl.stdout.replace(/\s/g, ""), new RegExp(`SerialNumber:${serial}`, "i"));
  const bad = spawnSync(process.execPath, [bin, "certs", "revoke", "nobody", "--dir", pki], { encoding: "utf8" });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /no certificate at/);
});
