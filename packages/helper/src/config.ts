/**
 * Helper configuration from `PRIVFACE_HELPER_*` environment variables (defaults follow the runtime
 * layout under `PRIVFACE_HOME` or ./.privface). `loadHelperConfig` throws ConfigError naming every bad
 * variable; main prints it and exits 2.
 */
import { envReader } from "@privface/config";

export { ConfigError } from "@privface/config";

export interface HelperConfig {
  /** the deployment's cipher suite (PRIVFACE_SUITE): the audit key must be of it */
  suite: "INTL" | "GM";
  home: string;
  host: string;
  port: number;
  ca: string;
  /** the CA's CRL (a peer certificate it lists is refused); no file: no revocation */
  crl: string;
  cert: string;
  key: string;
  /** the helper's client certificate towards P1 (clientAuth) */
  clientCert: string;
  clientKey: string;
  seedP0: string;
  seedP1: string;
  p1Url: string;
  /** several P1 worker processes (`name=https://…,…`): pool deliveries go to them in turn; unset: `p1Url` */
  p1Workers: Map<string, string> | undefined;
  maxBatch: number;
  /** enrolment bundles dealt ahead (0 = on demand) */
  enrolPool: number;
  /** how often the helper sends its newest audit record to P1, which keeps it (an anchor); 0 = never */
  anchorEveryMs: number;
  db: string;
  dbSchema: string | undefined;
  auditKey: string;
}

/** `seedsMayBeGone`: the seed files need not exist (`privface exit helper` destroys one). */
export function loadHelperConfig(env: NodeJS.ProcessEnv = process.env, o: { seedsMayBeGone?: boolean } = {}): HelperConfig {
  const r = envReader("PRIVFACE_HELPER_", env);
  const { home, layout: L, get, file, int, url } = r;
  const cfg: HelperConfig = {
    suite: r.suite,
    home,
    host: get("HOST", "127.0.0.1"),
    port: int("PORT", 7440, 0, 65535),
    ca: file("CA", L.ca),
    crl: file("CRL", L.crl),
    cert: file("CERT", L.cert("helper").cert),
    key: file("KEY", L.cert("helper").key),
    clientCert: file("CLIENT_CERT", L.clientCert("helper").cert),
    clientKey: file("CLIENT_KEY", L.clientCert("helper").key),
    seedP0: r.ownKey("SEED_P0", L.helperPoolSeed("p0"), "helper", !o.seedsMayBeGone),
    seedP1: r.ownKey("SEED_P1", L.helperPoolSeed("p1"), "helper", !o.seedsMayBeGone),
    p1Url: url("P1_URL", "https://127.0.0.1:7442"),
    p1Workers: r.workers("P1_WORKERS"),
    // ≤ 1024: a batch of P1 halves must fit P1's body cap for pool deliveries (40 MiB ≥ 1024 × 30 KB)
    maxBatch: int("MAX_BATCH", 1024, 1, 1024),
    enrolPool: int("ENROL_POOL", 64, 0, 100_000),
    anchorEveryMs: int("AUDIT_ANCHOR_S", 60, 0, 86_400) * 1000,
    db: r.dbUrl("DB", `sqlite:${L.sqlite("helper")}`),
    dbSchema: r.optional("DB_SCHEMA"),
    auditKey: r.ownKey("AUDIT_KEY", L.auditKey("helper"), "helper"),
  };
  r.done();
  return cfg;
}
