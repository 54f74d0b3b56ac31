#!/usr/bin/env node
/**
 * Independent reference script for @privface/crypto's known-answer vectors. It uses only
 * node:crypto and the openssl CLI — none of the package's code, and not @noble or sm-crypto-v2:
 * GHASH is written out here bit by bit (NIST SP 800-38D Algorithm 1), SM4-GCM's counter mode runs
 * SM4-ECB on inc32 counter blocks, and the envelope layout is re-derived from the spec in README.md.
 * Run: node packages/crypto/scripts/make-vectors.mjs   (rewrites test/vectors/*.json)
 */
import c from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "test", "vectors");
const hex = (b) => Buffer.from(b).toString("hex");
const H = (s) => Buffer.from(s, "hex");
const b64u = (b) => Buffer.from(b).toString("base64url");
// Deterministic "random" material: SHA-256 of a label (so the script's output is reproducible).
const det = (label, n) => {
  let o = Buffer.alloc(0);
  for (let i = 0; o.length < n; i++) o = Buffer.concat([o, c.createHash("sha256").update(`${label}#${i}`).digest()]);
  return o.subarray(0, n);
};

// ---------- GHASH (SP 800-38D, Algorithm 1) on BigInt blocks ----------
const R = 0xe1n << 120n;
const toBig = (b) => BigInt("0x" + (hex(b) || "0"));
function gmul(x, y) {
  let z = 0n, v = y;
  for (let i = 127; i >= 0; i--) {
    if ((x >> BigInt(i)) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}
function ghash(h, data) {
  let y = 0n;
  for (let i = 0; i < data.length; i += 16) {
    const blk = Buffer.alloc(16);
    data.copy(blk, 0, i, Math.min(i + 16, data.length));
    y = gmul(y ^ toBig(blk), h);
  }
  return y;
}
const pad16 = (b) => Buffer.concat([b, Buffer.alloc((16 - (b.length % 16)) % 16)]);
const big16 = (n) => H(n.toString(16).padStart(32, "0"));

function sm4Ecb(key, block) {
  const e = c.createCipheriv("sm4-ecb", key, null);
  e.setAutoPadding(false);
  return Buffer.concat([e.update(block), e.final()]);
}
function sm4Gcm(key, iv, pt, aad) {
  const h = toBig(sm4Ecb(key, Buffer.alloc(16)));
  const j0 = Buffer.concat([iv, H("00000001")]);
  const ct = Buffer.alloc(pt.length);
  for (let i = 0; i < pt.length; i += 16) {
    const ctr = Buffer.from(j0);
    ctr.writeUInt32BE((j0.readUInt32BE(12) + 1 + i / 16) >>> 0, 12);
    const ks = sm4Ecb(key, ctr);
    for (let j = 0; j < 16 && i + j < pt.length; j++) ct[i + j] = pt[i + j] ^ ks[j];
  }
  const lens = Buffer.alloc(16);
  lens.writeBigUInt64BE(BigInt(aad.length) * 8n, 0);
  lens.writeBigUInt64BE(BigInt(ct.length) * 8n, 8);
  const s = big16(ghash(h, Buffer.concat([pad16(aad), pad16(ct), lens])));
  const ej = sm4Ecb(key, j0);
  for (let i = 0; i < 16; i++) s[i] ^= ej[i];
  return { ct, tag: s };
}
function aesGcm(key, iv, pt, aad) {
  const e = c.createCipheriv("aes-256-gcm", key, iv);
  e.setAAD(aad);
  const ct = Buffer.concat([e.update(pt), e.final()]);
  return { ct, tag: e.getAuthTag() };
}

// Check our GHASH against native AES-GCM before trusting it for SM4.
{
  const k = det("aes-check-key", 32), iv = det("aes-check-iv", 12), pt = det("aes-check-pt", 37), aad = det("aes-check-aad", 21);
  const e = c.createCipheriv("aes-256-ecb", k, null); e.setAutoPadding(false);
  const h = toBig(Buffer.concat([e.update(Buffer.alloc(16)), e.final()]));
  const ref = aesGcm(k, iv, pt, aad);
  const lens = Buffer.alloc(16); lens.writeBigUInt64BE(BigInt(aad.length) * 8n, 0); lens.writeBigUInt64BE(BigInt(pt.length) * 8n, 8);
  const s = big16(ghash(h, Buffer.concat([pad16(aad), pad16(ref.ct), lens])));
  const e2 = c.createCipheriv("aes-256-ecb", k, null); e2.setAutoPadding(false);
  const ej = Buffer.concat([e2.update(Buffer.concat([iv, H("00000001")])), e2.final()]);
  for (let i = 0; i < 16; i++) s[i] ^= ej[i];
  if (!s.equals(ref.tag)) throw new Error("reference GHASH disagrees with native AES-GCM");
}

// ---------- SM4-GCM vectors ----------
const rfc = {
  name: "RFC 8998 A.1",
  key: "0123456789abcdeffedcba9876543210",
  iv: "00001234567800000000abcd",
  aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
  plaintext: "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccddddddddddddddddeeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa",
  ciphertext: "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d",
  tag: "83de3541e4c2b58177e065a9bf7b62ec",
};
{
  const r = sm4Gcm(H(rfc.key), H(rfc.iv), H(rfc.plaintext), H(rfc.aad));
  if (hex(r.ct) !== rfc.ciphertext || hex(r.tag) !== rfc.tag) throw new Error("reference SM4-GCM fails RFC 8998 A.1");
}
const sm4gcm = [rfc];
for (const [pl, al] of [[0, 0], [0, 5], [1, 0], [16, 16], [17, 3], [100, 33]]) {
  const key = det(`sm4-key-${pl}-${al}`, 16), iv = det(`sm4-iv-${pl}-${al}`, 12), pt = det(`sm4-pt-${pl}-${al}`, pl), aad = det(`sm4-aad-${pl}-${al}`, al);
  const r = sm4Gcm(key, iv, pt, aad);
  sm4gcm.push({ name: `pt ${pl} B, aad ${al} B`, key: hex(key), iv: hex(iv), aad: hex(aad), plaintext: hex(pt), ciphertext: hex(r.ct), tag: hex(r.tag) });
}

// ---------- Seal envelopes ----------
const label = Buffer.from("privface-seal-v1");
function x25519Pub(priv) {
  const k = c.createPrivateKey({ key: Buffer.concat([H("302e020100300506032b656e04220420"), priv]), format: "der", type: "pkcs8" });
  return c.createPublicKey(k).export({ format: "der", type: "spki" }).subarray(12);
}
function x25519(priv, pub) {
  const k = c.createPrivateKey({ key: Buffer.concat([H("302e020100300506032b656e04220420"), priv]), format: "der", type: "pkcs8" });
  const p = c.createPublicKey({ key: Buffer.concat([H("302a300506032b656e032100"), pub]), format: "der", type: "spki" });
  return c.diffieHellman({ privateKey: k, publicKey: p });
}
function sm2Pub(priv) { const e = c.createECDH("SM2"); e.setPrivateKey(priv); return e.getPublicKey(); }
function sm2Dh(priv, pub) { const e = c.createECDH("SM2"); e.setPrivateKey(priv); return e.computeSecret(pub); }

const seal = [];
const cases = [
  { pt: 0, aad: "" },
  { pt: 16, aad: "ctx" },
  { pt: 512, aad: '{"aad":"privface-share-v1","challenge":"c1","modelVersion":"m1","party":"P1","purpose":"verify","templateId":"t1"}' },
];
for (const suite of ["INTL", "GM"]) {
  cases.forEach((cs, i) => {
    const rPriv = suite === "INTL" ? det(`${suite}-recipient-${i}`, 32) : det(`${suite}-recipient-${i}`, 32);
    const ePriv = det(`${suite}-ephemeral-${i}`, 32);
    // SM2 private keys must be in [1, n-2]; these SHA-256 outputs are (checked by setPrivateKey).
    const rPub = suite === "INTL" ? x25519Pub(rPriv) : sm2Pub(rPriv);
    const ePub = suite === "INTL" ? x25519Pub(ePriv) : sm2Pub(ePriv);
    const shared = suite === "INTL" ? x25519(ePriv, rPub) : sm2Dh(ePriv, rPub);
    const suiteByte = suite === "INTL" ? 1 : 2;
    const info = Buffer.concat([label, Buffer.from([suiteByte]), ePub, rPub]);
    const key = Buffer.from(c.hkdfSync(suite === "INTL" ? "sha256" : "sm3", shared, Buffer.alloc(0), info, suite === "INTL" ? 32 : 16));
    const nonce = det(`${suite}-nonce-${i}`, 12);
    const pt = det(`${suite}-pt-${i}`, cs.pt);
    const aad = Buffer.from(cs.aad, "utf8");
    const header = Buffer.concat([Buffer.from([1, suiteByte]), ePub, nonce]);
    const r = suite === "INTL" ? aesGcm(key, nonce, pt, Buffer.concat([header, aad])) : sm4Gcm(key, nonce, pt, Buffer.concat([header, aad]));
    seal.push({
      suite, recipientPrivateKey: hex(rPriv), recipientPublicKey: hex(rPub), ephemeralPrivateKey: hex(ePriv),
      nonce: hex(nonce), plaintext: hex(pt), aad: hex(aad), sharedSecret: hex(shared), key: hex(key),
      envelope: hex(Buffer.concat([header, r.ct, r.tag])),
    });
  });
}

// ---------- Ed25519 (deterministic) ----------
const ed25519 = [];
for (let i = 0; i < 3; i++) {
  const priv = det(`ed25519-${i}`, 32);
  const k = c.createPrivateKey({ key: Buffer.concat([H("302e020100300506032b657004220420"), priv]), format: "der", type: "pkcs8" });
  const pub = c.createPublicKey(k).export({ format: "der", type: "spki" }).subarray(12);
  const msg = det(`ed25519-msg-${i}`, i * 50);
  ed25519.push({ privateKey: hex(priv), publicKey: hex(pub), message: hex(msg), signature: hex(c.sign(null, msg, k)) });
}

// ---------- SM2 signatures made by the openssl CLI (randomised; verify-only vectors) ----------
const sm2sig = [];
{
  const dir = mkdtempSync(join(tmpdir(), "pf-vec-"));
  try {
    const priv = det("sm2-sign", 32);
    const pub = sm2Pub(priv);
    // SEC1 DER for an SM2 private key, so the openssl CLI treats it as an SM2 key.
    const sec1 = Buffer.concat([H("30770201010420"), priv, H("a00a06082a811ccf5501822da144034200"), pub]);
    writeFileSync(join(dir, "k.der"), sec1);
    execFileSync("openssl", ["ec", "-inform", "DER", "-in", join(dir, "k.der"), "-out", join(dir, "k.pem")], { stdio: "ignore" });
    execFileSync("openssl", ["pkey", "-in", join(dir, "k.pem"), "-out", join(dir, "k8.pem")], { stdio: "ignore" });
    for (const [i, id] of [["0", "1234567812345678"], ["1", "1234567812345678"], ["2", ""]]) {
      const msg = det(`sm2-msg-${i}`, 40 + Number(i));
      writeFileSync(join(dir, "m"), msg);
      const args = ["pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", join(dir, "k8.pem"), "-in", join(dir, "m"), "-out", join(dir, "s")];
      if (id) args.push("-pkeyopt", `distid:${id}`);
      execFileSync("openssl", args, { stdio: "ignore" });
      const sig = execFileSync("cat", [join(dir, "s")]);
      sm2sig.push({ userId: id, privateKey: hex(priv), publicKey: hex(pub), message: hex(msg), signature: hex(sig), by: "openssl pkeyutl -rawin -digest sm3" });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------- canonical JSON (written out by hand from the spec; contextAad's vectors are in @privface/contracts) ----------
const canonical = [
  { value: { b: 1, a: [true, null, "x"], c: { z: 0.5, y: -2 } }, json: '{"a":[true,null,"x"],"b":1,"c":{"y":-2,"z":0.5}}' },
  { value: { "é": 1, "Z": 2, "a": 3, "": 4 }, json: '{"":4,"Z":2,"a":3,"é":1}' },
  { value: "line\nbreak\u2028", json: '"line\\nbreak\u2028"' },
  { value: [1e21, 1e-7, 0, 123456789], json: "[1e+21,1e-7,0,123456789]" },
];
const b64 = [0, 1, 2, 3, 4, 5, 31, 32, 33].map((n) => {
  const b = det(`b64-${n}`, n);
  return { hex: hex(b), base64url: b64u(b) };
});

const write = (name, data) => writeFileSync(join(out, name), JSON.stringify({ generator: "scripts/make-vectors.mjs (node:crypto + openssl CLI only)", vectors: data }, null, 2) + "\n");
write("sm4-gcm.json", sm4gcm);
write("seal.json", seal);
write("ed25519.json", ed25519);
write("sm2-sign.json", sm2sig);
write("canonical-json.json", canonical);
write("base64url.json", b64);
console.log(`wrote ${out}`);
