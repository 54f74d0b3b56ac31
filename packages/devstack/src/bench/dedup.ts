/**
 * The `privface bench dedup` measurement (issue 15): a random gallery of N valid int8 templates with
 * planted duplicates, both parties and the helper in this one process (sequentially, one core), and
 * `queries` 1:N queries through @privface/mpc's dedup protocol (simulateDedup: the probe's enrolment
 * validation, then the query). Beside it, in the same run, a straightforward Float32Array cosine scan
 * of the same gallery (the plaintext figure); `exact` = every MPC match set equals the plaintext one.
 *
 * Gallery: 512 base vectors quantise(gaussian); template j is a base vector with its coordinates
 * rotated and signs flipped (both keep the squared norm, so every template is valid); after every
 * 1,000th template a noisy copy of it (one coordinate ±1, still valid) is planted too. Each probe
 * is a planted template with one coordinate moved by ±1, so it matches at least itself and its copy.
 * `boot_ms` is the time to build both parties' in-memory galleries and the helper's mask rows from
 * the parties' stored Z_2^32 shares (mask derivation, the δ opening, the rows), not the
 * generation of the synthetic templates.
 */
import { MODEL } from "@privface/contracts";
import {
  DEFAULT_SHARD_ROWS, jsRowStore, matvecJs, makeParams, newHelperGallery, newPartyGallery, normPlain, quantise, seededRng, shareInput, expandSeedShare,
  simulateDedup, simulateGalleryAdd, type DedupWorld, type Params, type RowStoreFactory,
} from "@privface/mpc";
import { wasmRowStore } from "@privface/scan";

export interface DedupBenchResult {
  suite: "dedup";
  n: number;
  dim: number;
  /** wall-clock ms per query once the probe is there, both parties (its validation, the query's rounds) */
  ms_per_query: number;
  /** process CPU ms per query for the same work */
  cpu_ms_per_query: number;
  /** the parties' offline work per query, before the probe exists (opening the material, `dedupPrepare`'s δ scan), both parties */
  prepare_ms_per_query: number;
  plaintext_ms_per_query: number;
  bytes_between_parties_per_query: number;
  helper_bytes_per_query: number;
  /** the helper's dealing per query (offline: its mask scan, streams, corrections) */
  helper_ms_per_query: number;
  party_bytes_per_template: number;
  boot_ms: number;
  /** every query: the MPC match set = the plaintext cosine scan's, and the "any match" bit = (that set is non-empty) */
  exact: boolean;
  queries: number;
  rounds: number;
  matches_per_query: number;
  kernel: "wasm" | "js";
  /** the scan alone on P0's online rows (N × d int32, best of 3): the chosen kernel and the plain-JS twin (`matvecJs`), GMAC/s */
  scan_gmac_s: number;
  scan_gmac_s_js: number;
}

export interface DedupBenchOptions {
  n: number;
  dim: number;
  queries?: number;
  kernel?: "wasm" | "js";
}

const CTX = { purpose: "dedup", challenge: "bench-dedup-challenge", templateId: "probe", modelVersion: "m1" };

export async function benchDedup(o: DedupBenchOptions): Promise<DedupBenchResult> {
  const { n, dim: d } = o;
  const queries = o.queries ?? 5;
  const kernel = o.kernel ?? "wasm";
  const make: RowStoreFactory = kernel === "wasm" ? await wasmRowStore() : jsRowStore;
  const params = makeParams({ d, threshold: MODEL.threshold });
  const rng = seededRng(`bench-dedup-${n}-${d}`);
  const seeds = { P0: rng(32), P1: rng(32) };
  const bases = baseVectors(params, rng);
  const shardRows = Math.min(DEFAULT_SHARD_ROWS, n);
  const w: DedupWorld = {
    params, seeds,
    galleries: { P0: newPartyGallery("P0", params, 1, make, shardRows), P1: newPartyGallery("P1", params, 1, make, shardRows) },
    helper: newHelperGallery(params, 1, make, shardRows),
  };
  const plain = new Float32Array(n * d);
  const planted: number[] = [];
  let bootMs = 0, next = 0;
  let batch: { P0: Uint32Array; P1: Uint32Array }[] = [];
  const flush = () => {
    const t = performance.now();
    simulateGalleryAdd(w, batch);
    bootMs += performance.now() - t;
    batch = [];
  };
  const add = (y: Int8Array) => {
    const j = next++;
    for (let k = 0; k < d; k++) plain[j * d + k] = y[k] / 256;
    // the parties' stored shares (as enrolment leaves them)
    const P0 = new Uint32Array(rng(4 * d).buffer), P1 = new Uint32Array(d);
    for (let k = 0; k < d; k++) P1[k] = y[k] - P0[k];
    batch.push({ P0, P1 });
    if (batch.length === 4096) flush();
  };
  const rnd = new Uint32Array(rng(4 * 3 * n).buffer);
  while (next < n) {
    const j = next;
    const y = variant(bases[rnd[3 * j] % bases.length], rnd[3 * j + 1] % d, rnd[3 * j + 2]);
    add(y);
    if (j % 1000 === 999 && next < n) {
      planted.push(j);
      add(nudge(params, y, rnd[3 * j + 1]));
    }
  }
  flush();
  const gallery = (j: number) => Int8Array.from(plain.subarray(j * d, (j + 1) * d), (v) => v * 256);
  let ms = 0, cpu = 0, prepMs = 0, plainMs = 0, dealMs = 0, bytes = 0, helperBytes = 0, rounds = 0, matches = 0;
  let exact = true;
  for (let q = -1; q < queries; q++) {
    // query −1 warms up (JIT, caches) and is not counted
    const target = planted.length ? planted[(q + planted.length) % planted.length] : (q + n) % n;
    const x = nudge(params, gallery(target), q + 7);
    const { seed0, share1: s1 } = shareInput(x, CTX, rng);
    const probe = { P0: expandSeedShare(seed0, CTX, d), P1: s1 };
    const run = simulateDedup(w, probe, { rng, cpuClock });
    const tp = performance.now();
    const ref = cosineScan(plain, n, d, x, params);
    const pMs = performance.now() - tp;
    if (run.matches.length !== ref.length || run.matches.some((j, i) => ref[i] !== j) || !run.matches.includes(target)) exact = false;
    if (run.duplicate !== (ref.length > 0 ? 1 : 0)) exact = false; // the "any match" bit the Party API's dedup route reveals
    if (q < 0) continue;
    plainMs += pMs;
    ms += run.ms.parties;
    cpu += run.cpuMs!.parties;
    prepMs += run.ms.prepare;
    dealMs += run.ms.deal;
    bytes = run.traffic.sent.P0 + run.traffic.sent.P1;
    helperBytes = run.helperBytes;
    rounds = run.traffic.rounds;
    matches += run.matches.length;
  }
  const scan = scanRates(w, n);
  return {
    suite: "dedup", n, dim: d,
    ms_per_query: round1(ms / queries), cpu_ms_per_query: round1(cpu / queries), prepare_ms_per_query: round1(prepMs / queries),
    plaintext_ms_per_query: round1(plainMs / queries),
    bytes_between_parties_per_query: bytes, helper_bytes_per_query: helperBytes, helper_ms_per_query: round1(dealMs / queries),
    party_bytes_per_template: 4 * (w.galleries.P0.online.width + w.galleries.P0.delta.width), boot_ms: Math.round(bootMs), exact, queries, rounds,
    matches_per_query: matches / queries, kernel, scan_gmac_s: scan.kernel, scan_gmac_s_js: scan.js,
  };
}

/** GMAC/s of one scan of P0's online rows with the gallery's kernel and with `matvecJs` on the same memory (best of 3). */
function scanRates(w: DedupWorld, n: number): { kernel: number; js: number } {
  const rows = w.galleries.P0.online, vec = new Int32Array(rows.width).fill(0x01010101), out = new Int32Array(n);
  const best = (f: () => void) => {
    let b = Infinity;
    for (let i = 0; i < 3; i++) { const t = performance.now(); f(); b = Math.min(b, performance.now() - t); }
    return (n * rows.width) / b / 1e6;
  };
  const kernel = best(() => rows.matvec(vec, n, out));
  const js = best(() => rows.shards.forEach((s, i) => matvecJs(s.matrix, s.width, vec, Math.min(s.capacity, n - i * rows.shardRows), out)));
  return { kernel: Math.round(kernel * 100) / 100, js: Math.round(js * 100) / 100 };
}

const cpuClock = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const round1 = (v: number) => Math.round(v * 10) / 10;

/** The plaintext reference: a Float32Array cosine scan (unit-scaled vectors y/256; exact for int8 inputs). */
function cosineScan(gallery: Float32Array, n: number, d: number, x: Int8Array, params: Params): number[] {
  const norm = normPlain(x);
  if (norm < params.normLo || norm > params.normHi) return [];
  const p = Float32Array.from(x, (v) => v / 256);
  const t = params.threshold / 65536;
  const out: number[] = [];
  for (let j = 0, o = 0; j < n; j++, o += d) {
    let s = 0;
    for (let k = 0; k < d; k++) s += gallery[o + k] * p[k];
    if (Math.fround(s) >= t) out.push(j);
  }
  return out;
}

function baseVectors(params: Params, rng: (n: number) => Uint8Array): Int8Array[] {
  const out: Int8Array[] = [];
  while (out.length < 512) {
    const u = new Uint32Array(rng(8 * params.d).buffer);
    const g = Array.from({ length: params.d }, (_, i) => Math.sqrt(-2 * Math.log((u[2 * i] + 1) / 2 ** 32)) * Math.cos((2 * Math.PI * u[2 * i + 1]) / 2 ** 32));
    const y = quantise(g);
    const s = normPlain(y);
    if (s >= params.normLo && s <= params.normHi) out.push(y);
  }
  return out;
}

/** A base vector rotated by `shift` with signs flipped by the bits of `signs` (cyclically): same norm. */
function variant(b: Int8Array, shift: number, signs: number): Int8Array {
  const d = b.length, y = new Int8Array(d);
  for (let k = 0; k < d; k++) {
    const v = b[(k + shift) % d];
    y[k] = (signs >>> (k & 31)) & 1 ? -v : v;
  }
  return y;
}

/** A copy with one coordinate moved by ±1 that stays valid (a near-duplicate). */
function nudge(params: Params, y: Int8Array, seed: number): Int8Array {
  const d = y.length;
  for (let t = 0; t < 4 * d; t++) {
    const k = (seed + t) % d, z = y.slice();
    z[k] += z[k] >= 0 ? -1 : 1;
    const s = normPlain(z);
    if (s >= params.normLo && s <= params.normHi) return z;
  }
  return y.slice();
}
