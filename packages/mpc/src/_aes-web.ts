/**
 * AES backend for browsers: @noble/ciphers 2.4.0 (audited, dependency-free, pinned). Same API as
 * `_aes-node.ts`. The fixed-key ECB uses noble's low-level `unsafe.expandKeyLE`/`unsafe.encrypt` so the
 * key schedule is computed once (noble's `ecb()` objects are single-use).
 */
import { cbc, ctr, unsafe } from "@noble/ciphers/aes.js";

const ZERO_IV = new Uint8Array(16);

/** The result is 4-byte aligned (callers view it as Uint32Array). */
export function aesCtrKeystream(key: Uint8Array, n: number): Uint8Array {
  return ctr(key, ZERO_IV).encrypt(new Uint8Array(n));
}

export function aesCbcMac(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length === 0 || data.length % 16 !== 0) throw new RangeError(`data: expected a non-zero multiple of 16 bytes, got ${data.length}`);
  const out = cbc(key, ZERO_IV, { disablePadding: true }).encrypt(data);
  return out.slice(out.length - 16);
}

export interface BlockCipher {
  encryptBlocks(src: Uint8Array): Uint8Array;
}

const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function aesEcb(key: Uint8Array): BlockCipher {
  if (!LE) throw new Error("aesEcb: big-endian platforms are not supported");
  const xk = unsafe.expandKeyLE(key);
  return {
    encryptBlocks(src: Uint8Array): Uint8Array {
      if (src.length % 16 !== 0) throw new RangeError(`src: expected a multiple of 16 bytes, got ${src.length}`);
      const inp = src.byteOffset % 4 === 0 ? new Uint32Array(src.buffer, src.byteOffset, src.length / 4) : new Uint32Array(src.slice().buffer);
      const out = new Uint32Array(inp.length);
      for (let i = 0; i < inp.length; i += 4) {
        const r = unsafe.encrypt(xk, inp[i], inp[i + 1], inp[i + 2], inp[i + 3]);
        out[i] = r.s0;
        out[i + 1] = r.s1;
        out[i + 2] = r.s2;
        out[i + 3] = r.s3;
      }
      return new Uint8Array(out.buffer);
    },
  };
}

export const backend = "@noble/ciphers";
