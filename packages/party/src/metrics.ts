/**
 * Prometheus metrics of a party (prom-client): request durations by route and status, errors by
 * code, pool level (collected from the store on scrape), MPC runs, recovery actions, link state and
 * the peer link's round-trip time, the daily failure budget (refusals, budget runs by outcome), and
 * the audit chain's own check (`auditChainGauges`).
 */
import type { ChainStatus } from "@privface/audit";
import { auditChainGauges } from "@privface/config/metrics";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface PartyMetrics {
  registry: Registry;
  duration: Histogram<"route" | "status">;
  errors: Counter<"code">;
  poolLevel: Gauge;
  mpcRuns: Counter<"kind" | "outcome">;
  recovery: Counter<"action">;
  refills: Counter<"outcome">;
  /** spot-checks of dealt batches (outcome passed | failed: a failure is an alert) */
  spotChecks: Counter<"outcome">;
  /** verifications refused because the template's daily failure budget is exhausted */
  budgetRefusals: Counter;
  /** heads received from a peer that went back (a cut or rewritten audit log there): alert */
  anchorRegressions: Counter<"from">;
  /** failure-budget runs after verifications: ok | exhausted | mismatch | failed */
  budgetRuns: Counter<"outcome">;
}

export function createPartyMetrics(
  party: "P0" | "P1",
  sources: {
    poolLevel: () => Promise<number>;
    poolTarget?: number;
    peerUp: () => boolean;
    helperUp: () => boolean;
    peerRttMs?: () => number | undefined;
    /** the audit log's incremental chain check (@privface/audit `check`), run at each scrape */
    auditCheck?: () => Promise<ChainStatus>;
  },
): PartyMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ party });
  collectDefaultMetrics({ register: registry, prefix: "privface_party_" });
  const duration = new Histogram({
    name: "privface_party_request_duration_seconds",
    help: "party API request durations",
    labelNames: ["route", "status"] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 2],
    registers: [registry],
  });
  const errors = new Counter({ name: "privface_party_errors_total", help: "API errors by code", labelNames: ["code"] as const, registers: [registry] });
  const poolLevel = new Gauge({
    name: "privface_party_pool_level",
    help: "unused correlated-randomness items in the pool",
    registers: [registry],
    async collect() {
      try {
        this.set(await sources.poolLevel());
      } catch {
        /* keep the last value */
      }
    },
  });
  if (sources.poolTarget !== undefined) {
    new Gauge({ name: "privface_party_pool_target", help: "the pool level the refill job keeps (P0)", registers: [registry] }).set(sources.poolTarget);
  }
  new Gauge({
    name: "privface_party_link_up",
    help: "1 when the link is up",
    labelNames: ["link"] as const,
    registers: [registry],
    collect() {
      this.set({ link: "peer" }, sources.peerUp() ? 1 : 0);
      this.set({ link: "helper" }, sources.helperUp() ? 1 : 0);
    },
  });
  new Gauge({
    name: "privface_party_link_rtt_seconds",
    help: "round-trip time of the last keep-alive ping on the link (every 10 s)",
    labelNames: ["link"] as const,
    registers: [registry],
    collect() {
      const ms = sources.peerRttMs?.();
      if (ms !== undefined) this.set({ link: "peer" }, ms / 1000);
    },
  });
  if (sources.auditCheck) auditChainGauges(registry, "privface_party_", sources.auditCheck);
  const mpcRuns = new Counter({ name: "privface_party_mpc_runs_total", help: "MPC runs", labelNames: ["kind", "outcome"] as const, registers: [registry] });
  const recovery = new Counter({ name: "privface_party_recovery_total", help: "recovery actions on pending sessions", labelNames: ["action"] as const, registers: [registry] });
  const refills = new Counter({ name: "privface_party_pool_refills_total", help: "pool refill batches", labelNames: ["outcome"] as const, registers: [registry] });
  const spotChecks = new Counter({ name: "privface_party_spotchecks_total", help: "spot-checks of dealt batches by outcome (failed = the helper dealt inconsistent randomness: alert)", labelNames: ["outcome"] as const, registers: [registry] });
  const budgetRefusals = new Counter({ name: "privface_party_budget_refusals_total", help: "verifications refused: the template's daily failure budget is exhausted", registers: [registry] });
  const budgetRuns = new Counter({ name: "privface_party_budget_runs_total", help: "failure-budget runs after verifications, by outcome", labelNames: ["outcome"] as const, registers: [registry] });
  const anchorRegressions = new Counter({ name: "privface_party_audit_anchor_regressions_total", help: "audit heads received that go back behind one kept before (the sender's log was cut or rewritten): alert", labelNames: ["from"] as const, registers: [registry] });
  return { registry, duration, errors, poolLevel, mpcRuns, recovery, refills, spotChecks, budgetRefusals, budgetRuns, anchorRegressions };
}

