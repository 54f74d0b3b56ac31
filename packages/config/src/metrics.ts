/**
 * Metrics every server exports the same way (prom-client, the servers' one metrics library).
 */
import { Gauge, type Registry } from "prom-client";

/**
 * `<prefix>audit_chain_ok` (1, or 0 once the chain is broken: alert PrivfaceAuditChainBroken) and
 * `<prefix>audit_records` (records verified), from one incremental check per scrape.
 */
export function auditChainGauges(registry: Registry, prefix: string, check: () => Promise<{ ok: boolean; records: number }>): void {
  // a scrape collects both gauges at once: they share one check
  let inFlight: ReturnType<typeof check> | null = null;
  const status = () => (inFlight ??= check().finally(() => (inFlight = null)));
  const gauge = (name: string, help: string, value: (s: { ok: boolean; records: number }) => number) =>
    new Gauge({
      name: `${prefix}${name}`,
      help,
      registers: [registry],
      async collect() {
        try {
          this.set(value(await status()));
        } catch {
          /* the database is unreachable: keep the last value (other alerts cover it) */
        }
      },
    });
  gauge("audit_chain_ok", "1 while the server's own audit chain verifies (new records, the newest signature, the head verified before); 0 once it is broken", (s) => (s.ok ? 1 : 0));
  gauge("audit_records", "audit records verified by the running server's chain check", (s) => s.records);
}
