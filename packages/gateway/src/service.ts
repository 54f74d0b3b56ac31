/**
 * The gateway's business flows, independent of HTTP: challenges, enrol, verify (with model upgrade),
 * deregister, consent and withdrawal, operator actions, degraded-mode re-checks.
 *
 * Every device operation goes through `admit()` in one fixed order, so each refusal has one code and
 * nothing is stored or sent to a party before all checks pass:
 *   device known / active / not locked → person known → same merchant → device signature over
 *   canonicalJson(body without signature) → not a replay → challenge known / unused / unexpired /
 *   bound to this device, person and purpose → purpose checks (consent, lockout, enrolment state,
 *   model version, liveness) → the challenge is consumed.
 * Then the parties are called with gateway-signed, single-use authorisations (R16). The gateway relays
 * the sealed shares unopened and learns only XOR-shares of (valid, match), which it combines into the
 * decision. No score exists anywhere on this side (R4).
 */
import { canonicalJson, fromBase64url, utf8, verify as verifySig, type DataKey, type Signer } from "@privface/crypto";
import { classifyPartyError, MODEL, PARTIES, PartyError, type Bit, type PartyClient, type PartyName, type ShareContext } from "@privface/contracts";
import { shareDigest, type AuthPayload } from "@privface/contracts/auth";
import { createAuthorisationSigner } from "./authorise.ts";
import type { Log } from "@privface/config";
import type { Db } from "@privface/db";
import { ChallengeStore, type Challenge } from "./_challenges.ts";
import { randomId, randomToken, sha256b64u } from "./_crypto.ts";
import { blindIndex, makeIdentityKeys, maskIdNumber, maskName, maskPhone, openField, sealField, type IdentityKeys } from "./_identity.ts";
import { RateLimiter, type RateLimits } from "./_limits.ts";
import { Store, migrateGateway, type ConsentState, type DeviceRow, type PersonRow } from "./_store.ts";
import { ApiError } from "./errors.ts";
import type {
  ChallengeRequest,
  ChallengeResponse,
  ConsentReceipt,
  ConsentRequest,
  DeletionResponse,
  EnrolmentResponse,
  FaceRequest,
  Notice,
  PersonCreate,
  PersonView,
  Purpose,
  SignedPersonRequest,
  VerificationResponse,
} from "./schemas.ts";

/** A party's sealing public key, handed to devices with each challenge. */
export interface PartyKey {
  suite: "INTL" | "GM";
  /** base64url */
  publicKey: string;
}

export type OperatorRole = "admin" | "operator" | "auditor";
export interface Operator {
  id: string;
  role: OperatorRole;
}

/**
 * One record of the gateway's audit trail (no personal data: ids are opaque, never names or numbers;
 * an operator's free-text reason is kept in the gateway database's `operator_queries`, not here).
 */
export interface AuditEvent {
  /** "device:<id>", "operator:<id>", "system" */
  actor: string;
  /** e.g. "enrol", "verify", "verify.upgrade", "person.view" */
  action: string;
  /** the person, device, merchant or notice acted on */
  subject?: string;
  templateId?: string;
  requestId?: string;
  /** "ok", "accept", "reject", "error" */
  outcome: string;
  /** reason code, e.g. "MATCH", "MPC_UNAVAILABLE" */
  code?: string;
}
export interface AuditSink {
  append(event: AuditEvent): Promise<void> | void;
}

/** The part of the servers' pino logger the service calls (@privface/config). */
export type { Log };

export interface ServiceOptions {
  db: Db;
  parties: Record<PartyName, PartyClient>;
  /** Sealing public keys handed to devices with each challenge. */
  partyKeys: Record<PartyName, PartyKey>;
  /** The gateway signing key for party authorisations. */
  signer: Signer;
  /** Data keys for identity attributes at rest; the first encrypts. */
  dataKeys: readonly DataKey[];
  /** The model version new enrolments use (and verifications upgrade to, R5). */
  modelVersion: string;
  audit?: AuditSink;
  log?: Log;
  challengeTtlMs?: number;
  authorisationTtlMs?: number;
  limits?: Partial<RateLimits>;
  /** Consecutive failed verifications after which a person is locked (default 5). */
  personLockAfter?: number;
  /** Consecutive failed verifications from one device after which it is locked (default 20). */
  deviceLockAfter?: number;
  /** How recent a successful verification must be for a deregistration (default 5 min, R14). */
  reverifyWindowMs?: number;
  /** Minimum device-reported liveness score (default: the model's, R22). */
  livenessThreshold?: number;
  /** Sensitive records an operator may view per day (default 100, R26). */
  operatorDailyQuota?: number;
  now?: () => number;
}

export const DEFAULT_LIMITS: RateLimits = { perPersonPerMinute: 30, perDevicePerMinute: 300, perMerchantPerMinute: 3000 };

export const DEFAULT_NOTICE = {
  version: "2026-12-01",
  purposes: ["face-verification"],
  text:
    "人脸识别身份核验隐私告知 / Privacy notice for face verification.\n" +
    "Purpose: to verify that you are the registered merchant principal or cashier when you use this POS terminal (anti-fraud).\n" +
    "Method: the terminal turns your face into a feature vector on the device; no image leaves the device. The vector is split " +
    "into two random shares, each encrypted to one holder: P0 (the acquiring bank) and P1 (the card network). Neither holder " +
    "alone can rebuild it; they compare shares by secure multi-party computation and only the match decision comes out.\n" +
    "Scope: the face template shares only; your name, ID-card number and phone stay with the acquirer, encrypted.\n" +
    "Retention: until you turn face verification off or deregister, which deletes the template at both holders.\n" +
    "You may refuse; another verification method remains available.",
};

export class GatewayService {
  readonly store: Store;
  readonly challenges: ChallengeStore;
  readonly limiter: RateLimiter;
  readonly identity: IdentityKeys;
  private readonly busy = new Set<string>();
  private readonly now: () => number;
  private readonly o: Required<Omit<ServiceOptions, "audit" | "log" | "limits" | "now">> & { limits: RateLimits };
  private readonly audit: AuditSink | undefined;
  private readonly log: Log | undefined;
  private readonly devicePub = new Map<string, { suite: "INTL" | "GM"; publicKey: Uint8Array; kind: "sign" }>();
  /** Authorisations asked for in one event-loop turn share one signature (party auth.ts). */
  private readonly signAuthorisation: ReturnType<typeof createAuthorisationSigner>;

  constructor(options: ServiceOptions) {
    this.o = {
      challengeTtlMs: 60_000,
      authorisationTtlMs: 30_000,
      personLockAfter: 5,
      deviceLockAfter: 20,
      reverifyWindowMs: 5 * 60_000,
      livenessThreshold: MODEL.livenessThreshold,
      operatorDailyQuota: 100,
      ...options,
      limits: { ...DEFAULT_LIMITS, ...options.limits },
    } as GatewayService["o"];
    if (!options.modelVersion) throw new TypeError("GatewayService: modelVersion is required");
    for (const p of PARTIES) if (!options.parties?.[p]) throw new TypeError(`GatewayService: parties.${p} is required`);
    this.store = new Store(options.db);
    this.signAuthorisation = createAuthorisationSigner(this.o.signer);
    this.challenges = new ChallengeStore(this.o.challengeTtlMs);
    this.limiter = new RateLimiter(this.o.limits);
    this.identity = makeIdentityKeys(options.dataKeys);
    this.audit = options.audit;
    this.log = options.log;
    this.now = options.now ?? Date.now;
  }

  /** Creates the tables and the default privacy notice if there is none. */
  async init(): Promise<void> {
    await migrateGateway(this.store.db);
    this.store.prepare();
    if (!(await this.store.latestNotice())) await this.addNotice(DEFAULT_NOTICE, { id: "system", role: "admin" });
  }

  get modelVersion(): string {
    return this.o.modelVersion;
  }

  // ---- device flows ---------------------------------------------------------------------------

  async challenge(req: ChallengeRequest): Promise<ChallengeResponse> {
    const now = this.now();
    const device = await this.activeDevice(req.deviceId);
    const { person, consent } = await this.personOf(device, req.personId);
    this.limiter.take({ person: person.id, device: device.id, merchant: device.merchant_id }, now);
    let templateId: string | undefined;
    let modelVersion: string | undefined;
    let upgradeTo: string | undefined;
    switch (req.purpose) {
      case "enrol":
        this.requireConsent(consent);
        if (person.template_id) throw new ApiError("ALREADY_ENROLLED");
        templateId = randomToken(16);
        modelVersion = this.o.modelVersion;
        break;
      case "verify":
        this.requireConsent(consent);
        this.requireUnlocked(person);
        if (!person.template_id || !person.model_version) throw new ApiError("NOT_ENROLLED");
        templateId = person.template_id;
        modelVersion = person.model_version;
        if (modelVersion !== this.o.modelVersion) upgradeTo = this.o.modelVersion;
        break;
      case "deregister":
        if (!person.template_id) throw new ApiError("NOT_ENROLLED");
        templateId = person.template_id;
        modelVersion = person.model_version ?? undefined;
        break;
      case "consent":
      case "withdraw":
        break;
    }
    const ch = this.challenges.issue(
      { value: randomToken(24), deviceId: device.id, personId: person.id, purpose: req.purpose, templateId, modelVersion, upgradeTo },
      now,
    );
    return {
      challenge: ch.value,
      expiresAt: ch.expiresAt,
      purpose: ch.purpose,
      ...(templateId !== undefined ? { templateId } : {}),
      ...(modelVersion !== undefined ? { modelVersion } : {}),
      ...(upgradeTo !== undefined ? { upgradeTo } : {}),
      parties: { P0: this.o.partyKeys.P0, P1: this.o.partyKeys.P1 },
    };
  }

  async enrol(body: FaceRequest): Promise<EnrolmentResponse> {
    const t0 = performance.now();
    const { device, person, ch } = await this.admit(body, "enrol", (person, ch, consent) => {
      this.requireConsent(consent);
      if (person.template_id) throw new ApiError("ALREADY_ENROLLED");
      if (body.upgrade) throw new ApiError("INVALID_INPUT", { field: "/upgrade" });
      if (body.modelVersion !== ch.modelVersion) throw new ApiError("MODEL_VERSION_MISMATCH");
      this.requireLiveness(body);
    });
    const requestId = randomId("req");
    const templateId = ch.templateId!;
    const modelVersion = body.modelVersion;
    try {
      const session = randomToken(16);
      const context: ShareContext = { purpose: "enrol", challenge: ch.value, templateId, modelVersion };
      const results = await this.allParties(async (p, client) =>
        client.enrol({
          session,
          templateId,
          modelVersion,
          sealedShare: body.shares[p],
          context,
          authorisation: await this.authorise("enrol", p, session, templateId, modelVersion, body.shares[p]),
        }),
      );
      if (!results.ok) {
        await this.abortAll(session, templateId, modelVersion);
        return await this.partyFailure(results.error, { op: "enrol", requestId, person, device, templateId, modelVersion, t0 });
      }
      const valid = (results.value.P0.resultShare.valid ^ results.value.P1.resultShare.valid) as Bit;
      if (valid !== 1) {
        await this.abortAll(session, templateId, modelVersion);
        await this.record(requestId, person, device, "enrol", "reject", "INVALID_TEMPLATE", modelVersion, t0);
        return { requestId, decision: "reject", reason: "INVALID_TEMPLATE", modelVersion };
      }
      const commit = await this.allParties(async (p, client) =>
        client.commit({ session, templateId, authorisation: await this.authorise("commit", p, session, templateId, modelVersion, undefined) }),
      );
      if (!commit.ok) {
        // One party may have committed: record for re-check (the recheck deletes the template at both).
        return await this.partyFailure(commit.error, { op: "enrol", requestId, person, device, templateId, modelVersion, t0 });
      }
      await this.store.setTemplate(person.id, templateId, modelVersion);
      await this.record(requestId, person, device, "enrol", "accept", "ENROLLED", modelVersion, t0);
      return { requestId, decision: "accept", reason: "ENROLLED", modelVersion };
    } finally {
      this.busy.delete(person.id);
    }
  }

  async verify(body: FaceRequest): Promise<VerificationResponse> {
    const t0 = performance.now();
    const { device, person, ch } = await this.admit(body, "verify", (person, ch, consent) => {
      this.requireConsent(consent);
      this.requireUnlocked(person);
      if (!person.template_id || !person.model_version) throw new ApiError("NOT_ENROLLED");
      if (person.template_id !== ch.templateId) throw new ApiError("CHALLENGE_MISMATCH");
      if (body.modelVersion !== person.model_version) throw new ApiError("MODEL_VERSION_MISMATCH");
      if (body.upgrade && (body.upgrade.modelVersion !== ch.upgradeTo || body.upgrade.modelVersion === person.model_version)) {
        throw new ApiError("MODEL_VERSION_MISMATCH");
      }
      this.requireLiveness(body);
    });
    const requestId = randomId("req");
    const templateId = person.template_id!;
    const modelVersion = body.modelVersion;
    const upgrade = body.upgrade;
    try {
      const session = randomToken(16);
      const context: ShareContext = { purpose: "verify", challenge: ch.value, templateId, modelVersion };
      const upContext: ShareContext | undefined = upgrade
        ? { purpose: "verify", challenge: ch.value, templateId, modelVersion: upgrade.modelVersion }
        : undefined;
      const results = await this.allParties(async (p, client) =>
        client.verify({
          session,
          templateId,
          modelVersion,
          sealedShare: body.shares[p],
          context,
          authorisation: await this.authorise("verify", p, session, templateId, modelVersion, body.shares[p], upgrade?.shares[p]),
          ...(upgrade && upContext ? { upgrade: { modelVersion: upgrade.modelVersion, sealedShare: upgrade.shares[p], context: upContext } } : {}),
        }),
      );
      if (!results.ok) {
        if (upgrade) await this.abortAll(session, templateId, upgrade.modelVersion);
        return await this.partyFailure(results.error, { op: "verify", requestId, person, device, templateId, modelVersion, t0 });
      }
      const r0 = results.value.P0.resultShare;
      const r1 = results.value.P1.resultShare;
      const valid = (r0.valid ^ r1.valid) as Bit;
      const match = (r0.match ^ r1.match) as Bit;
      const now = this.now();
      if (valid === 1 && match === 1) {
        let upgraded = false;
        let recordedVersion = modelVersion;
        if (upgrade) {
          const promote = await this.allParties(async (p, client) =>
            client.commit({ session, templateId, authorisation: await this.authorise("upgrade", p, session, templateId, upgrade.modelVersion, undefined) }),
          );
          if (promote.ok) {
            await this.store.setModelVersion(person.id, upgrade.modelVersion);
            upgraded = true;
            recordedVersion = upgrade.modelVersion;
          } else {
            await this.recheck("upgrade", person.id, templateId, `promotion failed: ${classifyPartyError(promote.error).code}`);
          }
        }
        // issued together with the decision row, so that they share one write transaction (group commit)
        const writes = [this.store.personVerified(person.id, now)];
        if (device.failed_count > 0) writes.push(this.store.updateDevice(device.id, { failed_count: 0 }).then(() => {}));
        await this.record(requestId, person, device, upgraded ? "verify.upgrade" : "verify", "accept", "MATCH", recordedVersion, t0, writes);
        return { requestId, decision: "accept", reason: "MATCH", upgraded };
      }
      if (upgrade) await this.abortAll(session, templateId, upgrade.modelVersion);
      const reason = valid === 1 ? "NO_MATCH" : "INVALID_PROBE";
      const n = await this.store.personFailed(person.id, now, this.o.personLockAfter);
      const dn = device.failed_count + 1;
      await this.store.updateDevice(device.id, { failed_count: dn, ...(dn >= this.o.deviceLockAfter ? { locked_at: now } : {}) });
      if (n >= this.o.personLockAfter) this.log?.warn({ event: "person-locked", personId: person.id }, "person locked after failed verifications");
      await this.record(requestId, person, device, "verify", "reject", reason, modelVersion, t0);
      return { requestId, decision: "reject", reason, upgraded: false };
    } finally {
      this.busy.delete(person.id);
    }
  }

  async deregister(body: SignedPersonRequest): Promise<DeletionResponse> {
    const t0 = performance.now();
    const { device, person } = await this.admit(body, "deregister", async (person, ch) => {
      if (!person.template_id) throw new ApiError("NOT_ENROLLED");
      if (person.template_id !== ch.templateId) throw new ApiError("CHALLENGE_MISMATCH");
      const at = person.last_verified_at;
      if (at === null || this.now() - at > this.o.reverifyWindowMs) throw new ApiError("REVERIFY_REQUIRED");
    });
    try {
      await this.store.consumeVerification(person.id);
      const requestId = randomId("req");
      const status = await this.deleteTemplate(person, "deregister");
      await this.record(requestId, person, device, "deregister", "accept", status === "deleted" ? "DELETED" : "DELETION_PENDING", person.model_version ?? "", t0);
      return { requestId, status };
    } finally {
      this.busy.delete(person.id);
    }
  }

  async giveConsent(body: ConsentRequest): Promise<ConsentReceipt> {
    const { device, person } = await this.admit(body, "consent", async () => {
      const current = await this.store.latestNotice();
      if (!current || current.version !== body.noticeVersion || current.hash !== body.noticeHash) throw new ApiError("NOTICE_MISMATCH");
      const allowed = new Set(JSON.parse(current.purposes) as string[]);
      if (!body.purposes.every((p) => allowed.has(p)) || !body.purposes.includes("face-verification")) throw new ApiError("NOTICE_MISMATCH");
    });
    try {
      const receipt = {
        id: randomId("con"),
        person_id: person.id,
        notice_version: body.noticeVersion,
        notice_hash: body.noticeHash,
        purposes: JSON.stringify([...new Set(body.purposes)].sort()),
        device_id: device.id,
        given_at: this.now(),
        withdrawn_at: null,
      };
      await this.store.insertConsent(receipt);
      await this.audit?.append({ actor: `device:${device.id}`, action: "consent.give", subject: person.id, outcome: "ok" });
      return this.receipt(receipt);
    } finally {
      this.busy.delete(person.id);
    }
  }

  /** Opt-out (R13): the consent is withdrawn at once and the template deleted at both parties. */
  async withdrawConsent(body: SignedPersonRequest): Promise<DeletionResponse & { consent: ConsentReceipt }> {
    const t0 = performance.now();
    const { device, person } = await this.admit(body, "withdraw", (_person, _ch, consent) => {
      this.requireConsent(consent);
    });
    try {
      const c = (await this.store.latestConsent(person.id))!;
      const now = this.now();
      await this.store.withdrawConsent(c.id, now);
      const requestId = randomId("req");
      const status = person.template_id ? await this.deleteTemplate(person, "withdraw") : "deleted";
      await this.record(requestId, person, device, "withdraw", "accept", status === "deleted" ? "DELETED" : "DELETION_PENDING", person.model_version ?? "", t0);
      return { requestId, status, consent: this.receipt({ ...c, withdrawn_at: now }) };
    } finally {
      this.busy.delete(person.id);
    }
  }

  async currentNotice(): Promise<Notice> {
    const n = await this.store.latestNotice();
    if (!n) throw new ApiError("INTERNAL");
    return { version: n.version, hash: n.hash, text: n.text, purposes: JSON.parse(n.purposes) as string[] };
  }

  async health(timeoutMs = 2000): Promise<{ status: "ok" | "degraded"; parties: Record<string, string> }> {
    const parties: Record<string, string> = {};
    await Promise.all(
      PARTIES.map(async (p) => {
        try {
          const h = await withTimeout(this.o.parties[p].health(), timeoutMs);
          parties[p] = h.peer === "up" ? "up" : "peer-down";
        } catch {
          parties[p] = "down";
        }
      }),
    );
    return { status: PARTIES.every((p) => parties[p] === "up") ? "ok" : "degraded", parties };
  }

  // ---- operator actions ------------------------------------------------------------------------

  async addMerchant(name: string, op: Operator): Promise<{ merchantId: string; name: string; createdAt: number }> {
    const m = { id: randomId("mer"), name, created_at: this.now() };
    await this.store.insertMerchant(m);
    await this.audit?.append({ actor: `operator:${op.id}`, action: "merchant.create", subject: m.id, outcome: "ok" });
    return { merchantId: m.id, name, createdAt: m.created_at };
  }

  async addPerson(merchantId: string, p: PersonCreate, op: Operator): Promise<PersonView> {
    if (!(await this.store.getMerchant(merchantId))) throw new ApiError("MERCHANT_UNKNOWN");
    const idIndex = blindIndex(this.identity, "id", p.idNumber);
    if (await this.store.findPersonByIndex(merchantId, idIndex)) throw new ApiError("DUPLICATE");
    const id = randomId("per");
    const row: PersonRow = {
      id,
      merchant_id: merchantId,
      role: p.role,
      name_enc: await sealField(this.identity, p.name, `${id}|name`),
      id_number_enc: await sealField(this.identity, p.idNumber, `${id}|id_number`),
      phone_enc: await sealField(this.identity, p.phone, `${id}|phone`),
      id_index: idIndex,
      template_id: null,
      model_version: null,
      failed_count: 0,
      locked_at: null,
      last_verified_at: null,
      created_at: this.now(),
    };
    await this.store.insertPerson(row);
    await this.audit?.append({ actor: `operator:${op.id}`, action: "person.create", subject: id, outcome: "ok" });
    return this.personView(row, p);
  }

  async addDevice(merchantId: string, d: { suite: "INTL" | "GM"; publicKey: string; label?: string }, op: Operator) {
    if (!(await this.store.getMerchant(merchantId))) throw new ApiError("MERCHANT_UNKNOWN");
    let pub: Uint8Array;
    try {
      pub = fromBase64url(d.publicKey);
    } catch {
      throw new ApiError("INVALID_INPUT", { field: "/publicKey" });
    }
    if (pub.length !== (d.suite === "INTL" ? 32 : 65)) throw new ApiError("INVALID_INPUT", { field: "/publicKey" });
    if (await this.store.findDeviceByKey(d.publicKey)) throw new ApiError("DUPLICATE");
    const row: DeviceRow = {
      id: randomId("dev"),
      merchant_id: merchantId,
      suite: d.suite,
      public_key: d.publicKey,
      label: d.label ?? null,
      status: "active",
      failed_count: 0,
      locked_at: null,
      created_at: this.now(),
    };
    await this.store.insertDevice(row);
    await this.audit?.append({ actor: `operator:${op.id}`, action: "device.register", subject: row.id, outcome: "ok" });
    return this.deviceView(row);
  }

  async revokeDevice(deviceId: string, op: Operator) {
    if (!(await this.store.updateDevice(deviceId, { status: "revoked" }))) throw new ApiError("DEVICE_UNKNOWN");
    this.devicePub.delete(deviceId);
    await this.audit?.append({ actor: `operator:${op.id}`, action: "device.revoke", subject: deviceId, outcome: "ok" });
    return this.deviceView((await this.store.getDevice(deviceId))!);
  }

  async unlockPerson(personId: string, op: Operator, reason: string): Promise<{ ok: boolean }> {
    if (!(await this.store.unlockPerson(personId))) throw new ApiError("PERSON_UNKNOWN");
    await this.operatorQuery(op, "person.unlock", personId, reason);
    return { ok: true };
  }

  async unlockDevice(deviceId: string, op: Operator, reason: string): Promise<{ ok: boolean }> {
    if (!(await this.store.updateDevice(deviceId, { failed_count: 0, locked_at: null }))) throw new ApiError("DEVICE_UNKNOWN");
    await this.operatorQuery(op, "device.unlock", deviceId, reason);
    return { ok: true };
  }

  async addNotice(n: { version: string; text: string; purposes: string[] }, op: Operator): Promise<Notice> {
    if (await this.store.getNotice(n.version)) throw new ApiError("DUPLICATE");
    const hash = sha256b64u(utf8(n.text));
    await this.store.insertNotice({ version: n.version, text: n.text, hash, purposes: JSON.stringify(n.purposes), created_at: this.now() });
    await this.audit?.append({ actor: `operator:${op.id}`, action: "notice.publish", subject: n.version, outcome: "ok" });
    return { version: n.version, hash, text: n.text, purposes: n.purposes };
  }

  /** A masked person record: one sensitive record against the operator's daily quota (R26). */
  async viewPerson(personId: string, op: Operator, reason: string): Promise<PersonView> {
    const p = await this.store.getPerson(personId);
    if (!p) throw new ApiError("PERSON_UNKNOWN");
    await this.takeQuota(op, 1);
    await this.operatorQuery(op, "person.view", personId, reason);
    const plain = {
      name: await openField(this.identity, p.name_enc, `${p.id}|name`),
      idNumber: await openField(this.identity, p.id_number_enc, `${p.id}|id_number`),
      phone: await openField(this.identity, p.phone_enc, `${p.id}|phone`),
    };
    return this.personView(p, plain, await this.consentState(p.id));
  }

  async history(personId: string, op: Operator, reason: string, limit = 100) {
    const p = await this.store.getPerson(personId);
    if (!p) throw new ApiError("PERSON_UNKNOWN");
    const rows = await this.store.decisions(personId, Math.min(limit, 100));
    await this.takeQuota(op, 1);
    await this.operatorQuery(op, "person.history", personId, reason);
    return {
      personId,
      decisions: rows.map((r) => ({
        requestId: r.id,
        op: r.op,
        decision: r.decision,
        reason: r.reason,
        deviceId: r.device_id,
        modelVersion: r.model_version,
        at: r.at,
        ms: r.us / 1000,
      })),
    };
  }

  async rechecks(limit = 100) {
    const rows = await this.store.openRechecks(Math.min(limit, 100));
    return {
      rechecks: rows.map((r) => ({ id: r.id, op: r.op, personId: r.person_id, reason: r.reason, at: r.at, ...(r.resolved_at ? { resolvedAt: r.resolved_at } : {}) })),
    };
  }

  /**
   * Retries what degraded mode left behind: pending deletions (deregister, withdraw, failed enrol
   * commits) are deleted at both parties; failed verifications and upgrades are marked resolved once
   * the parties answer again (they were never approved; the person simply verifies again).
   */
  async runRechecks(): Promise<{ resolved: number; open: number }> {
    const rows = await this.store.openRechecks(100);
    let resolved = 0;
    for (const r of rows) {
      if (r.template_id && (r.op === "delete" || r.op === "enrol")) {
        const del = await this.allParties(async (p, client) =>
          client.delete({ templateId: r.template_id!, authorisation: await this.authorise("delete", p, randomToken(16), r.template_id!, "", undefined) }),
        );
        if (!del.ok) continue;
      } else {
        const h = await this.health();
        if (h.status !== "ok") continue;
      }
      await this.store.resolveRecheck(r.id, this.now());
      resolved++;
    }
    return { resolved, open: rows.length - resolved };
  }

  // ---- internals -------------------------------------------------------------------------------

  private async activeDevice(deviceId: string): Promise<DeviceRow> {
    const device = await this.store.getDevice(deviceId);
    if (!device) throw new ApiError("DEVICE_UNKNOWN");
    if (device.status !== "active") throw new ApiError("DEVICE_REVOKED");
    if (device.locked_at !== null) throw new ApiError("DEVICE_LOCKED");
    return device;
  }

  /** The person (of the device's merchant) and their consent state, read together. */
  private async personOf(device: DeviceRow, personId: string): Promise<{ person: PersonRow; consent: ConsentState }> {
    const r = await this.store.getPersonWithConsent(personId);
    if (!r) throw new ApiError("PERSON_UNKNOWN");
    if (r.person.merchant_id !== device.merchant_id) throw new ApiError("DEVICE_MERCHANT_MISMATCH");
    return r;
  }

  /**
   * The common admission path of every signed device request (see the module comment for the
   * order). On success the challenge is consumed, the request digest remembered, and the person
   * marked busy (the caller clears it in `finally`).
   */
  private async admit<B extends { deviceId: string; personId: string; challenge: string; signature: string }>(
    body: B,
    purpose: Purpose,
    checks: (person: PersonRow, ch: Challenge, consent: ConsentState) => Promise<void> | void,
  ): Promise<{ device: DeviceRow; person: PersonRow; ch: Challenge }> {
    const device = await this.activeDevice(body.deviceId);
    const { person, consent } = await this.personOf(device, body.personId);
    const { signature, ...unsigned } = body;
    const message = canonicalJson(unsigned);
    let sig: Uint8Array;
    try {
      sig = fromBase64url(signature);
    } catch {
      throw new ApiError("SIGNATURE_INVALID");
    }
    if (!(await verifySig(this.devicePublicKey(device), utf8(message), sig))) throw new ApiError("SIGNATURE_INVALID");
    const digest = sha256b64u(message);
    if (this.challenges.isReplay(digest)) throw new ApiError("REPLAYED_REQUEST");
    const now = this.now();
    const ch = this.challenges.check(body.challenge, device.id, person.id, purpose, now);
    await checks(person, ch, consent);
    if (this.busy.has(person.id)) throw new ApiError("PERSON_BUSY");
    if (!this.challenges.consume(ch)) throw new ApiError("CHALLENGE_USED");
    this.challenges.remember(digest, now);
    this.busy.add(person.id);
    return { device, person, ch };
  }

  private devicePublicKey(device: DeviceRow) {
    let k = this.devicePub.get(device.id);
    if (!k) {
      k = { suite: device.suite, publicKey: fromBase64url(device.public_key), kind: "sign" };
      this.devicePub.set(device.id, k);
    }
    return k;
  }

  private requireConsent(consent: ConsentState): void {
    if (consent === "none") throw new ApiError("CONSENT_REQUIRED");
    if (consent === "withdrawn") throw new ApiError("CONSENT_WITHDRAWN");
  }

  private async consentState(personId: string): Promise<ConsentState> {
    const c = await this.store.latestConsent(personId);
    return !c ? "none" : c.withdrawn_at !== null ? "withdrawn" : "given";
  }

  private requireUnlocked(person: PersonRow): void {
    if (person.locked_at !== null) throw new ApiError("PERSON_LOCKED");
  }

  private requireLiveness(body: FaceRequest): void {
    if (body.liveness.score < this.o.livenessThreshold) throw new ApiError("LIVENESS_FAILED");
  }

  /** A gateway-signed, single-use authorisation for one party and one operation (R16); signed in a batch with those of the same turn. */
  private async authorise(
    op: AuthPayload["op"],
    party: PartyName,
    session: string,
    templateId: string,
    modelVersion: string,
    sealedShare: string | undefined,
    upgradeShare?: string,
  ) {
    const digest =
      sealedShare === undefined ? "" : shareDigest(fromBase64url(sealedShare), ...(upgradeShare === undefined ? [] : [fromBase64url(upgradeShare)]));
    const payload: AuthPayload = {
      v: 1,
      op,
      party,
      session,
      templateId,
      modelVersion,
      digest,
      expires: this.now() + this.o.authorisationTtlMs,
      nonce: randomToken(12),
    };
    return this.signAuthorisation(payload);
  }

  /** Calls both parties in parallel; ok only if both answered. */
  private async allParties<T>(
    fn: (p: PartyName, client: PartyClient) => Promise<T>,
  ): Promise<{ ok: true; value: Record<PartyName, T> } | { ok: false; error: unknown }> {
    const settled = await Promise.allSettled(PARTIES.map((p) => fn(p, this.o.parties[p])));
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed.length > 0) {
      // A party's refusal of the request explains its peer's failure (the peer's session broke off).
      const refusal = failed.find((f) => classifyPartyError(f.reason).kind === "refused");
      return { ok: false, error: (refusal ?? failed[0]).reason };
    }
    const [a, b] = settled as PromiseFulfilledResult<T>[];
    return { ok: true, value: { P0: a.value, P1: b.value } };
  }

  private async abortAll(session: string, templateId: string, modelVersion: string): Promise<void> {
    const r = await this.allParties(async (p, client) =>
      client.abort({ session, templateId, authorisation: await this.authorise("abort", p, session, templateId, modelVersion, undefined) }),
    );
    if (!r.ok) this.log?.warn({ event: "abort-failed", code: classifyPartyError(r.error).code }, "abort at a party failed");
  }

  /** Deletes the person's template at both parties; on failure records a re-check (R35). */
  private async deleteTemplate(person: PersonRow, why: string): Promise<"deleted" | "pending"> {
    const templateId = person.template_id!;
    const del = await this.allParties(async (p, client) =>
      client.delete({ templateId, authorisation: await this.authorise("delete", p, randomToken(16), templateId, person.model_version ?? "", undefined) }),
    );
    await this.store.setTemplate(person.id, null, null);
    if (del.ok) return "deleted";
    await this.recheck("delete", person.id, templateId, `${why}: ${classifyPartyError(del.error).code}`);
    return "pending";
  }

  /**
   * A party call failed. Unavailability → record a re-check and answer MPC_UNAVAILABLE (never an
   * approval, R35); a party's refusal of the share → SHARE_REJECTED or MODEL_VERSION_MISMATCH.
   */
  private async partyFailure(
    error: unknown,
    c: { op: string; requestId: string; person: PersonRow; device: DeviceRow; templateId: string; modelVersion: string; t0: number },
  ): Promise<never> {
    const { kind, code } = classifyPartyError(error);
    this.log?.warn({ event: "party-error", op: c.op, requestId: c.requestId, kind, code }, "party call failed");
    if (kind === "refused" && code !== "UNKNOWN_TEMPLATE") {
      await this.record(c.requestId, c.person, c.device, c.op, "reject", code === "WRONG_MODEL_VERSION" ? "MODEL_VERSION_MISMATCH" : "SHARE_REJECTED", c.modelVersion, c.t0);
      throw new ApiError(code === "WRONG_MODEL_VERSION" ? "MODEL_VERSION_MISMATCH" : "SHARE_REJECTED");
    }
    await this.recheck(c.op, c.person.id, c.templateId, `${kind}: ${code}`);
    await this.record(c.requestId, c.person, c.device, c.op, "error", "MPC_UNAVAILABLE", c.modelVersion, c.t0);
    throw new ApiError("MPC_UNAVAILABLE", { retryAfterS: 5 });
  }

  private async recheck(op: string, personId: string, templateId: string | null, reason: string): Promise<void> {
    await this.store.insertRecheck({ id: randomId("chk"), op, person_id: personId, template_id: templateId, reason, at: this.now(), resolved_at: null });
  }

  private async record(
    requestId: string,
    person: PersonRow,
    device: DeviceRow,
    op: string,
    decision: string,
    reason: string,
    modelVersion: string,
    t0: number,
    /** writes already issued that belong with this decision: awaited with it, before the audit record */
    writes: Promise<void>[] = [],
  ): Promise<void> {
    const us = Math.round((performance.now() - t0) * 1000);
    const stored = this.store.insertDecision({
      id: requestId,
      person_id: person.id,
      merchant_id: person.merchant_id,
      device_id: device.id,
      op,
      decision,
      reason,
      model_version: modelVersion,
      at: this.now(),
      us,
    });
    await Promise.all([stored, ...writes]);
    await this.audit?.append({ actor: `device:${device.id}`, action: op, subject: person.id, outcome: decision, code: reason, requestId });
    this.log?.info({ event: "decision", op, requestId, decision, reason, ms: us / 1000 }, "decision");
  }

  /** R26: every operator query or action on a person/device is recorded with operator and reason. */
  private async operatorQuery(op: Operator, action: string, subject: string, reason: string): Promise<void> {
    await this.store.insertOperatorQuery({ id: randomId("opq"), operator_id: op.id, role: op.role, action, subject, reason, at: this.now() });
    await this.audit?.append({ actor: `operator:${op.id}`, action, subject, outcome: "ok" });
  }

  private async takeQuota(op: Operator, n: number): Promise<void> {
    const day = new Date(this.now()).toISOString().slice(0, 10);
    if (!(await this.store.takeQuota(op.id, day, n, this.o.operatorDailyQuota))) throw new ApiError("QUOTA_EXCEEDED");
  }

  private personView(p: PersonRow, plain: { name: string; idNumber: string; phone: string }, consent: PersonView["consent"] = "none"): PersonView {
    return {
      personId: p.id,
      merchantId: p.merchant_id,
      role: p.role,
      name: maskName(plain.name),
      idNumber: maskIdNumber(plain.idNumber),
      phone: maskPhone(plain.phone),
      enrolled: p.template_id !== null,
      ...(p.model_version ? { modelVersion: p.model_version } : {}),
      consent,
      locked: p.locked_at !== null,
    };
  }

  private deviceView(d: DeviceRow) {
    return { deviceId: d.id, merchantId: d.merchant_id, suite: d.suite, status: d.status, locked: d.locked_at !== null, ...(d.label ? { label: d.label } : {}) };
  }

  private receipt(c: { id: string; person_id: string; notice_version: string; notice_hash: string; purposes: string; device_id: string; given_at: number; withdrawn_at: number | null }): ConsentReceipt {
    return {
      consentId: c.id,
      personId: c.person_id,
      noticeVersion: c.notice_version,
      noticeHash: c.notice_hash,
      purposes: JSON.parse(c.purposes) as string[],
      deviceId: c.device_id,
      givenAt: c.given_at,
      ...(c.withdrawn_at !== null ? { withdrawnAt: c.withdrawn_at } : {}),
    };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new PartyError("TIMEOUT", "no answer in time")), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
