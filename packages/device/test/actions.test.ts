/**
 * The active-liveness tracker on measure sequences (no model): the actions asked for, in order,
 * pass; another order, an extra action, a mixed action, a lost face or a timeout fail with their code.
 */
import { testTrust } from "./_trust.ts";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { drawActions, LIVENESS_ACTIONS, sameActions, type LivenessAction } from "@privface/contracts";
import { ActionTracker, measuresFromLandmarks, verifyActions, type FrameMeasure } from "../src/actions.ts";

/** Measures of a person with a slightly turned resting pose, narrow-ish eyes and a smile at rest. */
const REST = { yaw: 0.1, eye: 0.28, mouth: 0.12 };
function pose(a: LivenessAction | "rest", k = 1): Omit<FrameMeasure, "t"> {
  switch (a) {
    case "turn-left":
      return { ...REST, yaw: REST.yaw + 0.45 * k };
    case "turn-right":
      return { ...REST, yaw: REST.yaw - 0.45 * k };
    case "blink":
      return { ...REST, eye: REST.eye * (1 - 0.6 * k) };
    case "open-mouth":
      return { ...REST, mouth: REST.mouth + 0.6 * k };
    default:
      return { ...REST };
  }
}
/** A recording: 3 rest frames, then per action ramp (½), 2 held frames, ramp, 2 rest frames; 8 frames a second. */
function recording(actions: readonly LivenessAction[], t0 = 0): FrameMeasure[] {
  const f: Omit<FrameMeasure, "t">[] = [pose("rest"), pose("rest"), pose("rest")];
  for (const a of actions) f.push(pose(a, 0.5), pose(a), pose(a), pose(a, 0.5), pose("rest"), pose("rest"));
  return f.map((m, i) => ({ ...m, t: t0 + i * 125 }));
}

const PAIRS: LivenessAction[][] = [];
for (const a of LIVENESS_ACTIONS) for (const b of LIVENESS_ACTIONS) if (a !== b) PAIRS.push([a, b]);

describe("active liveness tracker", () => {
  it("accepts the actions asked for, in order, with a per-step evidence summary", () => {
    const s = verifyActions(["turn-left", "open-mouth"], recording(["turn-left", "open-mouth"]));
    assert.equal(s.status, "done");
    assert.ok(s.status === "done");
    assert.deepEqual(s.steps.map((x) => x.action), ["turn-left", "open-mouth"]);
    assert.ok(s.steps[0].value > 0.4 && s.steps[1].value > 0.5, JSON.stringify(s.steps));
    assert.ok(s.steps[0].from <= s.steps[0].peak && s.steps[0].peak < s.steps[1].from && s.steps[1].from <= s.steps[1].peak);
  });

  it("attack: a recording of an earlier session performing another sequence is refused, for every pair of challenge and recording", () => {
    let accepted = 0;
    let refused = 0;
    for (const challenge of PAIRS) {
      for (const recorded of PAIRS) {
        const s = verifyActions(challenge, recording(recorded));
        if (sameActions(challenge, recorded)) {
          assert.equal(s.status, "done", `${recorded} for ${challenge}`);
          accepted++;
        } else {
          assert.notEqual(s.status, "done", `recording ${recorded} passed challenge ${challenge}`);
          refused++;
        }
      }
    }
    assert.equal(accepted, 12);
    assert.equal(refused, 132);
  });

  it("a wrong action fails at once with LIVENESS_ACTIONS_MISMATCH, naming what was seen", () => {
    const s = verifyActions(["turn-left", "blink"], recording(["turn-right", "turn-left", "blink"]));
    assert.deepEqual(s, { status: "failed", code: "LIVENESS_ACTIONS_MISMATCH", step: 0, seen: "turn-right" });
    // the right actions followed by an extra one: the capture is done before the extra one
    assert.equal(verifyActions(["blink", "turn-left"], recording(["blink", "turn-left", "open-mouth"])).status, "done");
    // three steps asked, two done: still waiting
    assert.equal(verifyActions(["blink", "turn-left", "open-mouth"], recording(["blink", "turn-left"])).status, "running");
  });

  it("unrequested blinks are ignored (people blink); a requested blink counts", () => {
    assert.equal(verifyActions(["turn-left", "open-mouth"], recording(["blink", "turn-left", "blink", "open-mouth"])).status, "done");
    assert.equal(verifyActions(["blink", "open-mouth"], recording(["blink", "open-mouth"])).status, "done");
  });

  it("an action mixing two (turning with the mouth open) is no action", () => {
    const f = recording([]);
    const mixed = { ...pose("turn-left"), mouth: REST.mouth + 0.6 };
    f.push({ ...pose("turn-left", 0.5), t: 400 }, { ...mixed, t: 500 }, { ...mixed, t: 600 }, { ...pose("rest"), t: 700 }, { ...pose("rest"), t: 800 });
    const s = verifyActions(["turn-left", "open-mouth"], f);
    assert.notEqual(s.status, "done");
  });

  it("a face lost after the start fails with LIVENESS_FACE_LOST; before the baseline it is only waited for", () => {
    const rec: (FrameMeasure | null)[] = recording(["turn-left", "blink"]);
    rec.splice(6, 0, null);
    assert.deepEqual(verifyActions(["turn-left", "blink"], rec), { status: "failed", code: "LIVENESS_FACE_LOST", step: 0 });
    const late: (FrameMeasure | null)[] = [null, null, ...recording(["turn-left", "blink"], 250)];
    assert.equal(verifyActions(["turn-left", "blink"], late).status, "done");
  });

  it("a step not done within the step timeout fails with LIVENESS_TIMEOUT", () => {
    const rest = Array.from({ length: 60 }, (_, i) => ({ ...pose("rest"), t: i * 125 }));
    assert.deepEqual(verifyActions(["turn-left", "blink"], rest), { status: "failed", code: "LIVENESS_TIMEOUT", step: 0 });
    const slow = recording(["turn-left", "blink"]).map((m) => ({ ...m, t: m.t * 8 }));
    assert.equal(verifyActions(["turn-left", "blink"], slow, { stepTimeoutMs: 3000 }).status, "failed");
  });

  it("the prompt follows the steps; the person must face the camera first", () => {
    const tr = new ActionTracker(["turn-right", "blink"]);
    assert.deepEqual(tr.current, { status: "running", step: 0, prompt: "look-at-camera" });
    tr.push({ ...pose("rest"), yaw: 0.9, t: 0 }); // turned away: no baseline yet
    for (let i = 1; i <= 3; i++) tr.push({ ...pose("rest"), t: i * 125 });
    assert.deepEqual(tr.current, { status: "running", step: 0, prompt: "turn-right" });
    for (const [i, m] of [pose("turn-right"), pose("turn-right"), pose("rest")].entries()) tr.push({ ...m, t: 600 + i * 125 });
    assert.deepEqual(tr.current, { status: "running", step: 1, prompt: "blink" });
  });

  it("rejects bad input", () => {
    assert.throws(() => new ActionTracker([]), TypeError);
    assert.throws(() => new ActionTracker(["jump" as LivenessAction]), TypeError);
    assert.throws(() => new ActionTracker(["blink"]).push({ yaw: NaN, eye: 0.3, mouth: 0, t: 0 }), TypeError);
  });
});

describe("measures from 68 landmarks", () => {
  /** A frontal schematic face: jaw 0…16 from x=0 to x=100, eyes at y=40, nose tip 30 at x=50, mouth 48…67. */
  function face(noseX = 50, eyeOpen = 6, mouthOpen = 0, roll = 0): Float32Array {
    const p = new Float32Array(136);
    const set = (i: number, x: number, y: number) => {
      const c = Math.cos(roll), s = Math.sin(roll);
      p[2 * i] = c * x - s * y;
      p[2 * i + 1] = s * x + c * y;
    };
    for (let i = 0; i <= 16; i++) set(i, (i / 16) * 100, 40 + Math.sin((i / 16) * Math.PI) * 50);
    for (let i = 17; i <= 35; i++) set(i, 50, 50);
    set(30, noseX, 65);
    for (const [o, cx] of [[36, 30], [42, 70]] as const) {
      set(o, cx - 10, 40); set(o + 3, cx + 10, 40);
      set(o + 1, cx - 4, 40 - eyeOpen / 2); set(o + 2, cx + 4, 40 - eyeOpen / 2);
      set(o + 5, cx - 4, 40 + eyeOpen / 2); set(o + 4, cx + 4, 40 + eyeOpen / 2);
    }
    for (let i = 48; i <= 67; i++) set(i, 50, 80);
    set(60, 35, 80); set(64, 65, 80); set(62, 50, 80 - mouthOpen / 2); set(66, 50, 80 + mouthOpen / 2);
    return p;
  }

  it("yaw 0 facing the camera, > 0 with the nose towards the picture's right, unaffected by roll", () => {
    assert.ok(Math.abs(measuresFromLandmarks(face()).yaw) < 1e-9);
    assert.ok(Math.abs(measuresFromLandmarks(face(75)).yaw - 0.5) < 1e-9);
    assert.ok(Math.abs(measuresFromLandmarks(face(75, 6, 0, 0.3)).yaw - 0.5) < 1e-6);
  });

  it("eye aspect ratio and mouth opening", () => {
    assert.ok(Math.abs(measuresFromLandmarks(face(50, 6)).eye - 0.3) < 1e-6);
    assert.ok(Math.abs(measuresFromLandmarks(face(50, 1)).eye - 0.05) < 1e-6);
    assert.ok(Math.abs(measuresFromLandmarks(face(50, 6, 15)).mouth - 0.5) < 1e-6);
    assert.throws(() => measuresFromLandmarks(new Float32Array(10)), RangeError);
  });
});

describe("challenge actions (contracts)", () => {
  it("draws n actions, never the same twice in a row, all four over many draws", () => {
    let seed = 1;
    const rnd = (n: number) => Uint8Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const a = drawActions(3, rnd);
      assert.equal(a.length, 3);
      assert.ok(a[0] !== a[1] && a[1] !== a[2]);
      a.forEach((x) => seen.add(x));
    }
    assert.equal(seen.size, 4);
    assert.throws(() => drawActions(0, rnd), RangeError);
    assert.throws(() => drawActions(4, rnd), RangeError);
  });
});

describe("the signed request carries the active step", () => {
  it("buildFaceRequest signs the challenge's actions and their evidence; other actions are refused before signing", async () => {
    const { generateSealKeyPair, generateSigningKeyPair, toBase64url, verify } = await import("@privface/crypto");
    const { buildFaceRequest, DeviceError, MODEL, signedMessage } = await import("../src/index.ts");
    const p0 = await generateSealKeyPair("INTL");
    const p1 = await generateSealKeyPair("INTL");
    const tt = await testTrust("INTL", { P0: p0, P1: p1 });
    const dev = await generateSigningKeyPair("INTL");
    const actions: LivenessAction[] = ["turn-left", "blink"];
    const challenge = {
      challenge: "ch_0123456789abcdefABCDEF",
      expiresAt: Date.now() + 30_000,
      templateId: "tpl_A1b2C3",
      modelVersion: MODEL.version,
      actions,
      keyLists: tt.keyLists,
    };
    const steps = [
      { action: "turn-left" as const, from: 4, peak: 5, value: 0.42 },
      { action: "blink" as const, from: 10, peak: 10, value: 0.5 },
    ];
    const emb = new Float32Array(512).fill(0.04);
    const base = { deviceId: "d", personId: "p", purpose: "verify" as const, challenge, embedding: emb, liveness: 0.9, modelVersion: MODEL.version, signingKey: dev, authKey: tt.auth, trust: tt.trust };
    const body = await buildFaceRequest({ ...base, active: { actions, steps } });
    assert.deepEqual(body.liveness, { score: 0.9, actions, steps });
    assert.ok(await verify(dev, signedMessage(body as never), Buffer.from(body.signature, "base64url")));
    const tampered = { ...body, liveness: { ...body.liveness, actions: ["blink", "turn-left"] } };
    assert.equal(await verify(dev, signedMessage(tampered as never), Buffer.from(body.signature, "base64url")), false);
    await assert.rejects(buildFaceRequest({ ...base, active: { actions: ["blink", "turn-left"], steps: [steps[1], steps[0]] } }), (e: InstanceType<typeof DeviceError>) => e.code === "LIVENESS_ACTIONS_MISMATCH");
    await assert.rejects(buildFaceRequest({ ...base, active: { actions, steps: steps.slice(0, 1) } }), (e: InstanceType<typeof DeviceError>) => e.code === "LIVENESS_ACTIONS_MISMATCH");
  });
});
