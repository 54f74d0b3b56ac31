/**
 * WAL checkpoints of a server's SQLite file off the event loop. SQLite's automatic checkpoint runs
 * inside the commit that crosses `wal_autocheckpoint` pages: it copies the WAL into the main file
 * and fsyncs it, synchronously, on the thread that committed — with better-sqlite3 the server's only
 * thread, so in a party every ~100th verification stalled all requests for milliseconds. Here the
 * connection gets `wal_autocheckpoint = 0` and a worker thread with its own connection runs
 * `wal_checkpoint(PASSIVE)` every `intervalMs` (PASSIVE never blocks writers or readers). If the
 * worker fails, automatic checkpoints are switched back on. Explicit checkpoints (`erase` / `abort`
 * run TRUNCATE so erased pages leave the WAL) are unchanged.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { Db } from "./index.ts";

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 2000");
const timer = setInterval(() => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch (e) { parentPort.postMessage({ error: String(e && e.code || e) }); }
}, workerData.intervalMs);
parentPort.on("message", () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

export interface Checkpointer {
  close(): Promise<void>;
}

/** Starts background checkpoints for a file-backed SQLite `db`; a no-op for PostgreSQL and `:memory:`. */
export function startCheckpointer(db: Db, opts: { intervalMs?: number; log?: (e: Record<string, unknown>) => void } = {}): Checkpointer {
  const s = db.sqlite;
  if (db.dialect !== "sqlite" || !s || !db.path || db.path === ":memory:") return { close: async () => {} };
  const log = opts.log ?? (() => {});
  const module = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER, { eval: true, workerData: { module, path: db.path, intervalMs: opts.intervalMs ?? 100 } });
  worker.unref();
  let fallback = false;
  const restore = (reason: string) => {
    if (fallback) return;
    fallback = true;
    log({ event: "checkpointer_failed", reason });
    void db.exclusive(() => s.pragma("wal_autocheckpoint = 1000")).catch(() => {});
  };
  worker.on("error", (e) => restore((e as Error).message));
  worker.on("exit", (code) => (code !== 0 ? restore(`exit ${code}`) : undefined));
  worker.on("message", (m: { error?: string }) => log({ event: "checkpoint_failed", reason: m.error }));
  void db.exclusive(() => s.pragma("wal_autocheckpoint = 0"));
  return {
    async close() {
      fallback = true;
      const exited = new Promise((r) => worker.once("exit", r));
      worker.ref(); // keep the event loop alive until the worker has closed its connection
      worker.postMessage("close");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000).unref())]);
      await worker.terminate().catch(() => {});
    },
  };
}

/**
 * After an erasure: copy the WAL into the main file and truncate it, so erased pages leave the WAL too
 * (SQLite file; true at once elsewhere). The result is checked: while another connection reads (a
 * backup, an export, the background checkpointer) the WAL cannot be truncated, so it tries again for
 * up to `waitMs` with `busy_timeout` 0 (the event loop never waits on the lock). False when the WAL
 * could not be truncated in time: the caller owes a checkpoint and tries again later.
 */
export async function truncateWal(db: Db, waitMs = 1_000): Promise<boolean> {
  const s = db.sqlite;
  if (!s || !db.path || db.path === ":memory:") return true;
  const once = () =>
    db.exclusive(() => {
      const timeout = s.pragma("busy_timeout", { simple: true }) as number;
      s.pragma("busy_timeout = 0");
      try {
        const [r] = s.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
        return r?.busy === 0;
      } catch {
        return false;
      } finally {
        s.pragma(`busy_timeout = ${timeout}`);
      }
    });
  const until = Date.now() + waitMs;
  for (;;) {
    if (await once()) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}
