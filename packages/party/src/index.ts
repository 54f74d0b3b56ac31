/**
 * @privface/party — compute party server (P0 or P1). See README.md.
 */
export { createPartyApp, TEMPLATE_ID_RE, SESSION_RE, type AuditSink, type AuditRecord, type PartyApp, type PartyDeps, type PeerSessionStatus } from "./app.ts";
export {
  createAuthorisationChecker,
  createAuthorisationSigner,
  signAuthorisations,
  shareDigest,
  MAX_AUTH_AHEAD_MS,
  MAX_AUTH_BATCH,
  type AuthorisationChecker,
  type AuthPayload,
  type Op,
  type SignedAuthorisation,
} from "./auth.ts";
export { ApiError, ERROR_STATUS, type ApiErrorCode } from "./errors.ts";
export { loadPartyConfig, partyPrefix, ConfigError, type PartyConfig, type PartyName } from "./config.ts";
export { startParty, modelParams, type RunningParty } from "./server.ts";
export { createPartyMetrics, type PartyMetrics } from "./metrics.ts";
export { runMpc, sendAbort } from "./session.ts";
export { createPartyClient, PartyClientError, type PartyClient } from "./client.ts";
