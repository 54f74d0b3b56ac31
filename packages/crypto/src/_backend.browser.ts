/**
 * Browser backend: WebCrypto for X25519, Ed25519, HKDF-SHA256, AES-256-GCM and SHA-256 (all
 * present in Chromium); sm-crypto-v2 (pure TS, on @noble) for what no browser has: SM2-curve ECDH,
 * SM3 / HKDF-SM3 and SM4-GCM. Produces byte-identical envelopes to `_backend.node.ts` (tested by
 * sealing in Chromium and opening in Node and the other way round).
 */
import { sm2, sm3, sm4, hkdf as hkdfSm3 } from "sm-crypto-v2";
import type { Backend, HashName, RawKeyPair } from "./_backend.ts";
import { concatBytes, fromHex, toHex, fromBase64url } from "./_bytes.ts";
import { CryptoError } from "./_errors.ts";

const PKCS8 = {
  X25519: fromHex("302e020100300506032b656e04220420"),
  Ed25519: fromHex("302e020100300506032b657004220420"),
};

const subtle = (): SubtleCrypto => {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error("WebCrypto is not available (needs a secure context)");
  return s;
};

/** A copy on a fresh ArrayBuffer: what the WebCrypto typings accept. */
const ab = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u);

async function rawPair(name: "X25519" | "Ed25519"): Promise<RawKeyPair> {
  const usages: KeyUsage[] = name === "X25519" ? ["deriveBits"] : ["sign", "verify"];
  const kp = (await subtle().generateKey({ name }, true, usages)) as CryptoKeyPair;
  const publicKey = new Uint8Array(await subtle().exportKey("raw", kp.publicKey));
  const pkcs8 = new Uint8Array(await subtle().exportKey("pkcs8", kp.privateKey));
  return { publicKey, privateKey: pkcs8.slice(pkcs8.length - 32) };
}

async function importPrivate(name: "X25519" | "Ed25519", raw: Uint8Array, extractable = false): Promise<CryptoKey> {
  if (raw.length !== 32) throw new CryptoError("BAD_KEY", `${name} private key must be 32 bytes, got ${raw.length}`);
  const usages: KeyUsage[] = name === "X25519" ? ["deriveBits"] : ["sign"];
  return subtle().importKey("pkcs8", ab(concatBytes(PKCS8[name], raw)), { name }, extractable, usages);
}

async function publicOf(name: "X25519" | "Ed25519", raw: Uint8Array): Promise<Uint8Array> {
  const k = await importPrivate(name, raw, true);
  const jwk = await subtle().exportKey("jwk", k);
  return fromBase64url(jwk.x as string);
}

function sm2Point(publicKey: Uint8Array): string {
  const hex = toHex(publicKey);
  if (publicKey.length !== 65 || publicKey[0] !== 4 || !sm2.verifyPublicKey(hex)) {
    throw new CryptoError("BAD_PUBLIC_KEY", "SM2 public key must be a 65-byte uncompressed point on the curve");
  }
  return hex;
}

const gcmParams = (iv: Uint8Array, aad: Uint8Array): AesGcmParams => ({ name: "AES-GCM", iv: ab(iv), additionalData: ab(aad), tagLength: 128 });

export const backend: Backend = {
  name: "browser",
  randomBytes(n) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
    return out;
  },

  x25519Generate: () => rawPair("X25519"),
  x25519PublicFromPrivate: (privateKey) => publicOf("X25519", privateKey),
  async x25519Derive(privateKey, publicKey) {
    if (publicKey.length !== 32) throw new CryptoError("BAD_PUBLIC_KEY", `X25519 public key must be 32 bytes, got ${publicKey.length}`);
    const pub = await subtle().importKey("raw", ab(publicKey), { name: "X25519" }, false, []);
    const priv = await importPrivate("X25519", privateKey);
    try {
      return new Uint8Array(await subtle().deriveBits({ name: "X25519", public: pub } as unknown as AlgorithmIdentifier, priv, 256));
    } catch {
      throw new CryptoError("BAD_PUBLIC_KEY", "X25519 derivation failed (low-order public key)");
    }
  },

  ed25519Generate: () => rawPair("Ed25519"),
  ed25519PublicFromPrivate: (privateKey) => publicOf("Ed25519", privateKey),
  async ed25519Sign(privateKey, message) {
    return new Uint8Array(await subtle().sign({ name: "Ed25519" }, await importPrivate("Ed25519", privateKey), ab(message)));
  },
  async ed25519Verify(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    try {
      const pub = await subtle().importKey("raw", ab(publicKey), { name: "Ed25519" }, false, ["verify"]);
      return await subtle().verify({ name: "Ed25519" }, pub, ab(signature), ab(message));
    } catch {
      return false;
    }
  },

  async sm2EcdhGenerate() {
    const kp = sm2.generateKeyPairHex();
    return { publicKey: fromHex(kp.publicKey), privateKey: fromHex(kp.privateKey.padStart(64, "0")) };
  },
  async sm2PublicFromPrivate(privateKey) {
    if (privateKey.length !== 32) throw new CryptoError("BAD_KEY", `SM2 private key must be 32 bytes, got ${privateKey.length}`);
    return fromHex(sm2.getPublicKeyFromPrivateKey(toHex(privateKey)));
  },
  async sm2EcdhDerive(privateKey, publicKey) {
    const pubHex = sm2Point(publicKey);
    const shared = sm2.ecdh(toHex(privateKey), pubHex); // compressed point 02/03||x
    return shared.slice(1, 33);
  },

  async hkdf(hash: HashName, ikm, salt, info, length) {
    if (hash === "sm3") return new Uint8Array(hkdfSm3(ikm, salt, info, length));
    const k = await subtle().importKey("raw", ab(ikm), "HKDF", false, ["deriveBits"]);
    const bits = await subtle().deriveBits({ name: "HKDF", hash: "SHA-256", salt: ab(salt), info: ab(info) }, k, length * 8);
    return new Uint8Array(bits);
  },

  async aes256GcmEncrypt(key, iv, plaintext, aad) {
    const k = await subtle().importKey("raw", ab(key), "AES-GCM", false, ["encrypt"]);
    return new Uint8Array(await subtle().encrypt(gcmParams(iv, aad), k, ab(plaintext)));
  },
  async aes256GcmDecrypt(key, iv, ctAndTag, aad) {
    if (ctAndTag.length < 16) throw new CryptoError("ENVELOPE_TRUNCATED", "ciphertext shorter than the tag");
    const k = await subtle().importKey("raw", ab(key), "AES-GCM", false, ["decrypt"]);
    try {
      return new Uint8Array(await subtle().decrypt(gcmParams(iv, aad), k, ab(ctAndTag)));
    } catch {
      throw new CryptoError("AUTH_FAILED", "AES-256-GCM tag does not verify");
    }
  },

  async sm4GcmEncrypt(key, iv, plaintext, aad) {
    if (key.length !== 16) throw new RangeError(`sm4Gcm: key must be 16 bytes, got ${key.length}`);
    if (iv.length !== 12) throw new RangeError(`sm4Gcm: iv must be 12 bytes, got ${iv.length}`);
    const r = sm4.encrypt(plaintext, key, { mode: "gcm", iv, associatedData: aad, output: "array", outputTag: true });
    return concatBytes(r.output, r.tag as Uint8Array);
  },
  async sm4GcmDecrypt(key, iv, ctAndTag, aad) {
    if (key.length !== 16) throw new RangeError(`sm4Gcm: key must be 16 bytes, got ${key.length}`);
    if (iv.length !== 12) throw new RangeError(`sm4Gcm: iv must be 12 bytes, got ${iv.length}`);
    if (ctAndTag.length < 16) throw new CryptoError("ENVELOPE_TRUNCATED", "ciphertext shorter than the tag");
    try {
      return sm4.decrypt(ctAndTag.subarray(0, ctAndTag.length - 16), key, {
        mode: "gcm",
        iv,
        associatedData: aad,
        output: "array",
        tag: ctAndTag.subarray(ctAndTag.length - 16),
      });
    } catch {
      throw new CryptoError("AUTH_FAILED", "SM4-GCM tag does not verify");
    }
  },

  forget() {
    // nothing cached in this backend
  },

  async digest(hash, data) {
    if (hash === "sm3") return fromHex(sm3(data));
    return new Uint8Array(await subtle().digest("SHA-256", ab(data)));
  },
  async hmac(hash, key, data) {
    // RFC 2104 over the digest (both hashes have 64-byte blocks): one code path for SHA-256 and SM3
    const block = 64;
    const k = key.length > block ? await this.digest(hash, key) : key;
    const pad = (x: number) => {
      const p = new Uint8Array(block);
      p.set(k);
      for (let i = 0; i < block; i++) p[i] ^= x;
      return p;
    };
    const inner = await this.digest(hash, concatBytes(pad(0x36), data));
    return this.digest(hash, concatBytes(pad(0x5c), inner));
  },
};
