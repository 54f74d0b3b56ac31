/**
 * @privface/mpc — pure, I/O-free MPC for exact 1:1 face verification (two parties + helper).
 * The public API: what devices, the helper, the parties and the development harness use. Internals
 * (the DCF, the PRG, the ring, bundle layout helpers, wire sizes) are imported by relative path in
 * this package's tests only. See README.md for the API and the message sequence, docs/protocol.md for
 * the protocol.
 */
// parameters and quantisation
export { Q, MAX_D, DEFAULT_NORM_LO, DEFAULT_NORM_HI, makeParams, quantise } from "./params.ts";
export type { Params } from "./params.ts";
// device side: input sharing
export { expandSeedShare, shareInput, reconstructBytes } from "./sharing.ts";
export type { ShareContext } from "./sharing.ts";
export { secureRng, seededRng } from "./rng.ts";
export type { Rng } from "./rng.ts";
export { aesBackend } from "./prg.ts";
export { ProtocolError } from "./errors.ts";
export type { ProtocolErrorCode } from "./errors.ts";
// correlated randomness: the dealer (helper), its bytes, the party side
export { newItemId } from "./bundle.ts";
export type { Bundle, BundleKind, Dealt, Material, Seeds } from "./bundle.ts";
export { deal } from "./deal.ts";
export type { DealOptions } from "./deal.ts";
export { encodeBundle, decodeBundle, bundleIdOf } from "./bundle-wire.ts";
export { openBundle } from "./open.ts";
// spot-check of dealt batches by P0 and P1 (a cheating helper is caught)
export {
  DEFAULT_SPOTCHECK_FRACTION, SPOTCHECK_COIN_BYTES, spotCheckCoin, spotCheckCount, spotCheckSample, spotCheckMissProbability,
  encodeOpening, decodeOpening, checkOpenedPair, openItem,
} from "./spotcheck.ts";
export type { SpotCheckFailure, SpotCheckResult, OpenedMaterial } from "./spotcheck.ts";
// re-randomisation of stored template shares with a P0–P1 zero-sharing
export { MAX_EPOCH, epochOffset, reshare } from "./rerandomise.ts";
export type { ShareSlot } from "./rerandomise.ts";
// messages and their bytes
export { MESSAGE_VERSION, verifyRounds, enrolRounds } from "./messages.ts";
export type { PartyName, Header, LiftMsg, OpenMsg, CompareMsg, AndMsg, Message, Protocol } from "./messages.ts";
export { encodeMessage, decodeMessage, messageBytes } from "./wire.ts";
export type { Expect } from "./wire.ts";
// the step functions
export {
  verifyStart, verifyOnLift, verifyOnOpen, verifyOnCompare, verifyOnCompareMany, verifyOnAnd, verifyStep, verifyDiscard,
  enrolStart, enrolOnLift, enrolOnOpen, enrolOnCompare, enrolStep,
} from "./protocol.ts";
export type {
  VerifyInput, EnrolInput, VerifyOutput, EnrolOutput, VerifyState, EnrolState,
  VerifyLifted, VerifyOpened, VerifyCompared, VerifyAnded, VerifyDone, EnrolLifted, EnrolOpened, EnrolCompared, EnrolDone,
} from "./protocol.ts";
// the daily failure budget (counted inside MPC after each verification)
export {
  BUDGET_BITS, MAX_BUDGET, budgetRounds, freshCounter, reconcile, openBudget,
  budgetStart, budgetOnConvert, budgetOnCompare, budgetOnReveal, budgetStep, budgetPlain,
} from "./budget.ts";
export type {
  BudgetMaterial, BudgetSection, CounterState, Reconciled, BudgetInput, BudgetOutput, BudgetState,
  BudgetConverting, BudgetCompared, BudgetRevealing, BudgetDone, BudgetMessage, BudgetConvMsg, BudgetCompareMsg, BudgetRevealMsg,
} from "./budget.ts";
export { encodeBudgetMessage, decodeBudgetMessage } from "./budget-wire.ts";
export type { BudgetExpect } from "./budget-wire.ts";
// plaintext twins and the one-process runner
export { dotPlain, normPlain, validatePlain, verifyPlain } from "./plain.ts";
export { simulateVerify, simulateVerifyMany, simulateEnrol, simulateBudget } from "./simulate.ts";
export type { SimulateVerifyOptions, SimulateEnrolOptions, SimulateBudgetOptions, Traffic } from "./simulate.ts";
// 1:N deduplication: the scan's row storage (the WebAssembly kernel is @privface/scan)
export { jsRowStore, matvecJs, paddedWidth, checkMatvec, ShardedRows } from "./dedup-store.ts";
export type { RowStore, RowStoreFactory } from "./dedup-store.ts";
export {
  DEFAULT_SHARD_ROWS, dedupBits, compareLevels, dedupGates, MASK_BLOCK, maskShare, maskShares, newPartyGallery, galleryOpenShare, galleryAdd, galleryRemove,
  newHelperGallery, helperGalleryAdd, helperGalleryRemove, dedupCorrectionBytes, dealDedup, dealDedupBatch, openDedup,
  dedupPrepare, dedupStart, dedupOnEps, dedupOnZ, dedupOnAnd, dedupReveal, dedupPlain, anyLevels, dedupAnyFirstStep, dedupAnyStart, dedupAnyOnAnd, dedupSpotOpening, dedupSpotCheck,
} from "./dedup.ts";
export type {
  PartyGallery, HelperGallery, DedupBundle, DedupMaterial, DedupPrepareInput, DedupEpsMsg, DedupZMsg, DedupAndMsg, DedupMsg,
  DedupPrepared, DedupOpened, DedupMasked, DedupComparing, DedupDone, DedupState, DedupAnying,
} from "./dedup.ts";
export { simulateGalleryAdd, simulateGalleryRemove, simulateDedup } from "./simulate.ts";
export type { DedupWorld, DedupRun, SimulateDedupOptions } from "./simulate.ts";
export { encodeDedupBundle, decodeDedupBundle, dedupBundleIdOf, encodeDedupMessage, decodeDedupMessage, encodeWords, decodeWords } from "./dedup-wire.ts";
