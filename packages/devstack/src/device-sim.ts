/**
 * Simulated POS terminals for the CLI, the demo and the benchmarks, built on the real device SDK
 * (@privface/device `FaceDevice`): consent, enrol and verify from an embedding computed elsewhere
 * (an image file through the on-device engine, or a synthetic face), withdraw, deregister. Nothing
 * but sealed shares, ids and the liveness score is sent. Each call gives an `Outcome` instead of
 * throwing, so a refusal can be shown and counted; the last request body is kept (the demo replays it).
 */
import { homeFromEnv, runtimeLayout } from "@privface/config";
import { generateSealKeyPair, toBase64url, type KeyPair } from "@privface/crypto";
import { readPublicKeyFile } from "@privface/crypto/node";
import { DeviceError, FaceDevice, type DeviceTrust, type FaceEngine, type GatewayAnswer } from "@privface/device";
import { decodeImageFile } from "@privface/device/decode";
import type { GatewayClient } from "./gateway-client.ts";

export interface SimDevice {
  deviceId: string;
  key: KeyPair;
  /** the key-agreement key registered with the device (its statement MACs) */
  authKey: KeyPair;
  /** what it trusts: the parties' roots (and the key-list versions seen) */
  trust: DeviceTrust;
  sdk: FaceDevice;
  /** what the last POST sent, its status and how long it took (the final POST alone) */
  last: { path: string; body: unknown; status: number; ms: number };
}

export type Outcome = { ok: boolean; status: number; decision: string; reason: string; ms: number; body: any; sent?: any; /** the final POST alone (without challenge and body building) */ postMs?: number };

/**
 * What a terminal of this deployment trusts: both parties' institution roots from the runtime home
 * (`keys/…-root.pub.json`), provisioned outside the gateway (decision 010 §1).
 */
export function runtimeTrust(home: string = homeFromEnv()): DeviceTrust {
  const L = runtimeLayout(home);
  return { roots: { P0: readPublicKeyFile(L.rootPub("p0")), P1: readPublicKeyFile(L.rootPub("p1")) }, seen: {} };
}

/** A registered device key driven through `client`'s connections. */
export function simDevice(client: GatewayClient, deviceId: string, key: KeyPair, authKey: KeyPair, trust: DeviceTrust): SimDevice {
  const last: SimDevice["last"] = { path: "", body: undefined, status: 0, ms: 0 };
  const sdk = new FaceDevice({
    deviceId,
    signingKey: key,
    authKey,
    trust,
    gatewayUrl: client.url,
    fetch: async (url, init) => {
      const t0 = performance.now();
      const r = await client.fetch(url, init);
      if (init.method === "POST") Object.assign(last, { path: new URL(url).pathname, body: init.body, status: r.status, ms: performance.now() - t0 });
      return r;
    },
  });
  return { deviceId, key, authKey, trust, sdk, last };
}

/**
 * Registers a device (its signing key and a key-agreement key, generated unless given) for a merchant
 * (operator token with the admin role) and has a second, different operator (`o.approver`: admin or
 * operator role) approve it (R27: two approvers); the gateway then forwards it to the parties. The
 * device talks through `o.client` and trusts `o.trust` (default: the runtime home's roots). A simulated
 * device submits embeddings, not camera frames: it is registered as a still-image tool (no active
 * liveness actions, issue 17) unless `o.stillImage` is false.
 */
export async function registerDevice(
  admin: GatewayClient,
  merchantId: string,
  key: KeyPair,
  o: { label?: string; client?: GatewayClient; approver: GatewayClient; trust?: DeviceTrust; authKey?: KeyPair; stillImage?: boolean },
): Promise<SimDevice> {
  const authKey = o.authKey ?? (await generateSealKeyPair(key.suite));
  const r = await admin.admin("POST", `/v1/admin/merchants/${merchantId}/devices`, { suite: key.suite, publicKey: toBase64url(key.publicKey), authKey: toBase64url(authKey.publicKey), label: o.label ?? "cli", stillImage: o.stillImage ?? true });
  if (r.status !== 201) throw new Error(`device registration failed: ${r.status} ${r.body?.error?.code ?? ""}`);
  const a = await o.approver.admin("POST", `/v1/admin/devices/${r.body.deviceId}/approve`);
  if (a.status !== 200) throw new Error(`device approval failed: ${a.status} ${a.body?.error?.code ?? ""}`);
  return simDevice(o.client ?? admin, r.body.deviceId, key, authKey, o.trust ?? runtimeTrust());
}

async function run(d: SimDevice, call: () => Promise<GatewayAnswer>, onOk: (body: any) => { decision: string; reason: string }): Promise<Outcome> {
  const t0 = performance.now();
  try {
    const body = await call();
    return { ok: true, status: d.last.status, ...onOk(body), ms: performance.now() - t0, body, sent: parse(d.last.body), postMs: d.last.ms };
  } catch (e) {
    if (!(e instanceof DeviceError)) throw e;
    const status = typeof e.details.status === "number" ? e.details.status : 0;
    return { ok: false, status, decision: "refused", reason: e.code, ms: performance.now() - t0, body: { error: { code: e.code, message: e.message } }, sent: parse(d.last.body) };
  }
}

const parse = (s: unknown) => (typeof s === "string" ? JSON.parse(s) : s);
const decided = (b: any) => ({ decision: String(b?.decision ?? "ok"), reason: String(b?.reason ?? "") });

/** Shows (fetches) the current notice and records the person's consent to it. */
export function giveConsent(d: SimDevice, personId: string): Promise<Outcome> {
  return run(d, async () => d.sdk.consent(personId, await d.sdk.notice()), () => ({ decision: "accept", reason: "CONSENT_GIVEN" }));
}

/** Enrol or verify with a precomputed embedding (Float32Array, any scale) or an int8 vector. */
export function faceOp(d: SimDevice, personId: string, purpose: "enrol" | "verify", embedding: Float32Array | Int8Array, opts: { liveness?: number } = {}): Promise<Outcome> {
  return run(d, () => d.sdk.submit(purpose, personId, { embedding, liveness: opts.liveness ?? 0.99 }), decided);
}

export function withdraw(d: SimDevice, personId: string): Promise<Outcome> {
  return run(d, () => d.sdk.withdraw(personId), (b) => ({ decision: "accept", reason: b?.status === "deleted" ? "DELETED" : "WITHDRAWN" }));
}

export function deregister(d: SimDevice, personId: string): Promise<Outcome> {
  return run(d, () => d.sdk.deregister(personId), (b) => ({ decision: "accept", reason: b?.status === "deleted" ? "DELETED" : "DELETION_PENDING" }));
}

/** Sends a body again, as it was (replay). */
export async function resend(c: GatewayClient, path: string, body: unknown): Promise<Outcome> {
  const r = await c.call("POST", path, body);
  const err = r.body?.error;
  return { ok: r.status < 300, status: r.status, decision: err ? "refused" : decided(r.body).decision, reason: err ? err.code : decided(r.body).reason, ms: r.ms, body: r.body };
}

/**
 * Embeds the face in an image file with the on-device engine (JPEG or PNG). A small change of
 * brightness (`variant`) simulates a second capture of the same face.
 */
export async function embedImage(engine: FaceEngine, file: string, variant = 0): Promise<{ embedding: Float32Array; liveness: number }> {
  let img = await decodeImageFile(file);
  if (variant) {
    const k = 1 + 0.06 * variant;
    const data = new Uint8Array(img.data);
    for (let i = 0; i < data.length; i++) if (i % 4 !== 3) data[i] = Math.min(255, Math.round(data[i] * k));
    img = { ...img, data };
  }
  const r = await engine.processFrame(img.data, img.width, img.height);
  if (!r.ok) throw Object.assign(new Error(`${file}: ${r.error}`), { code: r.error });
  return { embedding: r.embedding, liveness: r.liveness };
}

/**
 * Deterministic stand-in embeddings for demos and benchmarks (xorshift32; each coordinate a sum of
 * three uniforms): `face()` draws a new face, `recapture(v)` a noisy second capture of it.
 */
export function syntheticFaces(seed: number, d = 512): { face(): Float32Array; recapture(v: Float32Array): Float32Array } {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32 - 0.5;
  };
  return {
    face: () => Float32Array.from({ length: d }, () => rnd() + rnd() + rnd()),
    recapture: (v) => v.map((x) => x + 0.15 * (rnd() + rnd() + rnd())),
  };
}
