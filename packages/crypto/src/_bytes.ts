/**
 * Byte helpers that run unchanged in Node and in the browser (no Buffer): base64url without
 * padding (strict decoder), UTF-8, hex, concatenation, constant-time-ish equality, zeroing.
 */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Encode bytes as base64url without padding (RFC 4648 §5). */
export function toBase64url(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("toBase64url: bytes must be a Uint8Array");
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
  }
  return out;
}

/**
 * Decode base64url without padding. Strict: refuses padding, '+', '/', whitespace, an impossible
 * length (len % 4 == 1) and non-zero trailing bits, so every byte string has exactly one encoding.
 */
export function fromBase64url(text: string): Uint8Array {
  if (typeof text !== "string") throw new TypeError("fromBase64url: text must be a string");
  if (text.length % 4 === 1) throw new RangeError(`fromBase64url: impossible length ${text.length}`);
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? DECODE[c] : -1;
    if (v < 0) throw new RangeError(`fromBase64url: invalid character at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) throw new RangeError("fromBase64url: non-canonical trailing bits");
  return out;
}

export function isBase64url(text: unknown): text is string {
  if (typeof text !== "string") return false;
  try {
    fromBase64url(text);
    return true;
  } catch {
    return false;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });
export const utf8 = (s: string): Uint8Array => enc.encode(s);
export const fromUtf8 = (b: Uint8Array): string => dec.decode(b);

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new RangeError("fromHex: hex must be an even-length hex string");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Equality whose running time depends only on the lengths (not on where the first difference is). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** Overwrite a secret buffer. JS cannot promise that no copy survives elsewhere (see SECURITY.md). */
export function zeroize(...bufs: (Uint8Array | undefined)[]): void {
  for (const b of bufs) b?.fill(0);
}
