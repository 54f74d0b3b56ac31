/**
 * SM2 digital signatures (GB/T 32918.2 / GM/T 0003.2) with SM3 and the GM/T 0009 default
 * distinguishing identifier "1234567812345678", DER-encoded (r, s), via sm-crypto-v2 (pure TS,
 * the same code in Node and the browser). Node's native SM2 signing is not used: it always signs
 * with an empty identifier (see STACK.md (b)), which Chinese CAs and HSMs do not use.
 *
 * Keys: 32-byte private scalar, 65-byte uncompressed public point 04||x||y.
 */
import { sm2 } from "sm-crypto-v2";
import { toHex, fromHex } from "./_bytes.ts";
import { CryptoError } from "./_errors.ts";

export const SM2_DEFAULT_ID = "1234567812345678";

export function sm2SignGenerate(): { publicKey: Uint8Array; privateKey: Uint8Array } {
  const kp = sm2.generateKeyPairHex();
  return { publicKey: fromHex(kp.publicKey), privateKey: fromHex(kp.privateKey.padStart(64, "0")) };
}

export function sm2PublicFromPrivateSync(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== 32) throw new CryptoError("BAD_KEY", `SM2 private key must be 32 bytes, got ${privateKey.length}`);
  return fromHex(sm2.getPublicKeyFromPrivateKey(toHex(privateKey)));
}

export function sm2Sign(privateKey: Uint8Array, publicKey: Uint8Array, message: Uint8Array, userId = SM2_DEFAULT_ID): Uint8Array {
  const hex = sm2.doSignature(message, toHex(privateKey), { der: true, hash: true, publicKey: toHex(publicKey), userId });
  return fromHex(hex);
}

// Precomputed public points make verification ~6x faster for long-lived peers (STACK.md (b)).
const precomputed = new Map<string, ReturnType<typeof sm2.precomputePublicKey>>();
const MAX_PRECOMPUTED = 64;

const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

/**
 * Strict DER check of an SM2 signature: SEQUENCE { INTEGER r, INTEGER s }, short-form lengths,
 * minimal integer encodings, 1 <= r, s < n, nothing trailing. sm-crypto-v2's own decoder is
 * lenient (it ignores the tags), which would make signatures malleable.
 */
export function isStrictSm2Der(sig: Uint8Array): boolean {
  if (sig.length < 8 || sig.length > 72 || sig[0] !== 0x30 || sig[1] !== sig.length - 2) return false;
  let o = 2;
  for (let k = 0; k < 2; k++) {
    if (sig[o] !== 0x02) return false;
    const len = sig[o + 1];
    if (len < 1 || len > 33 || o + 2 + len > sig.length) return false;
    const body = sig.subarray(o + 2, o + 2 + len);
    if (body[0] & 0x80) return false; // negative
    if (len > 1 && body[0] === 0 && !(body[1] & 0x80)) return false; // non-minimal
    let v = 0n;
    for (const b of body) v = (v << 8n) | BigInt(b);
    if (v < 1n || v >= SM2_N) return false;
    o += 2 + len;
  }
  return o === sig.length;
}

export function sm2Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, userId = SM2_DEFAULT_ID): boolean {
  const pubHex = toHex(publicKey);
  if (publicKey.length !== 65 || publicKey[0] !== 4 || !sm2.verifyPublicKey(pubHex)) return false;
  if (!isStrictSm2Der(signature)) return false;
  let point = precomputed.get(pubHex);
  if (!point) {
    point = sm2.precomputePublicKey(pubHex);
    if (precomputed.size >= MAX_PRECOMPUTED) precomputed.delete(precomputed.keys().next().value as string);
    precomputed.set(pubHex, point);
  }
  try {
    // getZ needs the hex public key, so pass hex for the hash and the precomputed point for the check
    return sm2.doVerifySignature(message, toHex(signature), point, { der: true, hash: true, userId });
  } catch {
    return false;
  }
}
