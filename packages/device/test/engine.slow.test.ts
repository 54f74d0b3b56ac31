/**
 * The face engine on package-shipped photos (@vladmandic/face-api demo images) and generated frames:
 * same person in two different frames → score above the model threshold; different people → below;
 * error codes; int8 bounds of real embeddings.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_NORM_HI, DEFAULT_NORM_LO, dotPlain, quantise } from "@privface/mpc";
import { createFaceEngine, MODEL, type FaceEngine } from "../src/index.ts";
import { blankFrame, cosine, makeFrame, sample } from "./_fixtures.ts";
import type { RgbaImage } from "../src/decode.ts";

let engine: FaceEngine; // refuses several faces, liveness off (tested separately)
let loose: FaceEngine; // takes the chosen face of a group photo

before(async () => {
  engine = await createFaceEngine({ livenessThreshold: 0 });
  loose = await createFaceEngine({ livenessThreshold: 0, multipleFaces: "largest" });
});
after(async () => {
  await engine.release();
  await loose.release();
});

async function faceIn(n: 1 | 2 | 3 | 4 | 5 | 6): Promise<{ img: RgbaImage; cx: number; cy: number; side: number }> {
  const img = await sample(n);
  const r = await loose.processFrame(img.data, img.width, img.height);
  assert.ok(r.ok, `sample${n}: expected a face, got ${r.ok ? "" : r.error}`);
  const b = r.box;
  return { img, cx: (b.x1 + b.x2) / 2, cy: (b.y1 + b.y2) / 2, side: Math.max(b.x2 - b.x1, b.y2 - b.y1) };
}

async function embed(e: FaceEngine, f: RgbaImage): Promise<Float32Array> {
  const r = await e.processFrame(f.data, f.width, f.height);
  assert.ok(r.ok, `expected an embedding, got ${r.ok ? "" : r.error}`);
  return r.embedding;
}

describe("face engine", () => {
  it("exports the model description", () => {
    assert.equal(MODEL.dim, 512);
    assert.match(MODEL.version, /^[A-Za-z0-9._-]{1,64}$/);
    assert.ok(Number.isInteger(MODEL.threshold) && MODEL.threshold > 0 && MODEL.threshold < 65_536);
  });

  it("same person in two different frames scores above the threshold", async () => {
    for (const n of [1, 3, 5, 6] as const) {
      const { img, cx, cy, side } = await faceIn(n);
      // Frame A: face ~200 px in a 480×480 frame. Frame B: mirrored, darker, rotated 8°, shifted, smaller.
      const a = makeFrame(img, { cx, cy, scale: side / 200, width: 480, height: 480 });
      const b = makeFrame(img, { cx: cx + side * 0.1, cy: cy - side * 0.05, scale: side / 170, width: 400, height: 400, mirror: true, gain: 0.8, rotate: 8 });
      const ea = await embed(engine, a);
      const eb = await embed(engine, b);
      const score = dotPlain(quantise(ea), quantise(eb));
      assert.ok(score >= MODEL.threshold, `sample${n}: same-person score ${score} < threshold ${MODEL.threshold}`);
      assert.ok(cosine(ea, eb) > 0.6);
    }
  });

  it("different people score below the threshold", async () => {
    const qs: Int8Array[] = [];
    for (const n of [1, 2, 3, 4, 5, 6] as const) {
      const img = await sample(n);
      qs.push(quantise(await embed(loose, img)));
    }
    for (let i = 0; i < qs.length; i++) {
      for (let j = i + 1; j < qs.length; j++) {
        const s = dotPlain(qs[i], qs[j]);
        assert.ok(s < MODEL.threshold, `samples ${i + 1} and ${j + 1}: impostor score ${s} ≥ threshold`);
      }
    }
  });

  it("embeddings are unit vectors whose int8 form is in range with an honest squared norm", async () => {
    for (const n of [1, 3, 5] as const) {
      const e = await embed(loose, await sample(n));
      assert.equal(e.length, 512);
      const norm = Math.sqrt(e.reduce((s, x) => s + x * x, 0));
      assert.ok(Math.abs(norm - 1) < 1e-4);
      const q = quantise(e);
      const maxAbs = q.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      assert.ok(maxAbs < 127, `max |q| = ${maxAbs}: a coordinate was clipped`);
      const sq = dotPlain(q, q);
      assert.ok(sq >= DEFAULT_NORM_LO && sq <= DEFAULT_NORM_HI, `squared norm ${sq} outside [${DEFAULT_NORM_LO}, ${DEFAULT_NORM_HI}]`);
    }
  });

  it("NO_FACE on a generated frame without a face", async () => {
    for (const [w, h, seed] of [[640, 480, 1], [320, 240, 7]] as const) {
      const f = blankFrame(w, h, seed);
      const r = await engine.processFrame(f.data, f.width, f.height);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.error, "NO_FACE");
    }
    const black = new Uint8Array(200 * 200 * 4);
    const r = await engine.processFrame(black, 200, 200);
    assert.equal(!r.ok && r.error, "NO_FACE");
  });

  it("MULTIPLE_FACES on a group photo at the till, the central face when allowed", async () => {
    const img = await sample(1);
    const r = await engine.processFrame(img.data, img.width, img.height);
    assert.equal(!r.ok && r.error, "MULTIPLE_FACES");
    const r2 = await loose.processFrame(img.data, img.width, img.height);
    assert.ok(r2.ok && r2.faces >= 2);
  });

  it("FACE_TOO_SMALL below the minimum face size", async () => {
    const { img, cx, cy, side } = await faceIn(5);
    const f = makeFrame(img, { cx, cy, scale: side / 150, width: 400, height: 400 });
    const strict = await createFaceEngine({ livenessThreshold: 0, minFaceSize: 240, multipleFaces: "largest" });
    try {
      const r = await strict.processFrame(f.data, f.width, f.height);
      assert.equal(!r.ok && r.error, "FACE_TOO_SMALL");
    } finally {
      await strict.release();
    }
  });

  it("LIVENESS_FAILED when the live score is below the threshold; the score is reported", async () => {
    const { img, cx, cy, side } = await faceIn(5);
    const f = makeFrame(img, { cx, cy, scale: side / 200, width: 480, height: 480 });
    const ok = await engine.processFrame(f.data, f.width, f.height);
    assert.ok(ok.ok && ok.liveness >= 0 && ok.liveness <= 1);
    const live = ok.ok ? ok.liveness : 0;
    const strict = await createFaceEngine({ livenessThreshold: Math.min(1, live + 1e-6) });
    try {
      const r = await strict.processFrame(f.data, f.width, f.height);
      assert.equal(!r.ok && r.error, "LIVENESS_FAILED");
      assert.equal(!r.ok && r.liveness, live);
    } finally {
      await strict.release();
    }
  });

  it("concurrent calls give the same results as sequential ones", async () => {
    const a = await sample(3);
    const b = blankFrame(320, 240, 3);
    const seq = [await loose.processFrame(a.data, a.width, a.height), await loose.processFrame(b.data, b.width, b.height)];
    const par = await Promise.all([loose.processFrame(a.data, a.width, a.height), loose.processFrame(b.data, b.width, b.height)]);
    assert.ok(seq[0].ok && par[0].ok);
    assert.deepEqual(par[0].embedding, seq[0].embedding);
    assert.equal(!par[1].ok && par[1].error, "NO_FACE");
  });

  it("rejects malformed frames and options", async () => {
    await assert.rejects(engine.processFrame(new Uint8Array(10), 2, 2), RangeError);
    await assert.rejects(engine.processFrame(new Uint8Array(16), 0, 4), RangeError);
    await assert.rejects(engine.processFrame([1, 2, 3] as unknown as Uint8Array, 1, 1), TypeError);
    await assert.rejects(createFaceEngine({ livenessThreshold: 2 }), RangeError);
    await assert.rejects(createFaceEngine({ multipleFaces: "any" as "refuse" }), RangeError);
  });
});
