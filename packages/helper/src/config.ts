/**
 * Helper configuration from `PRIVFACE_HELPER_*` environment variables (defaults follow the runtime
 * layout under `PRIVFACE_HOME` or ./.privface). `loadHelperConfig` throws ConfigError naming every bad
 * variable; main prints it and exits 2.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

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
  const P = "PRIVFACE_HELPER_";
  const problems: string[] = [];
  const home = resolve(env[`${P}HOME`] ?? homeDir(env));
  const get = (k: string, d: string) => env[P + k] ?? d;
  const file = (k: string, d: string) => {
    const v = get(k, d);
    if (!existsSync(v)) problems.push(`${P}${k}: file ${v} does not exist`);
    return v;
  };
  const int = (k: string, d: number, lo: number, hi: number) => {
    const raw = env[P + k];
    const v = raw === undefined ? d : Number(raw);
    if (!Number.isInteger(v) || v < lo || v > hi) problems.push(`${P}${k}: expected an integer in ${lo}..${hi}, got ${JSON.stringify(raw)}`);
    return v;
  };
  const url = (k: string, d: string) => {
    const v = get(k, d);
    try {
      if (new URL(v).protocol !== "https:") problems.push(`${P}${k}: expected an https:// URL, got ${v}`);
    } catch {
      problems.push(`${P}${k}: expected an https:// URL, got ${v}`);
    }
    return v.replace(/\/+$/, "");
  };
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
    db: get("DB", `sqlite:${join(home, "data", "helper.sqlite")}`),
    dbSchema: env[`${P}DB_SCHEMA`] || undefined,
    auditKey: file("AUDIT_KEY", join(home, "keys", "helper-audit.json")),
  };
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(cfg.db)) problems.push(`${P}DB: expected sqlite:PATH or postgres://…, got ${JSON.stringify(cfg.db)}`);
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}
