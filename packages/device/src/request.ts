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
import { checkKeyList, contextAad, deviceMacKey, faceStatement, PARTIES, sameActions, statementMac, type LivenessAction, type LivenessStep, type PartyName } from "@privface/contracts";
import { canonicalJson, fromBase64url, randomBytes, seal, sign, toBase64url, utf8, zeroize, type KeyAgreer, type KeyPair, type PublicKey, type Signer, type SignedJson, type SuiteId } from "@privface/crypto";
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
  /** enrol, verify: each party's sealing-key list signed by its institution root, relayed by the gateway */
  keyLists?: { P0: SignedJson; P1: SignedJson };
}

/** A party's sealing key the device checked under that party's root (`trustedPartyKeys`). */
export type TrustedKey = PublicKey & { id: string };

/**
 * What a device trusts, provisioned outside the gateway (decision 010 §1): each party's institution
 * root, and the highest key-list version it has accepted per party (updated here; a lower one is
 * refused as a rollback). When a party's list carries a valid handover chain from the root held here,
 * `roots[party]` is replaced in place by the newest root (issue 13 root rotation), whose lists alone
 * are accepted from then on. Keep `seen` and `roots` across restarts where the platform allows.
 */
export interface DeviceTrust {
  roots: Record<PartyName, PublicKey>;
  seen?: Partial<Record<PartyName, number>>;
  now?: () => number;
}

/**
 * The sealing keys to use: each party's list must verify under that party's root, name that party,
 * be unexpired and not older than the highest version seen; a list carrying the party's root handovers
 * is checked under the newest root the chain reaches from `trust.roots` (then held there instead).
 * @throws TrustError (KEY_LIST_UNTRUSTED, KEY_LIST_EXPIRED, KEY_LIST_ROLLBACK, KEY_LIST_MALFORMED,
 * ROOT_HANDOVER_INVALID), DeviceError BAD_CHALLENGE when absent.
 */
export async function trustedPartyKeys(trust: DeviceTrust, keyLists: ChallengeResponse["keyLists"]): Promise<Record<PartyName, TrustedKey>> {
  if (!keyLists?.P0 || !keyLists?.P1) throw new DeviceError("BAD_CHALLENGE", "challenge response lacks the parties' key lists");
  if (!trust?.roots?.P0 || !trust.roots.P1) throw new TypeError("trust.roots: both parties' institution roots are required");
  const now = trust.now?.() ?? Date.now();
  const out = {} as Record<PartyName, TrustedKey>;
  const versions = {} as Record<PartyName, number>;
  const roots = {} as Record<PartyName, PublicKey>;
  for (const p of PARTIES) {
    const minVersion = trust.seen?.[p] ?? 0;
    const { list, current, root } = checkedLists.get(trust.roots[p], p, keyLists[p], now, minVersion) ?? checkedLists.put(trust.roots[p], p, keyLists[p], await checkKeyList(trust.roots[p], p, keyLists[p], { now, minVersion }));
    out[p] = { ...current };
    versions[p] = list.version;
    roots[p] = root;
  }
  if (trust.seen) for (const p of PARTIES) trust.seen[p] = Math.max(trust.seen[p] ?? 0, versions[p]);
  // a root handover followed: from now on only the new root is trusted (the old one's lists are refused)
  for (const p of PARTIES) if (roots[p] !== trust.roots[p]) trust.roots[p] = roots[p];
  return out;
}

type CheckedList = Awaited<ReturnType<typeof checkKeyList>>;
/**
 * Key lists whose root signature and form `checkKeyList` accepted, by root and exact signed text, so
 * the gateway's relay of the same list costs no signature check per request. Expiry and rollback are
 * checked on every use (a list that fails them is checked again in full, which names the failure).
 * A list's root handovers are inside its signed text, so a hit stands for the chain it followed; the
 * entries hang off the root held, and a followed handover replaces that root, so the old root's lists
 * are checked in full again (and refused).
 */
const checkedLists = {
  byRoot: new WeakMap<PublicKey, Map<string, CheckedList>>(),
  key(root: PublicKey, p: PartyName, signed: unknown): string | undefined {
    const s = signed as { payload?: unknown; sig?: unknown } | null;
    if (typeof s?.payload !== "string" || typeof s.sig !== "string") return undefined;
    return `${root.suite}.${toBase64url(root.publicKey)}.${p}.${s.payload}.${s.sig}`;
  },
  get(root: PublicKey, p: PartyName, signed: unknown, now: number, minVersion: number): CheckedList | undefined {
    const k = this.key(root, p, signed);
    const hit = k === undefined ? undefined : this.byRoot.get(root)?.get(k);
    return hit && hit.list.expiresAt > now && hit.list.version >= minVersion ? hit : undefined;
  },
  put(root: PublicKey, p: PartyName, signed: unknown, checked: CheckedList): CheckedList {
    const k = this.key(root, p, signed);
    if (k === undefined) return checked;
    let m = this.byRoot.get(root);
    if (!m) this.byRoot.set(root, (m = new Map()));
    if (m.size >= 16) m.clear(); // a few lists per party are current at a time (rotation)
    m.set(k, checked);
    return checked;
  },
};

/**
 * The device's MAC key for a party's sealing key (`deviceMacKey`: a key agreement and a KDF), kept per
 * software key pair, device, party and key id — the same inputs give the same key. A `KeyAgreer`
 * (a key held by the platform) derives it each time, so no derived secret outlives the request there.
 */
const macKeys = new WeakMap<KeyPair, Map<string, Uint8Array>>();
async function macKeyFor(auth: KeyPair | KeyAgreer, partyKey: TrustedKey, deviceId: string, p: PartyName): Promise<Uint8Array> {
  if ("derive" in auth && typeof auth.derive === "function") return deviceMacKey(auth, partyKey, deviceId, p);
  const kp = auth as KeyPair;
  const k = `${deviceId}.${p}.${partyKey.suite}.${partyKey.id}.${toBase64url(partyKey.publicKey)}`;
  let m = macKeys.get(kp);
  const hit = m?.get(k);
  if (hit) return hit;
  const key = await deviceMacKey(kp, partyKey, deviceId, p);
  if (!m) macKeys.set(kp, (m = new Map()));
  if (m.size >= 16) m.clear();
  m.set(k, key);
  return key;
}

export interface SealedShares {
  P0: string;
  P1: string;
}

/**
 * Body of POST /v1/enrolments and /v1/verifications. `sealKeys` names the key each share was sealed
 * to; `macs` are the device's MACs of its statement (@privface/contracts `faceStatement`) for each
 * party; the signature covers the whole body (the statement's fields included).
 */
export interface FaceRequestBody {
  deviceId: string;
  personId: string;
  challenge: string;
  templateId: string;
  modelVersion: string;
  sealKeys: { P0: string; P1: string };
  shares: SealedShares;
  liveness: { score: number; actions?: LivenessAction[]; steps?: LivenessStep[] };
  upgrade?: { modelVersion: string; shares: SealedShares };
  macs: { P0: string; P1: string };
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
  parties: Record<PartyName, PublicKey>,
  rng?: Rng,
): Promise<SealedShares> {
  const { seed0, share1 } = rng ? shareInput(q, ctx, rng) : shareInput(q, ctx);
  try {
    const p0 = await seal({ suite: parties.P0.suite, publicKey: parties.P0.publicKey }, seed0, contextAad({ ...ctx, party: "P0" }));
    const p1 = await seal({ suite: parties.P1.suite, publicKey: parties.P1.publicKey }, share1, contextAad({ ...ctx, party: "P1" }));
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
  /** the device's key-agreement key (registered with the device): its statement MAC for each party derives from it */
  authKey: KeyPair | KeyAgreer;
  /** the parties' roots and the key-list versions seen: the shares are sealed only to keys checked under them */
  trust: DeviceTrust;
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
  if (!ch || typeof ch.challenge !== "string") throw new DeviceError("BAD_CHALLENGE", "challenge response lacks a challenge");
  if (typeof ch.templateId !== "string" || ch.templateId.length === 0) throw new DeviceError("BAD_CHALLENGE", "challenge response lacks a templateId");
  if (!input.authKey) throw new TypeError("authKey is required");
  // decision 010 §1: only keys each party's root certifies, never what the gateway names
  const keys = await trustedPartyKeys(input.trust, ch.keyLists);
  const modelVersion = ch.modelVersion ?? input.modelVersion;
  if (modelVersion !== input.modelVersion)
    throw new DeviceError("WRONG_MODEL_VERSION", `the gateway expects model ${modelVersion}, this embedding is ${input.modelVersion}`, { expected: modelVersion });
  const q = input.embedding instanceof Int8Array ? input.embedding : quantise(input.embedding);
  const ctx: ShareContext = { purpose: input.purpose, challenge: ch.challenge, templateId: ch.templateId, modelVersion };
  const unsigned: Omit<FaceRequestBody, "signature" | "macs"> = {
    deviceId: input.deviceId,
    personId: input.personId,
    challenge: ch.challenge,
    templateId: ch.templateId,
    modelVersion,
    sealKeys: { P0: keys.P0.id, P1: keys.P1.id },
    shares: await sealShares(q, ctx, keys, input.rng),
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
    unsigned.upgrade = { modelVersion: input.upgrade.modelVersion, shares: await sealShares(uq, uctx, keys, input.rng) };
  }
  if (!(input.embedding instanceof Int8Array)) q.fill(0);
  // the statement each party checks itself (decision 010 §2), MACed for each with a key only the device and that party hold
  const statement = await faceStatement({
    purpose: input.purpose,
    deviceId: input.deviceId,
    challenge: ch.challenge,
    templateId: ch.templateId,
    modelVersion,
    keys: unsigned.sealKeys,
    shares: unsigned.shares,
    ...(unsigned.upgrade ? { upgrade: unsigned.upgrade } : {}),
    liveness: unsigned.liveness,
  });
  const macs = { P0: "", P1: "" };
  for (const p of PARTIES) macs[p] = await statementMac(input.authKey.suite, await macKeyFor(input.authKey, keys[p], input.deviceId, p), statement);
  const body = { ...unsigned, macs };
  return { ...body, signature: await signBody(input.signingKey, body) };
}

/** Body of POST /v1/challenges: signed by the device (issue 12 item 6), `at` = the device's clock. */
export interface ChallengeRequestBody {
  deviceId: string;
  personId: string;
  purpose: Purpose;
  at: number;
  nonce: string;
  signature: string;
}

/** Builds the signed challenge request (the gateway answers anyone else with DEVICE_UNAUTHENTICATED). */
export async function buildChallengeRequest(input: { deviceId: string; personId: string; purpose: Purpose; signingKey: KeyPair | Signer; at?: number }): Promise<ChallengeRequestBody> {
  checkString(input.deviceId, "deviceId");
  checkString(input.personId, "personId");
  const unsigned = { deviceId: input.deviceId, personId: input.personId, purpose: input.purpose, at: input.at ?? Date.now(), nonce: toBase64url(randomBytes(12)) };
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
