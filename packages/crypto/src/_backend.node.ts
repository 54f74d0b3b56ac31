/**
 * Node backend on node:crypto (OpenSSL 3.0): X25519, Ed25519, SM2-curve ECDH (`createECDH("SM2")`),
 * HKDF-SHA256 / HKDF-SM3 (`hkdfSync`), AES-256-GCM, and SM4-GCM built from native SM4-CTR plus
 * the GHASH of @noble/ciphers (OpenSSL 3.0 has no sm4-gcm; construction per NIST SP 800-38D with
 * SM4 as the block cipher, checked against RFC 8998 A.1 and sm-crypto-v2 in the tests).
 */
import * as nc from "node:crypto";
import { ghash } from "@noble/ciphers/_polyval.js";
import type { Backend, HashName, RawKeyPair } from "./_backend.ts";
import { TAG_BYTES } from "./_backend.ts";
import { concatBytes } from "./_bytes.ts";
import { CryptoError } from "./_errors.ts";


const u8 = (b: Buffer | ArrayBuffer): Uint8Array => new Uint8Array(b instanceof ArrayBuffer ? b.slice(0) : b);

// KeyObject caches. Importing a raw key costs far more than the X25519 / Ed25519 operation itself,
// so long-lived keys (a party's seal key, a server's signing key, a peer's public key) are imported
// once. Private keys are cached per Uint8Array object (WeakMap) together with a copy of the bytes,
// so a caller that zeroes or changes its array gets a fresh import, never a stale key.
const privCache = new WeakMap<Uint8Array, { copy: Uint8Array; key: nc.KeyObject }>();
const pubCache = new Map<string, nc.KeyObject>();
const PUB_CACHE_MAX = 256;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && nc.timingSafeEqual(a, b);
}

// Raw keys go in and out through JWK: OpenSSL 3's DER encoders/decoders cost ~10x more here.
const CRV = { x25519: "X25519", ed25519: "Ed25519" } as const;
const b64u = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
const unb64u = (s: string | undefined): Uint8Array => u8(Buffer.from(s ?? "", "base64url"));
// Node requires `x` in a private OKP JWK but derives the public key from `d` (the Ed25519
// known-answer tests would fail otherwise); a placeholder is passed when we do not know it.
const PLACEHOLDER_X = b64u(new Uint8Array(32));

// A private key is 32 bytes from the CSPRNG (X25519 clamps on use; an Ed25519 key is its 32-byte
// seed), imported like any other key. Not `generateKeyPairSync` + JWK export: on Node 20 a garbage
// collection inside that export can run the generating job's destructor, which waits for the mutex
// the export holds — the process deadlocks (seen here: a benchmark sealing thousands of shares hung
// in ExportJWKEdKey → ~KeyGenJob → uv_mutex_lock).
function rawPair(kind: "x25519" | "ed25519"): RawKeyPair {
  const privateKey = u8(nc.randomBytes(32));
  return { publicKey: publicOf(kind, privateKey), privateKey };
}

function privKey(kind: "x25519" | "ed25519", raw: Uint8Array): nc.KeyObject {
  if (raw.length !== 32) throw new CryptoError("BAD_KEY", `${kind} private key must be 32 bytes, got ${raw.length}`);
  const hit = privCache.get(raw);
  if (hit && sameBytes(hit.copy, raw) && hit.key.asymmetricKeyType === kind) return hit.key;
  const key = nc.createPrivateKey({ key: { kty: "OKP", crv: CRV[kind], d: b64u(raw), x: PLACEHOLDER_X }, format: "jwk" });
  privCache.set(raw, { copy: raw.slice(), key });
  return key;
}

function pubKey(kind: "x25519" | "ed25519", raw: Uint8Array): nc.KeyObject {
  if (raw.length !== 32) throw new CryptoError("BAD_PUBLIC_KEY", `${kind} public key must be 32 bytes, got ${raw.length}`);
  const x = b64u(raw);
  const id = kind + x;
  let key = pubCache.get(id);
  if (!key) {
    key = nc.createPublicKey({ key: { kty: "OKP", crv: CRV[kind], x }, format: "jwk" });
    if (pubCache.size >= PUB_CACHE_MAX) pubCache.delete(pubCache.keys().next().value as string);
    pubCache.set(id, key);
  }
  return key;
}

function publicOf(kind: "x25519" | "ed25519", raw: Uint8Array): Uint8Array {
  return unb64u(privKey(kind, raw).export({ format: "jwk" }).x);
}

// setPrivateKey() costs a scalar multiplication (it derives the public key), as much as the ECDH
// itself: keep the ECDH object per private-key array, like the KeyObject cache above.
const sm2Cache = new WeakMap<Uint8Array, { copy: Uint8Array; ecdh: nc.ECDH }>();

function sm2Ecdh(privateKey: Uint8Array): nc.ECDH {
  if (privateKey.length !== 32) throw new CryptoError("BAD_KEY", `SM2 private key must be 32 bytes, got ${privateKey.length}`);
  const hit = sm2Cache.get(privateKey);
  if (hit && sameBytes(hit.copy, privateKey)) return hit.ecdh;
  const e = nc.createECDH("SM2");
  try {
    e.setPrivateKey(privateKey);
  } catch {
    throw new CryptoError("BAD_KEY", "SM2 private key is out of range");
  }
  sm2Cache.set(privateKey, { copy: privateKey.slice(), ecdh: e });
  return e;
}

function sm4Ecb(key: Uint8Array, block: Uint8Array): Buffer {
  const e = nc.createCipheriv("sm4-ecb", key, null);
  e.setAutoPadding(false);
  return Buffer.concat([e.update(block), e.final()]);
}

function lengthsBlock(aadLen: number, ctLen: number): Uint8Array {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(BigInt(aadLen) * 8n, 0);
  b.writeBigUInt64BE(BigInt(ctLen) * 8n, 8);
  return b;
}

function sm4GcmTag(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, ct: Uint8Array): Uint8Array {
  const h = ghash.create(sm4Ecb(key, new Uint8Array(16)));
  if (aad.length) h.update(aad);
  if (ct.length) h.update(ct);
  h.update(lengthsBlock(aad.length, ct.length));
  const s = new Uint8Array(h.digest());
  const j0 = sm4Ecb(key, concatBytes(iv, Uint8Array.of(0, 0, 0, 1)));
  for (let i = 0; i < 16; i++) s[i] ^= j0[i];
  return s;
}

function sm4Ctr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  // GCM's inc32 and OpenSSL's 128-bit counter agree below 2^32 blocks (64 GiB per message).
  const c = nc.createCipheriv("sm4-ctr", key, concatBytes(iv, Uint8Array.of(0, 0, 0, 2)));
  return u8(Buffer.concat([c.update(data), c.final()]));
}

function checkSm4(key: Uint8Array, iv: Uint8Array): void {
  if (key.length !== 16) throw new RangeError(`sm4Gcm: key must be 16 bytes, got ${key.length}`);
  if (iv.length !== 12) throw new RangeError(`sm4Gcm: iv must be 12 bytes, got ${iv.length}`);
}

/** SM4-GCM, synchronous (Node only: the key files of @privface/crypto/node are read synchronously). */
export function sm4GcmEncryptSync(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  checkSm4(key, iv);
  const ct = sm4Ctr(key, iv, plaintext);
  return concatBytes(ct, sm4GcmTag(key, iv, aad, ct));
}

export function sm4GcmDecryptSync(key: Uint8Array, iv: Uint8Array, ctAndTag: Uint8Array, aad: Uint8Array): Uint8Array {
  checkSm4(key, iv);
  if (ctAndTag.length < TAG_BYTES) throw new CryptoError("ENVELOPE_TRUNCATED", "ciphertext shorter than the tag");
  const ct = ctAndTag.subarray(0, ctAndTag.length - TAG_BYTES);
  const tag = sm4GcmTag(key, iv, aad, ct);
  if (!nc.timingSafeEqual(tag, ctAndTag.subarray(ctAndTag.length - TAG_BYTES))) {
    throw new CryptoError("AUTH_FAILED", "SM4-GCM tag does not verify");
  }
  return sm4Ctr(key, iv, ct);
}

export const backend: Backend = {
  name: "node",
  randomBytes: (n) => u8(nc.randomBytes(n)),

  async x25519Generate() {
    return rawPair("x25519");
  },
  async x25519PublicFromPrivate(privateKey) {
    return publicOf("x25519", privateKey);
  },
  async x25519Derive(privateKey, publicKey) {
    const pub = pubKey("x25519", publicKey);
    try {
      return u8(nc.diffieHellman({ privateKey: privKey("x25519", privateKey), publicKey: pub }));
    } catch {
      throw new CryptoError("BAD_PUBLIC_KEY", "X25519 derivation failed (low-order public key)");
    }
  },

  async ed25519Generate() {
    return rawPair("ed25519");
  },
  async ed25519PublicFromPrivate(privateKey) {
    return publicOf("ed25519", privateKey);
  },
  async ed25519Sign(privateKey, message) {
    return u8(nc.sign(null, message, privKey("ed25519", privateKey)));
  },
  async ed25519Verify(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    try {
      return nc.verify(null, message, pubKey("ed25519", publicKey), signature);
    } catch {
      return false;
    }
  },

  async sm2EcdhGenerate() {
    const e = nc.createECDH("SM2");
    e.generateKeys();
    // getPrivateKey() drops leading zero bytes (1 key in 256): always return the 32-byte scalar
    const d = u8(e.getPrivateKey());
    const privateKey = new Uint8Array(32);
    privateKey.set(d, 32 - d.length);
    sm2Cache.set(privateKey, { copy: privateKey.slice(), ecdh: e });
    return { publicKey: u8(e.getPublicKey()), privateKey };
  },
  async sm2PublicFromPrivate(privateKey) {
    return u8(sm2Ecdh(privateKey).getPublicKey());
  },
  async sm2EcdhDerive(privateKey, publicKey) {
    if (publicKey.length !== 65 || publicKey[0] !== 4) {
      throw new CryptoError("BAD_PUBLIC_KEY", `SM2 public key must be 65 bytes 04||x||y, got ${publicKey.length} bytes`);
    }
    const e = sm2Ecdh(privateKey);
    try {
      return u8(e.computeSecret(publicKey));
    } catch {
      throw new CryptoError("BAD_PUBLIC_KEY", "SM2 public key is not a point on the curve");
    }
  },

  async hkdf(hash: HashName, ikm, salt, info, length) {
    return u8(nc.hkdfSync(hash, ikm, salt, info, length));
  },

  async aes256GcmEncrypt(key, iv, plaintext, aad) {
    const c = nc.createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    c.setAAD(aad);
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    return u8(Buffer.concat([ct, c.getAuthTag()]));
  },
  async aes256GcmDecrypt(key, iv, ctAndTag, aad) {
    if (ctAndTag.length < TAG_BYTES) throw new CryptoError("ENVELOPE_TRUNCATED", "ciphertext shorter than the tag");
    const d = nc.createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    d.setAAD(aad);
    d.setAuthTag(ctAndTag.subarray(ctAndTag.length - TAG_BYTES));
    const pt = d.update(ctAndTag.subarray(0, ctAndTag.length - TAG_BYTES));
    try {
      return u8(Buffer.concat([pt, d.final()]));
    } catch {
      pt.fill(0);
      throw new CryptoError("AUTH_FAILED", "AES-256-GCM tag does not verify");
    }
  },

  async sm4GcmEncrypt(key, iv, plaintext, aad) {
    return sm4GcmEncryptSync(key, iv, plaintext, aad);
  },
  async sm4GcmDecrypt(key, iv, ctAndTag, aad) {
    return sm4GcmDecryptSync(key, iv, ctAndTag, aad);
  },

  async digest(hash, data) {
    return u8(nc.createHash(hash).update(data).digest());
  },
  async hmac(hash, key, data) {
    return u8(nc.createHmac(hash, key).update(data).digest());
  },

  forget(privateKey) {
    privCache.get(privateKey)?.copy.fill(0);
    privCache.delete(privateKey);
    sm2Cache.get(privateKey)?.copy.fill(0);
    sm2Cache.delete(privateKey);
  },
};
