/**
 * Randomness as an argument. An `Rng` returns `n` fresh random bytes. The default is the platform's
 * CSPRNG (`crypto.getRandomValues`, in Node ≥ 20 and every browser). `seededRng` is a deterministic
 * AES-CTR stream for tests and benchmarks only.
 */
import { aesCtrKeystream, aesCbcMac } from "#aes";

export type Rng = (n: number) => Uint8Array;

/** The platform CSPRNG. */
export const secureRng: Rng = (n) => {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n: expected a non-negative integer, got ${n}`);
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) globalThis.crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  return out;
};

/**
 * A deterministic generator for tests: chunk j of 64 KiB is AES-128-CTR under
 * CBC-MAC_{key}(j), key = 16 bytes from `seed` (a string or bytes). Not for production secrets.
 * @example const rng = seededRng("test-1"); rng(16);
 */
export function seededRng(seed: string | Uint8Array): Rng {
  const raw = typeof seed === "string" ? new TextEncoder().encode(seed) : seed;
  const key = new Uint8Array(16);
  // fold arbitrary seed bytes into a 16-byte key with CBC-MAC under a fixed zero key (length-prefixed)
  const msg = new Uint8Array(16 + Math.ceil(raw.length / 16) * 16);
  new DataView(msg.buffer).setUint32(12, raw.length);
  msg.set(raw, 16);
  key.set(aesCbcMac(new Uint8Array(16), msg));
  const CHUNK = 65536;
  let buf: Uint8Array = new Uint8Array(0);
  let pos = 0;
  let chunk = 0;
  return (n) => {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n: expected a non-negative integer, got ${n}`);
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      if (pos === buf.length) {
        const block = new Uint8Array(16);
        new DataView(block.buffer).setUint32(12, chunk++);
        buf = aesCtrKeystream(aesCbcMac(key, block), CHUNK);
        pos = 0;
      }
      const take = Math.min(n - o, buf.length - pos);
      out.set(buf.subarray(pos, pos + take), o);
      o += take;
      pos += take;
    }
    return out;
  };
}
