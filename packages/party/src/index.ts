/**
 * @privface/party — compute party server (P0 or P1). See README.md. The Party API it serves is
 * declared in @privface/contracts.
 */
export { createPartyApp, type AuditSink, type AuditRecord, type PartyApp, type PartyDeps, type PeerSessionStatus } from "./app.ts";
export { loadPartyConfig, partyPrefix, ConfigError, type PartyConfig } from "./config.ts";
export { startParty, type RunningParty } from "./server.ts";
export { createPartyMetrics, type PartyMetrics } from "./metrics.ts";
export { createPartyStore, type PartyStore } from "./store/index.ts";
export { runMpc, sendAbort } from "./session.ts";
