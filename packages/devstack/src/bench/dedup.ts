/**
 * The `privface bench dedup` measurement (issue 15): a random gallery of N valid int8 templates with
 * planted duplicates, and `queries` 1:N queries through @privface/mpc's dedup protocol (the probe's
 * enrolment validation, then the query and the "any" tree). `parties: "threads"` (the default) runs
 * P0 and P1 at the same time, each in its own worker thread (dedup-party.ts) with messages between
 * them over a MessagePort — each party's scans on its own core, as two processes would; the helper
 * deals in the main thread. `parties: "sequential"` runs both parties and the helper one after the
 * other in this thread (`simulateDedup`). Beside it, in the same run, a straightforward Float32Array
 * cosine scan of the same gallery (the plaintext figure); `exact` = every MPC match set equals the
 * plaintext one.
 *
 * Gallery: 512 base vectors quantise(gaussian); template j is a base vector with its coordinates
 * rotated and signs flipped (both keep the squared norm, so every template is valid); after every
 * 1,000th template a noisy copy of it (one coordinate ±1, still valid) is planted too. Each probe
 * is a planted template with one coordinate moved by ±1, so it matches at least itself and its copy.
 * `boot_ms` is the time to build both parties' in-memory galleries and the helper's mask rows from
 * the parties' stored Z_2^32 shares (mask derivation, the δ opening, the rows), not the
 * generation of the synthetic templates.
 */
import { MessageChannel, Worker } from "node:worker_threads";
import { MODEL, type PartyName } from "@privface/contracts";
import {
  DEFAULT_SHARD_ROWS, deal, dealDedup, dedupReveal, encodeBundle, encodeDedupBundle, jsRowStore, matvecJs, makeParams, newHelperGallery, newItemId, newPartyGallery, normPlain,
  paddedWidth, quantise, seededRng, shareInput, expandSeedShare, helperGalleryAdd, simulateDedup, simulateGalleryAdd, type DedupWorld, type Params, type RowStoreFactory,
  type Rng,
} from "@privface/mpc";
import { wasmRowStore } from "@privface/scan";
import type { PartyCommand, PartyReply, PartyThreadInit } from "./dedup-party.ts";

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
  /** threads: P0 and P1 at once, each in its own thread; sequential: one after the other in one thread */
  parties: "threads" | "sequential";
  /** the scan alone on P0's online rows (N × d int32, best of 3): the chosen kernel and the plain-JS twin (`matvecJs`), GMAC/s */
  scan_gmac_s: number;
  scan_gmac_s_js: number;
}

export interface DedupBenchOptions {
  n: number;
  dim: number;
  queries?: number;
  kernel?: "wasm" | "js";
  parties?: "threads" | "sequential";
}

/** One query's figures, whichever way the parties run. */
interface QueryRun {
  matches: number[];
  duplicate: 0 | 1;
  /** wall and process CPU ms of the parties' online work (validation, the query's rounds, the "any" tree) */
  ms: number;
  cpuMs: number;
  /** the parties' offline preparation, the helper's dealing (ms) */
  prepareMs: number;
  dealMs: number;
  bytes: number;
  helperBytes: number;
  rounds: number;
}

/** The two parties and the helper over one gallery. */
interface Engine {
  /** the parties' stored Z_2^32 shares of the next slots */
  add(batch: { P0: Uint32Array; P1: Uint32Array }[]): Promise<void>;
  query(probe: { P0: Uint8Array; P1: Uint8Array }): Promise<QueryRun>;
  /** kernel speed on P0's online rows (`rows` of them), GMAC/s: the kernel and `matvecJs` (best of 3) */
  scan(rows: number): Promise<{ kernel: number; js: number }>;
  close(): Promise<void>;
}

const CTX = { purpose: "dedup", challenge: "bench-dedup-challenge", templateId: "probe", modelVersion: "m1" };

export async function benchDedup(o: DedupBenchOptions): Promise<DedupBenchResult> {
  const { n, dim: d } = o;
  const queries = o.queries ?? 5;
  const kernel = o.kernel ?? "wasm";
  const parties = o.parties ?? "threads";
  const params = makeParams({ d, threshold: MODEL.threshold });
  const rng = seededRng(`bench-dedup-${n}-${d}`);
  const seeds = { P0: rng(32), P1: rng(32) };
  const bases = baseVectors(params, rng);
  const shardRows = Math.min(DEFAULT_SHARD_ROWS, n);
  const make: RowStoreFactory = kernel === "wasm" ? await wasmRowStore() : jsRowStore;
  const engine = parties === "threads" ? await threadEngine(params, seeds, kernel, make, shardRows, rng) : sequentialEngine(params, seeds, make, shardRows, rng);
  const plain = new Float32Array(n * d);
  const planted: number[] = [];
  let bootMs = 0, next = 0;
  let batch: { P0: Uint32Array; P1: Uint32Array }[] = [];
  const flush = async () => {
    const t = performance.now();
    await engine.add(batch);
    bootMs += performance.now() - t;
    batch = [];
  };
  const add = async (y: Int8Array) => {
    const j = next++;
    for (let k = 0; k < d; k++) plain[j * d + k] = y[k] / 256;
    // the parties' stored shares (as enrolment leaves them)
    const P0 = new Uint32Array(rng(4 * d).buffer), P1 = new Uint32Array(d);
    for (let k = 0; k < d; k++) P1[k] = y[k] - P0[k];
    batch.push({ P0, P1 });
    if (batch.length === 4096) await flush();
  };
  const rnd = new Uint32Array(rng(4 * 3 * n).buffer);
  while (next < n) {
    const j = next;
    const y = variant(bases[rnd[3 * j] % bases.length], rnd[3 * j + 1] % d, rnd[3 * j + 2]);
    await add(y);
    if (j % 1000 === 999 && next < n) {
      planted.push(j);
      await add(nudge(params, y, rnd[3 * j + 1]));
    }
  }
  await flush();
  const gallery = (j: number) => Int8Array.from(plain.subarray(j * d, (j + 1) * d), (v) => v * 256);
  let ms = 0, cpu = 0, prepMs = 0, plainMs = 0, dealMs = 0, bytes = 0, helperBytes = 0, rounds = 0, matches = 0;
  let exact = true;
  try {
    for (let q = -1; q < queries; q++) {
      // query −1 warms up (JIT, caches) and is not counted
      const target = planted.length ? planted[(q + planted.length) % planted.length] : (q + n) % n;
      const x = nudge(params, gallery(target), q + 7);
      const { seed0, share1: s1 } = shareInput(x, CTX, rng);
      const run = await engine.query({ P0: expandSeedShare(seed0, CTX, d), P1: s1 });
      const tp = performance.now();
      const ref = cosineScan(plain, n, d, x, params);
      const pMs = performance.now() - tp;
      if (run.matches.length !== ref.length || run.matches.some((j, i) => ref[i] !== j) || !run.matches.includes(target)) exact = false;
      if (run.duplicate !== (ref.length > 0 ? 1 : 0)) exact = false; // the "any match" bit the Party API's dedup route reveals
      if (q < 0) continue;
      plainMs += pMs;
      ms += run.ms;
      cpu += run.cpuMs;
      prepMs += run.prepareMs;
      dealMs += run.dealMs;
      bytes = run.bytes;
      helperBytes = run.helperBytes;
      rounds = run.rounds;
      matches += run.matches.length;
    }
    const scan = await engine.scan(n);
    return {
      suite: "dedup", n, dim: d,
      ms_per_query: round1(ms / queries), cpu_ms_per_query: round1(cpu / queries), prepare_ms_per_query: round1(prepMs / queries),
      plaintext_ms_per_query: round1(plainMs / queries),
      bytes_between_parties_per_query: bytes, helper_bytes_per_query: helperBytes, helper_ms_per_query: round1(dealMs / queries),
      party_bytes_per_template: 4 * 2 * paddedWidth(d), boot_ms: Math.round(bootMs), exact, queries, rounds,
      matches_per_query: matches / queries, kernel, parties, scan_gmac_s: scan.kernel, scan_gmac_s_js: scan.js,
    };
  } finally {
    await engine.close();
  }
}

/** Both parties and the helper in this thread, one after the other (`simulateDedup`). */
function sequentialEngine(params: Params, seeds: { P0: Uint8Array; P1: Uint8Array }, make: RowStoreFactory, shardRows: number, rng: Rng): Engine {
  const w: DedupWorld = {
    params, seeds,
    galleries: { P0: newPartyGallery("P0", params, 1, make, shardRows), P1: newPartyGallery("P1", params, 1, make, shardRows) },
    helper: newHelperGallery(params, 1, make, shardRows),
  };
  return {
    async add(batch) {
      simulateGalleryAdd(w, batch);
    },
    async query(probe) {
      const run = simulateDedup(w, probe, { rng, cpuClock });
      return {
        matches: run.matches, duplicate: run.duplicate, ms: run.ms.parties, cpuMs: run.cpuMs!.parties, prepareMs: run.ms.prepare, dealMs: run.ms.deal,
        bytes: run.traffic.sent.P0 + run.traffic.sent.P1, helperBytes: run.helperBytes, rounds: run.traffic.rounds,
      };
    },
    async scan(rows) {
      return scanRates(w, rows);
    },
    async close() {},
  };
}

/**
 * P0 and P1 each in a worker thread (dedup-party.ts), talking over a MessagePort; the helper here.
 * `ms` is the wall time from handing both parties the probe to both answers; `cpuMs` the process's
 * CPU over the same time (both threads).
 */
async function threadEngine(params: Params, seeds: { P0: Uint8Array; P1: Uint8Array }, kernel: "wasm" | "js", make: RowStoreFactory, shardRows: number, rng: Rng): Promise<Engine> {
  const epoch = 1, d = params.d;
  const helper = newHelperGallery(params, epoch, make, shardRows);
  const { port1, port2 } = new MessageChannel();
  const ports = { P0: port1, P1: port2 };
  const threads = {} as Record<PartyName, Worker>;
  const pending = {} as Record<PartyName, ((r: PartyReply) => void)[]>;
  for (const role of ["P0", "P1"] as const) {
    const init: PartyThreadInit = { role, params, seed: seeds[role], epoch, kernel, shardRows, port: ports[role] };
    const t = new Worker(new URL("./dedup-party.mjs", import.meta.url), { workerData: init, transferList: [ports[role]] });
    pending[role] = [];
    t.on("message", (r: PartyReply) => pending[role].shift()?.(r));
    t.on("error", (e) => pending[role].splice(0).forEach((f) => f({ op: "error", message: `${role} thread: ${e.message}` })));
    threads[role] = t;
  }
  const ask = (role: PartyName, c: PartyCommand, transfer: ArrayBuffer[] = []): Promise<PartyReply> =>
    new Promise((res, rej) => {
      pending[role].push((r) => (r.op === "error" ? rej(new Error(r.message)) : res(r)));
      threads[role].postMessage(c, transfer);
    });
  const both = <T extends PartyReply>(c: (role: PartyName) => [PartyCommand, ArrayBuffer[]?]) =>
    Promise.all([ask("P0", ...c("P0")), ask("P1", ...c("P1"))]) as Promise<[T, T]>;
  let count = 0;
  return {
    async add(batch) {
      if (batch.length === 0) return;
      const first = count;
      const flat = (role: PartyName) => {
        const out = new Uint32Array(batch.length * d);
        batch.forEach((t, j) => out.set(t[role], j * d));
        return out;
      };
      const shares = { P0: flat("P0"), P1: flat("P1") };
      const added = both((role) => [{ op: "add", first, shares: shares[role] }, [shares[role].buffer as ArrayBuffer]]);
      helperGalleryAdd(helper, seeds, first, batch.length);
      await added;
      count += batch.length;
    },
    async query(probe) {
      const t0 = performance.now();
      const dealt = dealDedup(helper, seeds, newItemId(rng), rng);
      const enrol = deal(params, newItemId(rng), seeds, { rng, kind: "enrol" });
      const bytes = { dedup: { P0: encodeDedupBundle(dealt.P0), P1: encodeDedupBundle(dealt.P1) }, enrol: { P0: encodeBundle(enrol.P0), P1: encodeBundle(enrol.P1) } };
      const t1 = performance.now();
      const session = `bench-${newItemId(rng)}`;
      const prep = await both<Extract<PartyReply, { op: "prepared" }>>((role) => [{ op: "prepare", session, dedup: bytes.dedup[role], enrol: bytes.enrol[role], probe: probe[role] }]);
      const c0 = cpuClock(), t2 = performance.now();
      const [r0, r1] = await both<Extract<PartyReply, { op: "done" }>>(() => [{ op: "go" }]);
      const t3 = performance.now(), c1 = cpuClock();
      if (r0.rounds !== r1.rounds) throw new Error("bench dedup: the parties disagree on the number of rounds");
      return {
        matches: dedupReveal(r0.match, r1.match, count), duplicate: (r0.duplicate ^ r1.duplicate) as 0 | 1,
        ms: t3 - t2, cpuMs: c1 - c0, prepareMs: prep[0].ms + prep[1].ms, dealMs: t1 - t0,
        bytes: r0.sent + r1.sent, helperBytes: bytes.enrol.P0.length + bytes.enrol.P1.length + 4 * (dealt.P1.corrections?.length ?? 0), rounds: r0.rounds,
      };
    },
    async scan(rows) {
      const r = (await ask("P0", { op: "scan", rows })) as Extract<PartyReply, { op: "scanned" }>;
      return { kernel: r.kernel, js: r.js };
    },
    async close() {
      await Promise.all(Object.values(threads).map((t) => t.terminate()));
    },
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
