/** Accuracy metrics on hand-made score lists, geometry helpers. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { accuracy, ratesAt } from "../src/metrics.ts";
import { ARCFACE_REF, fivePoints, similarityTransform } from "../src/_align.ts";
import { invertAffine } from "../src/_image.ts";
import { chooseFace, decodeDetections } from "../src/_detect.ts";

describe("accuracy", () => {
  it("separable scores: EER 0, TAR 1, threshold just above the largest impostor", () => {
    const r = accuracy([100, 200, 300], [-5, 0, 10, 50]);
    assert.equal(r.eer, 0);
    assert.equal(r.tarAtFar["1e-2"], 1);
    assert.equal(r.thresholdAtFar["1e-4"], 51);
  });

  it("overlapping scores: FAR/FRR counted with score ≥ threshold", () => {
    const genuine = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    const impostor = Array.from({ length: 100 }, (_, i) => i - 50); // −50 … 49
    // FAR ≤ 1e-2 allows one impostor ≥ t: t = 49 (only 49 itself) → genuine ≥ 49: 6 of 10
    const r = accuracy(genuine, impostor);
    assert.equal(r.thresholdAtFar["1e-2"], 49);
    assert.equal(r.tarAtFar["1e-2"], 0.6);
    assert.deepEqual(ratesAt(genuine, impostor, 49), { far: 0.01, frr: 0.4 });
    // at the EER threshold FAR and FRR are as close as the data allow
    const at = ratesAt(genuine, impostor, r.eerThreshold);
    assert.ok(Math.abs(at.far - at.frr) <= 0.1);
    assert.ok(r.eer > 0 && r.eer < 0.3);
  });

  it("refuses empty inputs", () => {
    assert.throws(() => accuracy([], [1]), RangeError);
  });
});

describe("geometry", () => {
  it("similarityTransform recovers a known similarity exactly", () => {
    const [a, b, tx, ty] = [0.8, 0.3, 12, -7];
    const src = ARCFACE_REF.map(([x, y]) => [x * 2 + 5, y * 2 - 3] as [number, number]);
    const dst = src.map(([x, y]) => [a * x - b * y + tx, b * x + a * y + ty] as [number, number]);
    const m = similarityTransform(src, dst);
    for (const [i, v] of [a, -b, tx, b, a, ty].entries()) assert.ok(Math.abs(m[i] - v) < 1e-9);
    const inv = invertAffine(m);
    const [x, y] = dst[0];
    assert.ok(Math.abs(inv[0] * x + inv[1] * y + inv[2] - src[0][0]) < 1e-9);
  });

  it("fivePoints averages the eye contours and takes nose tip and mouth corners", () => {
    const lm = new Float32Array(136);
    for (let i = 0; i < 68; i++) {
      lm[2 * i] = i;
      lm[2 * i + 1] = 2 * i;
    }
    assert.deepEqual(fivePoints(lm), [[38.5, 77], [44.5, 89], [30, 60], [48, 96], [54, 108]]);
    assert.throws(() => fivePoints(new Float32Array(10)), RangeError);
  });

  it("detections: threshold, NMS, and the central large face is chosen; a rival is flagged", () => {
    // three candidates: two overlapping (NMS keeps the higher score), one separate smaller face
    const scores = Float32Array.from([0.1, 0.9, 0.2, 0.8, 0.5, 0.5, 0.3, 0.7]);
    const boxes = Float32Array.from([0.4, 0.4, 0.6, 0.6, 0.41, 0.41, 0.61, 0.61, 0, 0, 0.1, 0.1, 0.05, 0.05, 0.2, 0.2]);
    const faces = decodeDetections(scores, boxes, 100, 100, 0.6);
    assert.equal(faces.length, 2);
    assert.equal(faces[0].score, Math.fround(0.9));
    const c = chooseFace(faces, 100, 100, 0.6);
    assert.equal(c.index, 0);
    assert.equal(c.rival, true); // 15 px vs 20 px side
    assert.equal(chooseFace(faces, 100, 100, 0.8).rival, false);
  });
});
