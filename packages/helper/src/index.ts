/**
 * @privface/helper — the helper server: deals correlated randomness into the parties' pools. See README.md.
 */
export { createHelperApp, type HelperApp, type HelperDeps } from "./app.ts";
export { loadHelperConfig, ConfigError, type HelperConfig } from "./config.ts";
export { startHelper, type RunningHelper } from "./server.ts";
