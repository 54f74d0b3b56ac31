/**
 * Seedable, domain-separated PRG on AES (node:crypto on the server, @noble/ciphers in the browser).
 *
 * KDF (a PRF on variable-length input): K = CBC-MAC_seed(B0 ‖ M ‖ 0-pad), IV = 0, where
 *   M  = u32be(|label|) ‖ label ‖ u32be(|context|) ‖ context   (label UTF-8, context raw bytes)
 *   B0 = u64be(|M|) ‖ 0^64                                      (length prepended ⇒ prefix-free ⇒ PRF)
 * AES-128 for 16-byte seeds, AES-256 for 32-byte seeds. `expand(seed, label, context, n)` is then the
 * first n bytes of AES-128-CTR_K(IV = 0^128) (keystream only). Distinct (label, context) pairs give
 * independent streams, so a seed can never be replayed as another share, another party's share, or
 * another bundle's randomness.
 *
 * The DCF tree PRG uses one fixed public AES-128 key (`DCF_FIXED_KEY`) in Matyas–Meyer–Oseas mode,
 * G_j(s) = AES_k(s ⊕ j) ⊕ (s ⊕ j) (see dcf.ts), modelled as a correlation-robust hash (Guo et al. 2020).
 */
import { aesCbcMac, aesCtrKeystream, aesEcb, backend, type BlockCipher } from "#aes";

const enc = new TextEncoder();

export const aesBackend: string = backend;

function checkSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array)) throw new TypeError("seed: expected a Uint8Array");
  if (seed.length !== 16 && seed.length !== 32) throw new RangeError(`seed: expected 16 or 32 bytes, got ${seed.length}`);
}

/** K = CBC-MAC_seed(u64be(|M|) ‖ 0^64 ‖ M ‖ pad), M = u32be(|label|) ‖ label ‖ u32be(|ctx|) ‖ ctx. 16 bytes. */
export function deriveKey(seed: Uint8Array, label: string, context: Uint8Array): Uint8Array {
  checkSeed(seed);
  if (typeof label !== "string") throw new TypeError("label: expected a string");
  if (!(context instanceof Uint8Array)) throw new TypeError("context: expected a Uint8Array");
  const l = enc.encode(label);
  const mLen = 4 + l.length + 4 + context.length;
  const buf = new Uint8Array(16 + Math.ceil(mLen / 16) * 16);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, Math.floor(mLen / 2 ** 32));
  dv.setUint32(4, mLen >>> 0);
  dv.setUint32(16, l.length);
  buf.set(l, 20);
  dv.setUint32(20 + l.length, context.length);
  buf.set(context, 24 + l.length);
  return aesCbcMac(seed, buf);
}

/** First `n` bytes of AES-128-CTR under deriveKey(seed, label, context). */
export function expand(seed: Uint8Array, label: string, context: Uint8Array, n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n: expected a non-negative integer, got ${n}`);
  return aesCtrKeystream(deriveKey(seed, label, context), n);
}

/**
 * Fixed public key of the DCF tree PRG: the 16 bytes of ASCII "privface/dcf/v1!" (any fixed,
 * public key works for the MMO construction; scripts/make-vectors.ts uses the same constant).
 */
export const DCF_FIXED_KEY: Uint8Array = enc.encode("privface/dcf/v1!");

let fixed: BlockCipher | undefined;
/** The one reusable fixed-key AES-128 ECB object of the DCF tree PRG. */
export function dcfCipher(): BlockCipher {
  fixed ??= aesEcb(DCF_FIXED_KEY);
  return fixed;
}

export { aesEcb, type BlockCipher };
