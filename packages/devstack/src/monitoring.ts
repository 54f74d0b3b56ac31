/**
 * A Prometheus configuration that scrapes every server of a local stack: the parties and the helper
 * over mutual TLS with the dev PKI's "monitor" client certificate (which may read /metrics and
 * /v1/health and nothing else), the gateway with a "monitor" operator's bearer token (GET /metrics
 * only). It loads the alert rules of deploy/prometheus/alerts.yml. Used by the monitoring test; an
 * operator adapts it (hosts, file paths) for a real deployment — docs/operations.md "Monitoring".
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { runtimeLayout } from "@privface/config";
import type { StackPorts } from "./stack.ts";

/** deploy/prometheus/alerts.yml in this repository */
export const ALERT_RULES = fileURLToPath(new URL("../../../deploy/prometheus/alerts.yml", import.meta.url));

export interface PrometheusConfigOptions {
  home: string;
  ports: StackPorts;
  /** a file holding a "monitor" operator's gateway token (mode 0600) */
  gatewayTokenFile: string;
  /**
   * the monitor client certificate's private key as Prometheus can read it (a plaintext PEM, mode 0600,
   * outside the runtime home): the home keeps it encrypted, and Prometheus cannot decrypt keys
   */
  monitorKeyFile: string;
  /** HTTPS for the gateway's API (the stack's default) */
  gatewayTls?: boolean;
  scrapeIntervalS?: number;
  rules?: string;
}

export function prometheusConfig(o: PrometheusConfigOptions): string {
  const L = runtimeLayout(o.home);
  const mtls = [`    scheme: https`, `    tls_config:`, `      ca_file: ${L.ca}`, `      cert_file: ${join(L.dirs.pki, "monitor-client.crt")}`, `      key_file: ${o.monitorKeyFile}`];
  const job = (name: string, port: number, extra: string[]) => [`  - job_name: privface-${name}`, ...extra, `    static_configs:`, `      - targets: ["127.0.0.1:${port}"]`];
  const gatewayTls = o.gatewayTls ?? true;
  return [
    `global:`,
    `  scrape_interval: ${o.scrapeIntervalS ?? 15}s`,
    `  evaluation_interval: ${o.scrapeIntervalS ?? 15}s`,
    `rule_files: ["${o.rules ?? ALERT_RULES}"]`,
    `scrape_configs:`,
    ...job("helper", o.ports.helper, mtls),
    ...job("p0", o.ports.p0, mtls),
    ...job("p1", o.ports.p1, mtls),
    ...job("gateway", o.ports.gateway, [
      `    scheme: ${gatewayTls ? "https" : "http"}`,
      ...(gatewayTls ? [`    tls_config:`, `      ca_file: ${L.ca}`] : []),
      `    authorization:`,
      `      type: Bearer`,
      `      credentials_file: ${o.gatewayTokenFile}`,
    ]),
    ``,
  ].join("\n");
}
