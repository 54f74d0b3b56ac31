/**
 * The runtime home (`$PRIVFACE_HOME`, default `./.privface`): every file a development deployment
 * keeps there, named once. Each server's configuration takes its defaults from here, and the
 * development stack (@privface/devstack `ensureRuntime`) creates what is missing.
 *
 *   pki/          ca.crt, <server>.crt/.key (TLS server certificates of helper, p0, p1, gateway),
 *                 <server>-client.crt/.key (client certificates of the servers that call another)
 *   keys/<server>/  one folder per server (mode 0700) with only that server's private material:
 *     p0/, p1/      seal.json, data.json, pool-seed.json (shared with the helper), audit.json,
 *                   pair-seed.json (the same seed at P0 and P1, never at the helper),
 *                   result.json (result-share MAC key agreement with the gateway),
 *                   root.json (institution root signing key), nonce.json (nonce HMAC key)
 *     helper/       p0-pool-seed.json, p1-pool-seed.json, audit.json
 *     gateway/      signing.json, result.json, data.json, operators.json, audit.json
 *   keys/public/  the public halves the other servers receive: p0-seal.pub.json, p1-seal.pub.json,
 *                 gateway-signing.pub.json, <server>-result.pub.json (p0, p1, gateway),
 *                 <server>-audit.pub.json, p0-root.pub.json, p1-root.pub.json
 *   keys/cli/     the command line's own POS device keys (not a server)
 *   data/         one SQLite file per server
 *
 * A server is handed only its own folder's files and public keys: `keyFolderOf(path)` tells which
 * folder a key file lies in (the configuration loaders refuse another server's file).
 */
import { basename, dirname, join, resolve } from "node:path";

export type ServerName = "helper" | "p0" | "p1" | "gateway";
export const SERVER_NAMES: readonly ServerName[] = ["helper", "p0", "p1", "gateway"];
type Px = "p0" | "p1";

export interface RuntimeLayout {
  home: string;
  dirs: {
    pki: string;
    /** the root of the key folders (holds only folders) */
    keys: string;
    data: string;
    /** the public halves the servers hand each other */
    public: string;
    /** the command line's device keys */
    cli: string;
  };
  /** a server's own key folder (mode 0700): only its private material */
  keyDir(server: ServerName): string;
  ca: string;
  /** the CA's certificate revocation list (pki/ca.crl; read by every server at start) */
  crl: string;
  /** a server's TLS server certificate and key */
  cert(server: ServerName): { cert: string; key: string };
  /** a server's TLS client certificate and key (towards another server) */
  clientCert(server: ServerName): { cert: string; key: string };
  /** the gateway's client certificate towards the parties (= clientCert("gateway")) */
  gatewayClient: { cert: string; key: string };
  /** a party's sealing key pair (devices seal shares to its public half), in the party's folder */
  sealKey(party: Px): string;
  /** the public half of a party's sealing key (what the gateway reads) */
  sealPub(party: Px): string;
  /** a party's data key (shares at rest) */
  dataKey(party: Px): string;
  /** a party's template-key register (one key per template, wrapped under the data key; never in a database backup) */
  templateKeys(party: Px): string;
  /** the pool seed a party shares with the helper: the party's copy */
  poolSeed(party: Px): string;
  /** the helper's copy of a party's pool seed */
  helperPoolSeed(party: Px): string;
  /** a party's copy of the seed P0 and P1 share (never the helper): re-randomises stored shares */
  pairSeed(party: Px): string;
  /** a server's audit signing key */
  auditKey(server: ServerName): string;
  /** the public half of a server's audit key (for `privface audit verify`) */
  auditPub(server: ServerName): string;
  /** a party's or the gateway's result key pair (the MAC key of result shares, by key agreement) */
  resultKey(server: Px | "gateway"): string;
  /** its public half (a party receives the gateway's, the gateway each party's) */
  resultPub(server: Px | "gateway"): string;
  /** a party's institution root signing key (signs its sealing-key lists) */
  root(party: Px): string;
  /** the public half of a party's institution root key (provisioned to devices) */
  rootPub(party: Px): string;
  /** a party's root handover chain (public; `privface keys rotate --kind root` appends to it) */
  rootHandovers(party: Px): string;
  /** a party's nonce HMAC key */
  nonceKey(party: Px): string;
  gatewaySigningKey: string;
  /** the public half of the gateway's signing key, for the parties */
  gatewaySigningPub: string;
  gatewayDataKey: string;
  /** the key of the gateway's ID-number blind index (independent of the data keys) */
  gatewayIndexKey: string;
  gatewayOperators: string;
  /** the embedded database of a server */
  sqlite(server: ServerName): string;
  /** the command line's own POS device key for a merchant, and the map of its registered device ids */
  cliDeviceKey(merchant: string): string;
  /** the command line's POS device key-agreement key (statement MACs, decision 010 §2) */
  cliDeviceAuthKey(merchant: string): string;
  cliDeviceMap: string;
}

export function runtimeLayout(home: string): RuntimeLayout {
  const h = resolve(home);
  const pki = join(h, "pki");
  const keys = join(h, "keys");
  const data = join(h, "data");
  const pub = join(keys, "public");
  const cli = join(keys, "cli");
  const own = (s: ServerName, f: string) => join(keys, s, f);
  const clientCert = (s: ServerName) => ({ cert: join(pki, `${s}-client.crt`), key: join(pki, `${s}-client.key`) });
  return {
    home: h,
    dirs: { pki, keys, data, public: pub, cli },
    keyDir: (s) => join(keys, s),
    ca: join(pki, "ca.crt"),
    crl: join(pki, "ca.crl"),
    cert: (s) => ({ cert: join(pki, `${s}.crt`), key: join(pki, `${s}.key`) }),
    clientCert,
    gatewayClient: clientCert("gateway"),
    sealKey: (p) => own(p, "seal.json"),
    sealPub: (p) => join(pub, `${p}-seal.pub.json`),
    dataKey: (p) => own(p, "data.json"),
    templateKeys: (p) => own(p, "template-keys.sqlite"),
    poolSeed: (p) => own(p, "pool-seed.json"),
    helperPoolSeed: (p) => own("helper", `${p}-pool-seed.json`),
    pairSeed: (p) => own(p, "pair-seed.json"),
    auditKey: (s) => own(s, "audit.json"),
    auditPub: (s) => join(pub, `${s}-audit.pub.json`),
    resultKey: (s) => own(s, "result.json"),
    resultPub: (s) => join(pub, `${s}-result.pub.json`),
    root: (p) => own(p, "root.json"),
    rootPub: (p) => join(pub, `${p}-root.pub.json`),
    rootHandovers: (p) => join(pub, `${p}-root-handovers.json`),
    nonceKey: (p) => own(p, "nonce.json"),
    gatewaySigningKey: own("gateway", "signing.json"),
    gatewaySigningPub: join(pub, "gateway-signing.pub.json"),
    gatewayDataKey: own("gateway", "data.json"),
    gatewayIndexKey: own("gateway", "index.json"),
    gatewayOperators: own("gateway", "operators.json"),
    sqlite: (s) => join(data, `${s}.sqlite`),
    cliDeviceKey: (m) => join(cli, `device-${m.replace(/[^A-Za-z0-9_-]/g, "")}.json`),
    cliDeviceAuthKey: (m) => join(cli, `device-${m.replace(/[^A-Za-z0-9_-]/g, "")}.auth.json`),
    cliDeviceMap: join(cli, "devices.json"),
  };
}

/**
 * The key folder a file lies in, judged by its path alone: a file directly in `…/keys/<server>/`
 * gives that server, `…/keys/public/` gives "public", anything else null. Works for any runtime
 * home (the loaders use it to refuse another server's key file).
 */
export function keyFolderOf(path: string): ServerName | "public" | null {
  const p = resolve(path);
  const dir = dirname(p);
  if (basename(dirname(dir)) !== "keys") return null;
  const folder = basename(dir);
  if (folder === "public") return "public";
  return (SERVER_NAMES as readonly string[]).includes(folder) ? (folder as ServerName) : null;
}

/**
 * Files of the earlier flat layout (every key in `keys/`, one folder for all servers) and where
 * they live now: `ensureRuntime` moves them so an existing home keeps its keys (and its data stays
 * readable). Private files go to their server's folder; public halves are re-derived.
 */
export function legacyKeyFiles(L: RuntimeLayout): { from: string; to: string }[] {
  const k = L.dirs.keys;
  const out: { from: string; to: string }[] = [];
  for (const p of ["p0", "p1"] as const) {
    out.push({ from: join(k, `${p}-seal.json`), to: L.sealKey(p) });
    out.push({ from: join(k, `${p}-data.json`), to: L.dataKey(p) });
    out.push({ from: join(k, `${p}-pool-seed.json`), to: L.poolSeed(p) });
  }
  for (const s of SERVER_NAMES) out.push({ from: join(k, `${s}-audit.json`), to: L.auditKey(s) });
  out.push({ from: join(k, "gateway-signing.json"), to: L.gatewaySigningKey });
  out.push({ from: join(k, "gateway-data.json"), to: L.gatewayDataKey });
  out.push({ from: join(k, "gateway-operators.json"), to: L.gatewayOperators });
  return out;
}

/** The runtime home named by the environment: `PRIVFACE_HOME`, else `./.privface`, absolute. */
export function homeFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.PRIVFACE_HOME || ".privface");
}
