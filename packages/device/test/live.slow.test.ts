/**
 * Active liveness with the real nets on generated frame sequences (`synthetic.ts`, from faces in an
 * npm-shipped photo): a recording performing the challenge's actions passes; a recording of any other
 * action sequence — a replay of an earlier session — is refused every time; a face swapped after the
 * actions and a phone replay at the end are refused too.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sameActions, type LivenessAction } from "@privface/contracts";
import { actionSequence, createFaceEngine, DeviceError, liveCapture, verifyActions, type FaceEngine, type FaceGeometry, type FrameMeasure, type FrameSource, type TimedFrame } from "../src/index.ts";
import { makeFrame, phoneReplay, sample } from "./_fixtures.ts";
import type { RgbaImage } from "../src/decode.ts";

let engine: FaceEngine;
before(async () => {
  engine = await createFaceEngine();
});
after(async () => {
  await engine.release();
});

/**
 * Two faces of sample6 / sample3 and the actions the crude warps render well on each (a face already
 * turned one way cannot be warped convincingly back past frontal; a pouting mouth does not open).
 */
const FACES = [
  { n: 6 as const, cx: 1262, cy: 427, side: 223, actions: ["turn-left", "turn-right", "blink"] as LivenessAction[] },
  { n: 3 as const, cx: 1170, cy: 332, side: 265, actions: ["turn-right", "blink", "open-mouth"] as LivenessAction[] },
];

async function base(i: number): Promise<{ frame: RgbaImage; g: FaceGeometry }> {
  const F = FACES[i];
  const frame = makeFrame(await sample(F.n), { cx: F.cx, cy: F.cy, scale: F.side / 200, width: 480, height: 480 });
  const m = await engine.measureFrame!(frame.data, frame.width, frame.height);
  assert.ok(m.ok);
  const p = m.points as [number, number][];
  return { frame, g: { eyes: [p[0], p[1]], nose: p[2], mouth: [p[3], p[4]] } };
}

async function measure(seq: TimedFrame[]): Promise<(FrameMeasure | null)[]> {
  const out: (FrameMeasure | null)[] = [];
  for (const { frame, t } of seq) {
    const m = await engine.measureFrame!(frame.data, frame.width, frame.height);
    out.push(m.ok ? { yaw: m.yaw, eye: m.eye, mouth: m.mouth, t } : null);
  }
  return out;
}

function source(frames: { data: Uint8Array; width: number; height: number }[], t0 = 0): FrameSource {
  let i = 0;
  return async () => (i < frames.length ? { ...frames[i], t: t0 + 125 * i++ } : null);
}

describe("active liveness on generated sequences (real nets)", () => {
  it("attack: every recorded 2-action sequence passes its own challenge and is refused for every other one", async () => {
    const all: LivenessAction[][] = [];
    for (const a of ["blink", "turn-left", "turn-right", "open-mouth"] as const) for (const b of ["blink", "turn-left", "turn-right", "open-mouth"] as const) if (a !== b) all.push([a, b]);
    let recordings = 0;
    for (let i = 0; i < FACES.length; i++) {
      const { frame, g } = await base(i);
      for (const rec of all) {
        if (!rec.every((a) => FACES[i].actions.includes(a))) continue;
        const measures = await measure(actionSequence(frame, g, rec));
        recordings++;
        for (const challenge of all) {
          const s = verifyActions(challenge, measures);
          if (sameActions(challenge, rec)) assert.equal(s.status, "done", `face ${i}: ${rec} did not pass its own challenge: ${JSON.stringify(s)}`);
          else assert.notEqual(s.status, "done", `face ${i}: recording ${rec} passed challenge ${challenge}`);
        }
      }
    }
    assert.equal(recordings, 12); // 6 ordered pairs on each face
  });

  it("liveCapture: the actions asked for → embedding, passive score and per-step evidence; another sequence → LIVENESS_ACTIONS_MISMATCH", async () => {
    const { frame, g } = await base(0);
    const seq = actionSequence(frame, g, ["turn-right", "blink"]).map((x) => x.frame);
    const prompts: string[] = [];
    const cap = await liveCapture(engine, ["turn-right", "blink"], source([...seq, frame, frame]), { onPrompt: (p) => prompts.push(p) });
    assert.deepEqual(cap.steps.map((s) => s.action), ["turn-right", "blink"]);
    assert.ok(cap.liveness >= 0.5);
    assert.equal(cap.embedding.length, 512);
    assert.deepEqual(prompts, ["look-at-camera", "turn-right", "blink", "hold-still"]);
    await assert.rejects(liveCapture(engine, ["turn-left", "blink"], source([...seq, frame])), (e: DeviceError) => e.code === "LIVENESS_ACTIONS_MISMATCH");
    await assert.rejects(liveCapture(engine, ["blink", "turn-right"], source([...seq, frame])), (e: DeviceError) => e.code === "LIVENESS_ACTIONS_MISMATCH" || e.code === "LIVENESS_TIMEOUT");
  });

  it("attack: another face shown after the actions is refused (LIVENESS_FACE_CHANGED)", async () => {
    const a = await base(0);
    const b = await base(1);
    // the tracker is done on the first neutral frame after the blink; the next frame is the other face
    const seq = actionSequence(a.frame, a.g, ["turn-right", "blink"], { rest: 1 }).map((x) => x.frame);
    await assert.rejects(liveCapture(engine, ["turn-right", "blink"], source([...seq, b.frame, b.frame])), (e: DeviceError) => e.code === "LIVENESS_FACE_CHANGED");
  });

  it("attack: a phone replay held up after the actions is refused by the passive stage (LIVENESS_FAILED)", async () => {
    const a = await base(0);
    const seq = actionSequence(a.frame, a.g, ["turn-right", "blink"], { rest: 1 }).map((x) => x.frame);
    const screen = makeFrame(await sample(6), { cx: 1262, cy: 487, scale: 223 / 110, width: 220, height: 390 });
    const phone = phoneReplay(screen, 220, 390, 0);
    await assert.rejects(liveCapture(engine, ["turn-right", "blink"], source([...seq, phone])), (e: DeviceError) => e.code === "LIVENESS_FAILED");
  });

  it("a camera that stops before the actions are done is LIVENESS_TIMEOUT", async () => {
    const { frame, g } = await base(0);
    const seq = actionSequence(frame, g, ["turn-right"]).map((x) => x.frame);
    await assert.rejects(liveCapture(engine, ["turn-right", "blink"], source(seq)), (e: DeviceError) => e.code === "LIVENESS_TIMEOUT");
  });
});
