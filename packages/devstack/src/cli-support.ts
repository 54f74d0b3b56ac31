/**
 * What the `privface enrol|verify|deregister|gateway …` commands share: connecting to a running
 * gateway (URL, the deployment CA and an operator token from a file, the environment or the runtime
 * home — never from argv), and the
 * command line's own POS device per merchant — a signing key in `<home>/keys/cli/device-<merchant>.json`,
 * registered on first use (ids kept in `<home>/keys/cli/devices.json`).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { deploymentSuite, homeFromEnv, runtimeLayout, useDevKeySecret } from "@privface/config";
import { ensureKeyPairFile } from "@privface/crypto/node";
import { registerDevice, runtimeTrust, simDevice, type SimDevice } from "./device-sim.ts";
import { createGatewayClient, type GatewayClient } from "./gateway-client.ts";

export interface ConnectOptions {
  gateway?: string;
  home?: string;
  /** a file holding the operator token (never the token itself on a command line) */
  tokenFile?: string;
  role?: "admin" | "operator" | "auditor";
}

export interface Connection {
  home: string;
  url: string;
  client: GatewayClient;
  /** a second operator (role operator) for dual-control approvals, e.g. of the CLI's device (R27) */
  approver: GatewayClient;
  close(): void;
}

export function connect(o: ConnectOptions): Connection {
  const L = runtimeLayout(o.home ?? homeFromEnv());
  const home = L.home;
  const url = (o.gateway ?? process.env.PRIVFACE_GATEWAY_URL ?? "https://127.0.0.1:7443").replace(/\/+$/, "");
  const ca = existsSync(L.ca) ? readFileSync(L.ca) : undefined;
  let token = o.tokenFile ? readFileSync(o.tokenFile, "utf8").trim() : process.env.PRIVFACE_GATEWAY_TOKEN;
  const opsFile = L.gatewayOperators;
  if (!token && existsSync(opsFile)) {
    const ops = JSON.parse(readFileSync(opsFile, "utf8")) as { role: string; token?: string }[];
    token = ops.find((x) => x.role === (o.role ?? "admin"))?.token;
  }
  const client = createGatewayClient({ url, ca, token });
  let approverToken = process.env.PRIVFACE_GATEWAY_APPROVER_TOKEN;
  if (!approverToken && existsSync(opsFile)) {
    const ops = JSON.parse(readFileSync(opsFile, "utf8")) as { role: string; token?: string }[];
    approverToken = ops.find((x) => x.role === "operator")?.token;
  }
  const approver = createGatewayClient({ url, ca, token: approverToken });
  return {
    home,
    url,
    client,
    approver,
    close: () => {
      client.close();
      approver.close();
    },
  };
}

/** The command line's device for `merchantId`, registered on first use (needs an admin token). */
export async function cliDevice(conn: Connection, merchantId: string): Promise<SimDevice> {
  // one key per merchant: a device (and its key) belongs to exactly one merchant
  const L = runtimeLayout(conn.home);
  useDevKeySecret(); // the command line's simulated POS device keys, encrypted like every key file
  const { key } = await ensureKeyPairFile(L.cliDeviceKey(merchantId), deploymentSuite(), "sign");
  const { key: authKey } = await ensureKeyPairFile(L.cliDeviceAuthKey(merchantId), deploymentSuite(), "seal");
  const trust = runtimeTrust(conn.home);
  const mapFile = L.cliDeviceMap;
  const map: Record<string, string> = existsSync(mapFile) ? JSON.parse(readFileSync(mapFile, "utf8")) : {};
  const known = map[`${conn.url}|${merchantId}`];
  if (known) return simDevice(conn.client, known, key, authKey, trust);
  const d = await registerDevice(conn.client, merchantId, key, { label: "privface CLI", client: conn.client, approver: conn.approver, authKey, trust });
  map[`${conn.url}|${merchantId}`] = d.deviceId;
  writeFileSync(mapFile, JSON.stringify(map, null, 2) + "\n", { mode: 0o600 });
  return d;
}

/** Human-readable one-line answer for the CLI. */
export function describe(r: { status: number; body: any; ms: number }): string {
  if (r.body?.error) return `refused: ${r.body.error.code} (${r.body.error.message}) [HTTP ${r.status}, ${r.ms.toFixed(1)} ms]`;
  return `${JSON.stringify(r.body)} [${r.ms.toFixed(1)} ms]`;
}
