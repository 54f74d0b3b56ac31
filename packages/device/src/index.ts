/**
 * @privface/device — the on-device side of privface, for a browser POS app and for Node programs.
 *
 * - `createFaceEngine(options)` → `processFrame(rgba, width, height)`: detect, choose the face,
 *   passive presentation-attack detection (anti-spoofing net fused with a screen / photo border
 *   cue, `padScore`), align, 512-d embedding (L2-normalised), or an error code
 *   (NO_FACE, MULTIPLE_FACES, FACE_TOO_SMALL, LIVENESS_FAILED).
 * - `MODEL`: id, version, dimension and int8 threshold of the deployed model (declared in
 *   @privface/contracts, re-exported here for SDK users).
 * - `buildFaceRequest`, `buildSignedPersonRequest`, `buildConsentRequest`, `sealShares`: sealed,
 *   signed gateway bodies from a precomputed embedding.
 * - `FaceDevice`: consent, enrol, verify, withdraw, deregister against the gateway with an injectable fetch.
 * - `accuracy`: EER and TAR at fixed FAR from exact int8 scores.
 */
export { createFaceEngine, l2normaliseInPlace } from "./engine.ts";
export type { FaceEngine, FaceEngineOptions, FaceResult, FaceErrorCode, PadEvidence } from "./engine.ts";
export { borderCue, padScore, PAD_FUSION, type BorderCue, type BorderCueOptions } from "./_pad.ts";
export { MODEL, type ModelInfo } from "@privface/contracts";
export { buildChallengeRequest, buildFaceRequest, buildSignedPersonRequest, buildConsentRequest, sealShares, signedMessage, trustedPartyKeys, DeviceError } from "./request.ts";
export type { ChallengeRequestBody, ChallengeResponse, ConsentBody, FaceRequestBody, SignedPersonBody, SealedShares, BuildFaceRequestInput, DeviceTrust, TrustedKey, Purpose, Rng } from "./request.ts";
export { TrustError, type TrustErrorCode } from "@privface/contracts";
export { FaceDevice } from "./sdk.ts";
export type { FaceDeviceOptions, FetchLike, RgbaFrame, GatewayAnswer, Notice, Sample } from "./sdk.ts";
export { accuracy, ratesAt } from "./metrics.ts";
export type { AccuracyReport } from "./metrics.ts";
export { ActionTracker, verifyActions, measuresFromLandmarks, DEFAULT_ACTION_THRESHOLDS } from "./actions.ts";
export type { FrameMeasure, ActionThresholds, ActiveErrorCode, TrackerState } from "./actions.ts";
export type { MeasureResult } from "./engine.ts";
export { liveCapture } from "./sdk.ts";
export type { ChallengeCapture, FrameSource, LiveCaptureOptions, LiveCapture } from "./sdk.ts";
export { actionFrame, actionSequence } from "./synthetic.ts";
export type { FaceGeometry, SequenceOptions, TimedFrame } from "./synthetic.ts";
