/**
 * P0's stock of enrolment bundles (decision 010 §6 for enrolments and model upgrades). An enrolment
 * bundle carries the comparison keys of the range and norm checks that decide whether a new template
 * is valid: a helper that dealt them to accept every vector would let a wildcard template in. So they
 * are fetched from the helper in batches and each batch goes through the same spot-check with P1 as
 * the pool's batches (`intake`, spotcheck.ts) before any of its bundles serves a session; a session
 * takes a bundle of the stock at random, so the helper cannot tell which of its bundles will serve
 * which enrolment. A failed check drops the batch and blocks the stock for good (until restart; P1's
 * responder refuses the helper's deliveries from then on, see spotcheck.ts).
 *
 * The stock lives in P0's memory: after a restart P1 keeps the halves of the bundles P0 had not used
 * yet (at most one batch), which never serve a session because only P0 names the bundle of a session.
 */
import { randomInt } from "node:crypto";
import type { IntakeResult } from "./spotcheck.ts";

/** Bundles per fetch: with the default spot-check fraction (1/16) one of them is opened and discarded. */
export const ENROL_BATCH = 16;

export interface EnrolStockDeps {
  /** P0's halves of `count` freshly dealt enrolment bundles (the helper delivers P1's halves first). */
  fetch: (count: number) => Promise<Uint8Array[]>;
  /** The spot-check of a fetched batch with P1: the bundles to keep, or a failure. */
  intake: (items: Uint8Array[]) => Promise<Pick<IntakeResult, "ok" | "keep">>;
  batch?: number;
  /** index in [0, n) for picking a bundle; default crypto.randomInt */
  pick?: (n: number) => number;
}

export interface EnrolStock {
  /** One spot-checked bundle, never handed out twice; fetches and checks a batch when empty. */
  take(): Promise<Uint8Array>;
  /** Bundles in stock. */
  size(): number;
  /** A batch failed its spot-check: no bundle is taken from this helper any more. */
  blocked(): boolean;
}

export function createEnrolStock(deps: EnrolStockDeps): EnrolStock {
  const batch = deps.batch ?? ENROL_BATCH;
  const pick = deps.pick ?? ((n: number) => randomInt(n));
  const stock: Uint8Array[] = [];
  let blocked = false;
  let filling: Promise<void> | null = null;

  async function fill(): Promise<void> {
    const items = await deps.fetch(batch);
    const r = await deps.intake(items);
    if (!r.ok) {
      blocked = true; // the intake raised the alert (metric, audit, error log)
      return;
    }
    if (r.keep.length === 0) throw new Error("the helper's batch left no enrolment bundle");
    for (const k of r.keep) stock.push(k.bytes);
  }

  return {
    async take() {
      for (;;) {
        if (blocked) throw new Error("a batch of enrolment bundles failed its spot-check: the helper is blocked");
        if (stock.length > 0) return stock.splice(pick(stock.length), 1)[0];
        filling ??= fill().finally(() => (filling = null));
        await filling;
      }
    },
    size: () => stock.length,
    blocked: () => blocked,
  };
}
