/**
 * Active liveness, declared once for the gateway (which draws the actions of a challenge and checks
 * that the signed request reports exactly them) and the device (which prompts the person, checks the
 * frames perform them in order and signs what it saw).
 *
 * - `LIVENESS_ACTIONS`: what a person can be asked to do in front of the camera. "turn-left" is a
 *   turn of the head towards the person's own left (their nose moves to the right of the camera
 *   picture, which is not mirrored).
 * - `drawActions(n, randomBytes)`: n actions, no action twice in a row, uniformly drawn.
 * - `LivenessReport`: what the device signs in `liveness` of a face request: the passive score, the
 *   action sequence it verified and a per-step evidence summary (frame indices and peak measure).
 * - `sameActions(a, b)`: exact, ordered equality.
 */

export const LIVENESS_ACTIONS = ["blink", "turn-left", "turn-right", "open-mouth"] as const;
export type LivenessAction = (typeof LIVENESS_ACTIONS)[number];

/** Steps of an active-liveness challenge: 2 by default (≈ 2.4 s for a cooperative person), at most 3. */
export const LIVENESS_STEPS = { default: 2, max: 3 } as const;

export function isLivenessAction(v: unknown): v is LivenessAction {
  return typeof v === "string" && (LIVENESS_ACTIONS as readonly string[]).includes(v);
}

/**
 * `n` actions drawn uniformly with rejection sampling from `randomBytes`, never the same action
 * twice in a row (a held pose would otherwise count for two steps).
 */
export function drawActions(n: number, randomBytes: (k: number) => Uint8Array): LivenessAction[] {
  if (!Number.isInteger(n) || n < 1 || n > LIVENESS_STEPS.max) throw new RangeError(`drawActions: n must be an integer in [1, ${LIVENESS_STEPS.max}]`);
  const out: LivenessAction[] = [];
  const k = LIVENESS_ACTIONS.length;
  const limit = 256 - (256 % k);
  while (out.length < n) {
    for (const b of randomBytes(8)) {
      if (b >= limit) continue;
      const a = LIVENESS_ACTIONS[b % k];
      if (out.length > 0 && out[out.length - 1] === a) continue;
      out.push(a);
      if (out.length === n) break;
    }
  }
  return out;
}

/** Evidence of one verified step: the frames (indices in the capture) where the action started and peaked, and its peak measure. */
export interface LivenessStep {
  action: LivenessAction;
  /** index of the first frame of the action and of its peak */
  from: number;
  peak: number;
  /** the measure at the peak (yaw for turns, eye openness ratio for blinks, mouth opening ratio), 3 decimals */
  value: number;
}

/** The `liveness` object of a signed face request. */
export interface LivenessReport {
  /** passive presentation-attack score in [0, 1] (1 = live) */
  score: number;
  /** the action sequence the device verified (equal to the challenge's) */
  actions?: LivenessAction[];
  /** per-step evidence summary, one per action, in order */
  steps?: LivenessStep[];
}

export function sameActions(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
