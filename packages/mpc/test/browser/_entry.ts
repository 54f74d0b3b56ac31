/** Runs in Node and (bundled by esbuild) in Chromium; the two results must be identical. */
import {
  aesBackend, deal, dedupPlain, encodeBundle, expandSeedShare, jsRowStore, makeParams, newHelperGallery, newItemId, newPartyGallery, quantise,
  seededRng, shareInput, simulateDedup, simulateEnrol, simulateGalleryAdd, simulateVerify, verifyPlain,
} from "../../src/index.ts";
import { expand } from "../../src/prg.ts";
import { THRESHOLD } from "../_helpers.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function run(): Record<string, unknown> {
  const rng = seededRng("browser-vs-node");
  const seeds = { P0: rng(32), P1: rng(32) };
  const d = 128;
  const params = makeParams({ threshold: THRESHOLD, d });
  const ctx = { purpose: "verify", challenge: "ch", templateId: "t", modelVersion: "m" };
  const g = rng(8 * d);
  const base = Array.from({ length: d }, (_, i) => (g[i] - 127.5) / 128);
  const y = quantise(base);
  const x = quantise(base.map((v, i) => v + (g[d + i] - 127.5) / 256));
  const ys = shareInput(y, ctx, rng);
  const e = simulateEnrol({ params, seeds, rng, share: { P0: expandSeedShare(ys.seed0, ctx, d), P1: ys.share1 }, session: "enrol-1" });
  const results = [];
  for (const [i, probe] of [x, quantise(base.map((v, k) => (k % 2 ? v : -v))), new Int8Array(d).fill(127)].entries()) {
    const xs = shareInput(probe, ctx, rng);
    const bundles = deal(params, newItemId(rng), seeds, { rng });
    const bundleP1 = hex(encodeBundle(bundles.P1)); // before the run: opening takes ownership and wipes after use
    const r = simulateVerify({ params, seeds, bundles, probe: { P0: expandSeedShare(xs.seed0, ctx, d), P1: xs.share1 }, template: { P0: e.P0.templateShare, P1: e.P1.templateShare }, session: `verify-${i}` });
    const p = verifyPlain(params, probe, y);
    results.push({ P0: r.P0, P1: r.P1, valid: r.valid, match: r.match, plain: [p.valid, p.match], sent: r.traffic.sent, bundleP1: bundleP1.slice(0, 128) + bundleP1.slice(-128) });
  }
  // 1:N deduplication: the enrolled template and 20 others in a gallery, the genuine probe against it
  const w = {
    params, seeds,
    galleries: { P0: newPartyGallery("P0", params, 1, jsRowStore, 8), P1: newPartyGallery("P1", params, 1, jsRowStore, 8) },
    helper: newHelperGallery(params, 1, jsRowStore, 8),
  };
  const gallery = [y, ...Array.from({ length: 20 }, (_, j) => quantise(base.map((v, k) => (k % (j + 2) ? v : -v))))];
  simulateGalleryAdd(w, gallery.map((t, j) => (j === 0 ? { P0: e.P0.templateShare, P1: e.P1.templateShare } : share32(t, rng(4 * d)))));
  const xs = shareInput(x, ctx, rng);
  const dd = simulateDedup(w, { P0: expandSeedShare(xs.seed0, ctx, d), P1: xs.share1 }, { rng });
  const dedup = { matches: dd.matches, plain: dedupPlain(params, x, gallery), valid: dd.valid, sent: dd.traffic.sent, helperBytes: dd.helperBytes };
  return {
    backend: aesBackend,
    dedup,
    stream: hex(expand(seeds.P0, "label", new Uint8Array([1, 2, 3]), 48)),
    enrolValid: e.valid,
    templateShareP0: hex(new Uint8Array(e.P0.templateShare.buffer)).slice(0, 128),
    results,
  };
}

function share32(t: Int8Array, r: Uint8Array): { P0: Uint32Array; P1: Uint32Array } {
  const P0 = new Uint32Array(r.buffer, r.byteOffset, t.length), P1 = new Uint32Array(t.length);
  for (let k = 0; k < t.length; k++) P1[k] = t[k] - P0[k];
  return { P0, P1 };
}
