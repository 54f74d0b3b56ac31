/**
 * Node-only helpers for the face benchmarks (`privface bench face`, `privface bench accuracy`):
 * list a dataset laid out as one folder per person, embed every image once with the device
 * pipeline (optionally cached on disk, keyed by model version and file size/mtime), and form the
 * exact int8 scores of all genuine and impostor pairs.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { quantise } from "@privface/mpc";
import { decodeImageFile } from "@privface/device/decode";
import { MODEL } from "@privface/contracts";
import { generateSealKeyPair, toBase64url } from "@privface/crypto";
import { accuracy, createFaceEngine, ratesAt, sealShares, type FaceEngine } from "@privface/device";

export interface DatasetImage {
  person: string;
  path: string;
}

const IMAGE_RE = /\.(jpe?g|png)$/i;

/** Images of a folder-per-person dataset, sorted by person then file name. */
export function listDataset(dir: string): DatasetImage[] {
  if (!existsSync(dir)) throw new RangeError(`dataset: no such directory ${dir}`);
  const out: DatasetImage[] = [];
  for (const person of readdirSync(dir).sort()) {
    const pdir = join(dir, person);
    if (!statSync(pdir).isDirectory()) continue;
    for (const f of readdirSync(pdir).sort()) if (IMAGE_RE.test(f)) out.push({ person, path: join(pdir, f) });
  }
  return out;
}

export interface EmbeddedImage extends DatasetImage {
  /** int8 template, or null when the pipeline gave no embedding */
  q: Int8Array | null;
  error?: string;
  liveness?: number;
  ms?: number;
}

/**
 * Embeds every image (liveness is recorded, not enforced, unless the engine enforces it).
 * `cacheFile`: JSON cache keyed by `cacheKey` + path + size + mtime.
 */
export async function embedDataset(
  engine: FaceEngine,
  images: DatasetImage[],
  opts: { cacheFile?: string; cacheKey?: string; onProgress?: (done: number, total: number) => void } = {},
): Promise<EmbeddedImage[]> {
  type Entry = { q: string | null; error?: string; liveness?: number };
  let cache: Record<string, Entry> = {};
  const key = opts.cacheKey ?? engine.model.version;
  if (opts.cacheFile && existsSync(opts.cacheFile)) {
    const c = JSON.parse(readFileSync(opts.cacheFile, "utf8"));
    if (c.key === key) cache = c.entries;
  }
  const out: EmbeddedImage[] = [];
  let dirty = 0;
  for (let i = 0; i < images.length; i++) {
    const im = images[i];
    const st = statSync(im.path);
    const ck = `${im.path}|${st.size}|${st.mtimeMs}`;
    const hit = cache[ck];
    if (hit) {
      out.push({ ...im, q: hit.q === null ? null : new Int8Array(Buffer.from(hit.q, "base64")), error: hit.error, liveness: hit.liveness });
    } else {
      const img = await decodeImageFile(im.path);
      const t0 = performance.now();
      const r = await engine.processFrame(img.data, img.width, img.height);
      const ms = performance.now() - t0;
      const q = r.ok ? quantise(r.embedding) : null;
      out.push({ ...im, q, error: r.ok ? undefined : r.error, liveness: r.liveness, ms });
      cache[ck] = { q: q === null ? null : Buffer.from(q.buffer, q.byteOffset, q.length).toString("base64"), error: r.ok ? undefined : r.error, liveness: r.liveness };
      dirty++;
      if (opts.cacheFile && dirty % 200 === 0) writeFileSync(opts.cacheFile, JSON.stringify({ key, entries: cache }));
    }
    opts.onProgress?.(i + 1, images.length);
  }
  if (opts.cacheFile && dirty > 0) writeFileSync(opts.cacheFile, JSON.stringify({ key, entries: cache }));
  return out;
}

/**
 * Exact int8 scores of all pairs of embedded images: genuine (same person) and impostor (different
 * people). Images without an embedding take part with score −∞ (they can never match): a genuine pair
 * with a missing side counts as a false reject, an impostor pair as a correct reject.
 */
export function allPairScores(items: EmbeddedImage[]): { genuine: Int32Array; impostor: Int32Array } {
  const n = items.length;
  let ng = 0;
  let ni = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) items[i].person === items[j].person ? ng++ : ni++;
  const genuine = new Int32Array(ng);
  const impostor = new Int32Array(ni);
  const MISSING = -(2 ** 30);
  const d = items.find((x) => x.q)?.q?.length ?? 0;
  // Widen to Int32 once for a faster inner loop.
  const vecs = items.map((x) => (x.q ? Int32Array.from(x.q) : null));
  let gi = 0;
  let ii = 0;
  for (let i = 0; i < n; i++) {
    const a = vecs[i];
    for (let j = i + 1; j < n; j++) {
      const b = vecs[j];
      let s = MISSING;
      if (a && b) {
        s = 0;
        for (let k = 0; k < d; k++) s += a[k] * b[k];
      }
      if (items[i].person === items[j].person) genuine[gi++] = s;
      else impostor[ii++] = s;
    }
  }
  return { genuine, impostor };
}

// ---- benchmark runners (used by `privface bench face` / `privface bench accuracy`) --------------

/** Default dataset folders, relative to the repository root's sibling `shared/` (dev machines, CI). */
export function defaultDataset(name: "dev" | "lfw-dev"): string | undefined {
  const candidates = [join(process.cwd(), "..", "shared", "data", "faces", name), join("/work", "shared", "data", "faces", name)];
  return candidates.find((c) => existsSync(c));
}

function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return NaN;
  const i = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[i];
}

export interface FaceBenchResult {
  suite: "face";
  images: number;
  ms_per_image_p50: number;
  ms_per_image_p99: number;
  ms_per_image_mean: number;
  no_embedding: number;
  model: string;
  dataset: string;
}

/**
 * Times the device pipeline per image (decoding excluded): detect + liveness + landmarks + embed
 * (with mirror) + quantise + share + seal both shares (INTL). Liveness is computed but not
 * enforced, so every image runs the whole pipeline. The first image is a warm-up and not counted.
 */
export async function runFaceBench(opts: { dataset?: string; limit?: number; engine?: FaceEngine } = {}): Promise<FaceBenchResult> {

  const dataset = opts.dataset ?? defaultDataset("dev");
  if (!dataset) throw new RangeError("bench face: no dataset given and ../shared/data/faces/dev not found; pass --dataset DIR");
  let images = listDataset(dataset);
  if (opts.limit !== undefined) images = images.slice(0, opts.limit);
  if (images.length === 0) throw new RangeError(`bench face: no images in ${dataset}`);
  const engine = opts.engine ?? (await createFaceEngine({ livenessThreshold: 0, multipleFaces: "largest" }));
  const p0 = await generateSealKeyPair("INTL");
  const p1 = await generateSealKeyPair("INTL");
  const parties = { P0: p0, P1: p1 };
  const times: number[] = [];
  let missing = 0;
  for (let i = -1; i < images.length; i++) {
    const img = await decodeImageFile(images[Math.max(0, i)].path);
    const t0 = performance.now();
    const r = await engine.processFrame(img.data, img.width, img.height);
    if (r.ok) {
      const ctx = { purpose: "verify", challenge: `bench-${i}`, templateId: "tpl-bench", modelVersion: engine.model.version };
      await sealShares(quantise(r.embedding), ctx, parties);
    }
    const ms = performance.now() - t0;
    if (i < 0) continue;
    if (!r.ok) missing++;
    times.push(ms);
  }
  if (!opts.engine) await engine.release();
  const s = [...times].sort((a, b) => a - b);
  const r1 = (x: number) => Math.round(x * 10) / 10;
  return {
    suite: "face",
    images: times.length,
    ms_per_image_p50: r1(percentile(s, 50)),
    ms_per_image_p99: r1(percentile(s, 99)),
    ms_per_image_mean: r1(s.reduce((a, b) => a + b, 0) / s.length),
    no_embedding: missing,
    model: engine.model.version,
    dataset,
  };
}

/** Parses an LFW pairs file ("name i j" genuine, "name1 i name2 j" impostor; header lines skipped). */
export function parseLfwPairs(text: string, dir: string): { a: string; b: string; genuine: boolean }[] {
  const file = (name: string, i: string) => join(dir, name, `${name}_${i.padStart(4, "0")}.jpg`);
  const out: { a: string; b: string; genuine: boolean }[] = [];
  for (const line of text.split(/\r?\n/)) {
    const f = line.trim().split(/\s+/);
    if (f.length === 3) out.push({ a: file(f[0], f[1]), b: file(f[0], f[2]), genuine: true });
    else if (f.length === 4) out.push({ a: file(f[0], f[1]), b: file(f[2], f[3]), genuine: false });
  }
  return out;
}

export interface AccuracyBenchOptions {
  dataset: string;
  /** LFW-format pairs file; without it all genuine and impostor pairs of the dataset are formed */
  pairsFile?: string;
  cacheFile?: string;
  /** operating threshold to report FAR/FRR at (default MODEL.threshold) */
  threshold?: number;
  /** liveness threshold whose false-reject rate on these real photos is reported (default 0.3) */
  livenessThreshold?: number;
  /** impostor pairs to run through the MPC protocol as well (default 10,000; 0 = no MPC check) */
  mpcImpostors?: number;
  /** DET curve (SVG) */
  plotFile?: string;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Embeds every image once (liveness computed, not enforced; the chosen face of multi-face photos is
 * used), decides every pair on exact int8 scores, reports EER / TAR at FAR / the operating point,
 * and — for all genuine pairs and a sample of impostor pairs — runs the two-party MPC verification
 * (`simulateVerify` of @privface/mpc) and checks it agrees with the plaintext decision.
 */
export async function runAccuracyBench(o: AccuracyBenchOptions): Promise<Record<string, unknown>> {
  const threshold = o.threshold ?? MODEL.threshold;
  const liveT = o.livenessThreshold ?? 0.3;
  let images = listDataset(o.dataset);
  let pairs: { a: number; b: number; genuine: boolean }[] | undefined;
  if (o.pairsFile) {
    const spec = parseLfwPairs(readFileSync(o.pairsFile, "utf8"), o.dataset);
    const needed = [...new Set(spec.flatMap((p) => [p.a, p.b]))].filter((p) => existsSync(p)).sort();
    images = needed.map((path) => ({ path, person: path.split(/[\\/]/).slice(-2)[0] }));
    const index = new Map(images.map((im, i) => [im.path, i]));
    pairs = spec.filter((p) => index.has(p.a) && index.has(p.b)).map((p) => ({ a: index.get(p.a)!, b: index.get(p.b)!, genuine: p.genuine }));
  }
  const engine = await createFaceEngine({ livenessThreshold: 0, multipleFaces: "largest" });
  const em = await embedDataset(engine, images, { cacheFile: o.cacheFile, cacheKey: `${engine.model.version}|largest|live0`, onProgress: o.onProgress });
  await engine.release();

  let genuine: Int32Array;
  let impostor: Int32Array;
  let pairIdx: { g: [number, number][]; i: [number, number][] };
  if (pairs) {
    const score = (a: number, b: number) => {
      const x = em[a].q;
      const y = em[b].q;
      if (!x || !y) return -(2 ** 30);
      let s = 0;
      for (let k = 0; k < x.length; k++) s += x[k] * y[k];
      return s;
    };
    const g = pairs.filter((p) => p.genuine);
    const im = pairs.filter((p) => !p.genuine);
    genuine = Int32Array.from(g, (p) => score(p.a, p.b));
    impostor = Int32Array.from(im, (p) => score(p.a, p.b));
    pairIdx = { g: g.map((p) => [p.a, p.b]), i: im.map((p) => [p.a, p.b]) };
  } else {
    ({ genuine, impostor } = allPairScores(em));
    pairIdx = { g: [], i: [] };
    for (let i = 0; i < em.length; i++) for (let j = i + 1; j < em.length; j++) (em[i].person === em[j].person ? pairIdx.g : pairIdx.i).push([i, j]);
  }
  const acc = accuracy(genuine, impostor);
  const at = ratesAt(genuine, impostor, threshold);

  // int8 figures of the honest templates
  let maxAbs = 0;
  let normLo = Infinity;
  let normHi = -Infinity;
  for (const x of em) {
    if (!x.q) continue;
    let n = 0;
    for (const v of x.q) {
      n += v * v;
      if (Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
    }
    normLo = Math.min(normLo, n);
    normHi = Math.max(normHi, n);
  }
  const withFace = em.filter((x) => x.q);
  const liveRejects = withFace.filter((x) => (x.liveness ?? 0) < liveT).length;

  const mpc = await mpcCheck(em, pairIdx, impostor, threshold, o.mpcImpostors ?? 10_000);
  if (o.plotFile) writeFileSync(o.plotFile, detSvg(genuine, impostor, threshold));
  const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
  return {
    suite: "accuracy",
    images: images.length,
    identities: new Set(images.map((x) => x.person)).size,
    no_face: em.filter((x) => !x.q).length,
    genuine: genuine.length,
    impostor: impostor.length,
    genuine_pairs: genuine.length,
    impostor_pairs: impostor.length,
    eer: r6(acc.eer),
    "tar_at_far_1e-2": r6(acc.tarAtFar["1e-2"]),
    "tar_at_far_1e-3": r6(acc.tarAtFar["1e-3"]),
    "tar_at_far_1e-4": r6(acc.tarAtFar["1e-4"]),
    "threshold_far_1e-3": acc.thresholdAtFar["1e-3"],
    "threshold_far_1e-4": acc.thresholdAtFar["1e-4"],
    threshold,
    far_at_threshold: r6(at.far),
    frr_at_threshold: r6(at.frr),
    int8_max_abs: maxAbs,
    int8_norm_min: normLo,
    int8_norm_max: normHi,
    liveness_threshold: liveT,
    liveness_frr: r6(withFace.length ? liveRejects / withFace.length : 0),
    mpc_checked: mpc.checked,
    mpc_agrees: mpc.agrees,
    model: MODEL.version,
  };
}

/**
 * Runs pairs through the MPC verification (all genuine pairs, the 500 highest-scoring impostor pairs
 * and a seeded random sample of the rest, `nImpostors` in all) and compares with the plaintext rule.
 */
async function mpcCheck(
  em: EmbeddedImage[],
  idx: { g: [number, number][]; i: [number, number][] },
  impostorScores: Int32Array,
  threshold: number,
  nImpostors: number,
): Promise<{ checked: number; agrees: boolean | null }> {
  if (nImpostors <= 0) return { checked: 0, agrees: null };
  const mpc = await import("@privface/mpc");
  const d = em.find((x) => x.q)?.q?.length;
  if (!d) return { checked: 0, agrees: null };
  const params = mpc.makeParams({ d, threshold });
  const rng = mpc.seededRng("privface/bench/accuracy");
  const seeds = { P0: rng(32), P1: rng(32) };
  const order = Array.from(impostorScores.keys()).sort((a, b) => impostorScores[b] - impostorScores[a]);
  const chosen = new Set(order.slice(0, Math.min(500, nImpostors)));
  while (chosen.size < Math.min(nImpostors, order.length)) chosen.add(Math.floor((rng(4).reduce((a, b) => a * 256 + b, 0) / 2 ** 32) * order.length));
  const jobs = [...idx.g, ...[...chosen].map((k) => idx.i[k])];
  let checked = 0;
  let agrees = true;
  for (const [a, b] of jobs) {
    const y = em[a].q;
    const x = em[b].q;
    if (!x || !y) continue;
    const ctx = { purpose: "verify", challenge: `bench-${checked}`, templateId: "tpl-bench", modelVersion: "bench" };
    const { seed0, share1 } = mpc.shareInput(x, ctx, rng);
    const probe = { P0: mpc.expandSeedShare(seed0, ctx, d), P1: share1 };
    const r = rng(4 * d);
    const tP0 = new Uint32Array(r.slice().buffer);
    const tP1 = new Uint32Array(d);
    for (let i = 0; i < d; i++) tP1[i] = (y[i] - tP0[i]) >>> 0;
    const out = mpc.simulateVerify({ params, seeds, rng, probe, template: { P0: tP0, P1: tP1 }, wire: false });
    const plain = mpc.verifyPlain(params, x, y);
    if (out.match !== plain.match || out.valid !== plain.valid) agrees = false;
    checked++;
  }
  return { checked, agrees };
}

/** A DET curve (FRR against FAR, log–log) as a small self-contained SVG. */
export function detSvg(genuine: Int32Array, impostor: Int32Array, threshold: number): string {
  const g = Int32Array.from(genuine).sort();
  const im = Int32Array.from(impostor).sort();
  const W = 480, H = 400, L = 60, B = 50, T = 20, R = 20;
  const lx = (v: number) => L + ((Math.log10(Math.max(v, 1e-6)) + 6) / 6) * (W - L - R);
  const ly = (v: number) => H - B - ((Math.log10(Math.max(v, 1e-4)) + 4) / 4) * (H - B - T);
  const pts: string[] = [];
  const lo = Math.min(g[0], im[0]);
  const hi = Math.max(g[g.length - 1], im[im.length - 1]);
  const count = (s: Int32Array, t: number) => {
    let a = 0, b = s.length;
    while (a < b) { const m = (a + b) >>> 1; if (s[m] < t) a = m + 1; else b = m; }
    return a; // number < t
  };
  for (let k = 0; k <= 400; k++) {
    const t = Math.round(lo + ((hi - lo) * k) / 400);
    const far = (im.length - count(im, t)) / im.length;
    const frr = count(g, t) / g.length;
    if (far > 0 && frr > 0) pts.push(`${lx(far).toFixed(1)},${ly(frr).toFixed(1)}`);
  }
  const opFar = (im.length - count(im, threshold)) / im.length;
  const opFrr = count(g, threshold) / g.length;
  const grid: string[] = [];
  for (let e = -6; e <= 0; e++) grid.push(`<line x1="${lx(10 ** e)}" y1="${T}" x2="${lx(10 ** e)}" y2="${H - B}" stroke="#ddd"/><text x="${lx(10 ** e)}" y="${H - B + 16}" font-size="11" text-anchor="middle">1e${e}</text>`);
  for (let e = -4; e <= 0; e++) grid.push(`<line x1="${L}" y1="${ly(10 ** e)}" x2="${W - R}" y2="${ly(10 ** e)}" stroke="#ddd"/><text x="${L - 6}" y="${ly(10 ** e) + 4}" font-size="11" text-anchor="end">1e${e}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>${grid.join("")}
<polyline fill="none" stroke="#c00" stroke-width="2" points="${pts.join(" ")}"/>
<circle cx="${lx(Math.max(opFar, 1e-6))}" cy="${ly(Math.max(opFrr, 1e-4))}" r="4" fill="#06c"/>
<text x="${(W + L) / 2}" y="${H - 12}" font-size="12" text-anchor="middle">false accept rate</text>
<text x="14" y="${(H - B + T) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${(H - B + T) / 2})">false reject rate</text>
<text x="${L + 8}" y="${T + 14}" font-size="11">DET, int8 scores; dot = threshold ${threshold}</text>
</svg>
`;
}
