/**
 * Client of the party API (docs/contracts.md "Party API"), used by the gateway and the benchmarks:
 * one method per row. The JSON calls travel over one persistent mutual-TLS WebSocket
 * (@privface/transport rpc.ts: a fraction of the CPU of an HTTPS request per call); `metrics`, which
 * is text, over HTTPS. Failures throw `PartyClientError` with the party's stable error code and
 * status, or code `UNREACHABLE` (status 0) when no answer came.
 */
import { createMtlsAgent, createRpcClient, requestJson, type TlsMaterial } from "@privface/transport";

import type { SignedAuthorisation } from "./auth.ts";
export type { SignedAuthorisation };
export interface ShareContextJson {
  purpose: string;
  challenge: string;
  templateId: string;
  modelVersion: string;
}
export interface EnrolBody {
  session: string;
  templateId: string;
  modelVersion: string;
  sealedShare: string;
  context: ShareContextJson;
  authorisation: SignedAuthorisation;
}
export interface VerifyBody extends EnrolBody {
  upgrade?: { modelVersion: string; sealedShare: string; context: ShareContextJson };
}
export interface CommitBody {
  session: string;
  templateId: string;
  authorisation: SignedAuthorisation;
}
export interface DeleteBody {
  templateId: string;
  authorisation: SignedAuthorisation;
}
export interface PartyHealth {
  role: "p0" | "p1";
  peer: "up" | "down";
  helper: "up" | "down";
  pool: { level: number; target: number };
}

export class PartyClientError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = "PartyClientError";
    this.code = code;
    this.status = status;
  }
}

export interface PartyClient {
  enrol(body: EnrolBody): Promise<{ session: string; resultShare: { valid: 0 | 1 } }>;
  commit(body: CommitBody): Promise<{ templateId: string; status: "active" }>;
  abort(body: CommitBody): Promise<{ templateId: string; status: "aborted" }>;
  verify(body: VerifyBody): Promise<{ session: string; resultShare: { valid: 0 | 1; match: 0 | 1 } }>;
  delete(body: DeleteBody): Promise<{ templateId: string; deleted: true; existed: boolean }>;
  health(): Promise<PartyHealth>;
  metrics(): Promise<string>;
  /** Closes the keep-alive connections. */
  close(): void;
}

export function createPartyClient(o: { url: string; tls: TlsMaterial; timeoutMs?: number }): PartyClient {
  const base = o.url.replace(/\/+$/, "");
  const timeoutMs = o.timeoutMs ?? 10_000;
  const rpc = createRpcClient({ url: base, tls: o.tls, timeoutMs });
  const agent = createMtlsAgent(o.tls, 2);
  async function call(method: string, path: string, body?: unknown): Promise<any> {
    let r;
    try {
      r = path === "/metrics" ? await requestJson(agent, base + path, method, body, { timeoutMs }) : await rpc.request(method, path, body);
    } catch (e) {
      throw new PartyClientError("UNREACHABLE", 0, `party at ${base}: ${(e as Error).message}`);
    }
    if (r.status >= 200 && r.status < 300) return r.body;
    const err = (r.body as { error?: { code?: string; message?: string } })?.error;
    throw new PartyClientError(err?.code ?? "INTERNAL", r.status, err?.message ?? `HTTP ${r.status}`);
  }
  return {
    enrol: (b) => call("POST", "/v1/enrol", b),
    commit: (b) => call("POST", "/v1/commit", b),
    abort: (b) => call("POST", "/v1/abort", b),
    verify: (b) => call("POST", "/v1/verify", b),
    delete: (b) => call("POST", "/v1/delete", b),
    health: () => call("GET", "/v1/health"),
    metrics: () => call("GET", "/metrics"),
    close: () => {
      rpc.close();
      agent.destroy();
    },
  };
}
