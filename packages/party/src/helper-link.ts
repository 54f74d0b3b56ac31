/**
 * P0's link to the helper (HTTPS, mutual TLS): `fetch(kind, count)` asks for a batch of bundles
 * (`POST /v1/pool/refill`; the helper delivers P1's halves to P1 before it answers) and returns P0's
 * halves; `probe()` asks `/v1/health`. `up()` is the helper's last known reachability, from both.
 */
import type https from "node:https";
import { unpackItems } from "@privface/contracts";
import type { Params } from "@privface/mpc";
import { requestJson } from "@privface/transport";

export interface HelperLink {
  /** P0's halves of `count` freshly dealt bundles. */
  fetch(kind: "verify" | "enrol", count: number): Promise<Uint8Array[]>;
  /** P0's halves of `n` freshly dealt dedup queries over the first `count` slots of gallery `epoch` (`POST /v1/dedup/refill`; P1's halves delivered first) */
  dedup(epoch: number, count: number, n: number, p1Url?: string): Promise<Uint8Array[]>;
  probe(): Promise<void>;
  up(): boolean;
}

export function createHelperLink(agent: https.Agent, helperUrl: string, params: Params): HelperLink {
  let up = false;
  return {
    async fetch(kind, count) {
      let r;
      for (let attempt = 0; ; attempt++) {
        try {
          r = await requestJson(agent, `${helperUrl}/v1/pool/refill`, "POST", { kind, count, params }, { timeoutMs: 30_000 });
          break;
        } catch (e) {
          // a kept-alive socket to a restarted helper fails once: retry on a fresh connection
          if (attempt === 0 && /ECONNRESET|socket hang up/.test((e as Error).message)) continue;
          up = false;
          throw e;
        }
      }
      if (r.status !== 200 || !Buffer.isBuffer(r.body)) {
        up = r.status !== 0 && r.status < 500 ? up : false;
        throw new Error(`helper answered HTTP ${r.status}`);
      }
      up = true;
      return unpackItems(r.body, { maxItems: 100_000, copy: true });
    },
    async dedup(epoch, count, n, p1Url) {
      const r = await requestJson(agent, `${helperUrl}/v1/dedup/refill`, "POST", { epoch, count, n, params, ...(p1Url ? { p1Url } : {}) }, { timeoutMs: 60_000 });
      if (r.status !== 200 || !Buffer.isBuffer(r.body)) throw new Error(`helper answered HTTP ${r.status}`);
      return unpackItems(r.body, { maxItems: 16, copy: true });
    },
    async probe() {
      try {
        const r = await requestJson(agent, `${helperUrl}/v1/health`, "GET", undefined, { timeoutMs: 2_000 });
        up = r.status === 200;
      } catch {
        up = false;
      }
    },
    up: () => up,
  };
}
