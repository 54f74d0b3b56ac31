/**
 * Names and id formats, one of each.
 *
 * - `PartyName` ("P0" | "P1") names a compute party in protocol messages, bundles, authorisations and
 *   the Party API; `ServerRole` ("helper" | "p0" | "p1" | "gateway") names a server process: the role
 *   in its certificate (SAN `urn:privface:role:<role>`), on transport links and in logs.
 *   `serverRoleOf` / `partyOfRole` convert; nothing else spells the conversion. One more role names
 *   no server: "monitor", the client certificate of a metrics scraper (Prometheus), which may read
 *   only `GET /metrics` and `GET /v1/health` of the parties and the helper.
 * - `ID` holds the format of every identifier that crosses a component boundary. Template ids are
 *   random and pseudonymous and never all digits (so no ID-card or phone number can be one, R11).
 */
import type { PartyName } from "@privface/mpc";

export type { PartyName };
export const PARTIES: readonly PartyName[] = Object.freeze(["P0", "P1"] as const);

export const SERVER_ROLES = ["helper", "p0", "p1", "gateway", "monitor"] as const;
export type ServerRole = (typeof SERVER_ROLES)[number];

export function isServerRole(s: unknown): s is ServerRole {
  return typeof s === "string" && (SERVER_ROLES as readonly string[]).includes(s);
}

export function serverRoleOf(party: PartyName): "p0" | "p1" {
  return party === "P0" ? "p0" : "p1";
}

export function partyOfRole(role: ServerRole): PartyName | null {
  return role === "p0" ? "P0" : role === "p1" ? "P1" : null;
}

export function peerOf(party: PartyName): PartyName {
  return party === "P0" ? "P1" : "P0";
}

/** Identifier formats (anchored regular expressions). */
export const ID = Object.freeze({
  /** a template's pseudonymous id: 16–64 base64url characters, never digits only */
  template: /^(?![0-9]+$)[A-Za-z0-9_-]{16,64}$/,
  /** an MPC session id chosen by the gateway (≤ 120, so the upgrade run's `<session>-u` fits 128) */
  session: /^[A-Za-z0-9_-]{8,120}$/,
  /** an authorisation nonce */
  nonce: /^[A-Za-z0-9_-]{8,128}$/,
  /** a challenge: the gateway's random part, and for face operations one nonce of each party (`composeChallenge`; P0's may be an item nonce, 67 characters) */
  challenge: /^[A-Za-z0-9_-]{16,64}(\.[A-Za-z0-9_-]{45,67}\.[A-Za-z0-9_-]{45,46})?$/,
  /** a model version string */
  modelVersion: /^[A-Za-z0-9._:+@-]{1,64}$/,
  /** the purpose a share was made for */
  purpose: /^[a-z][a-z0-9_-]{0,31}$/,
  /** a correlated-randomness bundle (pool item) id: 16 random bytes as hex */
  bundle: /^[0-9a-f]{32}$/,
  /** merchants, persons, devices, operators at the gateway */
  entity: /^[A-Za-z0-9_-]{1,64}$/,
});

/** The session id of the enrolment run that carries a verification's model-upgrade shares (R5). */
export function upgradeSessionOf(session: string): string {
  return `${session}-u`;
}

/** The session id of the 1:N duplicate search of an enrolment (issue 15, Party API `dedup`). */
export function dedupSessionOf(session: string): string {
  return `${session}-d`;
}

/** A face operation's challenge: the gateway's random part and each party's nonce, dot-separated. */
export function composeChallenge(gatewayPart: string, nonces: Record<PartyName, string>): string {
  return `${gatewayPart}.${nonces.P0}.${nonces.P1}`;
}

/** The nonce a party contributed to a challenge, or null when the challenge carries none. */
export function challengeNonce(challenge: string, party: PartyName): string | null {
  const parts = challenge.split(".");
  return parts.length === 3 ? parts[party === "P0" ? 1 : 2] : null;
}
