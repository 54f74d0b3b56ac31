/**
 * AES backend for Node (node:crypto, OpenSSL with AES-NI). Same API as `_aes-web.ts`; selected by the
 * package.json `imports` condition `#aes`. Three primitives:
 * - `aesCtrKeystream(key16, n)`: AES-128-CTR keystream, IV = 0^128, counter big-endian over the block.
 * - `aesCbcMac(key, data)`: last block of AES-CBC(IV = 0) over `data` (multiple of 16 B); key 16 or 32 B.
 * - `aesEcb(key16)`: a reusable fixed-key ECB encryptor (one cipher object, no per-call key schedule).
 */
import { createCipheriv } from "node:crypto";

const ZERO_IV = Buffer.alloc(16);

let zeros = new Uint8Array(0);

/** The result is 4-byte aligned (callers view it as Uint32Array). */
export function aesCtrKeystream(key: Uint8Array, n: number): Uint8Array {
  if (zeros.length < n) zeros = new Uint8Array(Math.max(n, 2 * zeros.length));
  const c = createCipheriv("aes-128-ctr", key, ZERO_IV);
  const out = c.update(zeros.subarray(0, n));
  if (out.byteOffset % 4 === 0) return new Uint8Array(out.buffer, out.byteOffset, out.length);
  return new Uint8Array(out);
}

export function aesCbcMac(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length === 0 || data.length % 16 !== 0) throw new RangeError(`data: expected a non-zero multiple of 16 bytes, got ${data.length}`);
  const c = createCipheriv(key.length === 32 ? "aes-256-cbc" : "aes-128-cbc", key, ZERO_IV);
  c.setAutoPadding(false);
  const out = c.update(data);
  return new Uint8Array(out.buffer, out.byteOffset + out.length - 16, 16).slice();
}

export interface BlockCipher {
  /** Encrypts `src` (a multiple of 16 bytes) block by block; returns a new array. */
  encryptBlocks(src: Uint8Array): Uint8Array;
}

export function aesEcb(key: Uint8Array): BlockCipher {
  const c = createCipheriv("aes-128-ecb", key, null);
  c.setAutoPadding(false);
  return {
    encryptBlocks(src: Uint8Array): Uint8Array {
      const out = c.update(src);
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
  };
}

export const backend = "node:crypto";
