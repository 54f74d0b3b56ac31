/**
 * Request bodies for the gateway's device API (docs/contracts.md "Gateway device API",
 * packages/gateway/src/schemas.ts): embedding → int8 (`quantise`, Q = 256) → input shares
 * (`shareInput`: P0 gets a 16-byte PRG seed, P1 d bytes) → each share sealed to its party with the
 * request context as associated data (`seal`, `contextAad`) → body signed with the device key over
 * `canonicalJson(body without signature)`.
 *
 * Share context (bound into P0's seed expansion and both AADs):
 *   { purpose, challenge, templateId, modelVersion } from the challenge; for the optional model
 *   upgrade (R5) the same with `modelVersion = upgradeTo`.
 * Nothing else about the face leaves this function: no embedding, no crop, no image.
 */
import { contextAad, sameActions, type LivenessAction, type LivenessStep } from "@privface/contracts";
import { canonicalJson, fromBase64url, seal, sign, toBase64url, utf8, zeroize, type KeyPair, type Signer, type SuiteId } from "@privface/crypto";
import { quantise, shareInput, type ShareContext } from "@privface/mpc";

export type Purpose = "enrol" | "verify" | "deregister" | "consent" | "withdraw";

/** What the gateway answers to POST /v1/challenges (subset the device uses). */
export interface ChallengeResponse {
  challenge: string;
  expiresAt: number;
  purpose?: string;
  templateId?: string;
  modelVersion?: string;
  /** verify only: the deployed model version when the stored template is older (R5) */
  upgradeTo?: string;
  /** enrol / verify with active liveness: the actions to see performed, in order (issue 17) */
  actions?: LivenessAction[];
  parties: { P0: { suite: SuiteId; publicKey: string }; P1: { suite: SuiteId; publicKey: string } };
}

export interface SealedShares {
  P0: string;
  P1: string;
}

/** Body of POST /v1/enrolments and /v1/verifications. */
export interface FaceRequestBody {
  deviceId: string;
  personId: string;
  challenge: string;
  modelVersion: string;
  shares: SealedShares;
  liveness: { score: number; actions?: LivenessAction[]; steps?: LivenessStep[] };
  upgrade?: { modelVersion: string; shares: SealedShares };
  signature: string;
}

/** Body of POST /v1/consents (R9): the notice the person was shown and agreed to. */
export interface ConsentBody {
  deviceId: string;
  personId: string;
  challenge: string;
  noticeVersion: string;
  noticeHash: string;
  purposes: string[];
  signature: string;
}

/** Body of POST /v1/deregistrations and POST /v1/consents/withdrawals. */
export interface SignedPersonBody {
  deviceId: string;
  personId: string;
  challenge: string;
  signature: string;
}

export type Rng = (n: number) => Uint8Array;

/** Errors of the SDK with a stable code (face codes from the engine, and request-building codes). */
export class DeviceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "DeviceError";
  }
}

function checkString(v: unknown, name: string): string {
  if (typeof v !== "string" || v.length === 0) throw new TypeError(`${name} must be a non-empty string`);
  return v;
}

/**
 * Shares an int8 template for one request and seals each share to its party.
 * @returns base64url envelopes { P0: seal(seed0), P1: seal(share1) }
 */
export async function sealShares(
  q: Int8Array,
  ctx: ShareContext,
  parties: ChallengeResponse["parties"],
  rng?: Rng,
): Promise<SealedShares> {
  const { seed0, share1 } = rng ? shareInput(q, ctx, rng) : shareInput(q, ctx);
  try {
    const p0 = await seal({ suite: parties.P0.suite, publicKey: fromBase64url(parties.P0.publicKey) }, seed0, contextAad({ ...ctx, party: "P0" }));
    const p1 = await seal({ suite: parties.P1.suite, publicKey: fromBase64url(parties.P1.publicKey) }, share1, contextAad({ ...ctx, party: "P1" }));
    return { P0: toBase64url(p0), P1: toBase64url(p1) };
  } finally {
    zeroize(seed0, share1);
  }
}

async function signBody(key: KeyPair | Signer, unsigned: object): Promise<string> {
  const msg = utf8(canonicalJson(unsigned));
  const sig = "sign" in key && typeof key.sign === "function" ? await key.sign(msg) : await sign(key as KeyPair, msg);
  return toBase64url(sig);
}

export interface BuildFaceRequestInput {
  deviceId: string;
  personId: string;
  purpose: "enrol" | "verify";
  challenge: ChallengeResponse;
  /** the embedding (any scale; L2-normalised and quantised here) or an already quantised int8 vector */
  embedding: ArrayLike<number> | Int8Array;
  /** liveness score in [0, 1] */
  liveness: number;
  /** the active step's result (issue 17): the challenge's actions and the per-step evidence, signed with the body */
  active?: { actions: LivenessAction[]; steps: LivenessStep[] };
  /** model version of `embedding`; must equal the challenge's modelVersion */
  modelVersion: string;
  /** optional: the same capture embedded with the model named by `challenge.upgradeTo` */
  upgrade?: { modelVersion: string; embedding: ArrayLike<number> | Int8Array };
  signingKey: KeyPair | Signer;
  rng?: Rng;
}

/**
 * Builds the sealed, signed body of an enrolment or verification from a precomputed embedding
 * (used by the SDK, the benchmarks and the gateway's tests).
 * @throws DeviceError BAD_CHALLENGE (no templateId / parties), WRONG_MODEL_VERSION
 */
export async function buildFaceRequest(input: BuildFaceRequestInput): Promise<FaceRequestBody> {
  const { challenge: ch } = input;
  checkString(input.deviceId, "deviceId");
  checkString(input.personId, "personId");
  if (input.purpose !== "enrol" && input.purpose !== "verify") throw new TypeError(`purpose must be "enrol" or "verify", got ${String(input.purpose)}`);
  if (typeof input.liveness !== "number" || !(input.liveness >= 0 && input.liveness <= 1)) throw new RangeError("liveness must be a number in [0, 1]");
  if (!ch || typeof ch.challenge !== "string" || !ch.parties?.P0 || !ch.parties?.P1) throw new DeviceError("BAD_CHALLENGE", "challenge response lacks challenge or party keys");
  if (typeof ch.templateId !== "string" || ch.templateId.length === 0) throw new DeviceError("BAD_CHALLENGE", "challenge response lacks a templateId");
  const modelVersion = ch.modelVersion ?? input.modelVersion;
  if (modelVersion !== input.modelVersion)
    throw new DeviceError("WRONG_MODEL_VERSION", `the gateway expects model ${modelVersion}, this embedding is ${input.modelVersion}`, { expected: modelVersion });
  const q = input.embedding instanceof Int8Array ? input.embedding : quantise(input.embedding);
  const ctx: ShareContext = { purpose: input.purpose, challenge: ch.challenge, templateId: ch.templateId, modelVersion };
  const unsigned: Omit<FaceRequestBody, "signature"> = {
    deviceId: input.deviceId,
    personId: input.personId,
    challenge: ch.challenge,
    modelVersion,
    shares: await sealShares(q, ctx, ch.parties, input.rng),
    liveness: { score: roundScore(input.liveness) },
  };
  if (input.active) {
    const { actions, steps } = input.active;
    if (!sameActions(actions, ch.actions) || steps.length !== actions.length || steps.some((s, i) => s.action !== actions[i]))
      throw new DeviceError("LIVENESS_ACTIONS_MISMATCH", "the actions performed are not the challenge's");
    unsigned.liveness = { ...unsigned.liveness, actions: [...actions], steps: steps.map((s) => ({ action: s.action, from: s.from, peak: s.peak, value: s.value })) };
  }
  if (input.upgrade) {
    if (ch.upgradeTo === undefined || input.upgrade.modelVersion !== ch.upgradeTo)
      throw new DeviceError("WRONG_MODEL_VERSION", `upgrade shares for ${input.upgrade.modelVersion}, challenge asks for ${String(ch.upgradeTo)}`);
    const uq = input.upgrade.embedding instanceof Int8Array ? input.upgrade.embedding : quantise(input.upgrade.embedding);
    const uctx: ShareContext = { ...ctx, modelVersion: input.upgrade.modelVersion };
    unsigned.upgrade = { modelVersion: input.upgrade.modelVersion, shares: await sealShares(uq, uctx, ch.parties, input.rng) };
  }
  if (!(input.embedding instanceof Int8Array)) q.fill(0);
  return { ...unsigned, signature: await signBody(input.signingKey, unsigned) };
}

/** Builds the signed body of a deregistration or a consent withdrawal (no shares). */
export async function buildSignedPersonRequest(input: {
  deviceId: string;
  personId: string;
  challenge: ChallengeResponse;
  signingKey: KeyPair | Signer;
}): Promise<SignedPersonBody> {
  checkString(input.deviceId, "deviceId");
  checkString(input.personId, "personId");
  const unsigned = { deviceId: input.deviceId, personId: input.personId, challenge: input.challenge.challenge };
  return { ...unsigned, signature: await signBody(input.signingKey, unsigned) };
}

/** Builds the signed consent body for the notice the person was shown (version, hash, purposes). */
export async function buildConsentRequest(input: {
  deviceId: string;
  personId: string;
  challenge: ChallengeResponse;
  notice: { version: string; hash: string; purposes: string[] };
  signingKey: KeyPair | Signer;
}): Promise<ConsentBody> {
  checkString(input.deviceId, "deviceId");
  checkString(input.personId, "personId");
  const unsigned = {
    deviceId: input.deviceId,
    personId: input.personId,
    challenge: input.challenge.challenge,
    noticeVersion: input.notice.version,
    noticeHash: input.notice.hash,
    purposes: [...input.notice.purposes],
  };
  return { ...unsigned, signature: await signBody(input.signingKey, unsigned) };
}

/** The message a device signature covers: canonical JSON of the body without `signature`. */
export function signedMessage(body: { signature?: string } & Record<string, unknown>): Uint8Array {
  const { signature: _sig, ...rest } = body;
  return utf8(canonicalJson(rest));
}

/** Liveness scores travel with 4 decimals (enough for policy, nothing more about the face). */
function roundScore(s: number): number {
  return Math.round(s * 1e4) / 1e4;
}
