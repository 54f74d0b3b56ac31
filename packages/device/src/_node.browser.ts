/** Browser stand-in for `_node.ts`: there are no Node defaults; pass `modelBaseUrl` and `wasmPaths`. */
export function nodeModelLoader(): { load: (file: string) => Promise<Uint8Array>; wasm: string } {
  throw new TypeError("createFaceEngine: in the browser pass options.modelBaseUrl (or loadModel) and options.wasmPaths");
}

export function nodeAssetDirs(): { modelDir: string; ortDist: string } {
  throw new TypeError("nodeAssetDirs: Node only");
}
