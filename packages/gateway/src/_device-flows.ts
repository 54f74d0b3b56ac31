/**
 * The device flows: challenge, enrol (validate at both parties, then a two-phase commit), verify
 * (with a model upgrade when the deployed model is newer than the template's, R5), deregister (after a
 * fresh successful verification, R14), consent and its withdrawal (R9, R13), and the current notice.
 * Each signed request passes admission first (_admission.ts); the parties are reached through
 * _parties.ts. The gateway relays the sealed shares unopened and learns only XOR-shares of
 * (valid, match), which it combines into the decision. No score exists anywhere on this side (R4).
 */
import type { Bit, DeviceStatement } from "@privface/contracts";
import { classifyPartyError, composeChallenge, faceStatement } from "@privface/contracts";
import type { Admission } from "./_admission.ts";
import { recordDecision, recordRecheck, type GatewayContext } from "./_context.ts";
import { randomId, randomToken } from "./_crypto.ts";
import type { Parties } from "./_parties.ts";
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
  SignedPersonRequest,
  VerificationResponse,
} from "./schemas.ts";

export class DeviceFlows {
  constructor(
    private readonly c: GatewayContext,
    private readonly admission: Admission,
    private readonly parties: Parties,
  ) {}

  async challenge(req: ChallengeRequest): Promise<ChallengeResponse> {
    const now = this.c.now();
    const device = await this.admission.activeDevice(req.deviceId);
    const { person, consent } = await this.admission.personOf(device, req.personId);
    this.c.limiter.take({ person: person.id, device: device.id, merchant: device.merchant_id }, now);
    let templateId: string | undefined;
    let modelVersion: string | undefined;
    let upgradeTo: string | undefined;
    switch (req.purpose) {
      case "enrol":
        this.admission.requireConsent(consent);
        if (person.template_id) throw new ApiError("ALREADY_ENROLLED");
        templateId = randomToken(16);
        modelVersion = this.c.o.modelVersion;
        break;
      case "verify":
        this.admission.requireConsent(consent);
        this.admission.requireUnlocked(person);
        if (!person.template_id || !person.model_version) throw new ApiError("NOT_ENROLLED");
        templateId = person.template_id;
        modelVersion = person.model_version;
        if (modelVersion !== this.c.o.modelVersion) upgradeTo = this.c.o.modelVersion;
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
    const face = req.purpose === "enrol" || req.purpose === "verify";
    const keyLists = face ? await this.parties.keyLists() : undefined;
    // a face challenge carries one nonce of each party, so each can refuse a replayed or re-purposed envelope (decision 010 §3)
    const value = face ? composeChallenge(randomToken(24), await this.parties.partyNonces()) : randomToken(24);
    const ch = this.c.challenges.issue(
      { value, deviceId: device.id, personId: person.id, purpose: req.purpose, templateId, modelVersion, upgradeTo },
      now,
    );
    return {
      challenge: ch.value,
      expiresAt: ch.expiresAt,
      purpose: ch.purpose,
      ...(templateId !== undefined ? { templateId } : {}),
      ...(modelVersion !== undefined ? { modelVersion } : {}),
      ...(upgradeTo !== undefined ? { upgradeTo } : {}),
      ...(keyLists ? { keyLists } : {}),
    };
  }

  /**
   * The device's statement of a face request (decision 010 §2), rebuilt from the body it signed: the
   * gateway forwards it with the device's MAC for each party, which checks both itself.
   */
  private statement(purpose: "enrol" | "verify", body: FaceRequest): Promise<DeviceStatement> {
    return faceStatement({
      purpose,
      deviceId: body.deviceId,
      challenge: body.challenge,
      templateId: body.templateId,
      modelVersion: body.modelVersion,
      keys: body.sealKeys,
      shares: body.shares,
      ...(body.upgrade ? { upgrade: body.upgrade } : {}),
      liveness: body.liveness,
    });
  }

  async enrol(body: FaceRequest): Promise<EnrolmentResponse> {
    const t0 = performance.now();
    const a = this.admission;
    const { device, person, ch } = await a.admit(body, "enrol", (person, ch, consent) => {
      a.requireConsent(consent);
      if (person.template_id) throw new ApiError("ALREADY_ENROLLED");
      if (body.upgrade) throw new ApiError("INVALID_INPUT", { field: "/upgrade" });
      if (body.modelVersion !== ch.modelVersion) throw new ApiError("MODEL_VERSION_MISMATCH");
      if (body.templateId !== ch.templateId) throw new ApiError("CHALLENGE_MISMATCH");
      a.requireLiveness(body);
    });
    const requestId = randomId("req");
    const templateId = ch.templateId!;
    const modelVersion = body.modelVersion;
    const decided = { requestId, person, device, op: "enrol", modelVersion, t0 };
    try {
      const session = randomToken(16);
      const statement = await this.statement("enrol", body);
      const results = await this.parties.all(async (p, client) =>
        client.enrol({
          session,
          templateId,
          modelVersion,
          sealedShare: body.shares[p],
          statement,
          mac: body.macs[p],
          authorisation: await this.parties.authorise("enrol", p, session, templateId, modelVersion, body.shares[p]),
        }),
      );
      if (!results.ok) {
        await this.parties.abortAll(session, templateId, modelVersion);
        return await this.parties.failure(results.error, { ...decided, templateId });
      }
      const valid = (results.value.P0.resultShare.valid ^ results.value.P1.resultShare.valid) as Bit;
      if (valid !== 1) {
        await this.parties.abortAll(session, templateId, modelVersion);
        await recordDecision(this.c, { ...decided, decision: "reject", reason: "INVALID_TEMPLATE" });
        return { requestId, decision: "reject", reason: "INVALID_TEMPLATE", modelVersion };
      }
      const commit = await this.parties.all(async (p, client) =>
        client.commit({ session, templateId, authorisation: await this.parties.authorise("commit", p, session, templateId, modelVersion, undefined) }),
      );
      if (!commit.ok) {
        // One party may have committed: record for re-check (the recheck deletes the template at both).
        return await this.parties.failure(commit.error, { ...decided, templateId });
      }
      await this.c.store.setTemplate(person.id, templateId, modelVersion);
      await recordDecision(this.c, { ...decided, decision: "accept", reason: "ENROLLED" });
      return { requestId, decision: "accept", reason: "ENROLLED", modelVersion };
    } finally {
      a.release(person.id);
    }
  }

  async verify(body: FaceRequest): Promise<VerificationResponse> {
    const t0 = performance.now();
    const a = this.admission;
    const { device, person, ch } = await a.admit(body, "verify", (person, ch, consent) => {
      a.requireConsent(consent);
      a.requireUnlocked(person);
      if (!person.template_id || !person.model_version) throw new ApiError("NOT_ENROLLED");
      if (person.template_id !== ch.templateId || body.templateId !== ch.templateId) throw new ApiError("CHALLENGE_MISMATCH");
      if (body.modelVersion !== person.model_version) throw new ApiError("MODEL_VERSION_MISMATCH");
      if (body.upgrade && (body.upgrade.modelVersion !== ch.upgradeTo || body.upgrade.modelVersion === person.model_version)) {
        throw new ApiError("MODEL_VERSION_MISMATCH");
      }
      a.requireLiveness(body);
    });
    const requestId = randomId("req");
    const templateId = person.template_id!;
    const modelVersion = body.modelVersion;
    const upgrade = body.upgrade;
    try {
      const session = randomToken(16);
      const statement = await this.statement("verify", body);
      const results = await this.parties.all(async (p, client) =>
        client.verify({
          session,
          templateId,
          modelVersion,
          sealedShare: body.shares[p],
          statement,
          mac: body.macs[p],
          authorisation: await this.parties.authorise("verify", p, session, templateId, modelVersion, body.shares[p], upgrade?.shares[p]),
          ...(upgrade ? { upgrade: { modelVersion: upgrade.modelVersion, sealedShare: upgrade.shares[p] } } : {}),
        }),
      );
      if (!results.ok) {
        if (upgrade) await this.parties.abortAll(session, templateId, upgrade.modelVersion);
        return await this.parties.failure(results.error, { op: "verify", requestId, person, device, templateId, modelVersion, t0 });
      }
      const r0 = results.value.P0.resultShare;
      const r1 = results.value.P1.resultShare;
      const valid = (r0.valid ^ r1.valid) as Bit;
      const match = (r0.match ^ r1.match) as Bit;
      const now = this.c.now();
      if (valid === 1 && match === 1) {
        let upgraded = false;
        let recordedVersion = modelVersion;
        if (upgrade) {
          const promote = await this.parties.all(async (p, client) =>
            client.commit({ session, templateId, authorisation: await this.parties.authorise("upgrade", p, session, templateId, upgrade.modelVersion, undefined) }),
          );
          if (promote.ok) {
            await this.c.store.setModelVersion(person.id, upgrade.modelVersion);
            upgraded = true;
            recordedVersion = upgrade.modelVersion;
          } else {
            await recordRecheck(this.c, "upgrade", person.id, templateId, `promotion failed: ${classifyPartyError(promote.error).code}`);
          }
        }
        // issued together with the decision row, so that they share one write transaction (group commit)
        const writes = [this.c.store.personVerified(person.id, now)];
        if (device.failed_count > 0) writes.push(this.c.store.updateDevice(device.id, { failed_count: 0 }).then(() => {}));
        const op = upgraded ? "verify.upgrade" : "verify";
        await recordDecision(this.c, { requestId, person, device, op, decision: "accept", reason: "MATCH", modelVersion: recordedVersion, t0 }, writes);
        return { requestId, decision: "accept", reason: "MATCH", upgraded };
      }
      if (upgrade) await this.parties.abortAll(session, templateId, upgrade.modelVersion);
      const reason = valid === 1 ? "NO_MATCH" : "INVALID_PROBE";
      const n = await this.c.store.personFailed(person.id, now, this.c.o.personLockAfter);
      const dn = device.failed_count + 1;
      await this.c.store.updateDevice(device.id, { failed_count: dn, ...(dn >= this.c.o.deviceLockAfter ? { locked_at: now } : {}) });
      if (n >= this.c.o.personLockAfter) this.c.log?.warn({ event: "person-locked", personId: person.id }, "person locked after failed verifications");
      await recordDecision(this.c, { requestId, person, device, op: "verify", decision: "reject", reason, modelVersion, t0 });
      return { requestId, decision: "reject", reason, upgraded: false };
    } finally {
      a.release(person.id);
    }
  }

  async deregister(body: SignedPersonRequest): Promise<DeletionResponse> {
    const t0 = performance.now();
    const { device, person } = await this.admission.admit(body, "deregister", async (person, ch) => {
      if (!person.template_id) throw new ApiError("NOT_ENROLLED");
      if (person.template_id !== ch.templateId) throw new ApiError("CHALLENGE_MISMATCH");
      const at = person.last_verified_at;
      if (at === null || this.c.now() - at > this.c.o.reverifyWindowMs) throw new ApiError("REVERIFY_REQUIRED");
    });
    try {
      await this.c.store.consumeVerification(person.id);
      const requestId = randomId("req");
      const status = await this.parties.deleteTemplate(person, "deregister");
      const reason = status === "deleted" ? "DELETED" : "DELETION_PENDING";
      await recordDecision(this.c, { requestId, person, device, op: "deregister", decision: "accept", reason, modelVersion: person.model_version ?? "", t0 });
      return { requestId, status };
    } finally {
      this.admission.release(person.id);
    }
  }

  async giveConsent(body: ConsentRequest): Promise<ConsentReceipt> {
    const { device, person } = await this.admission.admit(body, "consent", async () => {
      const current = await this.c.store.latestNotice();
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
        given_at: this.c.now(),
        withdrawn_at: null,
      };
      await this.c.store.insertConsent(receipt);
      await this.c.audit?.append({ actor: `device:${device.id}`, action: "consent.give", subject: person.id, outcome: "ok" });
      return receiptView(receipt);
    } finally {
      this.admission.release(person.id);
    }
  }

  /** Opt-out (R13): the consent is withdrawn at once and the template deleted at both parties. */
  async withdrawConsent(body: SignedPersonRequest): Promise<DeletionResponse & { consent: ConsentReceipt }> {
    const t0 = performance.now();
    const { device, person } = await this.admission.admit(body, "withdraw", (_person, _ch, consent) => {
      this.admission.requireConsent(consent);
    });
    try {
      const c = (await this.c.store.latestConsent(person.id))!;
      const now = this.c.now();
      await this.c.store.withdrawConsent(c.id, now);
      const requestId = randomId("req");
      const status = person.template_id ? await this.parties.deleteTemplate(person, "withdraw") : "deleted";
      const reason = status === "deleted" ? "DELETED" : "DELETION_PENDING";
      await recordDecision(this.c, { requestId, person, device, op: "withdraw", decision: "accept", reason, modelVersion: person.model_version ?? "", t0 });
      return { requestId, status, consent: receiptView({ ...c, withdrawn_at: now }) };
    } finally {
      this.admission.release(person.id);
    }
  }

  async currentNotice(): Promise<Notice> {
    const n = await this.c.store.latestNotice();
    if (!n) throw new ApiError("INTERNAL");
    return { version: n.version, hash: n.hash, text: n.text, purposes: JSON.parse(n.purposes) as string[] };
  }
}

function receiptView(c: { id: string; person_id: string; notice_version: string; notice_hash: string; purposes: string; device_id: string; given_at: number; withdrawn_at: number | null }): ConsentReceipt {
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
