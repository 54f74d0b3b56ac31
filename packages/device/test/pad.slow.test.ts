/**
 * Passive presentation-attack detection with the real nets: a face shown on a phone screen held in
 * front of the camera (made from an npm-shipped photo) is refused at the model's threshold, although
 * the anti-spoofing net alone calls it live; the same face seen directly passes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MODEL } from "@privface/contracts";
import { createFaceEngine, PAD_FUSION, type FaceEngine } from "../src/index.ts";
import { frontalFace, makeFrame, phoneReplay, sample } from "./_fixtures.ts";

let engine: FaceEngine;
before(async () => {
  engine = await createFaceEngine(); // defaults: border cue on, threshold MODEL.livenessThreshold
});
after(async () => {
  await engine.release();
});

describe("passive PAD (net + border cue)", () => {
  it("the face seen directly passes at the model's threshold", async () => {
    const f = await frontalFace();
    const r = await engine.processFrame(f.data, f.width, f.height);
    assert.ok(r.ok, r.ok ? "" : `${r.error} ${r.liveness} ${JSON.stringify(r.pad)}`);
    assert.ok(r.liveness >= MODEL.livenessThreshold);
    // the window blinds behind her are straight lines too: the cue is raised, below the veto
    assert.ok(r.pad && r.pad.border !== undefined && r.pad.border < PAD_FUSION.veto, JSON.stringify(r.pad));
  });

  it("attack: the same face replayed on a phone held up to the camera is refused (LIVENESS_FAILED), upright or tilted", async () => {
    const screen = makeFrame(await sample(6), { cx: 1262, cy: 487, scale: 223 / 110, width: 220, height: 390 });
    for (const [sw, sh, tilt] of [[220, 390, 0], [260, 440, 0], [200, 360, 6], [220, 390, -9]] as const) {
      const f = phoneReplay(screen, sw, sh, tilt);
      const r = await engine.processFrame(f.data, f.width, f.height);
      assert.equal(r.ok, false, `phone ${sw}×${sh} tilt ${tilt}: accepted`);
      assert.equal(!r.ok && r.error, "LIVENESS_FAILED");
      assert.ok(r.pad?.border !== undefined && r.pad.border >= PAD_FUSION.veto, `border ${JSON.stringify(r.pad)}`);
    }
  });

  it("the net alone (padCue: false) is what the border cue fixes: it calls the upright phone replay live", async () => {
    const netOnly = await createFaceEngine({ padCue: false });
    try {
      const screen = makeFrame(await sample(6), { cx: 1262, cy: 487, scale: 223 / 110, width: 220, height: 390 });
      const f = phoneReplay(screen, 220, 390, 0);
      const r = await netOnly.processFrame(f.data, f.width, f.height);
      assert.ok(r.ok, "the net alone refused it: this test no longer shows what the cue adds");
      assert.equal(r.pad?.border, undefined);
    } finally {
      await netOnly.release();
    }
  });
});
