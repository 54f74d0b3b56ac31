/**
 * TLS private keys (Node only): encrypted PKCS#8 PEM files (PBES2, written by @privface/pki with scrypt
 * and AES-256-CBC) whose passphrase is the key secret of the environment (`keySecretFromEnv`).
 * `readTlsKey` decrypts one in memory for node:tls; a plaintext PEM key is refused (PLAINTEXT_KEY_FILE),
 * a wrong secret gives WRONG_KEY_SECRET. Decrypted keys are cached per process (one scrypt per file).
 */
import { createHash, createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { CryptoError } from "./_errors.ts";
import { keySecretFromEnv } from "./_keyfile.ts";

const PLAINTEXT_PEM = /-----BEGIN (EC |RSA |)PRIVATE KEY-----/;

/** Does this PEM text hold a private key in the clear? */
export function isPlaintextPem(pem: Uint8Array | string): boolean {
  return PLAINTEXT_PEM.test(typeof pem === "string" ? pem : Buffer.from(pem).toString("latin1"));
}
const keyCache = new Map<string, KeyObject>();
const cacheId = (secret: string, encryptedPem: Uint8Array) => createHash("sha256").update(secret).update("\0").update(encryptedPem).digest("base64url");

/** Tell this process's cache that `encryptedPem` (under `secret`) holds `plaintextPem` (its writer knows it: no scrypt). */
export function rememberTlsKey(encryptedPem: Uint8Array, secret: string, plaintextPem: Uint8Array): void {
  keyCache.set(cacheId(secret, encryptedPem), createPrivateKey(Buffer.from(plaintextPem)));
}

/** The private key in the (encrypted) PEM file at `path`, decrypted under the environment's key secret. */
export function readTlsPrivateKey(path: string): KeyObject {
  const pem = readFileSync(path);
  try {
    if (isPlaintextPem(pem)) {
      throw new CryptoError("PLAINTEXT_KEY_FILE", `${path} is a plaintext PEM private key; TLS keys must be encrypted (privface start re-encrypts a development home; elsewhere: privface keys encrypt ${path})`);
    }
    const secret = keySecretFromEnv();
    const id = cacheId(secret, pem);
    let key = keyCache.get(id);
    if (!key) {
      try {
        key = createPrivateKey({ key: pem, passphrase: secret });
      } catch {
        throw new CryptoError("WRONG_KEY_SECRET", `${path} does not decrypt under the key secret given (wrong PRIVFACE_KEY_SECRET, or not an encrypted private key)`);
      }
      keyCache.set(id, key);
    }
    return key;
  } finally {
    pem.fill(0);
  }
}

/** The TLS private key at `path` as a plaintext PKCS#8 PEM held in memory only (for node:tls `key`). */
export function readTlsKey(path: string): Buffer {
  return Buffer.from(readTlsPrivateKey(path).export({ type: "pkcs8", format: "pem" }));
}

