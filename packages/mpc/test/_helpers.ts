/** Shared test helpers: seeded vectors, sharing of probes/templates, one-call verify/enrol. */
import {
  expandSeedShare, quantise, seededRng, shareInput, simulateEnrol, simulateVerify,
  type Params, type Rng, type Seeds, type ShareContext,
} from "../src/index.ts";

/** A fixture threshold for the protocol tests (the deployed model's threshold lives in @privface/contracts). */
export const THRESHOLD = 27_200;

export const CTX: ShareContext = { purpose: "verify", challenge: "ch-test", templateId: "tpl-test", modelVersion: "m1" };

/** Uniform floats in [0, 1) from an Rng. */
export function uniforms(rng: Rng, n: number): Float64Array {
  const b = rng(4 * n);
  const u = new Uint32Array(b.buffer, b.byteOffset, n);
  return Float64Array.from(u, (v) => (v + 0.5) / 2 ** 32);
}

export function gaussians(rng: Rng, n: number): Float64Array {
  const u = uniforms(rng, 2 * n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u[2 * i])) * Math.cos(2 * Math.PI * u[2 * i + 1]);
  return out;
}

export function randInt(rng: Rng, k: number): number {
  return Math.floor(uniforms(rng, 1)[0] * k);
}

/** A valid-looking int8 template and a probe at "distance" sigma from it. */
export function pair(rng: Rng, d: number, sigma: number): { x: Int8Array; y: Int8Array } {
  const base = gaussians(rng, d);
  const noise = gaussians(rng, d);
  return { y: quantise(base), x: quantise(base.map((v, i) => v + sigma * noise[i])) };
}

/** Byte shares of an int8 vector the way a device makes them (P0's from the seed). */
export function shareProbe(x: Int8Array, rng: Rng, ctx: ShareContext = CTX): { P0: Uint8Array; P1: Uint8Array } {
  const { seed0, share1 } = shareInput(x, ctx, rng);
  return { P0: expandSeedShare(seed0, ctx, x.length), P1: share1 };
}

/** Z_2^32 shares of a template without running enrolment (same distribution as enrolment's output). */
export function shareTemplate(y: Int8Array, rng: Rng): { P0: Uint32Array; P1: Uint32Array } {
  const b = rng(4 * y.length);
  const P0 = new Uint32Array(b.slice().buffer);
  const P1 = new Uint32Array(y.length);
  for (let i = 0; i < y.length; i++) P1[i] = y[i] - P0[i];
  return { P0, P1 };
}

export function enrol(params: Params, y: Int8Array, seeds: Seeds, rng: Rng) {
  return simulateEnrol({ params, seeds, rng, share: shareProbe(y, rng) });
}

export function verify(params: Params, x: Int8Array, template: { P0: Uint32Array; P1: Uint32Array }, seeds: Seeds, rng: Rng, wire = true) {
  return simulateVerify({ params, seeds, rng, probe: shareProbe(x, rng), template, wire });
}

export function testSeeds(label: string): { rng: Rng; seeds: Seeds } {
  const rng = seededRng(label);
  return { rng, seeds: { P0: rng(32), P1: rng(32) } };
}

/** Upper critical value of χ²(df) at standard-normal quantile z (Wilson–Hilferty). */
export function chiCritical(df: number, z = 4.75): number {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/** χ² statistic of counts against the uniform distribution. */
export function chiUniform(counts: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i];
  const e = n / counts.length;
  let x = 0;
  for (let i = 0; i < counts.length; i++) x += (counts[i] - e) ** 2 / e;
  return x;
}

/** χ² homogeneity statistic of two count vectors over the same bins. */
export function chiTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    na += a[i];
    nb += b[i];
  }
  let x = 0;
  for (let i = 0; i < a.length; i++) {
    const t = a[i] + b[i];
    if (t === 0) continue;
    const ea = (t * na) / (na + nb), eb = (t * nb) / (na + nb);
    x += (a[i] - ea) ** 2 / ea + (b[i] - eb) ** 2 / eb;
  }
  return x;
}
