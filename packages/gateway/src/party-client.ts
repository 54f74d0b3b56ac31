/**
 * The gateway's client of the Party API (@privface/contracts `PartyClient`): one method per route.
 * The JSON calls travel over one persistent mutual-TLS WebSocket (@privface/transport rpc.ts: a
 * fraction of the CPU of an HTTPS request per call); `metrics`, which is text, over HTTPS. Failures
 * reject with a `PartyError`: the party's code and status, or `UNREACHABLE` when no answer came.
 */
import { isPartyErrorCode, PARTY_ROUTES, PartyError, type PartyClient } from "@privface/contracts";
import { createMtlsAgent, createRpcClient, requestJson, type TlsMaterial } from "@privface/transport";

export function createPartyClient(o: { url: string; tls: TlsMaterial; timeoutMs?: number }): PartyClient {
  const base = o.url.replace(/\/+$/, "");
  const timeoutMs = o.timeoutMs ?? 10_000;
  const rpc = createRpcClient({ url: base, tls: o.tls, timeoutMs });
  const agent = createMtlsAgent(o.tls, 2);
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
  return {
    enrol: (b) => call(PARTY_ROUTES.enrol, b),
    commit: (b) => call(PARTY_ROUTES.commit, b),
    abort: (b) => call(PARTY_ROUTES.abort, b),
    verify: (b) => call(PARTY_ROUTES.verify, b),
    delete: (b) => call(PARTY_ROUTES.delete, b),
    health: () => call(PARTY_ROUTES.health),
    keys: () => call(PARTY_ROUTES.keys),
    nonces: (b) => call(PARTY_ROUTES.nonces, b),
    registerDevice: (b) => call(PARTY_ROUTES.registerDevice, b),
    metrics: () => call(PARTY_ROUTES.metrics),
    close: () => {
      rpc.close();
      agent.destroy();
    },
  };
}
