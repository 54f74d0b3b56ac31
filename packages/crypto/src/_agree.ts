/**
 * Static-static key agreement and MACs: a key two holders of "seal"-kind key pairs (X25519, or
 * SM2-curve ECDH for GM) share without sending it, and the MAC that uses it.
 *
 *   agreeKey(own, peer, info) = HKDF(hash, ikm = ECDH(own, peer), salt = "", info, 32)
 *     hash: SHA-256 (INTL) or SM3 (GM); both keys of one suite
 *   mac(suite, key, data) = HMAC-SHA256 (INTL) or HMAC-SM3 (GM), 32 bytes
 *
 * Used for a device's request MAC to a party (@privface/contracts statement.ts): only the device
 * and that party can compute the key, and a MAC costs a few µs where a signature check costs ≈ 100 µs.
 */
import { backend } from "#backend";
import { CryptoError } from "./_errors.ts";
import { checkBytes, checkKey } from "./_types.ts";
import type { KeyPair, PublicKey, SuiteId } from "./_types.ts";

/**
 * A "seal"-kind key whose private half stays where it lives (a non-extractable WebCrypto key in a
 * browser, a token): `derive` returns the raw ECDH secret with `peer` (X25519: 32 bytes, the same
 * bytes `agreeKey` gets from a key pair), and `agreeKey` applies the HKDF.
 */
export interface KeyAgreer extends PublicKey {
  derive(peer: PublicKey): Promise<Uint8Array>;
}

export async function agreeKey(own: KeyPair | KeyAgreer, peer: PublicKey, info: Uint8Array): Promise<Uint8Array> {
  const agreer = "derive" in own && typeof own.derive === "function" ? own : undefined;
  checkKey(own, "seal", "own", !agreer);
  checkKey(peer, "seal", "peer", false);
  if (own.suite !== peer.suite) throw new CryptoError("SUITE_MISMATCH", `own key is ${own.suite}, peer key is ${peer.suite}`);
  checkBytes(info, "info");
  const kp = own as KeyPair;
  const shared = agreer
    ? checkBytes(await agreer.derive(peer), "own.derive()")
    : own.suite === "INTL"
      ? await backend.x25519Derive(kp.privateKey, peer.publicKey)
      : await backend.sm2EcdhDerive(kp.privateKey, peer.publicKey);
  try {
    return await backend.hkdf(own.suite === "INTL" ? "sha256" : "sm3", shared, new Uint8Array(0), info, 32);
  } finally {
    shared.fill(0);
  }
}

export function mac(suite: SuiteId, key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  if (suite !== "INTL" && suite !== "GM") throw new TypeError(`suite must be INTL or GM, got ${String(suite)}`);
  checkBytes(key, "key");
  checkBytes(data, "data");
  return backend.hmac(suite === "INTL" ? "sha256" : "sm3", key, data);
}
