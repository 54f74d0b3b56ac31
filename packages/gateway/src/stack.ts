/**
 * The whole system on loopback for the demo, the end-to-end benchmark and the integration tests:
 * `startLocalStack({ home })` creates the runtime layout where missing (dev PKI, keys), starts the
 * helper, P1 and P0 as child processes (@privface/party/stack), then the gateway — as a child process
 * too (`inProcess: false`, default: what production looks like) or inside this process (tests) — on
 * free ports, and waits until the gateway reports both parties and the peer link up and P0 holds
 * correlated randomness (a first pool batch; `waitPool` for more).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createPartyClient } from "@privface/party/client";
import { ensureRuntime } from "@privface/party/runtime";
import { freePorts, spawnServer, startStack, type ServerHandle, type Stack } from "@privface/party/stack";
import { createGatewayClient, type GatewayClient } from "./client.ts";
import { ensureOperators, loadGatewayConfig, openGatewayOptions } from "./config.ts";
import { createLogger } from "./log.ts";
import { startGateway, type RunningGateway } from "./server.ts";
import type { OperatorCredential } from "./app.ts";

export interface LocalStackOptions {
  home: string;
  /** run the gateway in this process (tests) instead of a child process */
  inProcess?: boolean;
  /** HTTPS for the device API (default true) */
  tls?: boolean;
  /** extra environment for every server (PRIVFACE_P0_POOL_TARGET, PRIVFACE_GATEWAY_LIMIT_…) */
  env?: Record<string, string>;
  /** receives every log line of every server */
  onLog?: (server: string, line: string) => void;
  readyTimeoutMs?: number;
}

export interface LocalStack {
  home: string;
  url: string;
  /** the deployment CA (PEM) the gateway's certificate chains to */
  ca: Buffer;
  operators: OperatorCredential[];
  /** in-process gateway, when `inProcess` */
  gateway: RunningGateway | undefined;
  parties: Stack;
  /** the parties' API base URLs (mutual TLS with the gateway's client certificate) */
  partyUrls: { P0: string; P1: string };
  /** process ids by server (helper, p0, p1, gateway — the gateway's is this process when in-process) */
  pids: Record<string, number>;
  /** a client with the admin token */
  client(role?: "admin" | "operator" | "auditor", maxSockets?: number): GatewayClient;
  stop(): Promise<void>;
}

export async function startLocalStack(o: LocalStackOptions): Promise<LocalStack> {
  await ensureRuntime(o.home);
  const [helper, p0, p1, gwPort] = await freePorts(4);
  const parties = await startStack({ home: o.home, ports: { helper, p0, p1 }, env: o.env, onLog: o.onLog, readyTimeoutMs: o.readyTimeoutMs });
  const tls = o.tls ?? true;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...o.env,
    PRIVFACE_HOME: o.home,
    PRIVFACE_GATEWAY_PORT: String(gwPort),
    PRIVFACE_GATEWAY_P0_URL: `https://127.0.0.1:${p0}`,
    PRIVFACE_GATEWAY_P1_URL: `https://127.0.0.1:${p1}`,
    PRIVFACE_GATEWAY_TLS: tls ? "on" : "off",
  };
  let gateway: RunningGateway | undefined;
  let child: ServerHandle | undefined;
  try {
    if (o.inProcess) {
      const options = await openGatewayOptions(loadGatewayConfig(env));
      const logger = createLogger({ level: "info", destination: { write: (s: string) => o.onLog?.("gateway", s.trimEnd()) } });
      gateway = await startGateway({ ...options, logger });
    } else {
      // PRIVFACE_GATEWAY_NODE_ARGS: extra node flags for the gateway process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
      const nodeArgs = (env.PRIVFACE_GATEWAY_NODE_ARGS ?? "").split(" ").filter(Boolean);
      const ports = { helper, p0, p1, gateway: gwPort };
      child = await spawnServer("gateway", { home: o.home, ports, env, onLog: o.onLog, readyTimeoutMs: o.readyTimeoutMs }, nodeArgs);
    }
  } catch (e) {
    await parties.stop();
    throw e;
  }
  const url = `${tls ? "https" : "http"}://127.0.0.1:${gwPort}`;
  const ca = readFileSync(join(o.home, "pki", "ca.crt"));
  const operators = ensureOperators(join(o.home, "keys", "gateway-operators.json"));
  const clients: GatewayClient[] = [];
  const stack: LocalStack = {
    home: o.home,
    url,
    ca,
    operators,
    gateway,
    parties,
    partyUrls: { P0: `https://127.0.0.1:${p0}`, P1: `https://127.0.0.1:${p1}` },
    pids: {
      helper: parties.servers.helper.proc.pid ?? 0,
      p0: parties.servers.p0.proc.pid ?? 0,
      p1: parties.servers.p1.proc.pid ?? 0,
      gateway: child?.proc.pid ?? process.pid,
    },
    client(role = "admin", maxSockets = 64) {
      const token = operators.find((x) => x.role === role)?.token;
      const c = createGatewayClient({ url, ca, token, maxSockets });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      if (gateway) await gateway.close();
      if (child) await child.stop();
      await parties.stop();
    },
  };
  try {
    await waitHealthy(stack.client("admin"), 30_000);
    // until P0 holds correlated randomness, a verification would be answered MPC_UNAVAILABLE
    await waitPool(o.home, stack.partyUrls.P0, 1, 30_000);
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}

async function waitHealthy(c: GatewayClient, ms: number): Promise<void> {
  const t0 = Date.now();
  let last = "";
  while (Date.now() - t0 < ms) {
    try {
      const h = await c.call("GET", "/v1/health");
      if (h.status === 200 && h.body.status === "ok") return;
      last = JSON.stringify(h.body);
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the stack did not become healthy within ${ms} ms: ${last}`);
}

/** Polls P0's health until its pool holds `target` bundles (P1 holds every id P0 holds: the helper delivers P1's half first). */
export async function waitPool(home: string, p0Url: string, target: number, ms: number): Promise<void> {
  const pki = (f: string) => readFileSync(join(home, "pki", f));
  const c = createPartyClient({ url: p0Url, tls: { ca: pki("ca.crt"), cert: pki("gateway-client.crt"), key: pki("gateway-client.key") } });
  const t0 = Date.now();
  try {
    while (Date.now() - t0 < ms) {
      const level = await c.health().then((h) => h.pool?.level ?? 0, () => 0);
      if (level >= target) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`P0's pool did not reach ${target} bundles within ${ms} ms`);
  } finally {
    c.close();
  }
}
