/**
 * Sealing: public-key authenticated encryption of a share to one party (ECIES-style,
 * ephemeral-static Diffie-Hellman, in the spirit of RFC 9180 base mode but with our own framing).
 *
 *   INTL: X25519 → HKDF-SHA256 → AES-256-GCM (32-byte key)
 *   GM:   SM2-curve ECDH (x-coordinate) → HKDF-SM3 → SM4-GCM (16-byte key)
 *
 * Envelope v1 (self-describing):
 *   [0] version 0x01 | [1] suite (0x01 INTL, 0x02 GM) | ephemeral public key (32 INTL, 65 GM)
 *   | nonce (12) | ciphertext || tag (16)
 * key = HKDF(hash, ikm = DH(eph, recipient), salt = "", info = "privface-seal-v1" || suite byte ||
 *            ephemeral pk || recipient pk, L)
 * AEAD associated data = header (version .. nonce) || caller's AAD, so any change to the header,
 * the ciphertext or the AAD fails the tag. `open` refuses another suite before any computation.
 */
import { backend } from "#backend";
import { concatBytes, utf8, zeroize } from "./_bytes.ts";
import { CryptoError } from "./_errors.ts";
import { IV_BYTES, TAG_BYTES } from "./_backend.ts";
import { SUITE_CODE, checkBytes, checkKey, checkSuite, publicKeyLength, suiteFromCode } from "./_types.ts";
import type { KeyPair, PublicKey, SuiteId } from "./_types.ts";

export const ENVELOPE_VERSION = 0x01;
const INFO_LABEL = utf8("privface-seal-v1");

export async function generateSealKeyPair(suite: SuiteId): Promise<KeyPair> {
  checkSuite(suite);
  const raw = suite === "INTL" ? await backend.x25519Generate() : await backend.sm2EcdhGenerate();
  return { suite, kind: "seal", ...raw };
}

/** Public half of a seal private key (used to check key files and to build test vectors). */
export async function sealPublicFromPrivate(suite: SuiteId, privateKey: Uint8Array): Promise<Uint8Array> {
  checkSuite(suite);
  return suite === "INTL" ? backend.x25519PublicFromPrivate(privateKey) : backend.sm2PublicFromPrivate(privateKey);
}

async function derive(suite: SuiteId, priv: Uint8Array, pub: Uint8Array): Promise<Uint8Array> {
  return suite === "INTL" ? backend.x25519Derive(priv, pub) : backend.sm2EcdhDerive(priv, pub);
}

async function aeadKey(suite: SuiteId, shared: Uint8Array, epk: Uint8Array, rpk: Uint8Array): Promise<Uint8Array> {
  const info = concatBytes(INFO_LABEL, Uint8Array.of(SUITE_CODE[suite]), epk, rpk);
  return suite === "INTL"
    ? backend.hkdf("sha256", shared, new Uint8Array(0), info, 32)
    : backend.hkdf("sm3", shared, new Uint8Array(0), info, 16);
}

/**
 * Seal with a given ephemeral private key and nonce. Internal: only known-answer tests use it;
 * reusing an ephemeral key or nonce breaks confidentiality.
 */
export async function sealWith(
  recipient: PublicKey,
  plaintext: Uint8Array,
  aad: Uint8Array,
  ephemeralPrivateKey: Uint8Array,
  nonce: Uint8Array,
  ephemeralPublicKey?: Uint8Array,
): Promise<Uint8Array> {
  checkKey(recipient, "seal", "recipient", false);
  checkBytes(plaintext, "plaintext");
  checkBytes(aad, "aad");
  if (nonce.length !== IV_BYTES) throw new RangeError(`nonce must be ${IV_BYTES} bytes, got ${nonce.length}`);
  const suite = recipient.suite;
  const epk = ephemeralPublicKey ?? (await sealPublicFromPrivate(suite, ephemeralPrivateKey));
  const shared = await derive(suite, ephemeralPrivateKey, recipient.publicKey);
  const key = await aeadKey(suite, shared, epk, recipient.publicKey);
  const header = concatBytes(Uint8Array.of(ENVELOPE_VERSION, SUITE_CODE[suite]), epk, nonce);
  try {
    const body =
      suite === "INTL"
        ? await backend.aes256GcmEncrypt(key, nonce, plaintext, concatBytes(header, aad))
        : await backend.sm4GcmEncrypt(key, nonce, plaintext, concatBytes(header, aad));
    return concatBytes(header, body);
  } finally {
    zeroize(shared, key);
  }
}

/**
 * Seal `plaintext` to `recipient` (a seal public key) bound to `aad` (for shares: @privface/contracts `contextAad`).
 * Returns the envelope bytes. Example:
 *   const kp = await generateSealKeyPair("INTL");
 *   const env = await seal(kp, share, aad);
 *   const share2 = await open(kp, env, aad);
 */
export async function seal(recipient: PublicKey, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  checkKey(recipient, "seal", "recipient", false);
  const eph = recipient.suite === "INTL" ? await backend.x25519Generate() : await backend.sm2EcdhGenerate();
  try {
    return await sealWith(recipient, plaintext, aad, eph.privateKey, backend.randomBytes(IV_BYTES), eph.publicKey);
  } finally {
    backend.forget(eph.privateKey);
    zeroize(eph.privateKey);
  }
}

/** Suite named by an envelope's header (without opening it). */
export function envelopeSuite(envelope: Uint8Array): SuiteId {
  checkBytes(envelope, "envelope");
  if (envelope.length < 2) throw new CryptoError("ENVELOPE_TRUNCATED", `envelope has ${envelope.length} bytes`);
  if (envelope[0] !== ENVELOPE_VERSION) {
    throw new CryptoError("UNSUPPORTED_VERSION", `envelope version ${envelope[0]}, expected ${ENVELOPE_VERSION}`);
  }
  return suiteFromCode(envelope[1]);
}

/**
 * Open an envelope with the recipient's key pair and the same AAD. Errors (CryptoError.code):
 * ENVELOPE_TRUNCATED, UNSUPPORTED_VERSION, UNKNOWN_SUITE, SUITE_MISMATCH, BAD_PUBLIC_KEY (the
 * ephemeral key in the envelope is not a valid point), AUTH_FAILED (wrong key, wrong AAD, altered bytes).
 */
export async function open(recipient: KeyPair, envelope: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  checkKey(recipient, "seal", "recipient", true);
  checkBytes(aad, "aad");
  const suite = envelopeSuite(envelope);
  if (suite !== recipient.suite) {
    throw new CryptoError("SUITE_MISMATCH", `envelope is sealed with ${suite}, key is ${recipient.suite}`);
  }
  const pkLen = publicKeyLength(suite);
  const headerLen = 2 + pkLen + IV_BYTES;
  if (envelope.length < headerLen + TAG_BYTES) {
    throw new CryptoError("ENVELOPE_TRUNCATED", `envelope has ${envelope.length} bytes, a ${suite} envelope has at least ${headerLen + TAG_BYTES}`);
  }
  const epk = envelope.subarray(2, 2 + pkLen);
  const nonce = envelope.subarray(2 + pkLen, headerLen);
  const header = envelope.subarray(0, headerLen);
  const body = envelope.subarray(headerLen);
  const shared = await derive(suite, recipient.privateKey, epk);
  const key = await aeadKey(suite, shared, epk, recipient.publicKey);
  try {
    return suite === "INTL"
      ? await backend.aes256GcmDecrypt(key, nonce, body, concatBytes(header, aad))
      : await backend.sm4GcmDecrypt(key, nonce, body, concatBytes(header, aad));
  } finally {
    zeroize(shared, key);
  }
}
