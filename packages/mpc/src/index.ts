/**
 * @privface/mpc — pure, I/O-free MPC for exact 1:1 face verification (two parties + helper).
 * See README.md for the API and the message sequence, docs/protocol.md for the protocol.
 */
export { Q, MAX_D, DEFAULT_NORM_LO, DEFAULT_NORM_HI, makeParams, checkParams, sameParams, quantise, plainScore } from "./params.ts";
export type { Params } from "./params.ts";
export { encodeShareContext, expandSeedShare, shareInput, reconstructBytes } from "./sharing.ts";
export type { ShareContext } from "./sharing.ts";
export { ring, shareRing, reconstructRing } from "./ring.ts";
export { secureRng, seededRng } from "./rng.ts";
export type { Rng } from "./rng.ts";
export { deriveKey, expand, aesBackend } from "./prg.ts";
export { ProtocolError } from "./errors.ts";
export type { ProtocolErrorCode } from "./errors.ts";
export { dcfGen, dcfEval, dcfCwBytes, lessThanPlain } from "./dcf.ts";
export type { DcfCw } from "./dcf.ts";
export {
  deal, openBundle, newItemId, encodeBundle, decodeBundle, bundleIdOf, bundleBytes, correctionBytes, consume, UsedIds, intervals,
  COMPARE_BITS, COMPARE_MOD, SCORE_OFFSET,
} from "./deal.ts";
export type { Bundle, BundleKind, Dealt, Material, Seeds, UsedIdsLike } from "./deal.ts";
export { MESSAGE_VERSION, verifyRounds, enrolRounds } from "./messages.ts";
export type { PartyName } from "./messages.ts";
export type { Header, LiftMsg, OpenMsg, CompareMsg, AndMsg, Message, Protocol } from "./messages.ts";
export { encodeMessage, decodeMessage, messageBytes, bodyBytes, checkSession } from "./wire.ts";
export type { Expect } from "./wire.ts";
export {
  verifyStart, verifyOnLift, verifyOnOpen, verifyOnCompare, verifyOnCompareMany, verifyOnAnd, verifyStep,
  enrolStart, enrolOnLift, enrolOnOpen, enrolOnCompare, enrolStep,
} from "./protocol.ts";
export type {
  VerifyInput, EnrolInput, VerifyOutput, EnrolOutput, VerifyState, EnrolState,
  VerifyLifted, VerifyOpened, VerifyCompared, VerifyAnded, VerifyDone, EnrolLifted, EnrolOpened, EnrolCompared, EnrolDone,
} from "./protocol.ts";
export { dotPlain, normPlain, validatePlain, verifyPlain } from "./plain.ts";
export { simulate, simulateVerify, simulateVerifyMany, simulateEnrol } from "./simulate.ts";
export type { SimulateVerifyOptions, SimulateEnrolOptions, Traffic } from "./simulate.ts";
