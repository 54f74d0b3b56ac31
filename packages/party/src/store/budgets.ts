/**
 * The daily failure budget of each template (`party_budgets`, decision 010 §4, counted inside MPC by
 * @privface/mpc budget.ts): per (template, day) this party's counter share, its bookkeeping and
 * whether the budget is exhausted.
 */
import type { StoreContext } from "./_context.ts";
import { dayNumber, templateId } from "./_input.ts";
import type { BudgetRecord, PartyStore } from "./index.ts";

interface BudgetRow {
  runs: unknown;
  share: unknown;
  prev_runs: unknown;
  prev_share: unknown;
  verifications: unknown;
  exhausted: unknown;
}
const BUDGET_SELECT = "SELECT runs, share, prev_runs, prev_share, verifications, exhausted FROM party_budgets";
function budgetRecord(r: BudgetRow | undefined): BudgetRecord {
  if (!r) return { runs: 0, share: 0, prevRuns: 0, prevShare: 0, verifications: 0, exhausted: false };
  return { runs: Number(r.runs), share: Number(r.share), prevRuns: Number(r.prev_runs), prevShare: Number(r.prev_share), verifications: Number(r.verifications), exhausted: Number(r.exhausted) === 1 };
}

export function budgetOps(ctx: StoreContext): Pick<PartyStore, "budget" | "countVerification" | "saveBudgetCounter" | "markBudgetExhausted"> {
  const { exec, now } = ctx;
  return {
    async budget(tid, day) {
      templateId(tid);
      dayNumber(day);
      const r = await exec.read((tx) => tx.get<BudgetRow>(`${BUDGET_SELECT} WHERE template_id = ? AND day = ?`, [tid, day]));
      return budgetRecord(r);
    },

    async countVerification(tid, day) {
      templateId(tid);
      dayNumber(day);
      return exec.tx(async (tx) => {
        const t = now();
        // one statement: the upsert returns the row as it now is
        const row = await tx.get<BudgetRow>(
          "INSERT INTO party_budgets (template_id, day, runs, share, prev_runs, prev_share, verifications, exhausted, updated_at) VALUES (?, ?, 0, 0, 0, 0, 1, 0, ?) " +
            "ON CONFLICT (template_id, day) DO UPDATE SET verifications = party_budgets.verifications + 1, updated_at = excluded.updated_at " +
            "RETURNING runs, share, prev_runs, prev_share, verifications, exhausted",
          [tid, day, t],
        );
        return budgetRecord(row);
      });
    },

    async saveBudgetCounter(tid, day, counter) {
      templateId(tid);
      dayNumber(day);
      if (typeof counter !== "object" || counter === null) throw new TypeError("counter must be { runs, share, prevRuns, prevShare }");
      const { runs, share, prevRuns, prevShare } = counter;
      for (const [n, v, max] of [["runs", runs, 2 ** 32 - 1], ["prevRuns", prevRuns, 2 ** 32 - 1], ["share", share, 0xffff], ["prevShare", prevShare, 0xffff]] as const) {
        if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`counter.${n} must be an integer in [0, ${max}]`);
      }
      await exec.tx(async (tx) => {
        const t = now();
        await tx.run(
          "INSERT INTO party_budgets (template_id, day, runs, share, prev_runs, prev_share, verifications, exhausted, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?) " +
            "ON CONFLICT (template_id, day) DO UPDATE SET runs = excluded.runs, share = excluded.share, prev_runs = excluded.prev_runs, prev_share = excluded.prev_share, updated_at = excluded.updated_at",
          [tid, day, runs, share, prevRuns, prevShare, t],
        );
      });
    },

    async markBudgetExhausted(tid, day) {
      templateId(tid);
      dayNumber(day);
      await exec.tx(async (tx) => {
        const t = now();
        await tx.run(
          "INSERT INTO party_budgets (template_id, day, runs, share, prev_runs, prev_share, verifications, exhausted, updated_at) VALUES (?, ?, 0, 0, 0, 0, 0, 1, ?) " +
            "ON CONFLICT (template_id, day) DO UPDATE SET exhausted = 1, updated_at = excluded.updated_at",
          [tid, day, t],
        );
      });
    },
  };
}
