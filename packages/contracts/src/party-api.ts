/**
 * The Party API (docs/contracts.md "Party API"): what the gateway asks of a compute party, declared
 * once. The party serves these routes (@privface/party), the gateway calls them through its client
 * (@privface/gateway `createPartyClient`), the development stack's fake parties implement the same
 * `PartyClient` interface, and one contract suite holds the fake to the real thing.
 *
 * Byte fields travel as base64url without padding. Result shares are XOR shares of bits: the caller
 * combines the two parties' answers; neither answer alone says anything about the decision.
 */
import type { SignedAuthorisation } from "./auth.ts";
import type { SignedJson } from "@privface/crypto";
import type { DeviceStatement } from "./statement.ts";

export type Bit = 0 | 1;

export interface EnrolRequest {
  session: string;
  templateId: string;
  modelVersion: string;
  /** the device's envelope for this party, base64url */
  sealedShare: string;
  /** what the device says about this request (decision 010); the party builds the share context from it */
  statement: DeviceStatement;
  /** the device's MAC of the statement for this party, base64url */
  mac: string;
  authorisation: SignedAuthorisation;
}
export interface VerifyRequest extends EnrolRequest {
  /** the same capture under the deployed model, staged until the gateway commits it (R5) */
  upgrade?: { modelVersion: string; sealedShare: string };
}
/** A device the gateway registered, forwarded to the party's own registry (decision 010 §2). */
export interface DeviceRegistration {
  deviceId: string;
  suite: "INTL" | "GM";
  /** the device's signing public key, base64url */
  signingKey: string;
  /** the device's key-agreement ("auth") public key, base64url: the statement MAC key derives from it */
  authKey: string;
}
export interface DeviceRegistrationResponse {
  deviceId: string;
  /** `active` when the party's policy is `auto` or an operator approved it; `pending` until then */
  status: "active" | "pending" | "revoked";
}
/** Fresh nonces of one party (nonce.ts), for the gateway to put into face challenges. */
export interface NonceBatch {
  nonces: string[];
  /** epoch ms: when all of them expire */
  expiresAt: number;
}
/** The party's sealing keys, signed by its institution root (keylist.ts). */
export interface KeyListResponse {
  keyList: SignedJson;
}
/** commit (enrolment or upgrade) and abort */
export interface SessionRequest {
  session: string;
  templateId: string;
  authorisation: SignedAuthorisation;
}
/**
 * A 1:N duplicate search (issue 15, docs/protocol.md section 14): the template prepared by enrolment
 * `session` (validated, not yet committed) against every active template of its model version in the
 * parties' dedup gallery. The authorisation is for op `dedup`, this session and template.
 */
export interface DedupRequest {
  session: string;
  templateId: string;
  authorisation: SignedAuthorisation;
  /**
   * true: the answer carries `matches` as well (the gateway's `hold` policy, which needs to know which
   * templates matched). The parties compute the same either way and learn nothing more from it.
   */
  matches?: boolean;
}
export interface DeleteRequest {
  templateId: string;
  authorisation: SignedAuthorisation;
}

export interface EnrolResponse {
  session: string;
  resultShare: { valid: Bit };
  /**
   * On the wire: the party's MAC binding `resultShare` to this request (result.ts); the gateway's
   * client checks it (RESULT_UNAUTHENTICATED otherwise) and removes it.
   */
  resultMac?: string;
}
export interface VerifyResponse {
  session: string;
  /** `upgradeValid` only when the request carried an upgrade and its run completed */
  resultShare: { valid: Bit; match: Bit; upgradeValid?: Bit };
  /** as in EnrolResponse */
  resultMac?: string;
}
export interface DedupResponse {
  session: string;
  /**
   * XOR share of duplicate = valid(probe) ∧ ∃ live j: ⟨probe, y_j⟩ ≥ threshold — one bit, never the
   * matching templates; `gallery` is the number of slots the search covered (public to both parties).
   */
  resultShare: {
    duplicate: Bit;
    /**
     * With gallery shards (docs/protocol.md §14, "Gallery shards"): 16 hex digits, this party's XOR share
     * of 64 more bits; duplicate ⇔ `duplicate` XORs to 1 or the two sketches differ (each bit is a
     * parity of the shards' "any" bits over a subset the parties drew and the requester does not know).
     */
    sketch?: string;
  };
  gallery: number;
  /** only when the request asked for it (`matches: true`); the result MAC covers it too (result.ts) */
  matches?: DedupMatches;
  /** as in EnrolResponse */
  resultMac?: string;
}

/** The requester's answer from the two parties' dedup shares: 1 = a duplicate (`sketch` as in DedupResponse). */
export function dedupAnswer(a: DedupResponse["resultShare"], b: DedupResponse["resultShare"]): Bit {
  if ((a.duplicate ^ b.duplicate) === 1) return 1;
  if (a.sketch === undefined && b.sketch === undefined) return 0;
  return a.sketch === b.sketch ? 0 : 1;
}

/**
 * One party's half of which templates matched (docs/protocol.md section 14): its XOR share of the
 * per-slot bits match_j = live_j ∧ valid(probe) ∧ ⟨probe, y_j⟩ ≥ threshold, and the template id of each
 * slot. Only the gateway holds both halves and reconstructs them (`matchedTemplates`, dedup-matches.ts).
 */
export interface DedupMatches {
  /** base64url of ⌈gallery / 8⌉ bytes: bit j is bit (j mod 8) of byte ⌊j / 8⌋ */
  share: string;
  /** slot j's template id; null for a removed slot (its bit is 0 at both parties) */
  templates: (string | null)[];
}
export interface CommitResponse {
  templateId: string;
  status: "active";
}
export interface AbortResponse {
  templateId: string;
  status: "aborted";
}
export interface DeleteResponse {
  templateId: string;
  deleted: true;
  existed: boolean;
}
export interface PartyHealth {
  role: "p0" | "p1";
  peer: "up" | "down";
  helper: "up" | "down";
  pool: { level: number; target: number };
}

/**
 * An audit anchor (@privface/audit anchors.ts): the caller's newest audit record, and, when the party
 * asked for it (`want`), the caller's record at the seq of the head the party keeps.
 */
export interface AuditAnchorRequest {
  record: unknown;
  at?: unknown;
}
/** "want": send the head again with `at` = the record at seq `want`; "regressed": the caller's log went back. */
export interface AuditAnchorResponse {
  outcome: "stored" | "known" | "regressed" | "want";
  want: number | null;
}

/**
 * The party's audit records of face operations (enrol, commit, abort, verify, upgrade, dedup, budget,
 * delete) whose time falls in [from, to], oldest first, at most `limit` (1..1000): for the auditor's
 * cross-party reconciliation at the gateway. Read-only; the gateway alone may ask.
 */
export interface AuditRecordsRequest {
  from: number;
  to: number;
  limit: number;
}
export interface AuditRecordsResponse {
  records: { seq: number; time: number; op: string; session: string; outcome: string; code: string | null }[];
  /** more records in the range than `limit` */
  truncated: boolean;
}
/** The ops `auditRecords` answers (a record's op may carry `:<purpose>`, e.g. `verify:payment`). */
export const AUDIT_SESSION_OPS = ["enrol", "commit", "abort", "verify", "upgrade", "dedup", "budget", "delete"] as const;

/** One method per route; failures reject with a `PartyError` (errors.ts). */
export interface PartyClient {
  enrol(req: EnrolRequest): Promise<EnrolResponse>;
  commit(req: SessionRequest): Promise<CommitResponse>;
  abort(req: SessionRequest): Promise<AbortResponse>;
  verify(req: VerifyRequest): Promise<VerifyResponse>;
  /** the 1:N duplicate search of a prepared enrolment (GALLERY_UNAVAILABLE when the party runs no gallery) */
  dedup(req: DedupRequest): Promise<DedupResponse>;
  delete(req: DeleteRequest): Promise<DeleteResponse>;
  health(): Promise<PartyHealth>;
  /**
   * `count` (1..256) fresh nonces of this party for face challenges (decision 010 §3); with `items`
   * (for verification challenges, decision 012) P0 reserves a pool item for each and issues item
   * nonces naming them — as many as its pool allows, plain nonces for the rest; P1 ignores it
   */
  nonces(req: { count: number; items?: boolean }): Promise<NonceBatch>;
  /** the party's signed sealing-key list, which the gateway relays to devices unchanged */
  keys(): Promise<KeyListResponse>;
  /** forwards a device registration (or, with `revoke`, its revocation) to the party's registry */
  registerDevice(req: DeviceRegistration | { deviceId: string; revoke: true }): Promise<DeviceRegistrationResponse>;
  /** Prometheus text */
  metrics(): Promise<string>;
  /** hands the gateway's newest audit record to the party, which keeps it (the gateway's log anchored there) */
  anchor(req: AuditAnchorRequest): Promise<AuditAnchorResponse>;
  /** the party's audit records of face operations in a time range (read-only) */
  auditRecords(req: AuditRecordsRequest): Promise<AuditRecordsResponse>;
  /** Closes the connections. */
  close(): void;
}

/** Method and path of each gateway-facing route. */
export const PARTY_ROUTES = {
  enrol: "POST /v1/enrol",
  commit: "POST /v1/commit",
  abort: "POST /v1/abort",
  verify: "POST /v1/verify",
  dedup: "POST /v1/dedup",
  delete: "POST /v1/delete",
  health: "GET /v1/health",
  keys: "GET /v1/keys",
  nonces: "POST /v1/nonces",
  registerDevice: "POST /v1/devices",
  metrics: "GET /metrics",
  anchor: "POST /v1/audit/anchor",
  auditRecords: "POST /v1/audit/records",
} as const satisfies Record<Exclude<keyof PartyClient, "close">, string>;
