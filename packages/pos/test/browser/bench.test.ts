/**
 * `privface bench browser`'s driver (`@privface/devstack/bench` runBrowserBench) on a small face set
 * made from the test faces (two people, two captures each: the camera frame, and the same frame
 * 15 % darker): it runs the
 * app's engine and guided capture in Chromium and reports sane timings, every capture decided, no
 * false reject and no false accept. `--backend webgl`: the embedding net alone runs and reports its
 * timings (compared with wasm in docs/benchmarks.md "browser", not here: a test is no benchmark), the
 * whole pipeline is refused on this GPU-less machine (SwiftShader).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { PNG } from "pngjs";
import { runBrowserBench, runBrowserCaptureBench, runBrowserEmbedBench } from "@privface/devstack/bench";
import { cameraFrame } from "../_faces.ts";

const dir = mkdtempSync(join(tmpdir(), "privface-pos-bench-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The 640×480 camera frame of a test face, its brightness scaled by `gain`, as a PNG file. */
async function capture(name: "A" | "B", gain: number, file: string): Promise<void> {
  const f = await cameraFrame(name);
  const png = new PNG({ width: f.width, height: f.height });
  for (let i = 0; i < f.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : Math.min(255, Math.round(f.data[i] * gain));
  writeFileSync(file, PNG.sync.write(png));
}

describe("privface bench browser", () => {
  it("times the in-browser pipeline and scores the guided captures", { timeout: 180_000 }, async (t) => {
    for (const name of ["A", "B"] as const) {
      mkdirSync(join(dir, name));
      await capture(name, 1, join(dir, name, "1.png"));
      await capture(name, 0.85, join(dir, name, "2.png"));
    }
    const r = await runBrowserBench({ dataset: dir, imageSide: 640 }); // whole camera frames, unscaled
    t.diagnostic(JSON.stringify(r));
    assert.equal(r.suite, "browser-face");
    assert.equal(r.backend, "wasm");
    assert.equal(r.images, 4);
    for (const k of ["model_load_ms", "ms_per_frame_p50", "ms_per_frame_p99", "embed_ms_p50", "first_decision_ms"]) assert.ok((r[k] as number) > 0, k);
    assert.ok((r.ms_per_frame_p99 as number) >= (r.ms_per_frame_p50 as number));
    assert.equal(r.captures_ok, 4, JSON.stringify(r.refusals));
    assert.deepEqual([r.genuine_pairs, r.frr, r.impostor_pairs, r.far], [2, 0, 4, 0]);
  });
});

describe("privface bench browser --actions", () => {
  it("times the POS app's whole live capture on a generated person performing the drawn actions", { timeout: 300_000 }, async (t) => {
    const r = await runBrowserCaptureBench({ actions: 2, runs: 2 });
    t.diagnostic(JSON.stringify(r));
    assert.equal(r.suite, "browser-capture");
    assert.deepEqual([r.actions, r.runs, r.fps], [2, 2, 15]);
    assert.equal(r.ok, 2);
    // the person follows the prompts: a slow page may make a step take longer, never fail it
    assert.deepEqual(r.refusals, {});
    assert.ok((r.capture_ms_max as number) >= (r.capture_ms_p50 as number) && (r.capture_ms_p50 as number) >= 1000);
    assert.equal(r.person_ms, 2200);
  });
});

describe("privface bench browser --backend", () => {
  it("WebGL (this machine has no GPU: Chromium's SwiftShader) runs the embedding net and reports its timings, and cannot run the whole pipeline: the app keeps wasm", { timeout: 300_000 }, async (t) => {
    const wasm = await runBrowserEmbedBench({ backend: "wasm", runs: 3 });
    const webgl = await runBrowserEmbedBench({ backend: "webgl", runs: 3 });
    t.diagnostic(JSON.stringify({ wasm, webgl }));
    assert.deepEqual([wasm.suite, wasm.backend, webgl.backend], ["browser-embed", "wasm", "webgl"]);
    for (const r of [wasm, webgl]) assert.ok((r.ms_p50 as number) > 0 && (r.ms_max as number) >= (r.ms_p50 as number), JSON.stringify(r));
    // the whole pipeline: the detection net does not run under onnxruntime-web's WebGL backend
    const r = await runBrowserBench({ dataset: dir, imageSide: 640, backend: "webgl", repeat: 1, limit: 1 });
    t.diagnostic(JSON.stringify(r));
    assert.equal(r.captures_ok, 0);
    assert.deepEqual(Object.keys(r.refusals as object), ["Error: invalid input shape."]);
  });
});
