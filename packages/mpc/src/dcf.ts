/**
 * Distributed comparison function (DCF) with XOR-shared outputs: keys k0, k1 for f_α(x) = [x < α]
 * (strict, unsigned, x, α ∈ [0, 2^n)) such that Eval(0, k0, x) ⊕ Eval(1, k1, x) = [x < α].
 *
 * Construction: the tree DCF of Boyle, Chandran, Gilboa, Gupta, Ishai, Kohli, Orlandi, "Function Secret
 * Sharing for Mixed-Mode and Fixed-Point Secure Computation" (Eurocrypt 2021), Fig. 1 (Gen^<, Eval^<),
 * specialised to the output group Z_2 (all signs vanish, "+" is XOR), built on the DPF tree of
 * Boyle–Gilboa–Ishai (CCS 2016, Fig. 4) with early termination: the top ν = n − 7 bits walk the tree and
 * the last 7 bits index a 128-bit leaf block, so one key has ν correction levels plus one leaf word.
 *
 * Tree PRG (Matyas–Meyer–Oseas with one fixed public AES key, prg.ts): seeds are 128-bit with the two
 * low bits of byte 0 cleared; G_j(s) = AES_k(s | j) ⊕ (s | j) for j = 0 (left child), 1 (right child),
 * 2 (leaf conversion). A child block yields t = bit 0, v = bit 1 and seed = block with both bits cleared.
 *
 * Key = (party root seed, correction words). Root seeds come from each party's seed stream (they never
 * travel); both parties' keys share the correction words CW_i = (sCW, vCW, tCW_L, tCW_R), i < ν, and the
 * leaf word, which the helper sends to both. `dcfGen` = Gen^<, `dcfEval` = Eval^<, batched over keys
 * (one AES call per tree level for all keys). Plaintext twin: `lessThanPlain`.
 * Little-endian platforms only (seeds are handled as 4 × u32).
 */
import { dcfCipher } from "./prg.ts";

export const DCF_LEAF_BITS = 7;
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error("@privface/mpc: big-endian platforms are not supported");

export interface DcfCw {
  /** domain bits */
  readonly n: number;
  /** ν seed corrections, 4 words each */
  readonly scw: Uint32Array;
  /** ν bytes: bit0 = vCW, bit1 = tCW_L, bit2 = tCW_R */
  readonly bits: Uint8Array;
  /** 128-bit leaf correction */
  readonly leaf: Uint32Array;
}

export function dcfLevels(n: number): number {
  if (!Number.isInteger(n) || n < DCF_LEAF_BITS + 1 || n > 31) throw new RangeError(`n: expected an integer in [8, 31], got ${n}`);
  return n - DCF_LEAF_BITS;
}

/** Bytes of one key's correction words on the wire: 16ν + ⌈3ν/8⌉ + 16. */
export function dcfCwBytes(n: number): number {
  const nu = dcfLevels(n);
  return 16 * nu + Math.ceil((3 * nu) / 8) + 16;
}

/** Plaintext twin: [x < α] (strict, unsigned). */
export function lessThanPlain(x: number, alpha: number): 0 | 1 {
  return x < alpha ? 1 : 0;
}

function checkPoint(name: string, x: number, n: number): void {
  if (!Number.isInteger(x) || x < 0 || x >= 2 ** n) throw new RangeError(`${name}: expected an integer in [0, 2^${n}), got ${x}`);
}

/**
 * Gen^<: correction words for K keys with thresholds `alphas`, root seeds `roots0`, `roots1`
 * (16·K bytes each, P0's and P1's; low two bits are cleared here).
 */
export function dcfGen(n: number, alphas: readonly number[], roots0: Uint8Array, roots1: Uint8Array): DcfCw[] {
  const nu = dcfLevels(n);
  const K = alphas.length;
  if (roots0.length !== 16 * K || roots1.length !== 16 * K) throw new RangeError(`roots: expected ${16 * K} bytes each`);
  alphas.forEach((a, k) => checkPoint(`alphas[${k}]`, a, n));
  const aes = dcfCipher();
  // state: s0, s1 as words; t0, t1, Va per key
  const s = new Uint32Array(8 * K); // key k: s0 at 8k, s1 at 8k+4
  const r0 = new Uint32Array(roots0.slice().buffer);
  const r1 = new Uint32Array(roots1.slice().buffer);
  for (let k = 0; k < K; k++) {
    for (let w = 0; w < 4; w++) {
      s[8 * k + w] = r0[4 * k + w];
      s[8 * k + 4 + w] = r1[4 * k + w];
    }
    s[8 * k] &= ~3;
    s[8 * k + 4] &= ~3;
  }
  const t = new Uint8Array(2 * K);
  for (let k = 0; k < K; k++) t[2 * k + 1] = 1;
  const va = new Uint8Array(K);
  const out: DcfCw[] = alphas.map(() => ({ n, scw: new Uint32Array(4 * nu), bits: new Uint8Array(nu), leaf: new Uint32Array(4) }));
  const inBytes = new Uint8Array(64 * K);
  const inW = new Uint32Array(inBytes.buffer);
  const outBytes = new Uint8Array(64 * K);
  const o = new Uint32Array(outBytes.buffer);
  for (let i = 0; i < nu; i++) {
    // blocks per key: [s0|0, s0|1, s1|0, s1|1]
    for (let k = 0; k < K; k++) {
      for (let p = 0; p < 2; p++) {
        for (let j = 0; j < 2; j++) {
          const b = 16 * k + 8 * p + 4 * j;
          for (let w = 0; w < 4; w++) inW[b + w] = s[8 * k + 4 * p + w];
          inW[b] |= j;
        }
      }
    }
    outBytes.set(aes.encryptBlocks(inBytes));
    for (let w = 0; w < 16 * K; w++) o[w] ^= inW[w];
    for (let k = 0; k < K; k++) {
      const a = (alphas[k] >>> (n - 1 - i)) & 1;
      const b = 16 * k;
      const L0 = b, R0 = b + 4, L1 = b + 8, R1 = b + 12;
      const keep0 = a ? R0 : L0, keep1 = a ? R1 : L1, lose0 = a ? L0 : R0, lose1 = a ? L1 : R1;
      const cw = out[k];
      for (let w = 0; w < 4; w++) cw.scw[4 * i + w] = (o[lose0 + w] ^ o[lose1 + w]) & (w === 0 ? ~3 : -1);
      // child control bits: t = bit 0, v = bit 1 of the child's first word
      const vcw = ((o[lose0] ^ o[lose1]) >>> 1 & 1) ^ va[k] ^ a;
      va[k] ^= ((o[keep0] ^ o[keep1]) >>> 1 & 1) ^ vcw;
      const tcwL = ((o[L0] ^ o[L1]) & 1) ^ a ^ 1;
      const tcwR = ((o[R0] ^ o[R1]) & 1) ^ a;
      cw.bits[i] = vcw | (tcwL << 1) | (tcwR << 2);
      const tcwKeep = a ? tcwR : tcwL;
      for (let p = 0; p < 2; p++) {
        const keep = p === 0 ? keep0 : keep1;
        const tp = t[2 * k + p];
        for (let w = 0; w < 4; w++) s[8 * k + 4 * p + w] = (o[keep + w] & (w === 0 ? ~3 : -1)) ^ (tp ? cw.scw[4 * i + w] : 0);
        t[2 * k + p] = (o[keep] & 1) ^ (tp & tcwKeep);
      }
    }
  }
  // leaf: conv(s0) ⊕ conv(s1) ⊕ L ⊕ Va·1^128, L bit j = [j < α mod 128]
  const leafIn = new Uint8Array(32 * K);
  const leafInW = new Uint32Array(leafIn.buffer);
  for (let k = 0; k < K; k++) {
    for (let p = 0; p < 2; p++) {
      for (let w = 0; w < 4; w++) leafInW[8 * k + 4 * p + w] = s[8 * k + 4 * p + w];
      leafInW[8 * k + 4 * p] |= 2;
    }
  }
  const leafOut = new Uint32Array(aes.encryptBlocks(leafIn).slice().buffer);
  for (let k = 0; k < K; k++) {
    const lo = alphas[k] & 127;
    for (let w = 0; w < 4; w++) {
      // bits [32w, 32w+32) of L: set for j < lo
      const from = 32 * w;
      const cnt = Math.max(0, Math.min(32, lo - from));
      const Lw = cnt === 32 ? 0xffffffff : (1 << cnt) - 1;
      const c0 = leafOut[8 * k + w] ^ leafInW[8 * k + w];
      const c1 = leafOut[8 * k + 4 + w] ^ leafInW[8 * k + 4 + w];
      out[k].leaf[w] = (c0 ^ c1 ^ Lw ^ (va[k] ? 0xffffffff : 0)) >>> 0;
    }
  }
  return out;
}

/**
 * Eval^<: party `party`'s output bits for evaluations (key k = keyIndex[e], point xs[e]).
 * `roots` holds the party's K root seeds (16·K bytes). One AES call per tree level for all evaluations.
 */
export function dcfEval(party: 0 | 1, roots: Uint8Array, cws: readonly DcfCw[], keyIndex: readonly number[], xs: readonly number[]): Uint8Array {
  const E = xs.length;
  if (keyIndex.length !== E) throw new RangeError(`keyIndex: expected ${E} entries, got ${keyIndex.length}`);
  if (roots.length !== 16 * cws.length) throw new RangeError(`roots: expected ${16 * cws.length} bytes, got ${roots.length}`);
  if (E === 0) return new Uint8Array(0);
  const n = cws[0].n;
  const nu = dcfLevels(n);
  for (const cw of cws) if (cw.n !== n) throw new RangeError("cws: keys of different domains");
  xs.forEach((x, e) => checkPoint(`xs[${e}]`, x, n));
  const aes = dcfCipher();
  const rw = new Uint32Array(roots.slice().buffer);
  const inBytes = new Uint8Array(16 * E);
  const s = new Uint32Array(inBytes.buffer);
  const t = new Uint8Array(E);
  const V = new Uint8Array(E);
  for (let e = 0; e < E; e++) {
    const k = keyIndex[e];
    for (let w = 0; w < 4; w++) s[4 * e + w] = rw[4 * k + w];
    s[4 * e] &= ~3;
    t[e] = party;
  }
  const outBytes = new Uint8Array(16 * E);
  const o = new Uint32Array(outBytes.buffer);
  for (let i = 0; i < nu; i++) {
    const shift = n - 1 - i;
    for (let e = 0; e < E; e++) s[4 * e] |= (xs[e] >>> shift) & 1;
    outBytes.set(aes.encryptBlocks(inBytes));
    for (let e = 0; e < E; e++) {
      const xi = (xs[e] >>> shift) & 1;
      const b = 4 * e;
      o[b] ^= s[b];
      o[b + 1] ^= s[b + 1];
      o[b + 2] ^= s[b + 2];
      o[b + 3] ^= s[b + 3];
      let tc = o[b] & 1;
      V[e] ^= (o[b] >>> 1) & 1;
      let w0 = o[b] & ~3, w1 = o[b + 1], w2 = o[b + 2], w3 = o[b + 3];
      if (t[e]) {
        const cw = cws[keyIndex[e]];
        const bits = cw.bits[i];
        const c = 4 * i;
        w0 ^= cw.scw[c];
        w1 ^= cw.scw[c + 1];
        w2 ^= cw.scw[c + 2];
        w3 ^= cw.scw[c + 3];
        tc ^= xi ? (bits >>> 2) & 1 : (bits >>> 1) & 1;
        V[e] ^= bits & 1;
      }
      s[b] = w0;
      s[b + 1] = w1;
      s[b + 2] = w2;
      s[b + 3] = w3;
      t[e] = tc;
    }
  }
  for (let e = 0; e < E; e++) s[4 * e] |= 2;
  outBytes.set(aes.encryptBlocks(inBytes));
  const res = new Uint8Array(E);
  for (let e = 0; e < E; e++) {
    const lo = xs[e] & 127;
    const w = lo >>> 5;
    let word = o[4 * e + w] ^ s[4 * e + w];
    if (t[e]) word ^= cws[keyIndex[e]].leaf[w];
    res[e] = ((word >>> (lo & 31)) & 1) ^ V[e];
  }
  return res;
}

/** Wire form of one key's correction words (dcfCwBytes(n) bytes). */
export function encodeDcfCw(cw: DcfCw, out: Uint8Array, offset: number): number {
  const nu = dcfLevels(cw.n);
  out.set(new Uint8Array(cw.scw.buffer, cw.scw.byteOffset, 16 * nu), offset);
  let o = offset + 16 * nu;
  const packed = new Uint8Array(Math.ceil((3 * nu) / 8));
  for (let i = 0; i < nu; i++) for (let j = 0; j < 3; j++) if ((cw.bits[i] >>> j) & 1) packed[(3 * i + j) >>> 3] |= 1 << ((3 * i + j) & 7);
  out.set(packed, o);
  o += packed.length;
  out.set(new Uint8Array(cw.leaf.buffer, cw.leaf.byteOffset, 16), o);
  return o + 16;
}

export function decodeDcfCw(n: number, src: Uint8Array, offset: number): DcfCw {
  const nu = dcfLevels(n);
  // views into `src` when aligned (bundle encodings keep the words 4-byte aligned), else copies
  const words = (from: number, count: number) =>
    (src.byteOffset + from) % 4 === 0 ? new Uint32Array(src.buffer, src.byteOffset + from, count) : new Uint32Array(src.slice(from, from + 4 * count).buffer);
  const scw = words(offset, 4 * nu);
  let o = offset + 16 * nu;
  const plen = Math.ceil((3 * nu) / 8);
  const bits = new Uint8Array(nu);
  for (let i = 0; i < nu; i++) for (let j = 0; j < 3; j++) bits[i] |= ((src[o + ((3 * i + j) >>> 3)] >>> ((3 * i + j) & 7)) & 1) << j;
  o += plen;
  const leaf = words(o, 4);
  return { n, scw, bits, leaf };
}
