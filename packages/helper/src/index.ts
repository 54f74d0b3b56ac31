/**
 * @privface/helper — the helper server: deals correlated randomness into the parties' pools. See README.md.
 */
export { createHelperApp, type HelperApp, type HelperDeps } from "./app.ts";
export { loadHelperConfig, homeDir, ConfigError, type HelperConfig } from "./config.ts";
export { startHelper, type RunningHelper } from "./server.ts";
export { readSeedFile, ensureSeedFile, encodeBatch, decodeBatch, type PartyName } from "./seed.ts";
