/**
 * `FaceDevice`: the SDK a POS app (browser) or a Node program uses against the gateway: show the
 * privacy notice and record consent (R9), enrol, verify, withdraw consent (R13), deregister (R14).
 * A face call = frame → face engine (detect, liveness, embed) → challenge from the gateway → sealed,
 * signed body → POST; `submit` starts from an embedding computed elsewhere (the CLI's image files,
 * the benchmarks' synthetic faces). Frames, crops and embeddings never leave this object; only
 * sealed shares, the liveness score and ids are sent (R1, R2). `fetch` is injectable so the SDK can
 * talk to an app held in memory in tests.
 */
import type { KeyPair, Signer } from "@privface/crypto";
import { createFaceEngine, type FaceEngine, type FaceEngineOptions } from "./engine.ts";
import { buildChallengeRequest, buildConsentRequest, buildFaceRequest, buildSignedPersonRequest, DeviceError, type ChallengeResponse, type DeviceTrust, type Purpose, type Rng } from "./request.ts";

/** An RGBA frame: `ImageData` from a canvas fits. */
export interface RgbaFrame {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** The part of `fetch` the SDK uses (the platform's `fetch` fits). */
export type FetchLike = (url: string, init: { method: string; headers?: Record<string, string>; body?: string }) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

export interface FaceDeviceOptions {
  deviceId: string;
  signingKey: KeyPair | Signer;
  /** the device's key-agreement key pair (its public half is registered with the device): statement MACs for the parties */
  authKey: KeyPair;
  /**
   * Both parties' institution roots, provisioned with the app (never from the gateway), and optionally
   * the key-list versions already seen (`seen`, updated in place: persist it to refuse rollbacks across
   * restarts). Shares are sealed only to keys these roots certify (decision 010 §1).
   */
  trust: DeviceTrust;
  /** base URL of the gateway, e.g. "https://127.0.0.1:7443" */
  gatewayUrl: string;
  fetch?: FetchLike;
  /** a ready engine, or options to create one on first use */
  engine?: FaceEngine;
  engineOptions?: FaceEngineOptions;
  /**
   * Further engines by model version (R5 transition): used when a challenge asks for a template's
   * older model version, and to add upgrade shares when it names `upgradeTo`. The primary engine's
   * version is `engine.model.version`.
   */
  extraEngines?: Record<string, FaceEngine>;
  rng?: Rng;
}

export type GatewayAnswer = Record<string, unknown>;

/** The privacy notice the gateway publishes (GET /v1/notices/current): show it before any capture. */
export interface Notice {
  version: string;
  hash: string;
  text: string;
  purposes: string[];
}

/** One capture's result from a face engine run elsewhere: the embedding (any scale, or int8) and its liveness score. */
export interface Sample {
  embedding: ArrayLike<number> | Int8Array;
  liveness: number;
  /** the model version of `embedding` (default: the challenge's) */
  modelVersion?: string;
}
export class FaceDevice {
  private readonly fetchFn: FetchLike;
  private readonly base: string;
  private enginePromise: Promise<FaceEngine> | undefined;

  constructor(private readonly o: FaceDeviceOptions) {
    if (typeof o?.deviceId !== "string" || o.deviceId.length === 0) throw new TypeError("deviceId must be a non-empty string");
    if (!o.signingKey) throw new TypeError("signingKey is required");
    if (!o.authKey) throw new TypeError("authKey is required");
    if (!o.trust?.roots?.P0 || !o.trust.roots.P1) throw new TypeError("trust.roots: both parties' institution roots are required");
    o.trust.seen ??= {};
    if (typeof o.gatewayUrl !== "string") throw new TypeError("gatewayUrl must be a string");
    this.base = o.gatewayUrl.replace(/\/+$/, "");
    this.fetchFn = o.fetch ?? globalThis.fetch.bind(globalThis);
    if (o.engine) this.enginePromise = Promise.resolve(o.engine);
  }

  /** The face engine (created on first use). */
  engine(): Promise<FaceEngine> {
    this.enginePromise ??= createFaceEngine(this.o.engineOptions);
    return this.enginePromise;
  }

  /** The current privacy notice (show it, then `consent` with it if the person agrees). */
  async notice(): Promise<Notice> {
    return (await this.request("GET", "/v1/notices/current")) as unknown as Notice;
  }

  /** Records the person's consent to `notice` (the one they were shown). */
  async consent(personId: string, notice: Notice): Promise<GatewayAnswer> {
    const ch = await this.challenge(personId, "consent");
    const body = await buildConsentRequest({ deviceId: this.o.deviceId, personId, challenge: ch, notice, signingKey: this.o.signingKey });
    return this.post("/v1/consents", body);
  }

  /** Withdraws the person's consent: the gateway stops face verification for them. */
  async withdraw(personId: string): Promise<GatewayAnswer> {
    const ch = await this.challenge(personId, "withdraw");
    const body = await buildSignedPersonRequest({ deviceId: this.o.deviceId, personId, challenge: ch, signingKey: this.o.signingKey });
    return this.post("/v1/consents/withdrawals", body);
  }

  /** Enrols or verifies from a sample computed elsewhere (no model upgrade shares: those need the frame). */
  async submit(purpose: "enrol" | "verify", personId: string, sample: Sample): Promise<GatewayAnswer> {
    const ch = await this.challenge(personId, purpose);
    const modelVersion = sample.modelVersion ?? ch.modelVersion;
    if (modelVersion === undefined) throw new DeviceError("BAD_CHALLENGE", "the challenge names no model version");
    const body = await buildFaceRequest({
      deviceId: this.o.deviceId,
      personId,
      purpose,
      challenge: ch,
      embedding: sample.embedding,
      liveness: sample.liveness,
      modelVersion,
      signingKey: this.o.signingKey,
      authKey: this.o.authKey,
      trust: this.o.trust,
      rng: this.o.rng,
    });
    return this.post(purpose === "enrol" ? "/v1/enrolments" : "/v1/verifications", body);
  }

  enrol(personId: string, frame: RgbaFrame): Promise<GatewayAnswer> {
    return this.faceCall("enrol", "/v1/enrolments", personId, frame);
  }

  verify(personId: string, frame: RgbaFrame): Promise<GatewayAnswer> {
    return this.faceCall("verify", "/v1/verifications", personId, frame);
  }

  /**
   * Deletes the person's face data. When a frame is given the person is re-verified first (R14) and
   * the deletion is sent only after the gateway accepted that verification.
   */
  async deregister(personId: string, frame?: RgbaFrame): Promise<GatewayAnswer> {
    if (frame) {
      const v = await this.verify(personId, frame);
      if (v.decision !== undefined && v.decision !== "accept" && v.match !== true)
        throw new DeviceError("NOT_VERIFIED", "re-verification before deregistration did not accept", { decision: String(v.decision) });
    }
    const ch = await this.challenge(personId, "deregister");
    const body = await buildSignedPersonRequest({ deviceId: this.o.deviceId, personId, challenge: ch, signingKey: this.o.signingKey });
    return this.post("/v1/deregistrations", body);
  }

  private async faceCall(purpose: "enrol" | "verify", path: string, personId: string, frame: RgbaFrame): Promise<GatewayAnswer> {
    const primary = await this.engine();
    // The frame is processed before the challenge is fetched: the challenge is short-lived.
    const r = await primary.processFrame(frame.data, frame.width, frame.height);
    if (!r.ok) throw new DeviceError(r.error, `face pipeline: ${r.error}`, r.liveness !== undefined ? { liveness: r.liveness } : {});
    const wipe: Float32Array[] = [r.embedding];
    try {
      const ch = await this.challenge(personId, purpose);
      const engines: Record<string, FaceEngine> = { ...this.o.extraEngines, [primary.model.version]: primary };
      const embedWith = async (version: string): Promise<Float32Array> => {
        if (version === primary.model.version) return r.embedding;
        const e = engines[version];
        if (!e) throw new DeviceError("WRONG_MODEL_VERSION", `the gateway expects model ${version}; this device has ${Object.keys(engines).join(", ")}`, { expected: version });
        const o = await e.processFrame(frame.data, frame.width, frame.height);
        if (!o.ok) throw new DeviceError(o.error, `face pipeline (${version}): ${o.error}`);
        wipe.push(o.embedding);
        return o.embedding;
      };
      // The probe must use the template's model version; a newer deployed version (upgradeTo) gets
      // upgrade shares of the same capture when this device carries that model (R5).
      const modelVersion = ch.modelVersion ?? primary.model.version;
      const embedding = await embedWith(modelVersion);
      let upgrade: { modelVersion: string; embedding: Float32Array } | undefined;
      if (purpose === "verify" && ch.upgradeTo && ch.upgradeTo !== modelVersion && engines[ch.upgradeTo]) {
        upgrade = { modelVersion: ch.upgradeTo, embedding: await embedWith(ch.upgradeTo) };
      }
      const body = await buildFaceRequest({
        deviceId: this.o.deviceId,
        personId,
        purpose,
        challenge: ch,
        embedding,
        liveness: r.liveness,
        modelVersion,
        upgrade,
        signingKey: this.o.signingKey,
        authKey: this.o.authKey,
        trust: this.o.trust,
        rng: this.o.rng,
      });
      return await this.post(path, body);
    } finally {
      for (const w of wipe) w.fill(0);
    }
  }

  private async challenge(personId: string, purpose: Purpose): Promise<ChallengeResponse> {
    const body = await buildChallengeRequest({ deviceId: this.o.deviceId, personId, purpose, signingKey: this.o.signingKey });
    return (await this.post("/v1/challenges", body)) as unknown as ChallengeResponse;
  }

  private post(path: string, body: unknown): Promise<GatewayAnswer> {
    return this.request("POST", path, body);
  }

  private async request(method: "GET" | "POST", path: string, body?: unknown): Promise<GatewayAnswer> {
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      res = await this.fetchFn(
        this.base + path,
        method === "GET" ? { method } : { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
      );
    } catch (e) {
      throw new DeviceError("GATEWAY_UNREACHABLE", `cannot reach the gateway: ${(e as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text.length ? JSON.parse(text) : {};
    } catch {
      throw new DeviceError("GATEWAY_BAD_RESPONSE", `gateway answered ${res.status} with a non-JSON body`);
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } }).error;
      throw new DeviceError(err?.code ?? `HTTP_${res.status}`, err?.message ?? `gateway answered ${res.status}`, { status: res.status });
    }
    return json as GatewayAnswer;
  }
}

