/**
 * Runs the servers as child processes (one process each, as in production): `spawnServer(name, …)`
 * starts the helper or a party with the environment of the runtime layout, waits for its ready line
 * and returns a handle; `startStack` starts helper, P1 and P0 on the given ports. Used by
 * `privface start`, the multi-process tests and `privface bench verify`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export type ServerName = "helper" | "p0" | "p1" | "gateway";

export interface StackPorts {
  helper: number;
  p0: number;
  p1: number;
  /** Only needed to start the gateway. */
  gateway?: number;
}

export interface ServerHandle {
  name: string;
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
  onLog?: (server: string, line: string) => void;
  readyTimeoutMs?: number;
}

/** `n` distinct free TCP ports on 127.0.0.1 (bound then released; fine for tests). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import("node:net").Server>((res) => {
      const s = createServer();
      s.listen(0, "127.0.0.1", () => res(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as import("node:net").AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export function stackEnv(home: string, ports: StackPorts): Record<string, string> {
  const url = (p: number) => `https://127.0.0.1:${p}`;
  return {
    PRIVFACE_HOME: home,
    PRIVFACE_HELPER_PORT: String(ports.helper),
    PRIVFACE_HELPER_P1_URL: url(ports.p1),
    PRIVFACE_P0_PORT: String(ports.p0),
    PRIVFACE_P0_PEER_URL: url(ports.p1),
    PRIVFACE_P0_HELPER_URL: url(ports.helper),
    PRIVFACE_P1_PORT: String(ports.p1),
    PRIVFACE_P1_PEER_URL: url(ports.p0),
    PRIVFACE_P1_HELPER_URL: url(ports.helper),
    ...(ports.gateway !== undefined
      ? { PRIVFACE_GATEWAY_PORT: String(ports.gateway), PRIVFACE_GATEWAY_P0_URL: url(ports.p0), PRIVFACE_GATEWAY_P1_URL: url(ports.p1) }
      : {}),
  };
}

/** Path of the gateway's main module, or null when @privface/gateway has none (not written yet). */
export function gatewayMain(): string | null {
  try {
    const p = join(dirname(fileURLToPath(import.meta.resolve("@privface/gateway"))), "main.ts");
    return existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

function entry(name: ServerName): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  if (name === "gateway") {
    const main = gatewayMain();
    if (!main) throw new Error("@privface/gateway has no src/main.ts");
    return [main];
  }
  if (name === "helper") return [join(here, "..", "..", "helper", "src", "main.ts")];
  return [join(here, "main.ts"), name.toUpperCase()];
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
  const proc = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...extraArgs, "--import", tsx, ...entry(name)], {
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
  return new Promise<ServerHandle>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`${name} did not become ready within ${o.readyTimeoutMs ?? 30_000} ms:\n${stderr}`));
    }, o.readyTimeoutMs ?? 30_000);
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
      reject(new Error(`${name} exited (${code}) before it was ready:\n${stderr}`));
    });
  });
}

export interface Stack {
  servers: Record<ServerName, ServerHandle>;
  stop(): Promise<void>;
}

/** Starts helper, P1 and P0 as child processes (in parallel). */
export async function startStack(o: SpawnOptions): Promise<Stack> {
  const servers = {} as Record<ServerName, ServerHandle>;
  // in parallel: P0 re-dials P1 and retries the helper until they are up
  const names = ["helper", "p1", "p0"] as const;
  const started = await Promise.allSettled(names.map((n) => spawnServer(n, o)));
  started.forEach((r, i) => {
    if (r.status === "fulfilled") servers[names[i]] = r.value;
  });
  const failed = started.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
  if (failed) {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    throw failed.reason;
  }
  return {
    servers,
    async stop() {
      await Promise.all(Object.values(servers).map((s) => s.stop()));
    },
  };
}
