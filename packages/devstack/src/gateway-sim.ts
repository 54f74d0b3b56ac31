/**
 * A gateway and device simulator for the parties' tests and `bench verify`: makes the request bodies the gateway
 * would send to P0 and P1 (shares sealed to each party with the context AAD, authorisations signed
 * with the gateway key) and synthetic int8 face vectors (genuine, impostor, malicious).
 * Never used by the servers themselves.
 */
import { deploymentSuite } from "@privface/config";
import { randomBytes } from "node:crypto";
import {
  composeChallenge, contextAad, deviceMacKey, faceStatement, PARTIES, sealingKeyId, statementMac,
  type DedupRequest, type DeleteRequest, type DeviceRegistration, type PartyClient, type DeviceStatement, type EnrolRequest, type PartyName, type SessionRequest, type ShareContext, type VerifyRequest,
} from "@privface/contracts";
import { shareDigest, type AuthPayload, type Op, type SignedAuthorisation } from "@privface/contracts/auth";
import { fromBase64url, generateSealKeyPair, generateSigningKeyPair, seal, toBase64url, type KeyPair, type PublicKey } from "@privface/crypto";
import { createAuthorisationSigner } from "@privface/gateway";
import { quantise, shareInput } from "@privface/mpc";

export interface SimKeys {
  gateway: KeyPair;
  P0: PublicKey;
  P1: PublicKey;
  /** the simulated device whose statements the bodies carry (register it at the parties: `simRegistration`) */
  device: SimDevice;
  /**
   * where the gateway's challenges get each party's nonce (decision 010 §3); without it challenges
   * carry none. `P0items`: P0's item nonces for verification challenges (decision 012), if given.
   */
  nonce?: Record<Party, () => Promise<string>> & { P0items?: () => Promise<string> };
}

/**
 * Nonce sources that fetch each party's nonces in batches of `batch` through its Party API client, as
 * the gateway prefetches them (`P0items`: P0's item nonces for verification challenges, decision 012).
 */
export function batchedNonces(clients: Record<Party, Pick<PartyClient, "nonces">>, batch = 64): NonNullable<SimKeys["nonce"]> {
  const source = (p: Party, items = false) => {
    let queue: string[] = [];
    let until = 0;
    let fetching: Promise<void> | null = null; // one fetch for all who wait (an item nonce fetched twice wastes its item)
    return async () => {
      while (queue.length === 0 || Date.now() > until - 60_000) {
        fetching ??= clients[p]
          .nonces({ count: batch, ...(items ? { items } : {}) })
          .then((b) => {
            queue = b.nonces;
            until = b.expiresAt;
          })
          .finally(() => (fetching = null));
        await fetching;
      }
      return queue.shift()!;
    };
  };
  return { P0: source("P0"), P1: source("P1"), P0items: source("P0", true) };
}

/** A face challenge as the gateway composes it: its random part and one fresh nonce of each party (for a verification, P0's item nonce when there is a source). */
export async function simChallenge(keys: SimKeys, purpose?: string): Promise<string> {
  if (!keys.nonce) return newId(18);
  const p0 = purpose === "verify" && keys.nonce.P0items ? keys.nonce.P0items : keys.nonce.P0;
  return composeChallenge(newId(18), { P0: await p0(), P1: await keys.nonce.P1() });
}

/** A device as the parties know it: its id, signing key and key-agreement ("auth") key (decision 010 §2). */
export interface SimDevice {
  id: string;
  signing: KeyPair;
  auth: KeyPair;
}

export async function newSimDevice(id = `dev_${newId(6)}`, suite = deploymentSuite()): Promise<SimDevice> {
  return { id, signing: await generateSigningKeyPair(suite), auth: await generateSealKeyPair(suite) };
}

/** The registration the gateway forwards to each party for `device`. */
export function simRegistration(device: SimDevice): DeviceRegistration {
  return { deviceId: device.id, suite: device.auth.suite, signingKey: toBase64url(device.signing.publicKey), authKey: toBase64url(device.auth.publicKey) };
}

/** The device's statement over its envelopes and its MAC for each party, as a device makes them. */
export async function deviceStatement(
  keys: SimKeys,
  o: { purpose: "enrol" | "verify"; challenge: string; templateId: string; modelVersion: string; shares: Record<Party, Uint8Array>; upgrade?: { modelVersion: string; shares: Record<Party, Uint8Array> }; device?: SimDevice },
): Promise<{ statement: DeviceStatement; macs: Record<Party, string> }> {
  const device = o.device ?? keys.device;
  const ids = { P0: await sealingKeyId(keys.P0), P1: await sealingKeyId(keys.P1) };
  const statement = await faceStatement({ purpose: o.purpose, deviceId: device.id, challenge: o.challenge, templateId: o.templateId, modelVersion: o.modelVersion, keys: ids, shares: o.shares, upgrade: o.upgrade, liveness: { score: 0.99 } });
  const macs = {} as Record<Party, string>;
  for (const p of PARTIES) macs[p] = await statementMac(device.auth.suite, await deviceMacKey(device.auth, { ...keys[p], kind: "seal", id: ids[p] }, device.id, p), statement);
  return { statement, macs };
}
type Party = PartyName;

export const newId = (bytes = 16): string => randomBytes(bytes).toString("base64url");

// One batching signer per gateway key, as the gateway has: authorisations asked for in one
// event-loop turn (both parties' of a call, or bodies made with Promise.all) share one signature.
const signers = new WeakMap<KeyPair, (p: AuthPayload) => Promise<SignedAuthorisation>>();

export async function authorise(
  gateway: KeyPair,
  a: { op: Op; party: Party; session: string; templateId: string; modelVersion?: string; digest?: string; ttlMs?: number; expires?: number },
): Promise<SignedAuthorisation> {
  let sign = signers.get(gateway);
  if (!sign) signers.set(gateway, (sign = createAuthorisationSigner(gateway)));
  return sign({
    v: 1,
    op: a.op,
    party: a.party,
    session: a.session,
    templateId: a.templateId,
    modelVersion: a.modelVersion ?? "",
    digest: a.digest ?? "",
    expires: a.expires ?? Date.now() + (a.ttlMs ?? 30_000),
    nonce: newId(),
  });
}

type SealedBody = Omit<VerifyRequest, "authorisation">;

/** The gateway's authorisation of one party's body (digest over its sealed share(s)), as it signs one at call time. */
export function authoriseBody(keys: SimKeys, op: "enrol" | "verify", party: Party, body: SealedBody): Promise<SignedAuthorisation> {
  const sealed = fromBase64url(body.sealedShare);
  const digest = body.upgrade ? shareDigest(keys.gateway.suite, sealed, fromBase64url(body.upgrade.sealedShare)) : shareDigest(keys.gateway.suite, sealed);
  return authorise(keys.gateway, { op, party, session: body.session, templateId: body.templateId, modelVersion: body.modelVersion, digest });
}

/** Seals x's shares: P0 gets the 16-byte seed, P1 the d byte shares. */
export async function sealShares(keys: SimKeys, x: Int8Array, ctx: ShareContext, plain?: Uint8Array[]): Promise<Record<Party, Uint8Array>> {
  const { seed0, share1 } = shareInput(x, ctx);
  plain?.push(seed0.slice(), share1.slice());
  return {
    P0: await seal(keys.P0, seed0, contextAad({ ...ctx, party: "P0" })),
    P1: await seal(keys.P1, share1, contextAad({ ...ctx, party: "P1" })),
  };
}

/**
 * The P0 and P1 bodies of an enrolment or verification (the latter optionally carrying an upgrade)
 * without their authorisations — the device's part; `authoriseBody` adds the gateway's.
 */
export async function sealedBodies(
  keys: SimKeys,
  op: "enrol" | "verify",
  o: {
    session: string;
    templateId: string;
    modelVersion: string;
    x: Int8Array;
    /** the purpose the device sealed for (default: `op`); a statement says the same */
    purpose?: "enrol" | "verify";
    upgrade?: { modelVersion: string; x: Int8Array };
    plain?: Uint8Array[];
    challenge?: string;
    device?: SimDevice;
  },
): Promise<Record<Party, SealedBody>> {
  const purpose = o.purpose ?? op;
  const context = { purpose, challenge: o.challenge ?? (await simChallenge(keys, purpose)), templateId: o.templateId, modelVersion: o.modelVersion };
  const sealed = await sealShares(keys, o.x, context, o.plain);
  let up: { context: ShareContext; sealed: Record<Party, Uint8Array> } | null = null;
  if (o.upgrade) {
    const uctx = { ...context, modelVersion: o.upgrade.modelVersion };
    up = { context: uctx, sealed: await sealShares(keys, o.upgrade.x, uctx, o.plain) };
  }
  const { statement, macs } = await deviceStatement(keys, {
    purpose,
    challenge: context.challenge,
    templateId: o.templateId,
    modelVersion: o.modelVersion,
    shares: sealed,
    ...(up ? { upgrade: { modelVersion: up.context.modelVersion, shares: up.sealed } } : {}),
    device: o.device,
  });
  const body = (party: Party): SealedBody => ({
    session: o.session,
    templateId: o.templateId,
    modelVersion: o.modelVersion,
    sealedShare: toBase64url(sealed[party]),
    statement,
    mac: macs[party],
    ...(up ? { upgrade: { modelVersion: up.context.modelVersion, sealedShare: toBase64url(up.sealed[party]) } } : {}),
  });
  return { P0: body("P0"), P1: body("P1") };
}

/** The P0 and P1 bodies with the gateway's authorisations. */
async function shareBodies(keys: SimKeys, op: "enrol" | "verify", o: Parameters<typeof sealedBodies>[2]): Promise<Record<Party, VerifyRequest>> {
  const bodies = await sealedBodies(keys, op, o);
  return perParty(async (party) => ({ ...bodies[party], authorisation: await authoriseBody(keys, op, party, bodies[party]) }));
}

/** Both parties' bodies, made concurrently (so their authorisations share one signature). */
async function perParty<T>(make: (party: Party) => Promise<T>): Promise<Record<Party, T>> {
  const [P0, P1] = await Promise.all(PARTIES.map(make));
  return { P0, P1 };
}

export function enrolBodies(
  keys: SimKeys,
  o: Parameters<typeof sealedBodies>[2],
): Promise<Record<Party, EnrolRequest>> {
  return shareBodies(keys, "enrol", o);
}

export function verifyBodies(
  keys: SimKeys,
  o: Parameters<typeof sealedBodies>[2],
): Promise<Record<Party, VerifyRequest>> {
  return shareBodies(keys, "verify", o);
}

export async function finishBodies(keys: SimKeys, op: "commit" | "upgrade" | "abort", o: { session: string; templateId: string; modelVersion?: string }): Promise<Record<Party, SessionRequest>> {
  return perParty(async (party) => ({
    session: o.session,
    templateId: o.templateId,
    authorisation: await authorise(keys.gateway, { op, party, session: o.session, templateId: o.templateId, modelVersion: o.modelVersion }),
  }));
}

/** The bodies of the 1:N duplicate search of enrolment `session` (Party API `dedup`). */
export async function dedupBodies(keys: SimKeys, o: { session: string; templateId: string; matches?: boolean }): Promise<Record<Party, DedupRequest>> {
  return perParty(async (party) => ({
    session: o.session,
    templateId: o.templateId,
    authorisation: await authorise(keys.gateway, { op: "dedup", party, session: o.session, templateId: o.templateId }),
    ...(o.matches ? { matches: true } : {}),
  }));
}

export async function deleteBodies(keys: SimKeys, o: { templateId: string }): Promise<Record<Party, DeleteRequest>> {
  const session = newId();
  return perParty(async (party) => ({ templateId: o.templateId, authorisation: await authorise(keys.gateway, { op: "delete", party, session, templateId: o.templateId }) }));
}

// ---------------------------------------------------------------- synthetic faces

function gaussian(rng: () => number): number {
  let u = 0;
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** A random face vector (int8, unit norm × Q). */
export function randomFace(d: number, rng: () => number = Math.random): Int8Array {
  return quantise(Array.from({ length: d }, () => gaussian(rng)));
}

/** Another capture of the same face: x plus noise of relative size `noise` (0.3 ≈ cos 0.95). */
export function sameFace(x: Int8Array, noise = 0.3, rng: () => number = Math.random): Int8Array {
  const s = 1 / Math.sqrt(x.length);
  return quantise(Array.from(x, (v) => v / 256 + noise * s * gaussian(rng)));
}

/** A malicious probe: every coordinate at the int8 maximum (squared norm far above the bound). */
export function maliciousProbe(d: number): Int8Array {
  return new Int8Array(d).fill(127);
}

/** XOR of the two parties' result shares. */
export function reconstruct<T extends Record<string, number>>(a: T, b: T): T {
  const out: Record<string, number> = {};
  for (const k of Object.keys(a)) out[k] = a[k] ^ b[k];
  return out as T;
}
