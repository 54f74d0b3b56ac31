/**
 * The runtime home (`$PRIVFACE_HOME`, default `./.privface`): every file a development deployment
 * keeps there, named once. Each server's configuration takes its defaults from here, and the
 * development stack (@privface/devstack `ensureRuntime`) creates what is missing.
 *
 *   pki/     ca.crt, <server>.crt/.key for helper, p0, p1, gateway (TLS server), gateway-client.crt/.key
 *   keys/    private keys (mode 0600) and the public halves the other servers receive
 *   data/    one SQLite file per server
 */
import { join, resolve } from "node:path";

export type ServerName = "helper" | "p0" | "p1" | "gateway";

export interface RuntimeLayout {
  home: string;
  dirs: { pki: string; keys: string; data: string };
  ca: string;
  /** a server's TLS certificate and key */
  cert(server: ServerName): { cert: string; key: string };
  /** the gateway's client certificate towards the parties */
  gatewayClient: { cert: string; key: string };
  /** a party's sealing key pair (devices seal shares to its public half) */
  sealKey(party: "p0" | "p1"): string;
  /** a party's institution root signing key: signs its sealing-key list (decision 010 §1; offline in production) */
  root(party: "p0" | "p1"): string;
  /** the public half of a party's root, provisioned to devices */
  rootPub(party: "p0" | "p1"): string;
  /** a party's nonce HMAC key (decision 010 §3) */
  nonceKey(party: "p0" | "p1"): string;
  /** a party's data key (shares at rest) */
  dataKey(party: "p0" | "p1"): string;
  /** the seed a party shares with the helper */
  poolSeed(party: "p0" | "p1"): string;
  /** a server's audit signing key */
  auditKey(server: ServerName): string;
  gatewaySigningKey: string;
  /** the public half of the gateway's signing key, for the parties */
  gatewaySigningPub: string;
  gatewayDataKey: string;
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
  return {
    home: h,
    dirs: { pki, keys, data },
    ca: join(pki, "ca.crt"),
    cert: (s) => ({ cert: join(pki, `${s}.crt`), key: join(pki, `${s}.key`) }),
    gatewayClient: { cert: join(pki, "gateway-client.crt"), key: join(pki, "gateway-client.key") },
    sealKey: (p) => join(keys, `${p}-seal.json`),
    dataKey: (p) => join(keys, `${p}-data.json`),
    root: (p) => join(keys, `${p}-root.json`),
    rootPub: (p) => join(keys, `${p}-root.pub.json`),
    nonceKey: (p) => join(keys, `${p}-nonce.json`),
    poolSeed: (p) => join(keys, `${p}-pool-seed.json`),
    auditKey: (s) => join(keys, `${s}-audit.json`),
    gatewaySigningKey: join(keys, "gateway-signing.json"),
    gatewaySigningPub: join(keys, "gateway-signing.pub.json"),
    gatewayDataKey: join(keys, "gateway-data.json"),
    gatewayOperators: join(keys, "gateway-operators.json"),
    sqlite: (s) => join(data, `${s}.sqlite`),
    cliDeviceKey: (m) => join(keys, `cli-device-${m.replace(/[^A-Za-z0-9_-]/g, "")}.json`),
    cliDeviceAuthKey: (m) => join(keys, `cli-device-${m.replace(/[^A-Za-z0-9_-]/g, "")}.auth.json`),
    cliDeviceMap: join(keys, "cli-devices.json"),
  };
}

/** The runtime home named by the environment: `PRIVFACE_HOME`, else `./.privface`, absolute. */
export function homeFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.PRIVFACE_HOME || ".privface");
}
