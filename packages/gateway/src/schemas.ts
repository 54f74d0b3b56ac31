/**
 * Every request and response body of the gateway API as TypeBox (JSON Schema) values. Fastify
 * validates requests against them with `removeAdditional: false` (unknown fields are refused, never
 * silently dropped), and @fastify/swagger turns the same schemas into the OpenAPI 3 document served at
 * `/openapi.json`.
 *
 * Byte fields are base64url without padding. There is no image field anywhere (R1, PFI-05).
 */
import { ID, LIVENESS_ACTIONS, LIVENESS_STEPS } from "@privface/contracts";
import { Type, type Static, type TSchema } from "typebox";

const strict = { additionalProperties: false } as const;

export const Id = Type.String({ pattern: ID.entity.source, description: "opaque identifier" });
export const B64u = (max: number, description?: string) =>
  Type.String({ pattern: "^[A-Za-z0-9_-]*$", minLength: 1, maxLength: max, ...(description ? { description } : {}) });
/** A sealed share envelope, base64url (P0's 16-byte seed or P1's d-byte share, sealed). */
export const SealedShare = B64u(8192, "sealed share envelope for one party, base64url");
export const Suite = Type.Union([Type.Literal("INTL"), Type.Literal("GM")]);
export const ModelVersion = Type.String({ pattern: ID.modelVersion.source });
const Challenge = Type.String({ pattern: ID.challenge.source });

export const Purpose = Type.Union(
  [Type.Literal("enrol"), Type.Literal("verify"), Type.Literal("deregister"), Type.Literal("consent"), Type.Literal("withdraw")],
  { description: "what the challenge may be used for" },
);
export type Purpose = Static<typeof Purpose>;
export const Role = Type.Union([Type.Literal("principal"), Type.Literal("cashier")], { description: "principal = 商户责任人, cashier = 收银员" });
export type Role = Static<typeof Role>;

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()]))),
    }),
  },
  { description: "error: a stable code from the catalogue (docs/api.md) and a fixed message" },
);

// ---- device API ---------------------------------------------------------------------------------

export const LivenessActionSchema = Type.Union([Type.Literal(LIVENESS_ACTIONS[0]), Type.Literal(LIVENESS_ACTIONS[1]), Type.Literal(LIVENESS_ACTIONS[2]), Type.Literal(LIVENESS_ACTIONS[3])]);
export const ChallengeRequest = Type.Object(
  {
    deviceId: Id,
    personId: Id,
    purpose: Purpose,
    at: Type.Integer({ description: "the device's clock, epoch ms: accepted within the challenge lifetime of the gateway's" }),
    nonce: Type.String({ pattern: "^[A-Za-z0-9_-]{16,64}$", description: "random: two requests are never the same bytes (a repeated one is a replay)" }),
    signature: B64u(256, "device signature over canonicalJson(body without signature)"),
  },
  { ...strict, description: "signed by a registered device (issue 12 item 6); every other caller gets DEVICE_UNAUTHENTICATED" },
);
export type ChallengeRequest = Static<typeof ChallengeRequest>;

export const SignedKeyList = Type.Object(
  { payload: B64u(8192), sig: B64u(256) },
  { ...strict, description: "a party's sealing-key list signed by its institution root, relayed unchanged (decision 010 §1)" },
);
export const ChallengeResponse = Type.Object({
  challenge: Type.String(),
  expiresAt: Type.Integer({ description: "epoch ms" }),
  purpose: Purpose,
  templateId: Type.Optional(Type.String({ description: "pseudonymous template id the shares are bound to (enrol, verify)" })),
  modelVersion: Type.Optional(ModelVersion),
  upgradeTo: Type.Optional(Type.String({ description: "verify only: the deployed model version, when the template is older (R5)" })),
  actions: Type.Optional(Type.Array(LivenessActionSchema, { description: "enrol / verify with active liveness on: the actions to perform, in order (issue 17)" })),
  keyLists: Type.Optional(Type.Object({ P0: SignedKeyList, P1: SignedKeyList }, { description: "enrol, verify: devices check each under the party's root and seal only to its current key" })),
});
export type ChallengeResponse = Static<typeof ChallengeResponse>;

export const Shares = Type.Object({ P0: SealedShare, P1: SealedShare }, strict);
const KeyId = Type.String({ pattern: "^[A-Za-z0-9_-]{16}$", description: "sealing key id from the party's key list" });
const Mac = Type.String({ pattern: "^[A-Za-z0-9_-]{43}$", description: "the device's MAC of its statement for this party, base64url" });
export const Liveness = Type.Object(
  {
    score: Type.Number({ minimum: 0, maximum: 1 }),
    actions: Type.Optional(Type.Array(LivenessActionSchema, { minItems: 1, maxItems: LIVENESS_STEPS.max, description: "the challenge's actions, as the device verified them (issue 17)" })),
    steps: Type.Optional(
      Type.Array(
        Type.Object(
          {
            action: LivenessActionSchema,
            from: Type.Integer({ minimum: 0, maximum: 10_000 }),
            peak: Type.Integer({ minimum: 0, maximum: 10_000 }),
            value: Type.Number({ minimum: -10, maximum: 10 }),
          },
          strict,
        ),
        { minItems: 1, maxItems: LIVENESS_STEPS.max, description: "per-step evidence: first and peak frame index, peak measure" },
      ),
    ),
  },
  strict,
);
export const Signature = B64u(256, "device signature over canonicalJson(body without signature), base64url");

/** Body of POST /v1/enrolments and POST /v1/verifications. */
export const FaceRequest = Type.Object(
  {
    deviceId: Id,
    personId: Id,
    challenge: Challenge,
    templateId: Type.String({ pattern: ID.template.source, description: "the template id of the challenge" }),
    modelVersion: ModelVersion,
    sealKeys: Type.Object({ P0: KeyId, P1: KeyId }, strict),
    shares: Shares,
    liveness: Liveness,
    upgrade: Type.Optional(Type.Object({ modelVersion: ModelVersion, shares: Shares }, strict)),
    macs: Type.Object({ P0: Mac, P1: Mac }, strict),
    signature: Signature,
  },
  strict,
);
export type FaceRequest = Static<typeof FaceRequest>;

/** Body of POST /v1/deregistrations and POST /v1/consents/withdrawals. */
export const SignedPersonRequest = Type.Object(
  {
    deviceId: Id,
    personId: Id,
    challenge: Challenge,
    signature: Signature,
  },
  strict,
);
export type SignedPersonRequest = Static<typeof SignedPersonRequest>;

export const ConsentRequest = Type.Object(
  {
    deviceId: Id,
    personId: Id,
    challenge: Challenge,
    noticeVersion: Type.String({ maxLength: 64 }),
    noticeHash: Type.String({ maxLength: 128 }),
    purposes: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 8 }),
    signature: Signature,
  },
  strict,
);
export type ConsentRequest = Static<typeof ConsentRequest>;

export const Decision = Type.Union([Type.Literal("accept"), Type.Literal("reject")]);
export const VerificationResponse = Type.Object({
  requestId: Type.String(),
  decision: Decision,
  reason: Type.Union([Type.Literal("MATCH"), Type.Literal("NO_MATCH"), Type.Literal("INVALID_PROBE")], {
    description: "never a score (R4)",
  }),
  upgraded: Type.Boolean({ description: "true when the template was re-enrolled under the new model (R5)" }),
});
export type VerificationResponse = Static<typeof VerificationResponse>;

export const EnrolmentResponse = Type.Object({
  requestId: Type.String(),
  decision: Decision,
  reason: Type.Union([Type.Literal("ENROLLED"), Type.Literal("INVALID_TEMPLATE"), Type.Literal("DUPLICATE_ENROLMENT"), Type.Literal("HELD_FOR_REVIEW")]),
  modelVersion: ModelVersion,
});
export type EnrolmentResponse = Static<typeof EnrolmentResponse>;

export const DeletionResponse = Type.Object({
  requestId: Type.String(),
  status: Type.Union([Type.Literal("deleted"), Type.Literal("pending"), Type.Literal("disabled")], {
    description:
      "pending: a party was unreachable; the deletion is recorded and retried (R35). disabled (withdrawal only): the consent is withdrawn and the template unusable at once; it is deleted once the person is proven (a fresh verification on the same device, or an operator identity check under dual control)",
  }),
});
export type DeletionResponse = Static<typeof DeletionResponse>;

export const Notice = Type.Object({
  version: Type.String(),
  hash: Type.String({ description: "base64url SHA-256 of the UTF-8 text" }),
  text: Type.String(),
  purposes: Type.Array(Type.String()),
});
export type Notice = Static<typeof Notice>;

export const ConsentReceipt = Type.Object({
  consentId: Type.String(),
  personId: Type.String(),
  noticeVersion: Type.String(),
  noticeHash: Type.String(),
  purposes: Type.Array(Type.String()),
  deviceId: Type.String(),
  givenAt: Type.Integer(),
  withdrawnAt: Type.Optional(Type.Integer()),
});
export type ConsentReceipt = Static<typeof ConsentReceipt>;

export const Health = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("degraded")]),
  parties: Type.Record(Type.String(), Type.String()),
});

// ---- operator API -------------------------------------------------------------------------------

export const MerchantCreate = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) }, strict);
export const Merchant = Type.Object({ merchantId: Type.String(), name: Type.String(), createdAt: Type.Integer() });

export const PersonCreate = Type.Object(
  {
    role: Role,
    name: Type.String({ minLength: 1, maxLength: 64 }),
    idNumber: Type.String({ pattern: "^[1-9][0-9]{16}[0-9X]$", description: "18-character resident ID; stored encrypted" }),
    phone: Type.String({ pattern: "^1[0-9]{10}$", description: "stored encrypted" }),
  },
  strict,
);
export type PersonCreate = Static<typeof PersonCreate>;
export const PersonView = Type.Object({
  personId: Type.String(),
  merchantId: Type.String(),
  role: Role,
  name: Type.String({ description: "masked" }),
  idNumber: Type.String({ description: "masked, e.g. 110101********1234" }),
  phone: Type.String({ description: "masked, e.g. 138****8000" }),
  enrolled: Type.Boolean(),
  modelVersion: Type.Optional(Type.String()),
  consent: Type.Union([Type.Literal("none"), Type.Literal("given"), Type.Literal("withdrawn")]),
  locked: Type.Boolean(),
  held: Type.Optional(Type.Boolean({ description: "ENROL_DEDUP=hold: the enrolment matched enrolled faces and awaits the operators' decision (no verification)" })),
  erased: Type.Optional(Type.Boolean({ description: "the identity attributes were erased IDENTITY_RETENTION_DAYS after deregistration (name, ID number and phone are empty)" })),
});
export type PersonView = Static<typeof PersonView>;

export const DeviceCreate = Type.Object(
  {
    suite: Suite,
    publicKey: B64u(256, "the device's signing public key"),
    authKey: B64u(256, "the device's key-agreement public key: each party derives the statement MAC key from it (decision 010 §2)"),
    label: Type.Optional(Type.String({ maxLength: 64 })),
    stillImage: Type.Optional(
      Type.Boolean({
        description:
          "a still-image tool (CLI, demo, benchmarks): its challenges carry no active liveness actions (issue 17). Only operators set it, here, and the second operator approves it with the device; no device request can.",
      }),
    ),
  },
  strict,
);
export const DeviceView = Type.Object({
  deviceId: Type.String(),
  merchantId: Type.String(),
  suite: Suite,
  status: Type.Union([Type.Literal("pending"), Type.Literal("active"), Type.Literal("revoked")], { description: "pending: awaits a second, different operator's approval" }),
  locked: Type.Boolean(),
  label: Type.Optional(Type.String()),
  requestedBy: Type.Optional(Type.String()),
  approvedBy: Type.Optional(Type.String()),
  stillImage: Type.Boolean({ description: "registered as a still-image tool: no active liveness actions (issue 17)" }),
});
export const IdentityCheck = Type.Object({
  checkId: Type.String(),
  personId: Type.String(),
  status: Type.Union([Type.Literal("pending"), Type.Literal("approved")]),
  requestedBy: Type.String(),
  approvedBy: Type.Optional(Type.String()),
  validUntil: Type.Optional(Type.Integer()),
  /** what the approval did at once: the template of a person who withdrew consent is deleted */
  templateDeletion: Type.Optional(Type.Union([Type.Literal("deleted"), Type.Literal("pending")])),
});
export const PathCheck = Type.Object({ checkId: Id }, strict);

export const NoticeCreate = Type.Object(
  { version: Type.String({ pattern: "^[A-Za-z0-9._-]{1,64}$" }), text: Type.String({ minLength: 1, maxLength: 16384 }), purposes: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 8 }) },
  strict,
);

export const DecisionRecord = Type.Object({
  requestId: Type.String(),
  op: Type.String(),
  decision: Type.String(),
  reason: Type.String(),
  deviceId: Type.String(),
  modelVersion: Type.String(),
  at: Type.Integer(),
  ms: Type.Number(),
});
export const DecisionList = Type.Object({ personId: Type.String(), decisions: Type.Array(DecisionRecord) });
export const Recheck = Type.Object({ id: Type.String(), op: Type.String(), personId: Type.String(), reason: Type.String(), at: Type.Integer(), resolvedAt: Type.Optional(Type.Integer()) });
export const RecheckList = Type.Object({ rechecks: Type.Array(Recheck) });
export const Ok = Type.Object({ ok: Type.Boolean() });

/** The reason of an operator query (R26): 3..200 characters once decoded; percent-encoded UTF-8 for text outside Latin-1 (headers are Latin-1). */
export const ReasonHeader = Type.Object({ "x-privface-reason": Type.String({ minLength: 3, maxLength: 1800, description: "why (3..200 characters; percent-encoded UTF-8 for non-Latin-1 text), recorded with the operator" }) });
export const PathMerchant = Type.Object({ merchantId: Id }, strict);
export const PathPerson = Type.Object({ personId: Id }, strict);
export const PathDevice = Type.Object({ deviceId: Id }, strict);
export const LimitQuery = Type.Object({ limit: Type.Optional(Type.String({ pattern: "^(100|[1-9][0-9]?)$", description: "1..100" })) }, strict);

/** Error responses a route can give, for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = ErrorBody;
  return out;
}

// ---- operator console (issue 14) ----------------------------------------------------------------

export const SignIn = Type.Object(
  { operatorId: Type.String({ pattern: "^[A-Za-z0-9._-]{1,64}$" }), token: Type.String({ pattern: "^[\\x21-\\x7e]{8,256}$", description: "the operator's credential from the operators file" }) },
  { ...strict, description: "sign in to the console: answers a session cookie (HttpOnly, Secure, SameSite=Strict) and the CSRF token to send as x-privface-csrf" },
);
export const Session = Type.Object({
  operatorId: Type.String(),
  role: Type.Union([Type.Literal("admin"), Type.Literal("operator"), Type.Literal("auditor")]),
  csrfToken: Type.String({ description: "send as x-privface-csrf with every request the session cookie authenticates" }),
  idleExpiresAt: Type.Integer({ description: "ms since the epoch: the session ends if unused until then" }),
  expiresAt: Type.Integer({ description: "ms since the epoch: the session ends then whatever happens" }),
});
export const ListQuery = Type.Object(
  { merchantId: Type.Optional(Id), limit: Type.Optional(Type.String({ pattern: "^(100|[1-9][0-9]?)$", description: "1..100 (default 100): at most 100 rows per view" })) },
  strict,
);
export const MerchantList = Type.Object({ merchants: Type.Array(Merchant) });
export const DeviceList = Type.Object({ devices: Type.Array(DeviceView) });
export const PersonList = Type.Object({ persons: Type.Array(PersonView) });
export const Approval = Type.Object({
  approvalId: Type.String(),
  action: Type.Union([Type.Literal("person.unlock"), Type.Literal("hold.approve"), Type.Literal("hold.reject"), Type.Literal("device.still-image.on"), Type.Literal("device.still-image.off")]),
  subject: Type.String({ description: "the person (unlock), the held enrolment (hold.*) or the device (device.*), opaque id" }),
  status: Type.Union([Type.Literal("pending"), Type.Literal("approved")]),
  requestedBy: Type.String(),
  requestedAt: Type.Integer(),
  reason: Type.String({ description: "the requester's reason" }),
  approvedBy: Type.Optional(Type.String()),
});
export const PathApproval = Type.Object({ approvalId: Id }, strict);
export const PathHold = Type.Object({ holdId: Id }, strict);
export const StillImageChange = Type.Object({ stillImage: Type.Boolean() }, strict);
export const HoldDecision = Type.Object({ decision: Type.Union([Type.Literal("approve"), Type.Literal("reject")]) }, strict);
/** ENROL_DEDUP=hold: a held enrolment and the enrolled persons its face matched, all masked (issue 15) */
export const HoldView = Type.Object({
  holdId: Type.String(),
  at: Type.Integer(),
  person: PersonView,
  matches: Type.Array(PersonView, { description: "the persons whose templates the new face matched (at most 20 shown)" }),
  more: Type.Integer({ description: "matching persons not shown (beyond 20, or no longer enrolled)" }),
});
export const HoldList = Type.Object({ holds: Type.Array(HoldView) });
export const PendingList = Type.Object({
  devices: Type.Array(DeviceView),
  identityChecks: Type.Array(Type.Object({ checkId: Type.String(), personId: Type.String(), status: Type.Literal("pending"), requestedBy: Type.String(), requestedAt: Type.Integer() })),
  approvals: Type.Array(Approval),
});
const PartyStatus = Type.Object({
  reachable: Type.Boolean(),
  auditChainOk: Type.Optional(Type.Boolean()),
  auditRecords: Type.Optional(Type.Number()),
  poolLevel: Type.Optional(Type.Number()),
  linkUp: Type.Optional(Type.Boolean()),
  anchorRegressions: Type.Optional(Type.Number({ description: "audit heads this party received that went back behind one it kept (its peer's or the gateway's log cut or rewritten)" })),
});
/** The gateway's chain reconciled with what a party keeps of it (@privface/audit anchors) */
const Anchor = Type.Object({
  outcome: Type.Union([Type.Literal("stored"), Type.Literal("known"), Type.Literal("regressed"), Type.Literal("unreachable"), Type.Literal("empty")]),
  seq: Type.Union([Type.Integer(), Type.Null()], { description: "the seq of the gateway's head the party now keeps" }),
});
export const AuditView = Type.Object({
  gateway: Type.Object({
    ok: Type.Boolean(),
    records: Type.Integer(),
    firstBroken: Type.Optional(Type.Object({ seq: Type.Integer(), reason: Type.String() })),
    recent: Type.Array(
      Type.Object({ seq: Type.Integer(), time: Type.Integer(), actor: Type.String(), op: Type.String(), outcome: Type.String(), code: Type.Union([Type.String(), Type.Null()]), subject: Type.Union([Type.String(), Type.Null()]) }),
    ),
  }),
  parties: Type.Record(Type.String(), PartyStatus, { description: "each party's own chain check and pool level, from its /metrics" }),
  anchors: Type.Record(Type.String(), Anchor, {
    description: "the gateway's signed audit head sent to each party now: stored / known — the party's kept head of the gateway's chain is in this chain (same hash at its seq); regressed — it is not (this chain was cut or rewritten)",
  }),
});
export const ReconciliationQuery = Type.Object(
  { before: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,15}$", description: "the page older than this gateway seq (the previous page's `next`)" })) },
  strict,
);
const Mismatch = Type.Union(["AT_P0_ONLY", "AT_P1_ONLY", "MISSING_AT_GATEWAY", "MISSING_AT_P0", "MISSING_AT_P1", "OUTCOME_MISMATCH", "PARTIES_DISAGREE"].map((c) => Type.Literal(c)));
/** The gateway's decisions beside both parties' records of the same session (@privface/audit reconcileDecisions) */
export const Reconciliation = Type.Object({
  reconciled: Type.Integer(),
  mismatched: Type.Integer(),
  rows: Type.Array(
    Type.Object({
      session: Type.String(),
      time: Type.Integer(),
      gateway: Type.Union([Type.Object({ seq: Type.Integer(), op: Type.String(), outcome: Type.String(), code: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
      P0: Type.Array(Type.String()),
      P1: Type.Array(Type.String()),
      mismatches: Type.Array(Mismatch),
    }),
    { maxItems: 100 },
  ),
  window: Type.Object({ from: Type.Integer(), to: Type.Integer() }, { description: "the span of the page's decisions: party sessions without a decision are listed on the page whose span holds them" }),
  parties: Type.Record(Type.String(), Type.Union([Type.Literal("ok"), Type.Literal("truncated"), Type.Literal("unreachable")]), { description: "unreachable: its column is empty and its records are reported missing; truncated: more than 1000 records in the window" }),
  more: Type.Boolean({ description: "rows beyond the 100 shown in this window" }),
  next: Type.Union([Type.Integer(), Type.Null()], { description: "`before` for the next (older) page; null on the last" }),
});
export const Dashboard = Type.Object({
  at: Type.Integer(),
  decisions: Type.Record(Type.String(), Type.Object({ accept: Type.Number(), reject: Type.Number() }), { description: "totals since the gateway started, by flow" }),
  errors: Type.Record(Type.String(), Type.Number(), { description: "refused requests since start, by error code" }),
  latencyMs: Type.Object({ count: Type.Number(), p50: Type.Union([Type.Number(), Type.Null()]), p95: Type.Union([Type.Number(), Type.Null()]), p99: Type.Union([Type.Number(), Type.Null()]) }, { description: "POST /v1/verifications, from the histogram buckets (upper bound of the bucket)" }),
  parties: Type.Record(Type.String(), PartyStatus),
});
