/**
 * The attack harness on a REAL stack (issue 12): helper, P0 and P1 as child processes on loopback
 * (`startStack`), the real gateway (@privface/gateway, HTTPS on loopback) in this process so that the
 * attacker can stand where a compromised gateway stands: it sees every Party API request the gateway
 * sends (`taps`), holds the gateway's signing key and client certificate (`gatewayKey`, `party()`),
 * and can be restarted with another configuration (`restartGateway`: a malicious gateway that
 * enforces none of its own limits, or a new model version). Devices are simulated on the real SDK.
 */
import { deploymentSuite, runtimeLayout, createLogger, type RuntimeLayout } from "@privface/config";
import { PARTIES, type PartyClient, type PartyName } from "@privface/contracts";
import { generateSigningKeyPair, type KeyPair, type PublicKey } from "@privface/crypto";
import { readKeyPairFile, readPublicKeyFile } from "@privface/crypto/node";
import { ensureOperators, loadGatewayConfig, openGatewayOptions, startGateway, type RunningGateway } from "@privface/gateway";
import { giveConsent, registerDevice, runtimeTrust, type SimDevice } from "../device-sim.ts";
import { createGatewayClient, type GatewayClient } from "../gateway-client.ts";
import { stackEnv, startStack, type Stack } from "../stack.ts";

/** One Party API call as the gateway made it. */
export interface Tapped {
  party: PartyName;
  op: string;
  body: any;
}

export interface AttackStack {
  stack: Stack;
  layout: RuntimeLayout;
  /** the gateway's signing key, read from its key folder: what a compromised gateway holds */
  gatewayKey: KeyPair;
  /** the parties' public sealing keys */
  partyKeys: Record<PartyName, PublicKey>;
  /** every Party API request the in-process gateway sent, in order */
  taps: Tapped[];
  /** the options the running gateway was opened with (its keys and clients) */
  gatewayOptions: Awaited<ReturnType<typeof openGatewayOptions>>;
  url: string;
  admin: GatewayClient;
  approver: GatewayClient;
  /** unauthenticated client (devices) */
  client: GatewayClient;
  /** a Party API client with the gateway's client certificate */
  party(p: PartyName): PartyClient;
  /** stops the gateway and starts it again over the same database with `env` (PRIVFACE_GATEWAY_…) */
  restartGateway(env?: Record<string, string>): Promise<void>;
  /** a merchant with one approved device, persons with consent (ids) */
  world(persons: number): Promise<{ merchantId: string; device: SimDevice; persons: string[] }>;
  newDevice(merchantId: string): Promise<SimDevice>;
  newPersons(merchantId: string, device: SimDevice, n: number): Promise<string[]>;
  stop(): Promise<void>;
}

let personSeq = 0;

export async function startAttackStack(o: { home: string; env?: Record<string, string>; gatewayEnv?: Record<string, string>; log?: (l: string) => void }): Promise<AttackStack> {
  const stack = await startStack({
    home: o.home,
    gateway: "none",
    env: o.env,
    readyTimeoutMs: 180_000,
    onLog: (s, l) => (/"level":(50|60)/.test(l) ? o.log?.(`[${s}] ${l}`) : undefined),
  });
  const L = runtimeLayout(stack.home);
  const taps: Tapped[] = [];
  let gw: RunningGateway | undefined;
  let options!: Awaited<ReturnType<typeof openGatewayOptions>>;
  const tap = (party: PartyName, c: PartyClient): PartyClient =>
    new Proxy(c, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          if (args.length > 0) taps.push({ party, op: String(prop), body: structuredClone(args[0]) });
          return v.apply(target, args);
        };
      },
    });
  const startGw = async (env: Record<string, string> = {}) => {
    const cfg = loadGatewayConfig({ ...process.env, ...stackEnv(L.home, stack.ports), ...o.env, PRIVFACE_GATEWAY_TLS: "on", PRIVFACE_GATEWAY_LOG_LEVEL: "warn", ...o.gatewayEnv, ...env });
    options = await openGatewayOptions(cfg);
    const parties = { P0: tap("P0", options.parties.P0), P1: tap("P1", options.parties.P1) };
    const logger = createLogger({ name: "gateway", level: "warn", destination: { write: (s: string) => o.log?.(`[gateway] ${s.trimEnd()}`) } });
    gw = await startGateway({ ...options, parties, logger });
  };
  const clients: GatewayClient[] = [];
  try {
    await startGw();
  } catch (e) {
    await stack.stop();
    throw e;
  }
  const url = `https://127.0.0.1:${stack.ports.gateway}`;
  const operators = ensureOperators(L.gatewayOperators);
  const mk = (role?: string) => {
    const c = createGatewayClient({ url, ca: stack.ca, token: role ? operators.find((x) => x.role === role)?.token : undefined });
    clients.push(c);
    return c;
  };
  const admin = mk("admin");
  const approver = mk("operator");
  const client = mk();
  const partyClients: Partial<Record<PartyName, PartyClient>> = {};
  const h: AttackStack = {
    stack,
    layout: L,
    gatewayKey: await readKeyPairFile(L.gatewaySigningKey),
    partyKeys: { P0: readPublicKeyFile(L.sealPub("p0")), P1: readPublicKeyFile(L.sealPub("p1")) },
    taps,
    get gatewayOptions() {
      return options;
    },
    url,
    admin,
    approver,
    client,
    party: (p) => (partyClients[p] ??= stack.partyClient(p)),
    async restartGateway(env = {}) {
      await gw?.close();
      gw = undefined;
      await startGw(env);
    },
    async newDevice(merchantId) {
      return registerDevice(admin, merchantId, await generateSigningKeyPair(deploymentSuite()), { label: `attack till ${personSeq++}`, client, approver, trust: runtimeTrust(stack.home) });
    },
    async newPersons(merchantId, device, n) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const k = personSeq++;
        const r = await admin.admin("POST", `/v1/admin/merchants/${merchantId}/persons`, {
          role: "cashier",
          name: `Attack ${k}`,
          idNumber: `1101011990${String(k).padStart(7, "0")}X`,
          phone: `139${String(k).padStart(8, "0")}`,
        });
        if (r.status !== 201) throw new Error(`person: ${r.status} ${JSON.stringify(r.body)}`);
        const g = await giveConsent(device, r.body.personId);
        if (!g.ok) throw new Error(`consent: ${g.reason}`);
        ids.push(r.body.personId);
      }
      return ids;
    },
    async world(n) {
      const m = await admin.admin("POST", "/v1/admin/merchants", { name: "Attacked Shop" });
      if (m.status !== 201) throw new Error(`merchant: ${m.status} ${JSON.stringify(m.body)}`);
      const device = await h.newDevice(m.body.merchantId);
      return { merchantId: m.body.merchantId, device, persons: await h.newPersons(m.body.merchantId, device, n) };
    },
    async stop() {
      for (const c of clients) c.close();
      for (const p of PARTIES) partyClients[p]?.close();
      await gw?.close();
      await stack.stop();
    },
  };
  return h;
}
