/**
 * The party's background policy, apart from the request path (server.ts wires it up):
 *
 * - Pool refill (P0 only), every 0.5 s: when the pool is below the low-water mark (or empty), ask the
 *   helper for batches until it reaches the target (the helper delivers P1's halves first) and
 *   spot-check each with P1 (`intake`; a failed check stops refills for good; a top-up asks for at
 *   least MIN_FETCH items, as the check discards the ones it opens). After a failed
 *   refill — helper down, P1 refusing the delivery, a batch that adds no item — it waits 0.5,
 *   1, 2 … 30 s before asking again, because each attempt makes the helper deal a whole batch; a
 *   forced refill (`refill(true)`) does not wait, and a success ends the waiting. One refill at a time.
 * - Recovery pass, at start and every RECOVERY_INTERVAL_S: sessions left prepared past the commit
 *   window are committed or aborted as the peer says (service `recover`).
 * - Owed WAL checkpoint, at each recovery pass: an erasure whose checkpoint could not complete (a
 *   reader held the WAL) is checkpointed again until it is (store `retryCheckpoint`), with a warning.
 * - Purge, hourly: finished sessions, verification records and used-item markers past the retention.
 * - Helper probe, every 5 s (skipped by P0 while a refill is talking to the helper).
 * - Audit anchor, at start and every `anchorEveryMs`: this party's newest audit record goes to the peer,
 *   which keeps it (@privface/audit anchors.ts), so a cut or rewritten log here is seen there.
 * - Re-randomisation of stored template shares (both parties, each on its own): at start the shares
 *   still at epoch 0, then every RERANDOMISE_EVERY_MS all of them, one epoch on (service `rerandomise`;
 *   the parties' epochs need not agree, see share-epoch.ts).
 * - Data-key re-wrap (issue 13, rotation without downtime), at start and hourly while `DATA_KEYS`
 *   names more than one key: the template keys and unused pool items still under an older data key
 *   are re-wrapped under the current one (store `rotateDataKey`, in batches), so the old key can go.
 *   It takes turns with re-randomisation (both rewrite template rows).
 *
 * `start()` runs each job once and starts the timers; `stop()` stops them and resolves once the jobs
 * in flight have ended (close the connections they use first, so they end quickly).
 */
import type { Log } from "@privface/config";
import type { PartyName } from "@privface/contracts";
import { bundleIdOf } from "@privface/mpc";
import type { HelperLink } from "./helper-link.ts";
import type { PartyMetrics } from "./metrics.ts";
import type { RecoveryResult } from "./service.ts";
import type { PartyStore } from "./store/index.ts";

export const REFILL_EVERY_MS = 500;
export const PROBE_EVERY_MS = 5_000;
export const PURGE_EVERY_MS = 3_600_000;
/**
 * The pool's age bound: P1 discards unused items older than this at its purge. P1 cannot tell the
 * halves of items P0 discarded (an item nonce that expired unused, decision 012) from those P0 will
 * still name, so without a bound they would stay for ever. P0 discards its own unused items
 * POOL_P0_MARGIN_MS earlier (more than a purge interval, a nonce's life and clock skew), so it never
 * names an item P1 has dropped.
 */
export const POOL_MAX_AGE_MS = 86_400_000;
export const POOL_P0_MARGIN_MS = 2 * 3_600_000;
export const RERANDOMISE_EVERY_MS = 86_400_000;
export const ANCHOR_EVERY_MS = 60_000;
/** The fewest items a refill asks for (if the batch size allows): at the default spot-check fraction 1/16 one of them is opened. */
export const MIN_FETCH = 16;
/** Waits after failed refills: 0.5 s doubling up to this. */
export const MAX_REFILL_BACKOFF_MS = 30_000;

export interface PartyJobsDeps {
  party: PartyName;
  store: Pick<PartyStore, "poolLevel" | "addItems" | "purge">;
  helper: Pick<HelperLink, "fetch" | "probe">;
  /** one recovery pass (the service's, asking the peer) */
  recover: () => Promise<RecoveryResult>;
  /** one re-randomisation pass (the service's); absent: no such job */
  rerandomise?: (opts: { onlyUnrandomised?: boolean }) => Promise<{ scanned: number; updated: number }>;
  /** default RERANDOMISE_EVERY_MS */
  rerandomiseEveryMs?: number;
  /** one data-key re-wrap pass (rows under older data keys moved under the current one); absent: no such job */
  rewrap?: () => Promise<{ templates: number; items: number }>;
  metrics: Pick<PartyMetrics, "refills">;
  /** the store's owed WAL checkpoint after an erasure (store `pendingCheckpoint` / `retryCheckpoint`) */
  checkpoint?: { pending(): boolean; retry(): Promise<boolean> };
  /** sends this party's audit head to the peer; absent: no such job */
  anchor?: () => Promise<void>;
  anchorEveryMs?: number;
  /**
   * P0: the intake of a fetched batch (spotcheck.ts: checked with P1; the items to add, or a failed
   * check, which stops all later refills). Absent: every fetched item is added.
   */
  intake?: (items: Uint8Array[]) => Promise<{ ok: boolean; keep: { id: string; bytes: Uint8Array }[] }>;
  log: Log;
  poolLow: number;
  poolTarget: number;
  poolBatch: number;
  recoveryIntervalMs: number;
  retentionMs: number;
  now?: () => number;
}

export interface PartyJobs {
  /** Fills the pool to the target if it is low (P0); resolves when done or failed (a failure is logged and counted). */
  refill(force?: boolean): Promise<void>;
  /** One recovery pass; null if it failed (logged). */
  recover(): Promise<RecoveryResult | null>;
  purge(): Promise<void>;
  probeHelper(): Promise<void>;
  /** Sends the audit head to the peer once (failures logged, not thrown). */
  anchor(): Promise<void>;
  /** One re-randomisation pass (failures logged, not thrown). */
  rerandomise(onlyUnrandomised?: boolean): Promise<void>;
  /** One data-key re-wrap pass, after any re-randomisation in flight (failures logged, not thrown). */
  rewrap(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export function createPartyJobs(deps: PartyJobsDeps): PartyJobs {
  const { party, store, helper, metrics, log } = deps;
  const now = deps.now ?? Date.now;
  let stopped = false;
  let timers: ReturnType<typeof setInterval>[] = [];
  const inflight = new Set<Promise<unknown>>();
  let refilling: Promise<void> | null = null;
  let failures = 0;
  let retryAt = 0;
  /** a batch failed its spot-check: this helper is not asked again (until restart) */
  let helperBlocked = false;

  /** Runs a job, remembering it until it ends (for `stop`). */
  function track<T>(p: Promise<T>): Promise<T> {
    inflight.add(p);
    void p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  }

  async function fill(): Promise<void> {
    try {
      let level = await store.poolLevel();
      if (level >= deps.poolLow && level > 0) return;
      while (level < deps.poolTarget && !stopped) {
        // the spot-check discards the items it opens: a top-up then asks for at least MIN_FETCH (within
        // a batch), so a pool one item short does not fetch single items that the check discards
        const want = deps.poolTarget - level;
        const n = Math.min(deps.poolBatch, deps.intake ? Math.max(want, MIN_FETCH) : want);
        const items = await helper.fetch("verify", n);
        let keep = items.map((bytes) => ({ id: bundleIdOf(bytes), bytes }));
        if (deps.intake) {
          const r = await deps.intake(items);
          if (!r.ok) {
            helperBlocked = true;
            metrics.refills.inc({ outcome: "blocked" });
            return; // the intake raised the alert; no refill from this helper any more
          }
          keep = r.keep;
          // the spot-check spent the whole batch (batches of one item, POOL_BATCH = 1): the pool is as
          // full as batches this small allow; asking again would spend the next one the same way, forever
          if (keep.length === 0) break;
        }
        const { added } = await store.addItems(keep);
        // a helper that sends ids the pool already holds would otherwise be asked again and again
        if (added === 0) throw new Error("the helper's batch held no new item");
        metrics.refills.inc({ outcome: "ok" });
        level += added;
      }
      failures = 0;
      retryAt = 0;
    } catch (e) {
      retryAt = now() + Math.min(MAX_REFILL_BACKOFF_MS, 500 * 2 ** failures++);
      metrics.refills.inc({ outcome: "failed" });
      log.warn({ event: "refill_failed", reason: (e as Error).message });
    }
  }

  function refill(force = false): Promise<void> {
    if (party !== "P0" || stopped || helperBlocked) return Promise.resolve();
    if (!refilling && (force || now() >= retryAt)) {
      refilling = track(
        fill().finally(() => {
          refilling = null;
        }),
      );
    }
    return refilling ?? Promise.resolve();
  }

  function recover(): Promise<RecoveryResult | null> {
    const c = deps.checkpoint;
    if (c?.pending()) {
      void track(c.retry().then((done) => !done && log.warn({ event: "erase_checkpoint_owed", reason: "a reader holds the WAL: erased content may still be in it" })));
    }
    return track(
      deps.recover().then(
        (r) => {
          if (r.committed || r.aborted) log.info({ event: "recovery", ...r });
          return r;
        },
        (e) => {
          log.warn({ event: "recovery_failed", reason: (e as Error).message });
          return null;
        },
      ),
    );
  }

  function purge(): Promise<void> {
    return track(
      store.purge({ sessionsMs: deps.retentionMs, usedItemsMs: deps.retentionMs, unusedItemsMs: POOL_MAX_AGE_MS - (party === "P0" ? POOL_P0_MARGIN_MS : 0) }).then(
        (r) => {
          if (r.sessions || r.items) log.info({ event: "purged", ...r });
        },
        (e) => log.warn({ event: "purge_failed", reason: (e as Error).message }),
      ),
    );
  }

  let rerandomising: Promise<void> | null = null;
  function rerandomise(onlyUnrandomised = false): Promise<void> {
    if (!deps.rerandomise || stopped) return Promise.resolve();
    const run = deps.rerandomise;
    // one pass at a time: a pass asked for while one runs waits for it, then runs
    const prev = rerandomising ?? Promise.resolve();
    const next: Promise<void> = track(
      prev.then(() =>
        run({ onlyUnrandomised }).then(
          (r) => {
            if (r.updated) log.info({ event: "rerandomised", ...r, onlyUnrandomised });
          },
          (e) => log.warn({ event: "rerandomise_failed", reason: (e as Error).message }),
        ),
      ),
    ).finally(() => {
      if (rerandomising === next) rerandomising = null;
    });
    rerandomising = next;
    return next;
  }

  function rewrap(): Promise<void> {
    if (!deps.rewrap || stopped) return Promise.resolve();
    const run = deps.rewrap;
    // in turn with re-randomisation: both rewrite template rows
    const prev = rerandomising ?? Promise.resolve();
    const next: Promise<void> = track(
      prev.then(() =>
        run().then(
          (r) => {
            if (r.templates || r.items) log.info({ event: "data_key_rewrapped", ...r });
          },
          (e) => log.warn({ event: "data_key_rewrap_failed", reason: (e as Error).message }),
        ),
      ),
    ).finally(() => {
      if (rerandomising === next) rerandomising = null;
    });
    rerandomising = next;
    return next;
  }

  function anchor(): Promise<void> {
    if (!deps.anchor || stopped) return Promise.resolve();
    return track(deps.anchor().catch((e) => log.warn({ event: "audit_anchor_failed", reason: (e as Error).message })));
  }

  function probeHelper(): Promise<void> {
    if (party === "P0" && refilling) return Promise.resolve();
    return track(helper.probe());
  }

  return {
    refill,
    recover,
    purge,
    probeHelper,
    rerandomise,
    rewrap,
    anchor,
    start() {
      if (stopped || timers.length > 0) return;
      timers = [
        setInterval(() => void purge(), PURGE_EVERY_MS),
        ...(deps.rewrap ? [setInterval(() => void rewrap(), PURGE_EVERY_MS)] : []),
        setInterval(() => void recover(), deps.recoveryIntervalMs),
        setInterval(() => void probeHelper(), PROBE_EVERY_MS),
        ...(deps.rerandomise ? [setInterval(() => void rerandomise(), deps.rerandomiseEveryMs ?? RERANDOMISE_EVERY_MS)] : []),
        ...(deps.anchor ? [setInterval(() => void anchor(), deps.anchorEveryMs ?? ANCHOR_EVERY_MS)] : []),
        ...(party === "P0" ? [setInterval(() => void refill(), REFILL_EVERY_MS)] : []),
      ];
      for (const t of timers) t.unref();
      void probeHelper();
      void recover();
      void refill();
      void rerandomise(true);
      void rewrap();
      void anchor();
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
      timers = [];
      await Promise.allSettled([...inflight]);
    },
  };
}
