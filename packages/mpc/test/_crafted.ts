/**
 * Crafted (malicious-device) vectors. Every generator yields an int8 vector (the only thing byte shares
 * can express) whose squared norm is outside [normLo, normHi] by construction — most of them with a
 * huge score against the honest vector `y` they are built from, i.e. they would match if the norm
 * check were missing. The caller asserts plaintext invalidity too.
 */
import { dotPlain, type Params, type Rng } from "../src/index.ts";
import { randInt, uniforms } from "./_helpers.ts";

export const CRAFTS = [
  "random bytes", "all 127", "all -128", "alternating ±127", "aligned max", "scaled up", "scaled down",
  "sign-bit flips (x + 128 mod 256)", "wrapped multiple (k·y mod 256)", "norm just above hi", "norm just below lo", "zero", "single spike",
] as const;
export type Craft = (typeof CRAFTS)[number];

const clamp = (v: number) => Math.max(-128, Math.min(127, Math.round(v)));
const wrap8 = (v: number) => (v << 24) >> 24;

export function craft(kind: Craft, y: Int8Array, params: Params, rng: Rng): Int8Array {
  const d = y.length;
  switch (kind) {
    case "random bytes": return new Int8Array(rng(d).buffer.slice(0));
    case "all 127": return new Int8Array(d).fill(127);
    case "all -128": return new Int8Array(d).fill(-128);
    case "alternating ±127": return Int8Array.from({ length: d }, (_, i) => (i % 2 ? 127 : -127));
    case "aligned max": return y.map((v) => (v >= 0 ? 127 : -128));
    case "scaled up": { const k = 1.13 + 6 * uniforms(rng, 1)[0]; return y.map((v) => clamp(k * v)); }
    case "scaled down": { const k = 0.87 * uniforms(rng, 1)[0]; return y.map((v) => clamp(k * v)); }
    case "sign-bit flips (x + 128 mod 256)": {
      const x = y.slice();
      for (let i = 0; i < d; i++) if (i % 4 === 0 || uniforms(rng, 1)[0] < 0.25) x[i] = wrap8(x[i] + 128);
      return x;
    }
    case "wrapped multiple (k·y mod 256)": {
      // k = 256·j + k' with 2 ≤ |k'| ≤ 126: the multiple of the byte modulus is invisible, k' scales
      const kk = (2 + randInt(rng, 125)) * (uniforms(rng, 1)[0] < 0.5 ? -1 : 1);
      const k = 256 * randInt(rng, 2 ** 16) + kk;
      return y.map((v) => wrap8(k * v));
    }
    case "norm just above hi": {
      const x = y.slice();
      while (dotPlain(x, x) <= params.normHi) { const i = randInt(rng, d); x[i] = x[i] >= 0 ? Math.min(127, x[i] + 1) : Math.max(-128, x[i] - 1); }
      return x;
    }
    case "norm just below lo": {
      const x = y.slice();
      while (dotPlain(x, x) >= params.normLo) { const i = randInt(rng, d); x[i] -= Math.sign(x[i]); }
      return x;
    }
    case "zero": return new Int8Array(d);
    case "single spike": { const x = new Int8Array(d); x[randInt(rng, d)] = uniforms(rng, 1)[0] < 0.5 ? 127 : -128; return x; }
  }
}
