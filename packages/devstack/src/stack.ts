/**
 * The whole system on one machine — the one orchestrator behind `privface start`, `privface demo`,
 * the multi-process tests and the benchmarks. `startStack(o)` creates the runtime home where missing
 * (`ensureRuntime`), starts the helper, P1 and P0 as child processes (one process each, as in
 * production) and then, unless told otherwise, the gateway — as a child process too, or inside this
 * process (`gateway: "in-process"`, tests) — and waits until the gateway reports both parties and the
 * peer link up and P0 holds correlated randomness (a verification before that would be answered
 * MPC_UNAVAILABLE). Servers are spawned from their packages' declared `./main` entry points.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildConsole } from "@privface/console/build";
import { readTlsKey } from "@privface/crypto/node";
import { createServer, type AddressInfo, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import { createLogger, deploymentSuite, type ServerName } from "@privface/config";
import type { PartyClient, PartyName } from "@privface/contracts";
import { createPartyClient, ensureOperators, loadGatewayConfig, openGatewayOptions, startGateway, type OperatorCredential, type RunningGateway } from "@privface/gateway";
import { createGatewayClient, type GatewayClient } from "./gateway-client.ts";
import { ensureRuntime, gatewayResultKey } from "./runtime.ts";
import { buildWebApps } from "./web.ts";

export type { ServerName };

export interface StackPorts {
  helper: number;
  p0: number;
  p1: number;
  gateway: number;
}

export interface ServerHandle {
  name: ServerName;
  port: number;
  proc: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

export interface SpawnOptions {
  home: string;
  ports: StackPorts;
  /** Extra environment (e.g. PRIVFACE_P0_DB for PostgreSQL, pool sizes). */
  env?: Record<string, string | undefined>;
  /** Receives each stderr line of the child (JSON log lines). */
  onLog?: (server: ServerName, line: string) => void;
  readyTimeoutMs?: number;
  /** a command the server is started through, e.g. `["ip", "netns", "exec", NS]` (netns.ts) */
  prefix?: string[];
}

/** `n` distinct free TCP ports on 127.0.0.1 (bound then released; fine for tests). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<Server>((res) => {
      const s = createServer();
      s.listen(0, "127.0.0.1", () => res(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** The environment that points every server at the others on loopback. */
export function stackEnv(home: string, ports: StackPorts): Record<string, string> {
  const url = (p: number) => `https://127.0.0.1:${p}`;
  return {
    PRIVFACE_HOME: home,
    PRIVFACE_HELPER_PORT: String(ports.helper),
    PRIVFACE_HELPER_P1_URL: url(ports.p1),
    PRIVFACE_P0_PORT: String(ports.p0),
    PRIVFACE_P0_PEER_URL: url(ports.p1),
    PRIVFACE_P0_HELPER_URL: url(ports.helper),
    // development: registrations the gateway forwards are active at once (decision 010 §2; production: operator)
    PRIVFACE_P0_DEVICE_APPROVAL: "auto",
    PRIVFACE_P1_PORT: String(ports.p1),
    PRIVFACE_P1_PEER_URL: url(ports.p0),
    PRIVFACE_P1_HELPER_URL: url(ports.helper),
    PRIVFACE_P1_DEVICE_APPROVAL: "auto",
    PRIVFACE_GATEWAY_PORT: String(ports.gateway),
    PRIVFACE_GATEWAY_P0_URL: url(ports.p0),
    PRIVFACE_GATEWAY_P1_URL: url(ports.p1),
  };
}

/** The module and arguments a server process starts from (its package's `./main` export). */
function entry(name: ServerName): string[] {
  if (name === "gateway") return [fileURLToPath(import.meta.resolve("@privface/gateway/main"))];
  if (name === "helper") return [fileURLToPath(import.meta.resolve("@privface/helper/main"))];
  return [fileURLToPath(import.meta.resolve("@privface/party/main")), name.toUpperCase()];
}

/**
 * V8 flags of every server process. `--initial-old-space-size=128` (MB): a party's live heap is
 * small (≈ 17 MB) and its old generation was sized to it, so the pool items and MPC buffers that
 * live across the rounds of in-flight sessions set off a full mark-compact every ≈ 200 ms under load
 * (P1: 55 in a 3,000-verification run, 14 % of its CPU); with room to grow it did 5.
 */
export const SERVER_NODE_FLAGS = ["--initial-old-space-size=128"];

/** Starts one server process and waits for its `{"ready":…}` line. */
export function spawnServer(name: ServerName, o: SpawnOptions, extraArgs: string[] = []): Promise<ServerHandle> {
  const tsx = import.meta.resolve("tsx");
  const argv = [process.execPath, ...SERVER_NODE_FLAGS, ...extraArgs, "--import", tsx, ...entry(name)];
  const [cmd, ...args] = [...(o.prefix ?? []), ...argv];
  const proc = spawn(cmd, args, {
    env: { ...process.env, ...stackEnv(o.home, o.ports), ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | string>((res) => proc.once("exit", (code, sig) => res(code ?? sig ?? -1)));
  let stderr = "";
  let buf = "";
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (d: string) => {
    stderr = (stderr + d).slice(-4000);
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      o.onLog?.(name, buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  // generous: on a shared CPU (load ≈ 40 on 2 cores) the servers of one stack took 42–44 s to be ready
  const timeoutMs = o.readyTimeoutMs ?? 120_000;
  return new Promise<ServerHandle>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`${name} failed to start: not ready within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    proc.stdout!.setEncoding("utf8");
    const onData = (d: string) => {
      out += d;
      const m = /\{"ready":"[a-z0-9]+","port":(\d+)\}/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.stdout!.off("data", onData);
      proc.stdout!.resume();
      resolve({
        name,
        port: Number(m[1]),
        proc,
        exited,
        async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 5_000) {
          if (proc.exitCode !== null || proc.signalCode !== null) return exited;
          proc.kill(signal);
          const t = setTimeout(() => proc.kill("SIGKILL"), graceMs);
          const r = await exited;
          clearTimeout(t);
          return r;
        },
      });
    };
    proc.stdout!.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} failed to start: exited (${code}) before it was ready:\n${stderr}`));
    });
  });
}

export interface StackOptions {
  home: string;
  /** fixed ports (`privface start`); default: free ones */
  ports?: StackPorts;
  /** the gateway as a child process (default), inside this process (tests), or not at all */
  gateway?: "process" | "in-process" | "none";
  /** HTTPS for the device API (default true) */
  tls?: boolean;
  /** extra environment for every server (PRIVFACE_P0_POOL_TARGET, PRIVFACE_GATEWAY_LIMIT_…) */
  env?: Record<string, string>;
  /** extra node flags per server process (profiling) */
  nodeArgs?: Partial<Record<ServerName, string[]>>;
  /** receives every log line of every server */
  onLog?: (server: ServerName, line: string) => void;
  readyTimeoutMs?: number;
  /** wait until the stack answers (gateway health, P0's first pool batch); default true */
  waitReady?: boolean;
  /** build the operator console into <home>/web/console and have the gateway serve it under /console/ (default true) */
  console?: boolean;
  /** build the web front ends and have the gateway serve them (`web.ts`: the POS app under /pos/) */
  web?: boolean;
  /** per server, the command it is started through (`SpawnOptions.prefix`) */
  prefix?: Partial<Record<ServerName, string[]>>;
  /**
   * Worker processes per party (default 1). With more, P0 and P1 each run that many processes named
   * a, b, … over the party's database (PostgreSQL: set PRIVFACE_P0_DB / _P1_DB and their schemas in
   * `env`), and the gateway spreads its calls over them (docs/operations.md, several workers).
   */
  workers?: number;
}

export interface Stack {
  home: string;
  ports: StackPorts;
  /** the child processes (the gateway's only when it runs as one) */
  servers: Partial<Record<ServerName, ServerHandle>>;
  /** process ids by server (the gateway's is this process when in-process) */
  pids: Partial<Record<ServerName, number>>;
  /** the in-process gateway */
  gateway: RunningGateway | undefined;
  /** every worker process of each party, by name (one, `a`, unless `workers` > 1; `a` is servers.p0 / servers.p1) */
  workers: Record<"p0" | "p1", Map<string, ServerHandle>>;
  /** the gateway's device API (when a gateway runs) */
  url: string;
  /** the deployment CA (PEM) */
  ca: Buffer;
  operators: OperatorCredential[];
  /** the parties' API base URLs (mutual TLS with the gateway's client certificate) */
  partyUrls: Record<PartyName, string>;
  /** a gateway client with the token of an operator of `role` */
  client(role?: "admin" | "operator" | "auditor", maxSockets?: number): GatewayClient;
  /** a Party API client with the gateway's client certificate (tests and benchmarks); `url`: another way to the party (a relay) */
  partyClient(party: PartyName, url?: string): PartyClient;
  /** polls P0 until its pool holds `target` bundles (P1 holds every id P0 holds) */
  waitPool(target: number, ms: number): Promise<void>;
  /** starts a server process that stopped (or was killed) again, as it was started; `env` on top */
  restart(name: ServerName, env?: Record<string, string>): Promise<ServerHandle>;
  stop(): Promise<void>;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const { layout: L } = await ensureRuntime(o.home, { gatewaySigningKey: o.env?.PRIVFACE_GATEWAY_SIGNING_KEY, suite: deploymentSuite({ ...process.env, ...o.env }) });
  const [helper, p0, p1, gw] = o.ports ? [o.ports.helper, o.ports.p0, o.ports.p1, o.ports.gateway] : await freePorts(4);
  const ports: StackPorts = { helper, p0, p1, gateway: gw };
  const mode = o.gateway ?? "process";
  const tls = o.tls ?? true;
  // the web front ends, mounts of the gateway (PRIVFACE_GATEWAY_WEB, _web.ts): the operator console (by default) and the POS app (`web`)
  const mounts: string[] = [];
  if (o.console !== false && mode !== "none") mounts.push(`/console/=${await buildConsole(join(L.home, "web", "console"))}`);
  if (o.web) mounts.push((await buildWebApps(L.home)).PRIVFACE_GATEWAY_WEB);
  const env: Record<string, string> = { ...(mounts.length > 0 ? { PRIVFACE_GATEWAY_WEB: mounts.join(",") } : {}), ...o.env, PRIVFACE_GATEWAY_TLS: tls ? "on" : "off" };
  // several workers per party: their names, ports and the lists every server is told
  const nWorkers = o.workers ?? 1;
  const workerNames = Array.from({ length: nWorkers }, (_, i) => String.fromCharCode(97 + i));
  const extra = nWorkers > 1 ? await freePorts(2 * (nWorkers - 1)) : [];
  const workerPorts = { p0: [p0, ...extra.slice(0, nWorkers - 1)], p1: [p1, ...extra.slice(nWorkers - 1)] };
  const list = (s: "p0" | "p1") => workerNames.map((w, i) => `${w}=https://127.0.0.1:${workerPorts[s][i]}`).join(",");
  if (nWorkers > 1) Object.assign(env, { PRIVFACE_HELPER_P1_WORKERS: list("p1"), PRIVFACE_P0_PEER_WORKERS: list("p1"), PRIVFACE_P1_PEER_WORKERS: list("p0"), PRIVFACE_GATEWAY_P0_WORKERS: list("p0"), PRIVFACE_GATEWAY_P1_WORKERS: list("p1") });
  const workerEnv = (s: "p0" | "p1", i: number): Record<string, string> =>
    nWorkers > 1 ? { [`PRIVFACE_${s.toUpperCase()}_WORKER_ID`]: workerNames[i], [`PRIVFACE_${s.toUpperCase()}_PORT`]: String(workerPorts[s][i]) } : {};
  const spawnOpts = (n: ServerName): SpawnOptions => ({ home: L.home, ports, env: n === "p0" || n === "p1" ? { ...env, ...workerEnv(n, 0) } : env, onLog: o.onLog, readyTimeoutMs: o.readyTimeoutMs, prefix: o.prefix?.[n] });
  const workers: Stack["workers"] = { p0: new Map(), p1: new Map() };
  const servers: Partial<Record<ServerName, ServerHandle>> = {};
  let gateway: RunningGateway | undefined;
  const clients: { close(): void }[] = [];
  const stop = async () => {
    for (const c of clients.splice(0)) c.close();
    if (gateway) await gateway.close();
    for (const n of ["gateway", "p0", "p1", "helper"] as const) {
      await servers[n]?.stop();
      if (n === "p0" || n === "p1") for (const h of workers[n].values()) await h.stop();
    }
  };
  try {
    // in parallel: P0 re-dials P1 and retries the helper until they are up
    const names = ["helper", "p1", "p0"] as const;
    const started = await Promise.allSettled(names.map((n) => spawnServer(n, spawnOpts(n), o.nodeArgs?.[n])));
    started.forEach((r, i) => {
      if (r.status === "fulfilled") servers[names[i]] = r.value;
    });
    const failed = started.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
    for (const s of ["p0", "p1"] as const) workers[s].set("a", servers[s]!);
    for (let i = 1; i < nWorkers; i++) {
      for (const s of ["p1", "p0"] as const) {
        const base = spawnOpts(s);
        workers[s].set(workerNames[i], await spawnServer(s, { ...base, env: { ...base.env, ...workerEnv(s, i) } }, o.nodeArgs?.[s]));
      }
    }
    if (mode === "process") servers.gateway = await spawnServer("gateway", spawnOpts("gateway"), o.nodeArgs?.gateway);
    if (mode === "in-process") {
      const options = await openGatewayOptions(loadGatewayConfig({ ...process.env, ...stackEnv(L.home, ports), ...env }));
      const logger = createLogger({ name: "gateway", level: "info", destination: { write: (s: string) => o.onLog?.("gateway", s.trimEnd()) } });
      gateway = await startGateway({ ...options, logger });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const url = `${tls ? "https" : "http"}://127.0.0.1:${gw}`;
  const ca = readFileSync(L.ca);
  const operators = mode === "none" ? [] : ensureOperators(L.gatewayOperators);
  const partyUrls = { P0: `https://127.0.0.1:${p0}`, P1: `https://127.0.0.1:${p1}` };
  const partyTls = { ca, cert: readFileSync(L.gatewayClient.cert), key: readTlsKey(L.gatewayClient.key) };
  const resultKeys = { P0: await gatewayResultKey(L, "P0"), P1: await gatewayResultKey(L, "P1") };
  const stack: Stack = {
    home: L.home,
    ports,
    servers,
    pids: {
      helper: servers.helper?.proc.pid,
      p0: servers.p0?.proc.pid,
      p1: servers.p1?.proc.pid,
      ...(mode === "none" ? {} : { gateway: servers.gateway?.proc.pid ?? process.pid }),
    },
    gateway,
    workers,
    url,
    ca,
    operators,
    partyUrls,
    client(role = "admin", maxSockets = 64) {
      const token = operators.find((x) => x.role === role)?.token;
      const c = createGatewayClient({ url, ca, token, maxSockets });
      clients.push(c);
      return c;
    },
    partyClient(party, url = partyUrls[party]) {
      const c = createPartyClient({ url, tls: partyTls, party, resultKey: resultKeys[party] });
      clients.push(c);
      return c;
    },
    async waitPool(target, ms) {
      const c = createPartyClient({ url: partyUrls.P0, tls: partyTls, party: "P0", resultKey: resultKeys.P0 });
      const t0 = Date.now();
      try {
        while (Date.now() - t0 < ms) {
          const level = await c.health().then((h) => h.pool.level, () => 0);
          if (level >= target) return;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`P0's pool did not reach ${target} bundles within ${ms} ms`);
      } finally {
        c.close();
      }
    },
    async restart(name, extra = {}) {
      const s = spawnOpts(name);
      const h = await spawnServer(name, { ...s, env: { ...s.env, ...extra } }, o.nodeArgs?.[name]);
      servers[name] = h;
      stack.pids[name] = h.proc.pid;
      return h;
    },
    stop,
  };
  if (o.waitReady ?? true) {
    try {
      if (mode !== "none") await waitHealthy(stack.client("admin"), 30_000);
      await stack.waitPool(1, 30_000);
    } catch (e) {
      await stop();
      throw e;
    }
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
