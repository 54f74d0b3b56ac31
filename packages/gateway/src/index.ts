/**
 * @privface/gateway — the acquirer's gateway: merchants, persons (principals and cashiers), devices,
 * consent, challenges, limits and the orchestration of P0 and P1. See README.md and docs/api.md.
 */
export { createGateway, startGateway } from "./server.ts";
export type { Gateway, GatewayOptions, RunningGateway, StartGatewayOptions } from "./server.ts";
export { GatewayService, DEFAULT_LIMITS, DEFAULT_NOTICE } from "./service.ts";
export type { AuditEvent, AuditSink, Log, Operator, OperatorRole, ServiceOptions } from "./service.ts";
export { buildApp, DEFAULT_BODY_LIMIT } from "./app.ts";
export type { AppOptions, OperatorCredential } from "./app.ts";
export { ApiError, ERROR_CATALOGUE, isErrorCode } from "./errors.ts";
export type { ErrorCode } from "./errors.ts";
export type { PartyKey } from "./service.ts";
export { memoryState, redisState } from "./shared-state.ts";
export type { SharedState } from "./shared-state.ts";
export { createPartyClient } from "./party-client.ts";
export { createAuthorisationSigner } from "./authorise.ts";
export { maskIdNumber, maskPhone, maskName } from "./_identity.ts";
export { auditSink } from "./audit.ts";
export { loadGatewayConfig, openGatewayOptions, ensureOperators, ConfigError } from "./config.ts";
export type { GatewayConfig } from "./config.ts";
