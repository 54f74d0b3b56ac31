/**
 * Active liveness on the device: does a sequence of frames perform exactly the actions the gateway's
 * challenge asked for, in that order?
 *
 * Each frame is reduced by the face engine (`measureFrame`) to three measures computed from the 68
 * landmarks the device already finds (nothing else about the face is kept):
 * - `yaw`: where the nose tip sits between the two ends of the jaw line, along the eye line:
 *   −1 … 1, 0 facing the camera, > 0 when the nose is towards the right of the picture (the person
 *   turned to their own left: the camera picture is not mirrored);
 * - `eye`: eye aspect ratio (mean of both eyes: lid opening / eye width), ≈ 0.25–0.35 open, lower
 *   when closed;
 * - `mouth`: inner-lip opening / mouth width, ≈ 0 closed, > 0.4 open.
 *
 * `ActionTracker` classifies each frame as neutral, one of the four actions, or in between (with
 * hysteresis), and turns the frames into events: an action counts when the face leaves the neutral
 * pose into that action, reaches it for at least `minFrames` frames, and comes back to neutral. The
 * sequence passes when the events are exactly the expected actions in order; any other action on
 * the way (a recording that turns right where the challenge asks for a blink) fails at once with
 * LIVENESS_ACTIONS_MISMATCH, and so does an event mixing two actions. Blinks are involuntary: one
 * counts only when the current step is a blink, and is ignored otherwise. A step that does not happen
 * within `stepTimeoutMs` fails with LIVENESS_TIMEOUT; a frame without a face with
 * LIVENESS_FACE_LOST once the capture started (a swap of face or screen between steps shows as a
 * lost face). Every measure is taken relative to the person's own baseline (the medians of the first
 * frames, facing the camera), so narrow eyes, a smile at rest or a camera slightly to one side are
 * measured against themselves.
 *
 * Pure: the tracker only sees measures and timestamps; the SDK feeds it from the camera, the tests
 * from generated frames (`synthetic.ts`) or measure sequences.
 */
import { isLivenessAction, type LivenessAction, type LivenessStep } from "@privface/contracts";

/** The three measures of one frame (see the module comment); `t` is the capture time in ms. */
export interface FrameMeasure {
  yaw: number;
  eye: number;
  mouth: number;
  t: number;
}

export interface ActionThresholds {
  /** change of yaw from the baseline at which a turn counts (default 0.25), and below which the head is back (0.1) */
  turn: number;
  frontal: number;
  /** eye measure below `closed` × baseline is a blink (default 0.7); above `open` × baseline the eyes are open again (0.85) */
  closed: number;
  open: number;
  /** rise of the mouth measure over the baseline at which the mouth is open (default 0.3), below which closed again (0.15) */
  mouthOpen: number;
  mouthClosed: number;
  /** largest |yaw| of the baseline: the person must first face the camera (default 0.6) */
  maxBaselineYaw: number;
  /** frames an action must hold (default 1: a blink can be one frame at 8 frames a second) */
  minFrames: number;
  /** time allowed per step, ms (default 6000) */
  stepTimeoutMs: number;
  /** frames the baseline (median of each measure) is taken from (default 3) */
  baselineFrames: number;
}

export const DEFAULT_ACTION_THRESHOLDS: Readonly<ActionThresholds> = Object.freeze({
  turn: 0.25,
  frontal: 0.1,
  closed: 0.7,
  open: 0.85,
  mouthOpen: 0.3,
  mouthClosed: 0.15,
  maxBaselineYaw: 0.6,
  minFrames: 1,
  stepTimeoutMs: 6000,
  baselineFrames: 3,
});

export type ActiveErrorCode = "LIVENESS_ACTIONS_MISMATCH" | "LIVENESS_TIMEOUT" | "LIVENESS_FACE_LOST";

export type TrackerState =
  | { status: "running"; step: number; prompt: LivenessAction | "look-at-camera" }
  | { status: "done"; steps: LivenessStep[] }
  | { status: "failed"; code: ActiveErrorCode; step: number; seen?: string };

type Pose = LivenessAction | "neutral" | "between";

/** Follows one capture frame by frame (see the module comment). */
export class ActionTracker {
  private readonly th: ActionThresholds;
  private readonly baseline: FrameMeasure[] = [];
  /** the person's own neutral measures (medians of the first frames) */
  private base: { yaw: number; eye: number; mouth: number } | undefined;
  private step = 0;
  private frame = -1;
  private stepStart: number | undefined;
  /** the event in progress: the poses seen since the face left neutral */
  private event: { from: number; poses: Map<LivenessAction, number>; peak: number; value: number; best: number } | undefined;
  private readonly done: LivenessStep[] = [];
  private state: TrackerState;

  constructor(
    readonly expected: readonly LivenessAction[],
    thresholds: Partial<ActionThresholds> = {},
  ) {
    if (!Array.isArray(expected) || expected.length === 0 || !expected.every(isLivenessAction)) throw new TypeError("ActionTracker: expected must be a non-empty list of liveness actions");
    this.th = { ...DEFAULT_ACTION_THRESHOLDS, ...thresholds };
    this.state = { status: "running", step: 0, prompt: "look-at-camera" };
  }

  get current(): TrackerState {
    return this.state;
  }

  /** A frame in which no face was found (or the engine refused it). */
  pushNoFace(t: number): TrackerState {
    if (this.state.status !== "running") return this.state;
    this.frame++;
    if (this.base) return (this.state = { status: "failed", code: "LIVENESS_FACE_LOST", step: this.step });
    return this.checkTime(t);
  }

  push(m: FrameMeasure): TrackerState {
    if (this.state.status !== "running") return this.state;
    this.frame++;
    if (![m.yaw, m.eye, m.mouth, m.t].every(Number.isFinite)) throw new TypeError("ActionTracker: measures must be finite numbers");
    if (!this.base) {
      // Baseline: the first frames, facing the camera.
      if (Math.abs(m.yaw) <= this.th.maxBaselineYaw) this.baseline.push(m);
      else this.baseline.length = 0;
      if (this.baseline.length < this.th.baselineFrames) return this.checkTime(m.t);
      const med = (k: "yaw" | "eye" | "mouth") => {
        const v = this.baseline.map((b) => b[k]).sort((a, b) => a - b);
        return v[v.length >> 1];
      };
      this.base = { yaw: med("yaw"), eye: med("eye"), mouth: med("mouth") };
      this.stepStart = m.t;
      return (this.state = { status: "running", step: 0, prompt: this.expected[0] });
    }
    let pose = this.pose(m);
    // People blink without being asked: a blink counts only when it is the step asked for.
    if (pose === "blink" && this.expected[this.step] !== "blink") pose = "between";
    if (pose === "neutral") {
      if (this.event) {
        const r = this.finishEvent();
        if (r) return r;
        if (this.state.status !== "running") return this.state;
      }
      return this.checkTime(m.t);
    }
    if (pose !== "between") {
      this.event ??= { from: this.frame, poses: new Map(), peak: this.frame, value: 0, best: -Infinity };
      const e = this.event;
      e.poses.set(pose, (e.poses.get(pose) ?? 0) + 1);
      // Fail fast on a wrong action: nothing performed after it can repair the sequence.
      if (pose !== this.expected[this.step]) return (this.state = { status: "failed", code: "LIVENESS_ACTIONS_MISMATCH", step: this.step, seen: pose });
      const strength = this.strength(pose, m);
      if (strength > e.best) {
        e.best = strength;
        e.peak = this.frame;
        e.value = Math.round(this.value(pose, m) * 1000) / 1000;
      }
    }
    return this.checkTime(m.t);
  }

  private finishEvent(): TrackerState | undefined {
    const e = this.event!;
    this.event = undefined;
    const poses = [...e.poses.entries()];
    const want = this.expected[this.step];
    if (poses.length !== 1 || poses[0][0] !== want) {
      return (this.state = { status: "failed", code: "LIVENESS_ACTIONS_MISMATCH", step: this.step, seen: poses.map((p) => p[0]).join("+") || "none" });
    }
    if (poses[0][1] < this.th.minFrames) return undefined; // too short to count: ignored
    this.done.push({ action: want, from: e.from, peak: e.peak, value: e.value });
    this.step++;
    if (this.step === this.expected.length) return (this.state = { status: "done", steps: this.done.slice() });
    this.stepStart = undefined;
    this.state = { status: "running", step: this.step, prompt: this.expected[this.step] };
    return undefined;
  }

  private checkTime(t: number): TrackerState {
    this.stepStart ??= t;
    if (t - this.stepStart > this.th.stepTimeoutMs) return (this.state = { status: "failed", code: "LIVENESS_TIMEOUT", step: this.step });
    return this.state;
  }

  private pose(m: FrameMeasure): Pose {
    const th = this.th;
    const b = this.base!;
    const yaw = m.yaw - b.yaw;
    const mouth = m.mouth - b.mouth;
    const found: LivenessAction[] = [];
    if (yaw >= th.turn) found.push("turn-left");
    if (yaw <= -th.turn) found.push("turn-right");
    if (m.eye < th.closed * b.eye && Math.abs(yaw) < th.turn) found.push("blink");
    if (mouth >= th.mouthOpen) found.push("open-mouth");
    if (found.length === 1) return found[0];
    if (found.length > 1) return "between"; // a turn with an open mouth is neither
    const neutral = Math.abs(yaw) < th.frontal && m.eye > th.open * b.eye && mouth < th.mouthClosed;
    return neutral ? "neutral" : "between";
  }

  private strength(pose: LivenessAction, m: FrameMeasure): number {
    const b = this.base!;
    if (pose === "turn-left") return m.yaw - b.yaw;
    if (pose === "turn-right") return b.yaw - m.yaw;
    if (pose === "blink") return -m.eye / b.eye;
    return m.mouth - b.mouth;
  }

  /** The evidence value of a step: the change of yaw, the eye measure relative to the baseline, the rise of the mouth measure. */
  private value(pose: LivenessAction, m: FrameMeasure): number {
    const b = this.base!;
    if (pose === "turn-left" || pose === "turn-right") return m.yaw - b.yaw;
    if (pose === "blink") return m.eye / b.eye;
    return m.mouth - b.mouth;
  }
}

/** Runs a whole recorded sequence through a tracker: the final state (still "running" = the sequence ended before the actions were done). */
export function verifyActions(expected: readonly LivenessAction[], frames: readonly (FrameMeasure | null)[], thresholds?: Partial<ActionThresholds>): TrackerState {
  const tr = new ActionTracker(expected, thresholds);
  let t = 0;
  for (const f of frames) {
    const s = f ? tr.push(f) : tr.pushNoFace(t);
    if (f) t = f.t;
    if (s.status !== "running") return s;
  }
  return tr.current;
}

/** 68 iBUG landmarks (flat x, y in frame pixels) → the three measures of the module comment. */
export function measuresFromLandmarks(lm: ArrayLike<number>, t = 0): FrameMeasure {
  if (lm.length !== 136) throw new RangeError("measuresFromLandmarks: 68 points (136 numbers) expected");
  const P = (i: number): [number, number] => [lm[2 * i], lm[2 * i + 1]];
  const mean = (a: number, b: number): [number, number] => {
    let x = 0, y = 0;
    for (let i = a; i <= b; i++) {
      x += lm[2 * i];
      y += lm[2 * i + 1];
    }
    return [x / (b - a + 1), y / (b - a + 1)];
  };
  const el = mean(36, 41);
  const er = mean(42, 47);
  // Rotate into the eye-line frame so that a tilted head (roll) does not read as a turn.
  const ang = Math.atan2(er[1] - el[1], er[0] - el[0]);
  const c = Math.cos(-ang), s = Math.sin(-ang);
  const u = (p: [number, number]) => c * p[0] - s * p[1];
  const d = (a: [number, number], b: [number, number]) => Math.hypot(a[0] - b[0], a[1] - b[1]);
  const j0 = u(P(0)), j16 = u(P(16)), nose = u(P(30));
  const yaw = j16 - j0 !== 0 ? (2 * (nose - j0)) / (j16 - j0) - 1 : 0;
  const ear = (o: number) => (d(P(o + 1), P(o + 5)) + d(P(o + 2), P(o + 4))) / (2 * d(P(o), P(o + 3)) || 1);
  const eye = (ear(36) + ear(42)) / 2;
  const mouth = d(P(62), P(66)) / (d(P(60), P(64)) || 1);
  return { yaw, eye, mouth, t };
}
