/**
 * What the whole-stack benchmarks (`bench e2e`, `bench soak`) share: the stack on loopback with the
 * gateway's and parties' per-person, per-device and per-template limits lifted (a benchmark measures
 * the system, not the limiter), a merchant with registered devices, new persons with consent, and
 * per-process figures read from /proc (CPU time, resident memory).
 */
import { deploymentSuite } from "@privface/config";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSigningKeyPair } from "@privface/crypto";
import { giveConsent, registerDevice, runtimeTrust, type SimDevice } from "../device-sim.ts";
import type { GatewayClient } from "../gateway-client.ts";
import { startStack, type ServerName } from "../stack.ts";
import { benchDatabase } from "./_postgres.ts";

export interface BenchStack {
  home: string;
  admin: GatewayClient;
  approver: GatewayClient;
  /** the devices' connections */
  client: GatewayClient;
  /** process ids of the servers and of this process (`client`: the simulated devices) */
  pids: Partial<Record<ServerName | "client", number>>;
  stop(): Promise<void>;
}

/**
 * Starts helper, P0, P1 and the gateway as processes in a temporary home, with `pool` bundles of
 * correlated randomness per party (waits until P0 holds them) and the rate limits lifted; `env` adds to
 * or overrides the servers' environment.
 */
export async function startBenchStack(o: {
  prefix: string;
  pool: number;
  maxSockets: number;
  env?: Record<string, string>;
  /** a postgres:// URL: every server in a schema of its own there, dropped at the end (default SQLite) */
  db?: string;
  nodeArgs?: Partial<Record<ServerName, string[]>>;
  /** every log line of every server */
  onLog?: (server: ServerName, line: string) => void;
  say: (line: string) => void;
}): Promise<BenchStack> {
  const home = mkdtempSync(join(tmpdir(), o.prefix));
  const env: Record<string, string> = {
    PRIVFACE_GATEWAY_LIMIT_PERSON_PER_MIN: "1000000",
    PRIVFACE_GATEWAY_LIMIT_DEVICE_PER_MIN: "1000000",
    PRIVFACE_GATEWAY_LIMIT_MERCHANT_PER_MIN: "10000000",
    // every simulated device is one source (127.0.0.1)
    PRIVFACE_GATEWAY_LIMIT_SOURCE_PER_MIN: "10000000",
    PRIVFACE_GATEWAY_LOG_LEVEL: "warn",
    // each server's database work (@privface/db dbStats), read by `dbStatsOf`
    PRIVFACE_DB_STATS_DIR: join(home, "db-stats"),
  };
  for (const p of ["P0", "P1"]) Object.assign(env, { [`PRIVFACE_${p}_POOL_TARGET`]: String(o.pool), [`PRIVFACE_${p}_POOL_LOW`]: String(Math.floor(o.pool / 4)), [`PRIVFACE_${p}_VERIFY_PER_MIN`]: "100000", [`PRIVFACE_${p}_VERIFY_PER_DAY`]: "10000000" });
  const pg = o.db ? benchDatabase(o.db, ["HELPER", "P0", "P1", "GATEWAY"]) : undefined;
  Object.assign(env, pg?.env, o.env);
  o.say(`starting helper, P0, P1 and the gateway on loopback (home ${home}) …`);
  const stack = await startStack({ home, env, nodeArgs: o.nodeArgs, onLog: o.onLog, readyTimeoutMs: 60_000 }).catch(async (e) => {
    rmSync(home, { recursive: true, force: true });
    await pg?.drop();
    throw e;
  });
  const stop = async () => {
    await stack.stop();
    rmSync(home, { recursive: true, force: true });
    await pg?.drop();
  };
  try {
    // wait for P0's pool to fill so the measurement does not race the helper's dealing; it settles just
    // below its target (seen: 511 of 512, spot-checks spend bundles), so 95 % counts as full
    const full = Math.floor(0.95 * o.pool);
    o.say(`waiting for the parties' pools (${full} of ${o.pool} bundles) …`);
    await stack.waitPool(full, 180_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { home, admin: stack.client("admin"), approver: stack.client("operator"), client: stack.client("admin", o.maxSockets), pids: { ...stack.pids, client: process.pid }, stop };
}

/** A merchant with `n` registered, approved devices talking through `client`. */
export async function benchMerchant(s: { admin: GatewayClient; approver: GatewayClient; client: GatewayClient; home?: string }, n: number): Promise<{ merchantId: string; devices: SimDevice[] }> {
  const m = await s.admin.admin("POST", "/v1/admin/merchants", { name: "Bench Shop" });
  if (m.status !== 201) throw new Error(`merchant: ${m.status} ${JSON.stringify(m.body)}`);
  const trust = runtimeTrust(s.home);
  const devices: SimDevice[] = [];
  for (let i = 0; i < n; i++) devices.push(await registerDevice(s.admin, m.body.merchantId, await generateSigningKeyPair(deploymentSuite()), { label: `bench ${i}`, client: s.client, approver: s.approver, trust }));
  return { merchantId: m.body.merchantId, devices };
}

/** A new person of the merchant (the `i`-th: distinct synthetic identity fields) who consents on `device`. */
export async function benchPerson(admin: GatewayClient, merchantId: string, device: SimDevice, i: number): Promise<string> {
  const r = await admin.admin("POST", `/v1/admin/merchants/${merchantId}/persons`, {
    role: i === 0 ? "principal" : "cashier",
    name: `Bench ${i}`,
    idNumber: `1101011990${String(i).padStart(7, "0")}X`,
    phone: `138${String(i).padStart(8, "0")}`,
  });
  if (r.status !== 201) throw new Error(`person: ${r.status} ${JSON.stringify(r.body)}`);
  const g = await giveConsent(device, r.body.personId);
  if (!g.ok) throw new Error(`consent: ${g.reason}`);
  return r.body.personId;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export const r2 = (x: number) => Math.round(x * 100) / 100;

/** CPU time (user + system) of a process so far, ms, from /proc (Linux); undefined elsewhere. */
export function cpuMs(pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return undefined;
  }
}

/**
 * A server's database work so far (@privface/db `dbStats`: commits, writes, statements, round trips, …), as its
 * process last wrote it under PRIVFACE_DB_STATS_DIR (every 200 ms: wait that long after the load).
 */
export function dbStatsOf(home: string, pid: number): Record<string, number> | undefined {
  // the file is rewritten in place: a read that met a write half done parses again
  for (let i = 0; i < 5; i++) {
    try {
      return JSON.parse(readFileSync(join(home, "db-stats", `${pid}.json`), "utf8"));
    } catch {
      // missing (no database opened yet) or half written
    }
  }
  return undefined;
}

/** Resident memory of a process (VmRSS in /proc/<pid>/status), MB; undefined when unreadable. */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? r2(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}
