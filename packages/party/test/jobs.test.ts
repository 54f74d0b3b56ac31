/**
 * The party's background policy (jobs.ts) against a fake store, helper and clock: P0 refills from the
 * low-water mark to the target in batches, backs off 0.5, 1, 2 … 30 s after failures (a forced refill
 * does not wait), treats a batch with no new item as a failure, runs one refill at a time, skips the
 * helper probe while refilling; P1 never refills; recovery and purge failures are logged, not thrown;
 * stop() ends the timers and waits for the jobs in flight.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Log } from "@privface/config";
import { bundleIdOf, deal, encodeBundle, makeParams, newItemId, seededRng } from "@privface/mpc";
import { createPartyJobs, MAX_REFILL_BACKOFF_MS, MIN_FETCH, POOL_MAX_AGE_MS, POOL_P0_MARGIN_MS, PURGE_EVERY_MS, type PartyJobsDeps } from "../src/jobs.ts";
import type { RecoveryResult } from "../src/service.ts";

const rng = seededRng("jobs");
const seeds = { P0: rng(32), P1: rng(32) };
const params = makeParams({ d: 8, threshold: 10 });
const bundle = () => encodeBundle(deal(params, newItemId(rng), seeds, { rng }).P0);

interface Fake {
  deps: PartyJobsDeps;
  level: number;
  clock: { t: number };
  fetches: number[];
  probes: number;
  events: { level: string; event: string; [k: string]: unknown }[];
  refills: string[];
  /** what the next helper calls do */
  helper: { fail: boolean; stale: boolean; gate: Promise<void> | null };
}

function fake(party: "P0" | "P1", over: Partial<PartyJobsDeps> = {}): Fake {
  const f = { level: 0, clock: { t: 1_000_000 }, fetches: [], probes: 0, events: [], refills: [], helper: { fail: false, stale: false, gate: null } } as unknown as Fake;
  const seen = new Set<string>();
  const first = bundle();
  const log = (level: string) => (o: object) => f.events.push({ level, ...(o as { event: string }) });
  const logger: Log = { info: log("info"), warn: log("warn"), error: log("error") };
  f.deps = {
    party,
    store: {
      poolLevel: async () => f.level,
      addItems: async (items) => {
        let added = 0;
        for (const it of items) if (!seen.has(it.id)) (seen.add(it.id), added++);
        f.level += added;
        return { added };
      },
      purge: async () => ({ sessions: 0, items: 0, ciphertexts: 0 }),
    },
    helper: {
      async fetch(_kind, n) {
        f.fetches.push(n);
        if (f.helper.gate) await f.helper.gate;
        if (f.helper.fail) throw new Error("helper answered HTTP 503");
        return Array.from({ length: n }, () => (f.helper.stale ? first : bundle()));
      },
      async probe() {
        f.probes++;
      },
    },
    recover: async (): Promise<RecoveryResult> => ({ committed: 0, aborted: 0, waiting: 0 }),
    metrics: { refills: { inc: (l: { outcome: string }) => f.refills.push(l.outcome) } as never },
    log: logger,
    poolLow: 5,
    poolTarget: 12,
    poolBatch: 4,
    recoveryIntervalMs: 60_000,
    retentionMs: 86_400_000,
    now: () => f.clock.t,
    ...over,
  };
  return f;
}

describe("party jobs", () => {
  it("P0 refills below the low-water mark up to the target, in batches; not above the mark", async () => {
    const f = fake("P0");
    const jobs = createPartyJobs(f.deps);
    await jobs.refill();
    assert.deepEqual(f.fetches, [4, 4, 4]);
    assert.equal(f.level, 12);
    assert.deepEqual(f.refills, ["ok", "ok", "ok"]);
    f.level = 5; // at the mark: nothing to do
    await jobs.refill();
    assert.deepEqual(f.fetches, [4, 4, 4]);
    f.level = 2; // the last batch is cut to the target
    await jobs.refill();
    assert.deepEqual(f.fetches.slice(3), [4, 4, 2]);
    assert.equal(f.level, 12);
  });

  it("with the spot-check (it discards what it opens), a pool one item short is topped up by one fetch of MIN_FETCH items, not by single items forever", async () => {
    const opened: number[] = [];
    const f = fake("P0", {
      poolLow: 40,
      poolTarget: 40,
      poolBatch: 64,
      // as spotCheckIntake: ceil(n/16) items opened and left out
      intake: async (items) => {
        const k = Math.max(1, Math.ceil(items.length / 16));
        opened.push(k);
        return { ok: true, keep: items.slice(k).map((bytes) => ({ id: bundleIdOf(bytes), bytes })) };
      },
    });
    f.level = 39;
    const jobs = createPartyJobs(f.deps);
    await jobs.refill();
    assert.deepEqual(f.fetches, [MIN_FETCH]);
    assert.equal(f.level, 39 + MIN_FETCH - 1);
    assert.deepEqual(f.refills, ["ok"]);
    // batches of one item, all spent by the check: the refill ends there, it does not loop
    const g = fake("P0", { poolLow: 40, poolTarget: 40, poolBatch: 1, intake: async () => ({ ok: true, keep: [] }) });
    g.level = 39;
    await createPartyJobs(g.deps).refill();
    assert.deepEqual([g.fetches, g.refills, g.level], [[1], [], 39]);
  });

  it("after failures it waits 0.5, 1, 2 … 30 s; a forced refill does not wait; success resets the wait", async () => {
    const f = fake("P0");
    const jobs = createPartyJobs(f.deps);
    f.helper.fail = true;
    await jobs.refill(); // the first failure
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      const n = f.fetches.length;
      let waited = 0;
      while (f.fetches.length === n) {
        f.clock.t += 100;
        waited += 100;
        await jobs.refill();
      }
      waits.push(waited);
    }
    assert.deepEqual(waits, [500, 1000, 2000, 4000, 8000, 16000, MAX_REFILL_BACKOFF_MS, MAX_REFILL_BACKOFF_MS]);
    assert.ok(f.events.filter((e) => e.event === "refill_failed").every((e) => e.level === "warn" && e.reason === "helper answered HTTP 503"));
    const n = f.fetches.length;
    await jobs.refill(true);
    assert.equal(f.fetches.length, n + 1, "forced");
    f.helper.fail = false;
    await jobs.refill(true);
    assert.equal(f.level, 12);
    f.level = 0;
    f.helper.fail = true;
    await jobs.refill(); // due at once: the success reset the wait
    f.clock.t += 499;
    const m = f.fetches.length;
    await jobs.refill();
    assert.equal(f.fetches.length, m, "back to 0.5 s");
    f.clock.t += 1;
    await jobs.refill();
    assert.equal(f.fetches.length, m + 1);
  });

  it("a batch holding no new item is a failure (the helper is not asked again and again)", async () => {
    const f = fake("P0");
    const jobs = createPartyJobs(f.deps);
    f.helper.stale = true;
    await jobs.refill();
    assert.equal(f.level, 1, "the first copy was new");
    assert.deepEqual(f.refills, ["ok", "failed"]);
    assert.match(String(f.events.at(-1)?.reason), /no new item/);
    await jobs.refill();
    assert.equal(f.fetches.length, 2, "waiting before the next attempt");
  });

  it("with a spot-check that spends one item of every batch, the refill reaches its target in whole batches and never asks again and again", async () => {
    // the intake spends one item of every batch, as spot-checks do: a last batch of 1 leaves nothing to add
    const f = fake("P0", { intake: async (items) => ({ ok: true, keep: items.slice(1).map((bytes) => ({ id: bundleIdOf(bytes), bytes })) }) });
    const fetch = f.deps.helper.fetch;
    f.deps.helper.fetch = async (kind, n) => {
      if (f.fetches.length >= 20) throw new Error("asked again and again");
      return fetch(kind, n);
    };
    const jobs = createPartyJobs(f.deps);
    await jobs.refill();
    // a spot-checked top-up asks for a whole (small) batch, so no last batch is spent whole here
    assert.deepEqual(f.fetches, [4, 4, 4, 4]);
    assert.equal(f.level, 12);
    assert.ok(!f.refills.includes("failed"), f.refills.join(","));
    f.level = 4; // below the mark again: a refill runs as before
    await jobs.refill();
    assert.equal(f.level, 13);
  });

  it("one refill at a time; the helper probe is skipped meanwhile; P1 never refills", async () => {
    const f = fake("P0");
    const jobs = createPartyJobs(f.deps);
    let open!: () => void;
    f.helper.gate = new Promise((r) => (open = r));
    const a = jobs.refill();
    const b = jobs.refill(true);
    await jobs.probeHelper();
    assert.equal(f.probes, 0);
    f.helper.gate = null;
    open();
    await Promise.all([a, b]);
    assert.deepEqual(f.fetches, [4, 4, 4]);
    await jobs.probeHelper();
    assert.equal(f.probes, 1);
    const p1 = fake("P1");
    await createPartyJobs(p1.deps).refill(true);
    assert.deepEqual(p1.fetches, []);
  });

  it("recovery and purge: failures are logged and answered null, changes are logged", async () => {
    let result: RecoveryResult | Error = new Error("peer answered HTTP 503");
    const f = fake("P1", {
      recover: async () => {
        if (result instanceof Error) throw result;
        return result;
      },
    });
    f.deps.store.purge = async () => {
      throw new Error("database is locked");
    };
    const jobs = createPartyJobs(f.deps);
    assert.equal(await jobs.recover(), null);
    result = { committed: 1, aborted: 2, waiting: 0 };
    assert.deepEqual(await jobs.recover(), result);
    result = { committed: 0, aborted: 0, waiting: 3 };
    await jobs.recover();
    await jobs.purge();
    assert.deepEqual(
      f.events.map((e) => [e.level, e.event]),
      [["warn", "recovery_failed"], ["info", "recovery"], ["warn", "purge_failed"]],
    );
  });

  it("purge: the pool's age bound — P0 discards its unused items POOL_P0_MARGIN_MS before P1 drops its halves, so it never names one P1 has dropped", async () => {
    const asked: Record<string, number | undefined> = {};
    for (const party of ["P0", "P1"] as const) {
      const f = fake(party);
      f.deps.store.purge = async (opts) => {
        asked[party] = opts.unusedItemsMs;
        return { sessions: 0, items: 0, ciphertexts: 0 };
      };
      await createPartyJobs(f.deps).purge();
    }
    assert.deepEqual(asked, { P0: POOL_MAX_AGE_MS - POOL_P0_MARGIN_MS, P1: POOL_MAX_AGE_MS });
    // the margin covers a purge interval (P0 may name an item up to PURGE_EVERY_MS past its bound) and a nonce's life
    assert.ok(POOL_P0_MARGIN_MS > PURGE_EVERY_MS + 5 * 60_000);
  });

  it("start runs each job once; stop waits for the refill in flight and nothing runs after it", async () => {
    const f = fake("P0");
    let recoveries = 0;
    f.deps.recover = async () => {
      recoveries++;
      return { committed: 0, aborted: 0, waiting: 0 };
    };
    const jobs = createPartyJobs(f.deps);
    let open!: () => void;
    f.helper.gate = new Promise((r) => (open = r));
    jobs.start();
    assert.equal(recoveries, 1);
    assert.equal(f.probes, 1, "the probe runs before the refill starts");
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(f.fetches, [4]);
    let stopped = false;
    const stopping = jobs.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(stopped, false, "waits for the refill");
    open();
    await stopping;
    assert.deepEqual(f.fetches, [4], "the refill loop ends at stop");
    await jobs.refill(true);
    jobs.start();
    assert.deepEqual(f.fetches, [4]);
    assert.equal(recoveries, 1);
  });

  it("re-randomisation (both parties): at start only the shares still at epoch 0, then every period all of them; one pass at a time; a failure is logged", async () => {
    for (const party of ["P0", "P1"] as const) {
      const calls: boolean[] = [];
      let fail = false;
      const f = fake(party, {
        rerandomiseEveryMs: 15,
        rerandomise: async (o) => {
          calls.push(!!o.onlyUnrandomised);
          await new Promise((r) => setTimeout(r, 5));
          if (fail) throw new Error("store down");
          return { scanned: 2, updated: 1 };
        },
      });
      const jobs = createPartyJobs(f.deps);
      jobs.start();
      assert.deepEqual(calls, [], "the start-up pass is queued");
      for (let waited = 0; calls.length < 2 && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
      assert.equal(calls[0], true, "start: only epoch-0 shares");
      assert.ok(calls.length >= 2 && calls.slice(1).every((c) => c === false), `then full passes: ${calls}`);
      assert.ok(f.events.some((e) => e.event === "rerandomised" && e.updated === 1));
      fail = true;
      await jobs.rerandomise();
      assert.ok(f.events.some((e) => e.event === "rerandomise_failed" && e.level === "warn" && e.reason === "store down"));
      await jobs.stop();
      const n = calls.length;
      await new Promise((r) => setTimeout(r, 40));
      assert.equal(calls.length, n, "nothing after stop");
    }
  });
  it("data-key re-wrap (issue 13): at start, after the start-up re-randomisation and never beside it; counts logged; a failure is a warning", async () => {
    const order: string[] = [];
    let running = 0;
    let fail = false;
    const f = fake("P1", {
      rerandomise: async () => {
        running++;
        order.push("rerandomise");
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return { scanned: 1, updated: 1 };
      },
      rewrap: async () => {
        assert.equal(running, 0, "not beside a re-randomisation");
        order.push("rewrap");
        if (fail) throw new Error("register down");
        return { templates: 3, items: 7 };
      },
    });
    const jobs = createPartyJobs(f.deps);
    jobs.start();
    for (let waited = 0; order.length < 2 && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(order.slice(0, 2), ["rerandomise", "rewrap"]);
    assert.ok(f.events.some((e) => e.event === "data_key_rewrapped" && e.templates === 3 && e.items === 7));
    fail = true;
    await jobs.rewrap();
    assert.ok(f.events.some((e) => e.event === "data_key_rewrap_failed" && e.level === "warn" && e.reason === "register down"));
    await jobs.stop();
    // no re-wrap job when DATA_KEYS names one key (the deps have none)
    const single = createPartyJobs(fake("P1").deps);
    await single.rewrap();
    await single.stop();
  });
  it("an owed WAL checkpoint after an erasure is retried at each recovery pass until paid; while owed it is a warning", async () => {
    let owed = true;
    let tries = 0;
    const f = fake("P1", { checkpoint: { pending: () => owed, retry: async () => (++tries >= 2 ? ((owed = false), true) : false) } });
    const jobs = createPartyJobs(f.deps);
    await jobs.recover();
    await jobs.stop().catch(() => {}); // waits for the retry in flight
    assert.equal(tries, 1);
    assert.ok(f.events.some((e) => e.event === "erase_checkpoint_owed" && e.level === "warn"));
    const again = createPartyJobs(f.deps);
    await again.recover();
    await again.stop();
    assert.equal(tries, 2);
    assert.equal(owed, false);
    const third = createPartyJobs(f.deps);
    await third.recover();
    await third.stop();
    assert.equal(tries, 2, "nothing owed: no retry");
  });
});
