/**
 * The gateway's client of the Party API (@privface/contracts `PartyClient`): one method per route.
 * The JSON calls travel over one persistent mutual-TLS WebSocket (@privface/transport rpc.ts: a
 * fraction of the CPU of an HTTPS request per call); `metrics`, which is text, over HTTPS. Only a
 * server whose certificate names this party's role is talked to. Each enrol / verify answer must carry
 * the party's `resultMac` over this request (@privface/contracts result.ts): a result share that does
 * not authenticate — forged, tampered, or moved from another request, session or party — is refused
 * with `RESULT_UNAUTHENTICATED` before the gateway combines anything. Failures reject with a
 * `PartyError`: the party's code and status, or `UNREACHABLE` when no answer came.
 */
import {
  checkResultMac, isPartyErrorCode, PARTY_ROUTES, PartyError, serverRoleOf,
  type DedupRequest, type EnrolRequest, type PartyClient, type PartyName, type ResultKey, type VerifyRequest,
} from "@privface/contracts";
import type { Agent } from "node:https";
import { createMtlsAgent, createRpcClient, requestJson, type RpcClient, type TlsMaterial } from "@privface/transport";

export function createPartyClient(o: {
  url: string;
  tls: TlsMaterial;
  timeoutMs?: number;
  party: PartyName;
  /** the MAC key with this party, or several during a result-key rotation (the current first) */
  resultKey: ResultKey | readonly ResultKey[];
  /** gets the client's HTTPS agent and rpc link (for the CRL watch: transport crl.ts) */
  links?: (agent: Agent, rpc: RpcClient) => void;
}): PartyClient {
  const base = o.url.replace(/\/+$/, "");
  const timeoutMs = o.timeoutMs ?? 10_000;
  // only a server whose certificate names this party's role is talked to
  const expect = serverRoleOf(o.party);
  const rpc = createRpcClient({ url: base, tls: o.tls, timeoutMs, expect });
  const agent = createMtlsAgent(o.tls, 2, { expect });
  o.links?.(agent, rpc);
  async function call(route: string, body?: unknown): Promise<any> {
    const [method, path] = route.split(" ");
    let r;
    try {
      r = path === "/metrics" ? await requestJson(agent, base + path, method, body, { timeoutMs }) : await rpc.request(method, path, body);
    } catch (e) {
      throw new PartyError("UNREACHABLE", `party at ${base}: ${(e as Error).message}`);
    }
    if (r.status >= 200 && r.status < 300) return r.body;
    const err = (r.body as { error?: { code?: unknown; message?: unknown } })?.error;
    const code = isPartyErrorCode(err?.code) ? err.code : "INTERNAL";
    throw new PartyError(code, typeof err?.message === "string" ? err.message : `HTTP ${r.status}`);
  }
  /** enrol / verify / dedup: the answer's result share must authenticate for exactly this request */
  async function mpc(op: "enrol" | "verify" | "dedup", req: EnrolRequest | VerifyRequest | DedupRequest): Promise<any> {
    const answer = await call(PARTY_ROUTES[op], req);
    const { resultMac, ...rest } = (answer ?? {}) as { resultMac?: unknown; resultShare?: unknown; matches?: unknown };
    const share = rest.resultShare;
    const binding = { op, party: o.party, session: req.session, templateId: req.templateId, authorisation: req.authorisation, resultShare: share as Record<string, 0 | 1 | string>, matches: rest.matches };
    if (!share || typeof share !== "object" || !(await checkResultMac(o.resultKey, binding, resultMac))) {
      throw new PartyError("RESULT_UNAUTHENTICATED", `${o.party}'s ${op} answer does not authenticate for session ${req.session}`);
    }
    return rest;
  }
  return {
    enrol: (b) => mpc("enrol", b),
    commit: (b) => call(PARTY_ROUTES.commit, b),
    abort: (b) => call(PARTY_ROUTES.abort, b),
    verify: (b) => mpc("verify", b),
    dedup: (b) => mpc("dedup", b),
    delete: (b) => call(PARTY_ROUTES.delete, b),
    health: () => call(PARTY_ROUTES.health),
    keys: () => call(PARTY_ROUTES.keys),
    nonces: (b) => call(PARTY_ROUTES.nonces, b),
    registerDevice: (b) => call(PARTY_ROUTES.registerDevice, b),
    metrics: () => call(PARTY_ROUTES.metrics),
    anchor: (b) => call(PARTY_ROUTES.anchor, b),
    auditRecords: (b) => call(PARTY_ROUTES.auditRecords, b),
    close: () => {
      rpc.close();
      agent.destroy();
    },
  };
}
