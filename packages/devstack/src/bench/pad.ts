/**
 * `privface bench pad --live DIR --spoof DIR [--plot FILE] [--threshold T]`: the device's passive
 * presentation-attack detection (anti-spoofing net fused with the border cue, exactly as
 * `processFrame` computes the live score) on labelled live and spoof images.
 *
 * Every image (.jpg/.png, any depth below the folder) is one frame. A frame is accepted as live when
 * a face is found and its live score ≥ threshold (default `MODEL.livenessThreshold`).
 * - APCER: share of spoof frames accepted; BPCER: share of live frames refused. Frames without a face
 *   count as refused in both (an attack without a face gets nowhere; a live person without a face
 *   is refused), and their number is reported as `no_face`.
 * - EER: where APCER and BPCER cross, scanning every distinct score.
 * - Per attack type: the spoof folder's first-level sub-folders whose names are not all digits
 *   (e.g. spoof/print/, spoof/replay/) each get their own APCER; subject folders (0001/…) are not
 *   attack types.
 * The active step needs frame sequences of a person following prompts; these sets hold single frames,
 * so it is not part of this run (docs/face-model.md).
 */
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { MODEL } from "@privface/contracts";
import { createFaceEngine, type FaceEngine } from "@privface/device";
import { decodeImageFile } from "@privface/device/decode";

const IMAGE_RE = /\.(jpe?g|png)$/i;

/** Every image below `dir`, sorted. */
export function listImages(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RangeError(`bench pad: no such directory ${dir}`);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (IMAGE_RE.test(f)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** One frame's outcome: its live score (−1 when no face) and the two passive measures. */
export interface PadFrame {
  path: string;
  score: number;
  net?: number;
  border?: number;
  error?: string;
}

export interface PadRates {
  apcer: number;
  bpcer: number;
}

/** APCER / BPCER at `threshold` (accept ⇔ score ≥ threshold; no-face frames carry score −1). */
export function padRates(live: ArrayLike<number>, spoof: ArrayLike<number>, threshold: number): PadRates {
  if (live.length === 0 || spoof.length === 0) throw new RangeError("padRates: need at least one live and one spoof score");
  let a = 0;
  for (let i = 0; i < spoof.length; i++) if (spoof[i] >= threshold) a++;
  let b = 0;
  for (let i = 0; i < live.length; i++) if (!(live[i] >= threshold)) b++;
  return { apcer: a / spoof.length, bpcer: b / live.length };
}

/** Equal error rate: the mean of APCER and BPCER at the candidate threshold where they are closest. */
export function padEer(live: ArrayLike<number>, spoof: ArrayLike<number>): { eer: number; threshold: number } {
  const cands = [...new Set([...Array.from(live), ...Array.from(spoof)])].sort((x, y) => x - y);
  cands.push(Infinity);
  let best = { eer: 1, threshold: cands[0], gap: Infinity };
  for (const t of cands) {
    const r = padRates(live, spoof, t);
    const gap = Math.abs(r.apcer - r.bpcer);
    if (gap < best.gap) best = { eer: (r.apcer + r.bpcer) / 2, threshold: t, gap };
  }
  return { eer: best.eer, threshold: best.threshold };
}

/** DET curve of a PAD run (BPCER against APCER, log–log) as a small self-contained SVG. */
export function padDetSvg(live: ArrayLike<number>, spoof: ArrayLike<number>, threshold: number, title = "passive PAD"): string {
  const W = 480, H = 400, L = 60, B = 50, T = 20, R = 20;
  const lo = 1e-3;
  const lx = (v: number) => L + ((Math.log10(Math.max(v, lo)) + 3) / 3) * (W - L - R);
  const ly = (v: number) => H - B - ((Math.log10(Math.max(v, lo)) + 3) / 3) * (H - B - T);
  const cands = [...new Set([...Array.from(live), ...Array.from(spoof)])].sort((x, y) => x - y);
  const pts: string[] = [];
  for (const t of cands) {
    const r = padRates(live, spoof, t);
    pts.push(`${lx(r.apcer).toFixed(1)},${ly(r.bpcer).toFixed(1)}`);
  }
  const op = padRates(live, spoof, threshold);
  const grid: string[] = [];
  for (let e = -3; e <= 0; e++) {
    grid.push(`<line x1="${lx(10 ** e)}" y1="${T}" x2="${lx(10 ** e)}" y2="${H - B}" stroke="#ddd"/><text x="${lx(10 ** e)}" y="${H - B + 16}" font-size="11" text-anchor="middle">1e${e}</text>`);
    grid.push(`<line x1="${L}" y1="${ly(10 ** e)}" x2="${W - R}" y2="${ly(10 ** e)}" stroke="#ddd"/><text x="${L - 6}" y="${ly(10 ** e) + 4}" font-size="11" text-anchor="end">1e${e}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>${grid.join("")}
<polyline fill="none" stroke="#c00" stroke-width="2" points="${pts.join(" ")}"/>
<circle cx="${lx(op.apcer)}" cy="${ly(op.bpcer)}" r="4" fill="#06c"/>
<text x="${(W + L) / 2}" y="${H - 12}" font-size="12" text-anchor="middle">APCER (attacks accepted; 0 drawn at 1e-3)</text>
<text x="14" y="${(H - B + T) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${(H - B + T) / 2})">BPCER (live refused)</text>
<text x="${L + 8}" y="${T + 14}" font-size="11">DET, ${escapeXml(title)}; dot = threshold ${threshold}</text>
</svg>
`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c] as string);
}

/** Runs the passive stage on every image: every frame with a face gets its live score (from a LIVENESS_FAILED result too). */
export async function scorePadFrames(engine: FaceEngine, paths: string[], onProgress?: (done: number, total: number) => void): Promise<PadFrame[]> {
  const out: PadFrame[] = [];
  for (let i = 0; i < paths.length; i++) {
    const img = await decodeImageFile(paths[i]);
    const r = await engine.processFrame(img.data, img.width, img.height);
    if (r.ok || r.liveness !== undefined) out.push({ path: paths[i], score: r.liveness ?? -1, net: r.pad?.net, border: r.pad?.border });
    else out.push({ path: paths[i], score: -1, error: r.error });
    onProgress?.(i + 1, paths.length);
  }
  return out;
}

export interface PadBenchOptions {
  live: string;
  spoof: string;
  /** accept ⇔ score ≥ threshold (default MODEL.livenessThreshold) */
  threshold?: number;
  plotFile?: string;
  /** the net alone, without the border cue (for comparison) */
  netOnly?: boolean;
  engine?: FaceEngine;
  onProgress?: (done: number, total: number) => void;
}

/** The attack type of a spoof frame: its first-level folder below `spoofDir` unless that is a subject number. */
export function attackType(spoofDir: string, path: string): string | undefined {
  const parts = relative(spoofDir, path).split(sep);
  return parts.length > 1 && !/^\d+$/.test(parts[0]) ? parts[0] : undefined;
}

export async function runPadBench(o: PadBenchOptions): Promise<Record<string, unknown>> {
  const threshold = o.threshold ?? MODEL.livenessThreshold;
  if (typeof threshold !== "number" || !(threshold >= 0 && threshold <= 1)) throw new RangeError("bench pad: threshold must be in [0, 1]");
  const livePaths = listImages(o.live);
  const spoofPaths = listImages(o.spoof);
  if (livePaths.length === 0 || spoofPaths.length === 0) throw new RangeError("bench pad: need at least one live and one spoof image");
  // livenessThreshold 1: every frame stops right after the passive stage (score and evidence reported, no embedding computed)
  const engine = o.engine ?? (await createFaceEngine({ livenessThreshold: 1, multipleFaces: "largest", padCue: !o.netOnly }));
  const total = livePaths.length + spoofPaths.length;
  const live = await scorePadFrames(engine, livePaths, (d) => o.onProgress?.(d, total));
  const spoof = await scorePadFrames(engine, spoofPaths, (d) => o.onProgress?.(livePaths.length + d, total));
  if (!o.engine) await engine.release();
  const ls = live.map((f) => f.score);
  const ss = spoof.map((f) => f.score);
  const rates = padRates(ls, ss, threshold);
  const eer = padEer(ls, ss);
  if (o.plotFile) writeFileSync(o.plotFile, padDetSvg(ls, ss, threshold, o.netOnly ? "anti-spoofing net alone" : "net + border cue"));
  const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
  const byType: Record<string, { spoof: number; apcer: number }> = {};
  for (const f of spoof) {
    const t = attackType(o.spoof, f.path);
    if (t === undefined) continue;
    byType[t] ??= { spoof: 0, apcer: 0 };
    byType[t].spoof++;
    if (f.score >= threshold) byType[t].apcer++;
  }
  for (const v of Object.values(byType)) v.apcer = r6(v.apcer / v.spoof);
  return {
    suite: "pad",
    live: live.length,
    spoof: spoof.length,
    threshold,
    apcer: r6(rates.apcer),
    bpcer: r6(rates.bpcer),
    eer: r6(eer.eer),
    eer_threshold: r6(eer.threshold),
    no_face: live.filter((f) => f.score < 0).length + spoof.filter((f) => f.score < 0).length,
    ...(Object.keys(byType).length > 0 ? { by_attack: byType } : {}),
    cue: o.netOnly ? "net" : "net+border",
    model: engine.model.version,
  };
}
