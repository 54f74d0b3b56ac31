/**
 * What the gateway needs from a compute party (P0 or P1): the "Party API" of docs/contracts.md as a
 * TypeScript interface. `@privface/party/client`'s `createPartyClient` satisfies it; tests use
 * `createFakeParties` (fake.ts). The gateway never opens a sealed share: it forwards the base64url
 * envelope the device made for that party and XORs the two result shares it gets back.
 */
import type { SignedAuthorisation } from "@privface/party/auth";

export type PartyName = "P0" | "P1";
export const PARTIES: readonly PartyName[] = ["P0", "P1"];

export interface ShareContextJson {
  purpose: string;
  challenge: string;
  templateId: string;
  modelVersion: string;
}

/** `{ payload, batch, sig }`: one party's authorisation, signed in a batch (see `@privface/party` auth.ts). */
export type Authorisation = SignedAuthorisation;

/** What the gateway signs for one party and one operation; the party checks it (`createAuthorisationChecker`). */
export type { AuthPayload as AuthorisationPayload } from "@privface/party/auth";

export interface PartyEnrolRequest {
  session: string;
  templateId: string;
  modelVersion: string;
  sealedShare: string;
  context: ShareContextJson;
  authorisation: Authorisation;
}
export interface PartyVerifyRequest extends PartyEnrolRequest {
  upgrade?: { modelVersion: string; sealedShare: string; context: ShareContextJson };
}
export interface PartySessionRequest {
  session: string;
  templateId: string;
  authorisation: Authorisation;
}
export interface PartyDeleteRequest {
  templateId: string;
  authorisation: Authorisation;
}
export type Bit = 0 | 1;

export interface PartyClient {
  enrol(req: PartyEnrolRequest): Promise<{ session: string; resultShare: { valid: Bit } }>;
  commit(req: PartySessionRequest): Promise<{ templateId: string; status: string }>;
  abort(req: PartySessionRequest): Promise<{ templateId: string; status: string }>;
  verify(req: PartyVerifyRequest): Promise<{ session: string; resultShare: { valid: Bit; match: Bit } }>;
  delete(req: PartyDeleteRequest): Promise<{ templateId: string; deleted: boolean; existed: boolean }>;
  health(): Promise<{ role: string; peer: "up" | "down"; helper: "up" | "down"; pool?: { level: number; target: number } }>;
  close?(): Promise<void> | void;
}

/** A party's sealing public key, handed to devices with each challenge. */
export interface PartyKey {
  suite: "INTL" | "GM";
  /** base64url */
  publicKey: string;
}

/** Party error codes that mean "MPC unavailable, retry" (R35) rather than a refusal of the request. */
const UNAVAILABLE_CODES = new Set(["UNREACHABLE", "PEER_UNAVAILABLE", "POOL_EXHAUSTED", "SESSION_UNKNOWN", "INTERNAL", "UNAVAILABLE", "TIMEOUT"]);

/**
 * Classifies an error thrown by a party client: `unavailable` (network error, timeout, 5xx, peer or
 * pool down), or `refused` with the party's code (4xx such as INVALID_INPUT, UNKNOWN_TEMPLATE).
 */
export function classifyPartyError(err: unknown): { kind: "unavailable" | "refused"; code: string } {
  const e = err as { code?: unknown; status?: unknown; statusCode?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  const status = typeof e?.status === "number" ? e.status : typeof e?.statusCode === "number" ? e.statusCode : undefined;
  if (UNAVAILABLE_CODES.has(code)) return { kind: "unavailable", code };
  if (status !== undefined && status >= 400 && status < 500 && code !== "") return { kind: "refused", code };
  return { kind: "unavailable", code: code || "NETWORK" };
}
