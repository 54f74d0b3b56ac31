/**
 * A gateway and device simulator for the parties' tests and `bench verify`: makes the request bodies the gateway
 * would send to P0 and P1 (shares sealed to each party with the context AAD, authorisations signed
 * with the gateway key) and synthetic int8 face vectors (genuine, impostor, malicious).
 * Never used by the servers themselves.
 */
import { randomBytes } from "node:crypto";
import { contextAad, PARTIES, type DeleteRequest, type EnrolRequest, type PartyName, type SessionRequest, type ShareContext, type VerifyRequest } from "@privface/contracts";
import { shareDigest, type AuthPayload, type Op, type SignedAuthorisation } from "@privface/contracts/auth";
import { fromBase64url, seal, toBase64url, type KeyPair, type PublicKey } from "@privface/crypto";
import { createAuthorisationSigner } from "@privface/gateway";
import { quantise, shareInput } from "@privface/mpc";

export interface SimKeys {
  gateway: KeyPair;
  P0: PublicKey;
  P1: PublicKey;
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
  const digest = body.upgrade ? shareDigest(sealed, fromBase64url(body.upgrade.sealedShare)) : shareDigest(sealed);
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
  o: { session: string; templateId: string; modelVersion: string; x: Int8Array; purpose?: string; upgrade?: { modelVersion: string; x: Int8Array }; plain?: Uint8Array[] },
): Promise<Record<Party, SealedBody>> {
  const context = { purpose: o.purpose ?? op, challenge: newId(18), templateId: o.templateId, modelVersion: o.modelVersion };
  const sealed = await sealShares(keys, o.x, context, o.plain);
  let up: { context: ShareContext; sealed: Record<Party, Uint8Array> } | null = null;
  if (o.upgrade) {
    const uctx = { ...context, modelVersion: o.upgrade.modelVersion };
    up = { context: uctx, sealed: await sealShares(keys, o.upgrade.x, uctx, o.plain) };
  }
  const body = (party: Party): SealedBody => ({
    session: o.session,
    templateId: o.templateId,
    modelVersion: o.modelVersion,
    sealedShare: toBase64url(sealed[party]),
    context,
    ...(up ? { upgrade: { modelVersion: up.context.modelVersion, sealedShare: toBase64url(up.sealed[party]), context: up.context } } : {}),
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
  o: { session: string; templateId: string; modelVersion: string; x: Int8Array; purpose?: string; plain?: Uint8Array[] },
): Promise<Record<Party, EnrolRequest>> {
  return shareBodies(keys, "enrol", o);
}

export function verifyBodies(
  keys: SimKeys,
  o: { session: string; templateId: string; modelVersion: string; x: Int8Array; purpose?: string; upgrade?: { modelVersion: string; x: Int8Array }; plain?: Uint8Array[] },
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
