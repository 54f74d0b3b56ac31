/**
 * The primitive operations each platform backend provides. `_backend.node.ts` implements them on
 * node:crypto (OpenSSL), `_backend.browser.ts` on WebCrypto plus sm-crypto-v2 / @noble for the GM
 * primitives the browser lacks. package.json `"imports": {"#backend": …}` picks one; the envelope
 * and signature formats built on top (in `_seal.ts`, `_sign.ts`) are identical on both.
 *
 * Conventions: raw keys. X25519/Ed25519: 32-byte public and private keys (RFC 7748 / RFC 8032).
 * SM2: 65-byte uncompressed public point 04||x||y, 32-byte private scalar. ECDH results are the
 * 32-byte shared x-coordinate (SM2) or the 32-byte X25519 output. AEAD outputs are ct||tag(16).
 */
export type HashName = "sha256" | "sm3";

export interface RawKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export interface Backend {
  readonly name: "node" | "browser";
  randomBytes(n: number): Uint8Array;
  x25519Generate(): Promise<RawKeyPair>;
  x25519PublicFromPrivate(privateKey: Uint8Array): Promise<Uint8Array>;
  /** Throws CryptoError BAD_PUBLIC_KEY for a low-order / malformed peer key. */
  x25519Derive(privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array>;
  ed25519Generate(): Promise<RawKeyPair>;
  ed25519PublicFromPrivate(privateKey: Uint8Array): Promise<Uint8Array>;
  ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  sm2EcdhGenerate(): Promise<RawKeyPair>;
  sm2PublicFromPrivate(privateKey: Uint8Array): Promise<Uint8Array>;
  /** Throws CryptoError BAD_PUBLIC_KEY for a point not on the curve. */
  sm2EcdhDerive(privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array>;
  hkdf(hash: HashName, ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array>;
  aes256GcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Throws CryptoError AUTH_FAILED when the tag does not verify. */
  aes256GcmDecrypt(key: Uint8Array, iv: Uint8Array, ctAndTag: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  sm4GcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Throws CryptoError AUTH_FAILED when the tag does not verify. */
  sm4GcmDecrypt(key: Uint8Array, iv: Uint8Array, ctAndTag: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  digest(hash: HashName, data: Uint8Array): Promise<Uint8Array>;
  /** HMAC (RFC 2104) with SHA-256 or SM3: 32 bytes. */
  hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  /** Drop any cached state for a private key about to be zeroed (ephemeral keys). */
  forget(privateKey: Uint8Array): void;
}

export const TAG_BYTES = 16;
export const IV_BYTES = 12;
