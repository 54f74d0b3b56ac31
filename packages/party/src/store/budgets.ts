/**
 * The daily failure budget of each template (`party_budgets`, decision 010 §4, counted inside MPC by
 * @privface/mpc budget.ts): per (template, day) this party's counter share, its bookkeeping, its share
 * of the last answered verification's match bit (counted by the next one) and whether the budget is
 * exhausted. `beginVerify` (pool.ts) reads the record in its own transaction (`readBudget`).
 */
import type { Tx } from "@privface/db";
import type { StoreContext } from "./_context.ts";
import { dayNumber, templateId } from "./_input.ts";
import type { BudgetRecord, PartyStore } from "./index.ts";

interface BudgetRow {
  runs: unknown;
  share: unknown;
  prev_runs: unknown;
  prev_share: unknown;
  verifications: unknown;
  pending: unknown;
  exhausted: unknown;
}
const BUDGET_SELECT = "SELECT runs, share, prev_runs, prev_share, verifications, pending, exhausted FROM party_budgets WHERE template_id = ? AND day = ?";
function budgetRecord(r: BudgetRow | undefined): BudgetRecord {
  if (!r) return { runs: 0, share: 0, prevRuns: 0, prevShare: 0, verifications: 0, pending: 0, exhausted: false };
  return { runs: Number(r.runs), share: Number(r.share), prevRuns: Number(r.prev_runs), prevShare: Number(r.prev_share), verifications: Number(r.verifications), pending: Number(r.pending) === 1 ? 1 : 0, exhausted: Number(r.exhausted) === 1 };
}

/** The record of (template, day) inside a transaction (a fresh one if none). */
export async function readBudget(tx: Tx, tid: string, day: number): Promise<BudgetRecord> {
  return budgetRecord(await tx.get<BudgetRow>(BUDGET_SELECT, [tid, day]));
}

export function budgetOps(ctx: StoreContext): Pick<PartyStore, "budget" | "finishVerify" | "markBudgetExhausted"> {
  const { exec, now } = ctx;
  return {
    async budget(tid, day) {
      templateId(tid);
      dayNumber(day);
      return exec.read((tx) => readBudget(tx, tid, day));
    },

    async finishVerify(tid, day, counter, pending) {
      templateId(tid);
      dayNumber(day);
      if (typeof counter !== "object" || counter === null) throw new TypeError("counter must be { runs, share, prevRuns, prevShare }");
      const { runs, share, prevRuns, prevShare } = counter;
      for (const [n, v, max] of [["runs", runs, 2 ** 32 - 2], ["prevRuns", prevRuns, 2 ** 32 - 2], ["share", share, 0xffff], ["prevShare", prevShare, 0xffff]] as const) {
        if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`counter.${n} must be an integer in [0, ${max}]`);
      }
      if (pending !== 0 && pending !== 1) throw new RangeError("pending must be 0 or 1");
      await exec.tx(async (tx) => {
        await tx.run(
          "INSERT INTO party_budgets (template_id, day, runs, share, prev_runs, prev_share, verifications, pending, exhausted, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?) " +
            "ON CONFLICT (template_id, day) DO UPDATE SET runs = excluded.runs, share = excluded.share, prev_runs = excluded.prev_runs, prev_share = excluded.prev_share, " +
            "verifications = excluded.verifications, pending = excluded.pending, updated_at = excluded.updated_at",
          [tid, day, runs, share, prevRuns, prevShare, runs + 1, pending, now()],
        );
      });
    },

    async markBudgetExhausted(tid, day) {
      templateId(tid);
      dayNumber(day);
      await exec.tx(async (tx) => {
        const t = now();
        await tx.run(
          "INSERT INTO party_budgets (template_id, day, runs, share, prev_runs, prev_share, verifications, pending, exhausted, updated_at) VALUES (?, ?, 0, 0, 0, 0, 0, 0, 1, ?) " +
            "ON CONFLICT (template_id, day) DO UPDATE SET exhausted = 1, updated_at = excluded.updated_at",
          [tid, day, t],
        );
      });
    },
  };
}
