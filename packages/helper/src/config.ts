/**
 * Helper configuration from `PRIVFACE_HELPER_*` environment variables (defaults follow the runtime
 * layout under `PRIVFACE_HOME` or ./.privface). `loadHelperConfig` throws ConfigError naming every bad
 * variable; main prints it and exits 2.
 */
import { join, resolve } from "node:path";
import { envReader } from "@privface/config";

export { ConfigError } from "@privface/config";

export interface HelperConfig {
  home: string;
  host: string;
  port: number;
  ca: string;
  cert: string;
  key: string;
  seedP0: string;
  seedP1: string;
  p1Url: string;
  maxBatch: number;
  /** enrolment bundles dealt ahead (0 = on demand) */
  enrolPool: number;
  db: string;
  dbSchema: string | undefined;
  auditKey: string;
}

export function homeDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.PRIVFACE_HOME ?? ".privface");
}

export function loadHelperConfig(env: NodeJS.ProcessEnv = process.env): HelperConfig {
  const r = envReader("PRIVFACE_HELPER_", env);
  const { home, get, file, int, url } = r;
  const cfg: HelperConfig = {
    home,
    host: get("HOST", "127.0.0.1"),
    port: int("PORT", 7440, 0, 65535),
    ca: file("CA", join(home, "pki", "ca.crt")),
    cert: file("CERT", join(home, "pki", "helper.crt")),
    key: file("KEY", join(home, "pki", "helper.key")),
    seedP0: file("SEED_P0", join(home, "keys", "p0-pool-seed.json")),
    seedP1: file("SEED_P1", join(home, "keys", "p1-pool-seed.json")),
    p1Url: url("P1_URL", "https://127.0.0.1:7442"),
    maxBatch: int("MAX_BATCH", 1024, 1, 100_000),
    enrolPool: int("ENROL_POOL", 64, 0, 100_000),
    db: r.dbUrl("DB", `sqlite:${join(home, "data", "helper.sqlite")}`),
    dbSchema: r.optional("DB_SCHEMA"),
    auditKey: file("AUDIT_KEY", join(home, "keys", "helper-audit.json")),
  };
  r.done();
  return cfg;
}
