/**
 * @privface/party — compute party server (P0 or P1). See README.md. The Party API it serves is
 * declared in @privface/contracts.
 */
export { createPartyService, toPartyError } from "./service.ts";
export type {
  PartyService, PartyServiceDeps, EnrolInput, VerifyInput, SessionInput, DeleteInput, DedupInput, DedupDeps, SealedShare,
  PartyAuditEntry, PartyAuditSink, PeerSessionStatus, RecoveryResult,
} from "./service.ts";
export { createPartyApp, MAX_BODY_BYTES, MAX_POOL_BODY_BYTES, MAX_DEDUP_BODY_BYTES, type PartyApp, type PartyAppDeps } from "./app.ts";
export { createPartyJobs, type PartyJobs, type PartyJobsDeps } from "./jobs.ts";
export { createHelperLink, type HelperLink } from "./helper-link.ts";
export { loadPartyConfig, partyPrefix, ConfigError, type PartyConfig } from "./config.ts";
export { startParty, type RunningParty } from "./server.ts";
export { openPartyAdmin, readStoreKeys, type PartyAdmin } from "./admin.ts";
export { createPartyMetrics, type PartyMetrics } from "./metrics.ts";
export { createPartyStore, openTemplateKeys, type PartyStore, type TemplateKeys } from "./store/index.ts";
export { runMpc, runDedup, sendAbort, DedupStock } from "./session.ts";
export { PartyGallery, GalleryKeeper, runGalleryKeeper, GalleryError, type GalleryHooks, type GalleryErrorCode, type PartyGalleryOptions, type GalleryKeeperOptions } from "./gallery.ts";
export { requestExit, approveExit, verifyExit, destroyFile, ExitError, EXIT_FORMAT, type ExitRecord } from "./exit.ts";
export { readRootHandovers, checkCurrentRoot, appendRootHandover, newestRoot } from "./root-chain.ts";
