/**
 * A simulated POS terminal for the CLI, the demo and the benchmarks: talks to a gateway over HTTP(S)
 * like the device SDK does (challenge → sealed, signed body → POST), from a precomputed embedding or
 * from an image file run through the on-device face engine (@privface/device). Nothing but sealed
 * shares, ids and the liveness score is sent.
 */
import { canonicalJson, sign, toBase64url, utf8, type KeyPair } from "@privface/crypto";
import type { GatewayAnswer, GatewayClient } from "./client.ts";

export interface SimDevice {
  deviceId: string;
  key: KeyPair;
}

export type Outcome = { ok: boolean; status: number; decision: string; reason: string; ms: number; body: any; sent?: any; /** the final POST alone (without challenge and body building) */ postMs?: number };

function outcome(r: GatewayAnswer, ms: number, sent?: unknown): Outcome {
  const err = r.body?.error;
  return {
    ok: r.status < 300,
    status: r.status,
    decision: err ? "refused" : (r.body?.decision ?? r.body?.status ?? "ok"),
    reason: err ? err.code : (r.body?.reason ?? r.body?.status ?? ""),
    ms,
    body: r.body,
    sent,
  };
}

async function signed<T extends object>(key: KeyPair, unsigned: T): Promise<T & { signature: string }> {
  return { ...unsigned, signature: toBase64url(await sign(key, utf8(canonicalJson(unsigned)))) };
}

export async function giveConsent(c: GatewayClient, d: SimDevice, personId: string): Promise<Outcome> {
  const t0 = performance.now();
  const notice = await c.call("GET", "/v1/notices/current");
  const ch = await c.call("POST", "/v1/challenges", { deviceId: d.deviceId, personId, purpose: "consent" });
  if (ch.status !== 201) return outcome(ch, performance.now() - t0);
  const body = await signed(d.key, {
    deviceId: d.deviceId,
    personId,
    challenge: ch.body.challenge,
    noticeVersion: notice.body.version,
    noticeHash: notice.body.hash,
    purposes: ["face-verification"],
  });
  const r = await c.call("POST", "/v1/consents", body);
  const o = outcome(r, performance.now() - t0);
  return r.status === 201 ? { ...o, decision: "accept", reason: "CONSENT_GIVEN" } : o;
}

// loaded on first use, once: a dynamic import per call costs a round trip through the module loader
// (tsx's loader thread) every time — measured at ~15 % of the simulated devices' CPU in bench e2e
let requestModule: Promise<typeof import("@privface/device/request")> | undefined;

/** Enrol or verify with a precomputed embedding (Float32Array, any scale) or an int8 vector. */
export async function faceOp(
  c: GatewayClient,
  d: SimDevice,
  personId: string,
  purpose: "enrol" | "verify",
  embedding: Float32Array | Int8Array,
  opts: { liveness?: number } = {},
): Promise<Outcome> {
  const { buildFaceRequest } = await (requestModule ??= import("@privface/device/request"));
  const t0 = performance.now();
  const ch = await c.call("POST", "/v1/challenges", { deviceId: d.deviceId, personId, purpose });
  if (ch.status !== 201) return outcome(ch, performance.now() - t0);
  const body = await buildFaceRequest({
    deviceId: d.deviceId,
    personId,
    purpose,
    challenge: ch.body,
    embedding,
    liveness: opts.liveness ?? 0.99,
    modelVersion: ch.body.modelVersion,
    signingKey: d.key,
  });
  const r = await c.call("POST", purpose === "enrol" ? "/v1/enrolments" : "/v1/verifications", body);
  return { ...outcome(r, performance.now() - t0, body), postMs: r.ms };
}

export async function resend(c: GatewayClient, path: string, body: unknown): Promise<Outcome> {
  const t0 = performance.now();
  return outcome(await c.call("POST", path, body), performance.now() - t0);
}

export async function deregister(c: GatewayClient, d: SimDevice, personId: string): Promise<Outcome> {
  const t0 = performance.now();
  const ch = await c.call("POST", "/v1/challenges", { deviceId: d.deviceId, personId, purpose: "deregister" });
  if (ch.status !== 201) return outcome(ch, performance.now() - t0);
  const body = await signed(d.key, { deviceId: d.deviceId, personId, challenge: ch.body.challenge });
  const r = await c.call("POST", "/v1/deregistrations", body);
  const o = outcome(r, performance.now() - t0);
  return r.status === 200 ? { ...o, decision: "accept", reason: r.body.status === "deleted" ? "DELETED" : "DELETION_PENDING" } : o;
}

/** Registers a device key for a merchant (operator token with the admin role). */
export async function registerDevice(admin: GatewayClient, merchantId: string, key: KeyPair, label = "cli"): Promise<SimDevice> {
  const r = await admin.admin("POST", `/v1/admin/merchants/${merchantId}/devices`, { suite: key.suite, publicKey: toBase64url(key.publicKey), label });
  if (r.status !== 201) throw new Error(`device registration failed: ${r.status} ${r.body?.error?.code ?? ""}`);
  return { deviceId: r.body.deviceId, key };
}

/**
 * Embeds the face in an image file with the on-device engine (JPEG or PNG). A small change of
 * brightness (`variant`) simulates a second capture of the same face.
 */
export async function embedImage(
  engine: { processFrame(d: Uint8Array, w: number, h: number): Promise<any> },
  file: string,
  variant = 0,
): Promise<{ embedding: Float32Array; liveness: number }> {
  const { readFileSync } = await import("node:fs");
  const bytes = readFileSync(file);
  let img: { data: Uint8Array; width: number; height: number };
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    const jpeg = (await import("jpeg-js")).default;
    const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
    img = { data: new Uint8Array(j.data.buffer, j.data.byteOffset, j.data.length), width: j.width, height: j.height };
  } else if (bytes[0] === 0x89 && bytes[1] === 0x50) {
    const { PNG } = await import("pngjs");
    const p = PNG.sync.read(bytes);
    img = { data: new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.length), width: p.width, height: p.height };
  } else {
    throw new TypeError(`${file}: not a JPEG or PNG image`);
  }
  if (variant) {
    const k = 1 + 0.06 * variant;
    const d = new Uint8Array(img.data);
    for (let i = 0; i < d.length; i++) if (i % 4 !== 3) d[i] = Math.min(255, Math.round(d[i] * k));
    img = { ...img, data: d };
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
