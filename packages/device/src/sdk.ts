/**
 * `FaceDevice`: the SDK a POS app (browser) or a Node program uses against the gateway: show the
 * privacy notice and record consent (R9), enrol, verify, withdraw consent (R13), deregister (R14).
 * A face call = frame → face engine (detect, liveness, embed) → challenge from the gateway → sealed,
 * signed body → POST; `submit` starts from an embedding computed elsewhere (the CLI's image files,
 * the benchmarks' synthetic faces). Frames, crops and embeddings never leave this object; only
 * sealed shares, the liveness score and ids are sent (R1, R2). `fetch` is injectable so the SDK can
 * talk to an app held in memory in tests.
 */
import type { KeyAgreer, KeyPair, Signer } from "@privface/crypto";
import { createFaceEngine, type FaceEngine, type FaceEngineOptions } from "./engine.ts";
import type { LivenessAction, LivenessStep } from "@privface/contracts";
import { ActionTracker, type ActionThresholds } from "./actions.ts";
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
  /** the device's key-agreement key (its public half is registered with the device): statement MACs for the parties; a `KeyAgreer` keeps the private half in a non-extractable WebCrypto key */
  authKey: KeyPair | KeyAgreer;
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

/** A camera: the next RGBA frame with its capture time in ms (`t`, default the clock), or null when it stops. */
export type FrameSource = () => Promise<(RgbaFrame & { t?: number }) | null>;

export interface LiveCaptureOptions {
  /** called when the prompt changes: "look-at-camera", then each action ("blink", "turn-left", …), then "hold-still" */
  onPrompt?: (prompt: LivenessAction | "look-at-camera" | "hold-still", step: number) => void;
  /** frames read at most before LIVENESS_TIMEOUT (default 240) */
  maxFrames?: number;
  thresholds?: Partial<ActionThresholds>;
}

export interface LiveCapture {
  /** the embedding of the frame taken after the last action (facing the camera, passive PAD passed) */
  embedding: Float32Array;
  /** its passive live score */
  liveness: number;
  /** the per-step evidence of the actions (empty when none were asked) */
  steps: LivenessStep[];
  /** a copy of the embedded frame (wiped by the caller) */
  frame: RgbaFrame;
  /** frames read */
  frames: number;
}

/** What the caller's capture hands to `FaceDevice.captureAndSubmit` (a `LiveCapture` fits). */
export interface ChallengeCapture {
  embedding: Float32Array;
  liveness: number;
  /** the per-step evidence of the challenge's actions, in order (empty or absent when none were asked) */
  steps?: LivenessStep[];
  /** the model version the embedding was made with (checked against the challenge's) */
  modelVersion?: string;
  /** the embedded frame (for upgrade shares; wiped after use) */
  frame?: RgbaFrame;
}

function copyFrame(f: RgbaFrame): RgbaFrame {
  return { data: new Uint8Array(f.data), width: f.width, height: f.height };
}

/**
 * The capture of a live call (issue 17), usable without a gateway (benchmarks): frames are measured
 * (`engine.measureFrame`) and fed to an `ActionTracker` until the actions are done; a wrong action,
 * a timeout or a lost face throws its code (LIVENESS_ACTIONS_MISMATCH, LIVENESS_TIMEOUT,
 * LIVENESS_FACE_LOST). Then frames are read until one passes the whole pipeline (passive PAD
 * included) and is embedded. The frame that completed the tracker's baseline, before the first
 * action, is embedded too and must be the same person (cosine ≥ the match threshold's, else
 * LIVENESS_FACE_CHANGED): a live accomplice doing the actions in front of a victim's photo, or a
 * photo swapped in after them, does not pass.
 */
export async function liveCapture(engine: FaceEngine, actions: readonly LivenessAction[], source: FrameSource, o: LiveCaptureOptions = {}): Promise<LiveCapture> {
  const maxFrames = o.maxFrames ?? 240;
  let frames = 0;
  const read = async (): Promise<RgbaFrame & { t: number }> => {
    if (frames >= maxFrames) throw new DeviceError("LIVENESS_TIMEOUT", `no result within ${maxFrames} frames`);
    const f = await source();
    if (!f) throw new DeviceError("LIVENESS_TIMEOUT", "the camera stopped before the capture was done");
    frames++;
    return { ...f, t: f.t ?? Date.now() };
  };
  let steps: LivenessStep[] = [];
  let first: RgbaFrame | undefined;
  if (actions.length > 0) {
    if (!engine.measureFrame) throw new DeviceError("ENGINE_UNSUPPORTED", "this face engine cannot measure frames for active liveness");
    const tracker = new ActionTracker(actions, o.thresholds);
    let prompt = "";
    for (;;) {
      const f = await read();
      const m = await engine.measureFrame(f.data, f.width, f.height);
      const st = m.ok ? tracker.push({ yaw: m.yaw, eye: m.eye, mouth: m.mouth, t: f.t }) : tracker.pushNoFace(f.t);
      if (st.status === "failed") throw new DeviceError(st.code, `active liveness: ${st.code}`, { step: st.step, ...(st.seen ? { seen: st.seen } : {}) });
      if (st.status === "done") {
        steps = st.steps;
        break;
      }
      if (!first && m.ok && st.prompt !== "look-at-camera") first = copyFrame(f);
      if (st.prompt !== prompt) {
        prompt = st.prompt;
        o.onPrompt?.(st.prompt, st.step);
      }
    }
    o.onPrompt?.("hold-still", actions.length);
  }
  let r: Awaited<ReturnType<FaceEngine["processFrame"]>> | undefined;
  let frame: RgbaFrame | undefined;
  for (let tries = 0; tries < 12; tries++) {
    const f = await read();
    r = await engine.processFrame(f.data, f.width, f.height);
    if (r.ok) {
      frame = copyFrame(f);
      break;
    }
    if (r.error === "LIVENESS_FAILED" || r.error === "MULTIPLE_FACES") break; // not retried: an attack or a second person
  }
  if (!r || !r.ok || !frame) {
    first?.data.fill(0);
    const code = r && !r.ok ? r.error : "NO_FACE";
    throw new DeviceError(code, `face pipeline: ${code}`, r && !r.ok && r.liveness !== undefined ? { liveness: r.liveness } : {});
  }
  if (first) {
    const r0 = await engine.processFrame(first.data, first.width, first.height);
    first.data.fill(0);
    if (!r0.ok) {
      r.embedding.fill(0);
      frame.data.fill(0);
      // the frame the actions started from fails the pipeline itself (e.g. the passive stage)
      throw new DeviceError(r0.error, `face pipeline (frame before the actions): ${r0.error}`);
    }
    let cos = 0;
    for (let i = 0; i < r0.embedding.length; i++) cos += r0.embedding[i] * r.embedding[i];
    r0.embedding.fill(0);
    if (cos < engine.model.threshold / 65_536) {
      r.embedding.fill(0);
      frame.data.fill(0);
      throw new DeviceError("LIVENESS_FACE_CHANGED", "the face after the actions is not the face before them");
    }
  }
  return { embedding: r.embedding, liveness: r.liveness, steps, frame, frames };
}

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

  /**
   * Enrols with active liveness (issue 17): fetches the challenge first, prompts the person through its
   * actions (`onPrompt`), checks the camera frames perform exactly them in order, then embeds a frame
   * facing the camera after the last action; see `liveCapture`.
   */
  enrolLive(personId: string, source: FrameSource, options: LiveCaptureOptions = {}): Promise<GatewayAnswer> {
    return this.liveCall("enrol", personId, source, options);
  }

  /** Verifies with active liveness (see `enrolLive`). */
  verifyLive(personId: string, source: FrameSource, options: LiveCaptureOptions = {}): Promise<GatewayAnswer> {
    return this.liveCall("verify", personId, source, options);
  }

  private async liveCall(purpose: "enrol" | "verify", personId: string, source: FrameSource, options: LiveCaptureOptions): Promise<GatewayAnswer> {
    const primary = await this.engine();
    return this.captureAndSubmit(purpose, personId, async ({ actions, modelVersion }) => {
      if (modelVersion !== undefined && modelVersion !== primary.model.version)
        throw new DeviceError("WRONG_MODEL_VERSION", `the gateway expects model ${modelVersion}; live capture runs ${primary.model.version}`, { expected: modelVersion });
      return { ...(await liveCapture(primary, actions, source, options)), modelVersion: primary.model.version };
    });
  }

  /**
   * Enrols or verifies with a capture the caller runs once the challenge is known (issue 17: the POS
   * app, which prompts the person itself): fetches the challenge, calls `capture` with its actions (empty
   * when the gateway asks for none) and model version, then seals, signs and sends the result with the
   * per-step evidence. `capture` must perform exactly `actions` (`liveCapture` does) and embed with
   * `modelVersion`; its embedding and frame are wiped here after use. A returned `frame` also gives the
   * upgrade shares when the challenge names `upgradeTo` and this device carries that model (R5).
   */
  async captureAndSubmit(
    purpose: "enrol" | "verify",
    personId: string,
    capture: (c: { actions: LivenessAction[]; modelVersion: string | undefined }) => Promise<ChallengeCapture>,
  ): Promise<GatewayAnswer> {
    const ch = await this.challenge(personId, purpose);
    const actions = ch.actions ?? [];
    const cap = await capture({ actions: actions.slice(), modelVersion: ch.modelVersion });
    try {
      const modelVersion = ch.modelVersion ?? cap.modelVersion;
      if (modelVersion === undefined) throw new DeviceError("BAD_CHALLENGE", "the challenge names no model version");
      if (cap.modelVersion !== undefined && cap.modelVersion !== modelVersion)
        throw new DeviceError("WRONG_MODEL_VERSION", `the gateway expects model ${modelVersion}; the capture used ${cap.modelVersion}`, { expected: modelVersion });
      let upgrade: { modelVersion: string; embedding: Float32Array } | undefined;
      const next = ch.upgradeTo ? this.o.extraEngines?.[ch.upgradeTo] : undefined;
      if (purpose === "verify" && ch.upgradeTo && next && cap.frame) {
        const o = await next.processFrame(cap.frame.data, cap.frame.width, cap.frame.height);
        if (!o.ok) throw new DeviceError(o.error, `face pipeline (${ch.upgradeTo}): ${o.error}`);
        upgrade = { modelVersion: ch.upgradeTo, embedding: o.embedding };
      }
      const body = await buildFaceRequest({
        deviceId: this.o.deviceId,
        personId,
        purpose,
        challenge: ch,
        embedding: cap.embedding,
        liveness: cap.liveness,
        ...(actions.length > 0 ? { active: { actions, steps: cap.steps ?? [] } } : {}),
        modelVersion,
        upgrade,
        signingKey: this.o.signingKey,
        authKey: this.o.authKey,
        trust: this.o.trust,
        rng: this.o.rng,
      });
      upgrade?.embedding.fill(0);
      return await this.post(purpose === "enrol" ? "/v1/enrolments" : "/v1/verifications", body);
    } finally {
      cap.embedding.fill(0);
      cap.frame?.data.fill(0);
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

