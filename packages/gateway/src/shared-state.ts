/**
 * The gateway's short-lived state — outstanding challenges, the replay cache, rate-limit windows and
 * the persons with an operation in flight — behind one small interface, so several gateway replicas
 * can share it (issue 16). `memoryState()` keeps it in this process (the default: one gateway);
 * `redisState(url)` keeps it in one Redis that every replica uses.
 *
 * Every operation a check depends on is one atomic step at the store (never a read then a write):
 * `putIfAbsent` is SET NX PX, so of two replicas consuming one challenge exactly one wins; `take`
 * checks and increments every counter of a request in one Lua script. A Redis that cannot be reached
 * (or does not answer within a second) fails the operation with SERVICE_UNAVAILABLE: a request is then
 * refused, never let through unchecked.
 */
import { Redis } from "ioredis";
import { ApiError } from "./errors.ts";

export interface SharedState {
  /** Stores `value` under `key` for `ttlMs` unless the key exists; true when this call stored it. */
  putIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** The value, or undefined when absent or expired. */
  get(key: string): Promise<string | undefined>;
  /** Deletes the key; true when it existed (of concurrent calls, at most one sees true). */
  del(key: string): Promise<boolean>;
  /**
   * Counts one against each counter, all or nothing: when any counter has reached its limit nothing is
   * counted and its index is returned; otherwise every counter counts one more and the result is -1.
   * A counter starts at its first count and is forgotten `ttlMs` later.
   */
  take(counters: readonly { key: string; limit: number }[], ttlMs: number): Promise<number>;
  close(): Promise<void>;
}

/** The state of one process, with TTLs measured on `now` (the gateway's clock, so tests can move it). */
export function memoryState(now: () => number = Date.now): SharedState {
  const m = new Map<string, { value: string; until: number }>();
  let lastSweep = 0;
  const live = (key: string) => {
    const t = now();
    if (t - lastSweep >= 1000) {
      lastSweep = t;
      for (const [k, e] of m) if (t >= e.until) m.delete(k);
    }
    const e = m.get(key);
    if (e && t >= e.until) m.delete(key);
    return e && t < e.until ? e : undefined;
  };
  return {
    async putIfAbsent(key, value, ttlMs) {
      if (live(key)) return false;
      m.set(key, { value, until: now() + ttlMs });
      return true;
    },
    async get(key) {
      return live(key)?.value;
    },
    async del(key) {
      return live(key) !== undefined && m.delete(key);
    },
    async take(counters, ttlMs) {
      const full = counters.findIndex((c) => Number(live(c.key)?.value ?? 0) >= c.limit);
      if (full >= 0) return full;
      for (const c of counters) {
        const e = live(c.key);
        if (e) e.value = String(Number(e.value) + 1);
        else m.set(c.key, { value: "1", until: now() + ttlMs });
      }
      return -1;
    },
    async close() {
      m.clear();
    },
  };
}

/** KEYS: the counters; ARGV[1]: ttl in ms, ARGV[1 + i]: the limit of KEYS[i]. */
const TAKE = `
for i, k in ipairs(KEYS) do
  if tonumber(redis.call('GET', k) or '0') >= tonumber(ARGV[i + 1]) then return i - 1 end
end
for _, k in ipairs(KEYS) do
  if redis.call('INCR', k) == 1 then redis.call('PEXPIRE', k, ARGV[1]) end
end
return -1`;

/**
 * The state in one Redis (`redis://` or `rediss://` URL) under `prefix` (default "privface:gw:"), for
 * several gateway replicas. Keys expire in Redis (its clock, not the gateway's). The multi-key `take`
 * needs a single Redis (or keys in one cluster slot), not a cluster.
 */
export function redisState(url: string, opts: { prefix?: string; timeoutMs?: number } = {}): SharedState {
  const prefix = opts.prefix ?? "privface:gw:";
  const timeoutMs = opts.timeoutMs ?? 1000;
  const r = new Redis(url, {
    keyPrefix: prefix,
    // while Redis is away, commands wait in the offline queue at most `timeoutMs`, then fail
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    connectTimeout: timeoutMs,
    retryStrategy: (n) => Math.min(n * 100, 1000),
  });
  // connection errors surface on each command (SERVICE_UNAVAILABLE); without a listener ioredis prints them
  r.on("error", () => {});
  const run = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch {
      throw new ApiError("SERVICE_UNAVAILABLE", { retryAfterS: 1 });
    }
  };
  return {
    putIfAbsent: (key, value, ttlMs) => run(async () => (await r.set(key, value, "PX", ttlMs, "NX")) === "OK"),
    get: (key) => run(async () => (await r.get(key)) ?? undefined),
    del: (key) => run(async () => (await r.del(key)) === 1),
    take: (counters, ttlMs) =>
      run(async () => Number(await r.eval(TAKE, counters.length, ...counters.map((c) => c.key), ttlMs, ...counters.map((c) => c.limit)))),
    async close() {
      try {
        await r.quit();
      } catch {
        r.disconnect();
      }
    },
  };
}
