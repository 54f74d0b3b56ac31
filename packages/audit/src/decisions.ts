/**
 * Cross-party reconciliation of decisions, record by record (issue 14, the auditor's view): each
 * decision in the gateway's chain (enrol, verify, deregister, withdraw; its session is the request id,
 * which is also the session the gateway gives both parties) set beside what P0 and P1 recorded for
 * that session, and every party session the gateway has no decision for. Pure: the caller reads the
 * three chains' records (the gateway's own table, each party's `auditRecords`).
 *
 * What a decision implies at each party (a party computes on shares and never learns the decision,
 * so a verification's accept and reject look alike there):
 *
 *   gateway                                          each party must have
 *   enrol accept ENROLLED                            enrol and commit
 *   enrol reject INVALID_TEMPLATE, DUPLICATE_ENROLMENT  enrol, and no commit
 *   enrol reject HELD_FOR_REVIEW                     enrol (committed later, or aborted, on review)
 *   verify / verify.upgrade with MATCH, NO_MATCH, INVALID_PROBE   verify
 *   deregister, withdraw with DELETED                delete
 *   anything else (refusals, MPC_UNAVAILABLE, DELETION_PENDING)   nothing (records may or may not exist)
 *
 * Mismatches (stable codes): AT_P0_ONLY / AT_P1_ONLY — a session one party recorded and neither the
 * other party nor the gateway; MISSING_AT_GATEWAY — both parties recorded a session the gateway has no
 * decision for; MISSING_AT_P0 / MISSING_AT_P1 — the decision implies records a party does not have;
 * OUTCOME_MISMATCH — a party's records contradict the decision (an accepted enrolment not committed,
 * a rejected one committed, a verification without a verify); PARTIES_DISAGREE — the two parties
 * recorded different operations or outcomes for the session.
 */

/** One audit record, as much as reconciliation needs. */
export interface DecisionRecord {
  seq: number;
  time: number;
  op: string;
  session: string | null;
  outcome: string;
  code: string | null;
}

export type Mismatch = "AT_P0_ONLY" | "AT_P1_ONLY" | "MISSING_AT_GATEWAY" | "MISSING_AT_P0" | "MISSING_AT_P1" | "OUTCOME_MISMATCH" | "PARTIES_DISAGREE";

export interface ReconciledRow {
  session: string;
  /** the decision's time, or the first party record's */
  time: number;
  gateway: { seq: number; op: string; outcome: string; code: string | null } | null;
  /** each party's records of the session, `op:outcome` in seq order (op without its `:purpose`) */
  P0: string[];
  P1: string[];
  mismatches: Mismatch[];
}

export interface Reconciliation {
  rows: ReconciledRow[];
  reconciled: number;
  mismatched: number;
}

/** The gateway's decision ops. */
export const DECISION_OPS: readonly string[] = ["enrol", "verify", "verify.upgrade", "deregister", "withdraw"];

/** The party sessions of one decision: a verification's budget run (`-b`), an enrolment's search (`-d`), an upgrade (`-u`). */
const SUFFIX = /-(b|d|u)$/;
const baseOp = (op: string) => op.split(":")[0];

function required(op: string, code: string | null): { need: string[]; forbid: string[] } {
  if (op === "enrol" && code === "ENROLLED") return { need: ["enrol", "commit"], forbid: [] };
  if (op === "enrol" && (code === "INVALID_TEMPLATE" || code === "DUPLICATE_ENROLMENT")) return { need: ["enrol"], forbid: ["commit"] };
  if (op === "enrol" && code === "HELD_FOR_REVIEW") return { need: ["enrol"], forbid: [] };
  if (op === "enrol") return { need: [], forbid: ["commit"] };
  if ((op === "verify" || op === "verify.upgrade") && (code === "MATCH" || code === "NO_MATCH" || code === "INVALID_PROBE")) return { need: ["verify"], forbid: [] };
  if ((op === "deregister" || op === "withdraw") && code === "DELETED") return { need: ["delete"], forbid: [] };
  return { need: [], forbid: [] };
}

/**
 * Reconciles the gateway's decisions (records of other ops are ignored) with the parties' records.
 * A party session with no decision counts only if its first record falls in `window` (the span of
 * the gateway's page: the caller reads the parties a little wider, so that a decision's records on
 * the page's edge are found). Rows: newest first.
 */
export function reconcileDecisions(
  gateway: readonly DecisionRecord[],
  parties: { P0: readonly DecisionRecord[]; P1: readonly DecisionRecord[] },
  window: { from: number; to: number } = { from: -Infinity, to: Infinity },
): Reconciliation {
  const decisions = new Map<string, DecisionRecord>();
  for (const r of [...gateway].sort((a, b) => a.seq - b.seq)) if (r.session && DECISION_OPS.includes(r.op)) decisions.set(r.session, r); // the last one stands
  const index = (records: readonly DecisionRecord[]) => {
    const m = new Map<string, { time: number; ops: string[] }>();
    for (const r of [...records].sort((a, b) => a.seq - b.seq)) {
      if (!r.session) continue;
      const op = baseOp(r.op);
      const session = (op === "budget" || op === "dedup" || op === "enrol" || op === "commit" || op === "abort" || op === "upgrade") && SUFFIX.test(r.session) && !decisions.has(r.session) ? r.session.replace(SUFFIX, "") : r.session;
      const e = m.get(session) ?? { time: r.time, ops: [] };
      e.ops.push(`${op}:${r.outcome}`);
      m.set(session, e);
    }
    return m;
  };
  const P0 = index(parties.P0);
  const P1 = index(parties.P1);
  const rows: ReconciledRow[] = [];
  const has = (ops: string[], op: string) => ops.some((x) => x.startsWith(`${op}:`));
  for (const [session, d] of decisions) {
    const p0 = P0.get(session)?.ops ?? [];
    const p1 = P1.get(session)?.ops ?? [];
    const mismatches: Mismatch[] = [];
    const { need, forbid } = required(d.op, d.code);
    for (const [name, ops] of [["P0", p0], ["P1", p1]] as const) {
      if (need.length > 0 && ops.length === 0) mismatches.push(name === "P0" ? "MISSING_AT_P0" : "MISSING_AT_P1");
      else if (ops.length > 0 && (need.some((op) => !has(ops, op)) || forbid.some((op) => has(ops, op)))) {
        if (!mismatches.includes("OUTCOME_MISMATCH")) mismatches.push("OUTCOME_MISMATCH");
      }
    }
    if (p0.length > 0 && p1.length === 0 && need.length === 0) mismatches.push("AT_P0_ONLY");
    if (p1.length > 0 && p0.length === 0 && need.length === 0) mismatches.push("AT_P1_ONLY");
    if (p0.length > 0 && p1.length > 0 && !sameOps(p0, p1)) mismatches.push("PARTIES_DISAGREE");
    rows.push({ session, time: d.time, gateway: { seq: d.seq, op: d.op, outcome: d.outcome, code: d.code }, P0: p0, P1: p1, mismatches });
  }
  for (const session of new Set([...P0.keys(), ...P1.keys()])) {
    if (decisions.has(session)) continue;
    const e0 = P0.get(session);
    const e1 = P1.get(session);
    const time = Math.min(e0?.time ?? Infinity, e1?.time ?? Infinity);
    if (time < window.from || time > window.to) continue;
    const mismatches: Mismatch[] = e0 && e1 ? ["MISSING_AT_GATEWAY", ...(sameOps(e0.ops, e1.ops) ? [] : (["PARTIES_DISAGREE"] as const))] : [e0 ? "AT_P0_ONLY" : "AT_P1_ONLY"];
    rows.push({ session, time, gateway: null, P0: e0?.ops ?? [], P1: e1?.ops ?? [], mismatches });
  }
  rows.sort((a, b) => b.time - a.time || (b.gateway?.seq ?? 0) - (a.gateway?.seq ?? 0));
  const mismatched = rows.filter((r) => r.mismatches.length > 0).length;
  return { rows, reconciled: rows.length - mismatched, mismatched };
}

function sameOps(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}
