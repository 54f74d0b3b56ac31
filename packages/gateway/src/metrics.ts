/**
 * The gateway's Prometheus metrics (`GET /metrics`, readable with a "monitor" operator token only).
 * Counts and latencies, never a person, device or template id in a label: routes are the route
 * patterns, codes come from the error catalogue, decisions are accept/reject.
 */
import { auditChainGauges } from "@privface/config/metrics";
import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";

export interface GatewayMetrics {
  readonly registry: Registry;
  /** one HTTP request, by route pattern and status */
  request(route: string, status: number, seconds: number): void;
  /** a refused request, by error code */
  error(code: string): void;
  /** the decision of an enrolment or a verification */
  decision(flow: "enrol" | "verify", decision: string, reason: string): void;
}

export function createGatewayMetrics(o: { auditCheck?: () => Promise<{ ok: boolean; records: number }> } = {}): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "privface_gateway_" });
  if (o.auditCheck) auditChainGauges(registry, "privface_gateway_", o.auditCheck);
  const duration = new Histogram({
    name: "privface_gateway_request_duration_seconds",
    help: "HTTP request latency by route pattern and status",
    labelNames: ["route", "status"] as const,
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const errors = new Counter({ name: "privface_gateway_errors_total", help: "refused requests by error code (docs/api.md)", labelNames: ["code"] as const, registers: [registry] });
  const decisions = new Counter({
    name: "privface_gateway_decisions_total",
    help: "decisions of enrolments and verifications (accept/reject and the reason code)",
    labelNames: ["flow", "decision", "reason"] as const,
    registers: [registry],
  });
  return {
    registry,
    request: (route, status, seconds) => duration.observe({ route, status: String(status) }, seconds),
    error: (code) => errors.inc({ code }),
    decision: (flow, decision, reason) => decisions.inc({ flow, decision, reason }),
  };
}
