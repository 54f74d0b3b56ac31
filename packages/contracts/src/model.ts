/**
 * The deployed recognition model: id, version, dimension, the int8 operating threshold and the
 * liveness threshold — the one place these numbers
 * live (docs/decisions/009-contracts-and-devstack.md). The
 * parties take their protocol parameters from `modelParams()`, the gateway its liveness threshold
 * and the version it enrols under, the device SDK the version it stamps on every request.
 *
 * The threshold is on the exact integer score ⟨x, y⟩ of two int8 vectors quantised with Q = 256 (so
 * ≈ cosine × 65,536); a pair matches when score ≥ threshold. It was chosen on lfw-dev for a
 * false-accept rate of about 1e-4 (docs/face-model.md has the measurement and how to repeat it).
 */
import { makeParams, type Params } from "@privface/mpc";

export interface ModelInfo {
  /** stable name of the pipeline (detector + alignment + recognition net + flip averaging) */
  readonly id: string;
  /** version string sent in every request; [A-Za-z0-9._-] only */
  readonly version: string;
  /** embedding dimension */
  readonly dim: number;
  /** int8 score threshold (match when ⟨x, y⟩ ≥ threshold), Q = 256 */
  readonly threshold: number;
  /** minimum live score of the anti-spoofing net (device check; the gateway refuses lower reports) */
  readonly livenessThreshold: number;
}

export const MODEL: ModelInfo = Object.freeze({
  id: "faceplugin-fr512-flip",
  version: "faceplugin-fr512-flip.1",
  dim: 512,
  threshold: 27_200,
  livenessThreshold: 0.5, // on the fused PAD score (net + border cue): measured DET on the PAD development sets, docs/face-model.md
});

/** The MPC protocol parameters of the deployed model (d and threshold from `MODEL`). */
export function modelParams(model: ModelInfo = MODEL): Params {
  return makeParams({ d: model.dim, threshold: model.threshold });
}
