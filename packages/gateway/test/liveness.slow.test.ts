/**
 * Active liveness end to end (issue 17): the real face engine behind `FaceDevice.enrolLive` /
 * `verifyLive`, a simulated cooperative person in front of the camera (generated frames of a face
 * from the npm-shipped test photo, performing whatever the prompt asks), and the gateway with
 * `livenessActions: 2` over the fake parties. The person enrols and verifies; a recording of the
 * enrolment's frames played back to a later challenge with another action sequence is refused.
 * The generated face renders turns and blinks but not an open mouth (a pout): a prompt for one ends
 * the attempt and the person retries with a new challenge, as at a till.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { MODEL, type LivenessAction } from "@privface/contracts";
import { actionFrame, createFaceEngine, DeviceError, FaceDevice, type FaceEngine, type FaceGeometry, type FetchLike, type FrameSource } from "@privface/device";
import { decodeImageFile } from "@privface/device/decode";
import { giveConsent, registerWorld, setup, type Fixture, type World } from "./_setup.ts";

type Frame = { data: Uint8Array; width: number; height: number };

describe("active liveness end to end (real engine, generated person, gateway)", () => {
  let f: Fixture;
  let w: World;
  let engine: FaceEngine;
  let device: FaceDevice;
  let base: Frame;
  let g: FaceGeometry;
  before(async () => {
    f = await setup("liveness-e2e", { livenessActions: 2, modelVersion: MODEL.version, limits: { perPersonPerMinute: 1000 } });
    w = await registerWorld(f, ["alice"]);
    assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
    engine = await createFaceEngine();
    const fetch: FetchLike = async (url, init) => {
      const r = await f.inject(init.method, new URL(url).pathname, init.body ? JSON.parse(init.body) : undefined);
      return { ok: r.status < 400, status: r.status, text: async () => JSON.stringify(r.body ?? {}) };
    };
    device = new FaceDevice({ deviceId: w.deviceId, signingKey: w.deviceKey, authKey: w.authKey, trust: w.trust, gatewayUrl: "https://gateway.test", fetch, engine });
    const dir = join(dirname(createRequire(import.meta.url).resolve("@vladmandic/face-api/package.json")), "demo");
    const img = await decodeImageFile(join(dir, "sample6.jpg"));
    const W = 480;
    const s = 223 / 200;
    const data = new Uint8Array(W * W * 4);
    for (let y = 0; y < W; y++)
      for (let x = 0; x < W; x++) {
        const sx = Math.round(1262 + (x - W / 2) * s);
        const sy = Math.round(427 + (y - W / 2) * s);
        data.set(img.data.subarray((sy * img.width + sx) * 4, (sy * img.width + sx) * 4 + 4), (y * W + x) * 4);
      }
    base = { data, width: W, height: W };
    const m = await engine.measureFrame!(data, W, W);
    assert.ok(m.ok);
    const p = m.points as [number, number][];
    g = { eyes: [p[0], p[1]], nose: p[2], mouth: [p[3], p[4]] };
  });
  after(async () => {
    await engine?.release();
    await f?.close();
  });

  /** A cooperative person: faces the camera, performs each prompted action (ramp, hold, back), then holds still; every frame is recorded. */
  function person(recorded: Frame[], prompts: string[]): { source: FrameSource; onPrompt: (p: string) => void } {
    const queue: Frame[] = [base, base, base];
    let t = 0;
    return {
      onPrompt: (p) => {
        prompts.push(p);
        if (p === "open-mouth") throw new DeviceError("SIM_CANNOT", "the generated face cannot open its mouth");
        if (p === "blink" || p === "turn-left" || p === "turn-right") {
          const a = p as LivenessAction;
          queue.push(actionFrame(base, g, a, 0.5), actionFrame(base, g, a, 1), actionFrame(base, g, a, 1), actionFrame(base, g, a, 0.5), base, base);
        }
      },
      source: async () => {
        const fr = queue.length > 0 ? queue.shift()! : base;
        recorded.push(fr);
        return { ...fr, t: (t += 125) };
      },
    };
  }

  async function live(op: "enrolLive" | "verifyLive", recorded: Frame[] = [], prompts: string[] = []): Promise<Record<string, unknown>> {
    for (let attempt = 0; attempt < 12; attempt++) {
      recorded.length = 0;
      prompts.length = 0;
      const p = person(recorded, prompts);
      try {
        return await device[op](w.persons.alice.personId, p.source, { onPrompt: p.onPrompt });
      } catch (e) {
        if ((e as DeviceError).code !== "SIM_CANNOT") throw e;
      }
    }
    throw new Error("12 challenges in a row asked for an open mouth");
  }

  test("a person who follows the prompts enrols and verifies", async () => {
    const enrolled = await live("enrolLive");
    assert.equal(enrolled.decision, "accept", JSON.stringify(enrolled));
    const verified = await live("verifyLive");
    assert.equal(verified.decision, "accept", JSON.stringify(verified));
  });

  test("attack: the recorded frames of an earlier session, played to a challenge with another action sequence, are refused", async () => {
    const recorded: Frame[] = [];
    const prompts: string[] = [];
    const r = await live("verifyLive", recorded, prompts);
    assert.equal(r.decision, "accept");
    const tape = recorded.slice();
    const performed = prompts.filter((p) => p !== "look-at-camera" && p !== "hold-still").join(",");
    let refusals = 0;
    let passes = 0;
    for (let k = 0; k < 6; k++) {
      let i = 0;
      const asked: string[] = [];
      const replay: FrameSource = async () => (i < tape.length ? { ...tape[i], t: 125 * ++i } : null);
      try {
        await device.verifyLive(w.persons.alice.personId, replay, { onPrompt: (p, step) => (asked[step] = p) });
        // only possible when this challenge asked for the recorded sequence again (1 in 12)
        assert.equal(asked.filter((p) => p !== "look-at-camera" && p !== "hold-still").join(","), performed, "a replay passed a challenge with another sequence");
        passes++;
      } catch (e) {
        const code = (e as DeviceError).code;
        assert.ok(["LIVENESS_ACTIONS_MISMATCH", "LIVENESS_TIMEOUT"].includes(code), `${code}: ${(e as Error).message}`);
        refusals++;
      }
    }
    assert.equal(refusals + passes, 6);
    assert.ok(refusals >= 1, `refused ${refusals} of 6`);
  });
});
