/**
 * The capture's quality gate (`quality.ts`) on synthetic frames and on a real face frame through the
 * Node face engine: each guidance fires for the condition it names and only then, the real frame
 * passes, and the best-of pick takes the sharpest. The texts (`i18n.ts`) exist in both languages for
 * every guidance and for the error codes the issue names.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createFaceEngine } from "@privface/device/engine";
import { MODEL } from "@privface/contracts";
import { cameraFrame } from "./_faces.ts";
import { assessFrame, lightAndSharpness, pickBest, QUALITY, type Guidance } from "../src/app/quality.ts";
import { ERROR_CODES, errorText, guide } from "../src/app/i18n.ts";

const W = 640;
const H = 480;

/** A frame with a textured square (checkerboard of `cell` px, levels lo/hi) where the "face" is. */
function frame(box: { x1: number; y1: number; x2: number; y2: number }, lo = 60, hi = 190, cell = 4): { data: Uint8ClampedArray; width: number; height: number } {
  const data = new Uint8ClampedArray(W * H * 4).fill(128);
  for (let y = Math.max(0, Math.floor(box.y1)); y < Math.min(H, box.y2); y++)
    for (let x = Math.max(0, Math.floor(box.x1)); x < Math.min(W, box.x2); x++) {
      const v = (Math.floor(x / cell) + Math.floor(y / cell)) % 2 ? hi : lo;
      data.set([v, v, v, 255], (y * W + x) * 4);
    }
  return { data, width: W, height: H };
}

const centred = (side: number) => ({ x1: W / 2 - side / 2, y1: H / 2 - side / 2, x2: W / 2 + side / 2, y2: H / 2 + side / 2 });
const g = (f: ReturnType<typeof frame>, box = centred(220), yaw = 0, prev?: typeof box): Guidance => assessFrame(f, { ok: true, box, yaw }, prev).guidance;

describe("capture quality gate", () => {
  it("a centred, lit, sharp, frontal, still face is good; each defect gives its own guidance", () => {
    const box = centred(220);
    assert.equal(g(frame(box)), "good");
    assert.equal(g(frame(centred(80)), centred(80)), "closer");
    assert.equal(g(frame(centred(460)), centred(460)), "farther");
    const off = { x1: 20, y1: 130, x2: 240, y2: 350 };
    assert.equal(g(frame(off), off), "center");
    assert.equal(g(frame(box), box, 0.8), "face-camera");
    assert.equal(g(frame(box), box, -0.5), "good");
    assert.equal(g(frame(box, 5, 40)), "too-dark");
    assert.equal(g(frame(box, 225, 255)), "too-bright");
    assert.equal(g(frame(box, 123, 127, 40)), "hold-still"); // almost flat: blurred
    assert.equal(g(frame(box), box, 0, { x1: box.x1 + 40, y1: box.y1, x2: box.x2 + 40, y2: box.y2 }), "hold-still"); // moved
    assert.equal(assessFrame(frame(box), { ok: false, error: "NO_FACE" }).guidance, "no-face");
    assert.equal(assessFrame(frame(box), { ok: false, error: "MULTIPLE_FACES" }).guidance, "multiple-faces");
    assert.equal(assessFrame(frame(box), { ok: false, error: "FACE_TOO_SMALL" }).guidance, "closer");
  });

  it("sharpness does not depend on the face's size, and the best of several is the sharpest", () => {
    const small = lightAndSharpness(frame(centred(120), 60, 190, 8).data, W, H, centred(120)).sharpness;
    const large = lightAndSharpness(frame(centred(240), 60, 190, 16).data, W, H, centred(240)).sharpness;
    assert.ok(Math.abs(small - large) / large < 0.05, `${small} vs ${large}`);
    const a = (sharpness: number) => ({ guidance: "good" as const, size: 0.5, light: 120, sharpness });
    assert.equal(pickBest([a(30), a(90), a(60)]), 1);
    assert.equal(pickBest([a(50), a(50)]), 0);
  });

  it("the browser test's camera faces pass the gate and the pipeline through the Node engine (A and B: two people; a photo of A: refused as a spoof)", { timeout: 60_000 }, async () => {
    const engine = await createFaceEngine({});
    const emb: Float32Array[] = [];
    for (const name of ["A", "B"] as const) {
      const f = await cameraFrame(name);
      const m = await engine.measureFrame!(f.data, f.width, f.height);
      assert.ok(m.ok, name);
      const q = assessFrame(f, { ok: true, box: m.box, yaw: m.yaw });
      assert.equal(q.guidance, "good", `${name}: ${JSON.stringify(q)}`);
      assert.ok(q.sharpness > 2 * QUALITY.minSharpness, `${name}: sharpness ${q.sharpness}`);
      const r = await engine.processFrame(f.data, f.width, f.height);
      assert.ok(r.ok, `${name}: ${!r.ok && r.error}`);
      emb.push(r.embedding);
    }
    const cos = emb[0].reduce((s, x, i) => s + x * emb[1][i], 0);
    assert.ok(cos < MODEL.threshold / 65_536, `A vs B cosine ${cos}`);
    // a photo of face A held up to the camera passes the gate and is refused by the passive liveness check
    const s = await cameraFrame("A photo");
    const m = await engine.measureFrame!(s.data, s.width, s.height);
    assert.ok(m.ok);
    assert.equal(assessFrame(s, { ok: true, box: m.box, yaw: m.yaw }).guidance, "good");
    const r = await engine.processFrame(s.data, s.width, s.height);
    assert.equal(r.ok ? "ok" : r.error, "LIVENESS_FAILED");
    await engine.release();
  });
});

describe("texts", () => {
  it("every guidance and the issue's error cases have a Chinese and an English text", () => {
    for (const k of ["no-face", "multiple-faces", "closer", "farther", "center", "face-camera", "too-dark", "too-bright", "hold-still", "good"] as Guidance[]) {
      assert.match(guide("zh", k), /[\u4e00-\u9fff]/);
      assert.doesNotMatch(guide("en", k), /[\u4e00-\u9fff]/);
    }
    // no face, spoof suspected, locked out, rate limited, not enrolled, network / service unavailable, a duplicate enrolment, refused or held for review (issue 15)
    for (const c of ["NO_FACE", "LIVENESS_FAILED", "PERSON_LOCKED", "DEVICE_LOCKED", "RATE_LIMITED", "NOT_ENROLLED", "GATEWAY_UNREACHABLE", "MPC_UNAVAILABLE", "SERVICE_UNAVAILABLE", "DUPLICATE_ENROLMENT", "HELD_FOR_REVIEW", "ENROLMENT_HELD"]) {
      assert.ok(ERROR_CODES.includes(c), c);
      assert.match(errorText("zh", c), /[\u4e00-\u9fff]/);
      assert.notEqual(errorText("en", c), errorText("en", "SOMETHING_ELSE"), c);
    }
    assert.equal(errorText("en", "HTTP_502"), errorText("en", "SERVICE_UNAVAILABLE"));
  });
});
