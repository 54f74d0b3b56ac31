/**
 * Node-only defaults for the face engine: the .onnx files are read from the installed
 * faceplugin-face-recognition-js package and onnxruntime-web's wasm from its dist folder, so nothing
 * is fetched from the network. Imported dynamically by `engine.ts` so browser bundles never include it.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

export function nodeModelLoader(): { load: (file: string) => Promise<Uint8Array>; wasm: string } {
  const require = createRequire(import.meta.url);
  const modelDir = join(dirname(require.resolve("faceplugin-face-recognition-js/package.json")), "model");
  const ortDist = dirname(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
  return {
    load: async (file: string) => new Uint8Array(await readFile(join(modelDir, file))),
    wasm: pathToFileURL(ortDist).href + "/",
  };
}

/** Absolute paths of the model folder and onnxruntime-web's dist folder (used to serve them in tests). */
export function nodeAssetDirs(): { modelDir: string; ortDist: string } {
  const require = createRequire(import.meta.url);
  return {
    modelDir: join(dirname(require.resolve("faceplugin-face-recognition-js/package.json")), "model"),
    ortDist: dirname(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm")),
  };
}
