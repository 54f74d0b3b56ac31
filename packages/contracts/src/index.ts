/**
 * @privface/contracts — the contracts between privface's components, declared once (README.md).
 * Browser-safe except `./auth` and `./nonce` (Node: node:crypto on the parties' hot path).
 */
export { MODEL, modelParams, type ModelInfo } from "./model.ts";
export { ID, PARTIES, SERVER_ROLES, isServerRole, serverRoleOf, partyOfRole, peerOf, upgradeSessionOf, dedupSessionOf, composeChallenge, challengeNonce, type PartyName, type ServerRole } from "./ids.ts";
export { contextAad, type ShareContext } from "./share.ts";
export { PARTY_ERRORS, PartyError, isPartyErrorCode, classifyPartyError, type PartyErrorCode } from "./errors.ts";
export { PARTY_ROUTES, AUDIT_SESSION_OPS, dedupAnswer } from "./party-api.ts";
export type {
  Bit, EnrolRequest, VerifyRequest, SessionRequest, DeleteRequest, DedupRequest, DedupResponse,
  EnrolResponse, VerifyResponse, CommitResponse, AbortResponse, DeleteResponse, PartyHealth, PartyClient,
  DeviceRegistration, DeviceRegistrationResponse, KeyListResponse, NonceBatch, AuditAnchorRequest, AuditAnchorResponse, AuditRecordsRequest, AuditRecordsResponse, DedupMatches,
} from "./party-api.ts";
export { packMatchShare, matchedTemplates } from "./dedup-matches.ts";
export type { AuthPayload, Op, SignedAuthorisation } from "./auth.ts";
export { bad, object, str, bytes, shareContext, shareRequest, upgradeRequest, MAX_SEALED_SHARE, type Json } from "./validate.ts";
export { packItems, unpackItems } from "./codec.ts";
export { RESULT_KIND, resultKey, resultBytes, resultMac, checkResultMac, type ResultBinding, type ResultKey } from "./result.ts";
export { sealingKeyId, signKeyList, checkKeyList, signRootHandover, followRootHandovers, MAX_ROOT_HANDOVERS, TrustError, type SealingKey, type SealingKeyList, type RootHandover, type TrustErrorCode } from "./keylist.ts";
export {
  STATEMENT_KIND, statementBytes, envelopeDigest, macInfo, deviceMacKey, partyMacKey, statementMac, checkStatementMac, parseStatement,
  statementContext, checkStatement, faceStatement,
  type DeviceStatement, type ShareRef, type StatementPurpose, type ReceivedShares,
} from "./statement.ts";
export { LIVENESS_ACTIONS, LIVENESS_STEPS, isLivenessAction, drawActions, sameActions, type LivenessAction, type LivenessStep, type LivenessReport } from "./liveness.ts";
