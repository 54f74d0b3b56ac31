/**
 * Builds the POS web app into a directory the gateway serves under `/pos/` (PRIVFACE_GATEWAY_WEB):
 * `index.html`, `app.css`, `app.js` (esbuild bundle of `app/main.ts` with the device SDK), the four
 * ONNX nets under `models/` and onnxruntime-web's single-threaded wasm under `ort/`.
 *
 * The parties' institution roots are compiled into the bundle (`roots`): the app is provisioned with
 * them at build time and never takes them from the gateway at run time (decision 010 §1). The page
 * is only as trustworthy as whoever serves its code, though: see packages/pos/README.md.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export interface PosBuildOptions {
  /** output directory (created) */
  outDir: string;
  /** each party's institution root: an Ed25519 public key, base64url (INTL suite) */
  roots: { P0: string; P1: string };
  /** also build the pipeline benchmark's page (`bench.html`, `bench.js`: `privface bench browser`) */
  bench?: boolean;
  /**
   * The benchmark page's runtime: `wasm` (default, the app's: onnxruntime-web's wasm-only build) or
   * `all` (its WebGL + WebGPU + wasm build and the WebGPU wasm, for `--backend webgl|webgpu`). The
   * app itself is always built with the wasm runtime (docs/face-model.md "In the browser").
   */
  benchRuntime?: "wasm" | "all";
}

/** The nets the engine loads (`@privface/device` engine.ts). */
export const MODEL_FILES = ["fr_detect.onnx", "fr_landmark.onnx", "fr_liveness.onnx", "fr_feature.onnx"];
/** onnxruntime-web's SIMD wasm and its loader (the engine runs one thread, no proxy worker). */
export const ORT_FILES = ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];

/** the WebGPU (JSEP) wasm the `all` runtime loads */
const ORT_ALL_FILES = ["ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm"];

const here = dirname(fileURLToPath(import.meta.url));

export async function buildPosApp(o: PosBuildOptions): Promise<{ outDir: string; bundleBytes: number }> {
  for (const p of ["P0", "P1"] as const) if (typeof o.roots?.[p] !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(o.roots[p])) throw new TypeError(`roots.${p} must be a base64url Ed25519 public key`);
  mkdirSync(join(o.outDir, "models"), { recursive: true });
  mkdirSync(join(o.outDir, "ort"), { recursive: true });
  const entries: [string, string][] = [["main.ts", "app.js"], ...(o.bench ? ([["bench.ts", "bench.js"]] as [string, string][]) : [])];
  let bundleBytes = 0;
  for (const [entry, out] of entries) {
    const r = await build({
      entryPoints: [join(here, "app", entry)],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      outfile: join(o.outDir, out),
      conditions: ["browser"],
      external: ["node:*"],
      minify: true,
      legalComments: "none",
      define: { __PRIVFACE_ROOTS__: JSON.stringify(o.roots) },
      // the wasm-only build of onnxruntime-web (the app's engine runs the wasm execution provider): no WebGPU glue to serve
      alias: { "onnxruntime-web": entry === "bench.ts" && o.benchRuntime === "all" ? "onnxruntime-web/all" : "onnxruntime-web/wasm" },
      logLevel: "error",
      metafile: true,
    });
    if (out === "app.js") bundleBytes = Object.values(r.metafile!.outputs).reduce((s, x) => s + x.bytes, 0);
  }
  for (const f of ["index.html", "app.css", ...(o.bench ? ["bench.html"] : [])]) writeFileSync(join(o.outDir, f), readFileSync(join(here, "app", f)));
  const require = createRequire(import.meta.url);
  const modelDir = join(dirname(require.resolve("faceplugin-face-recognition-js/package.json")), "model");
  const ortDir = dirname(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
  for (const f of MODEL_FILES) copyFileSync(join(modelDir, f), join(o.outDir, "models", f));
  for (const f of [...ORT_FILES, ...(o.bench && o.benchRuntime === "all" ? ORT_ALL_FILES : [])]) copyFileSync(join(ortDir, f), join(o.outDir, "ort", f));
  return { outDir: o.outDir, bundleBytes };
}
