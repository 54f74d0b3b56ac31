/**
 * The device flows: challenge, enrol (validate at both parties, then a two-phase commit), verify
 * (with a model upgrade when the deployed model is newer than the template's, R5), deregister (after a
 * fresh successful verification, R14), consent and its withdrawal (R9, R13), and the current notice.
 * Each signed request passes admission first (_admission.ts); the parties are reached through
 * _parties.ts. The gateway relays the sealed shares unopened and learns only XOR-shares of
 * (valid, match), which it combines into the decision. No score exists anywhere on this side (R4).
 */
import { randomBytes } from "node:crypto";
import { killAt } from "@privface/config";
import { composeChallenge, dedupAnswer, drawActions, faceStatement, matchedTemplates, type Bit, type DeviceStatement, type PartyName } from "@privface/contracts";
import type { Admission } from "./_admission.ts";
import { recordDecision, recordRecheck, type GatewayContext } from "./_context.ts";
import { randomId, randomToken } from "./_crypto.ts";
import type { Parties } from "./_parties.ts";
import type { PersonRow } from "./_store.ts";
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

/** What proves the person for a deletion: a fresh verification on the same device, or an operator identity check. */
type Proof = { kind: "verification" } | { kind: "identity-check"; id: string };

export class DeviceFlows {
  constructor(
    private readonly c: GatewayContext,
    private readonly admission: Admission,
    private readonly parties: Parties,
  ) {}

  async challenge(req: ChallengeRequest): Promise<ChallengeResponse> {
    const now = this.c.now();
    const device = await this.admission.authenticDevice(req);
    const { person, consent } = await this.admission.personOf(device, req.personId);
    await this.c.limiter.take({ person: person.id, device: device.id, merchant: device.merchant_id }, now);
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
    const value = face ? composeChallenge(randomToken(24), await this.parties.partyNonces(req.purpose === "verify")) : randomToken(24);
    // active liveness (issue 17): the gateway's setting, except for a device the operators registered
    // as a still-image tool; nothing in the device's request can ask for fewer actions
    const steps = device.still_image ? 0 : this.c.o.livenessActions;
    const actions = steps > 0 && face ? drawActions(steps, (n) => new Uint8Array(randomBytes(n))) : undefined;
    const ch = await this.c.challenges.issue(
      { value, deviceId: device.id, personId: person.id, purpose: req.purpose, templateId, modelVersion, upgradeTo, ...(actions ? { actions } : {}) },
      now,
    );
    return {
      challenge: ch.value,
      expiresAt: ch.expiresAt,
      purpose: ch.purpose,
      ...(templateId !== undefined ? { templateId } : {}),
      ...(modelVersion !== undefined ? { modelVersion } : {}),
      ...(upgradeTo !== undefined ? { upgradeTo } : {}),
      ...(actions !== undefined ? { actions } : {}),
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

  /**
   * Each party's request for a face operation: its sealed share (and upgrade share), the device's
   * statement with that party's MAC, and the gateway's authorisation.
   */
  private async partyRequests(op: "enrol" | "verify", body: FaceRequest, session: string, templateId: string) {
    const statement = await this.statement(op, body);
    const upgrade = op === "verify" ? body.upgrade : undefined;
    const { modelVersion } = body;
    return async (p: PartyName) => ({
      session,
      templateId,
      modelVersion,
      sealedShare: body.shares[p],
      statement,
      mac: body.macs[p],
      authorisation: await this.parties.authorise(op, p, session, templateId, modelVersion, body.shares[p], upgrade?.shares[p]),
      ...(upgrade ? { upgrade: { modelVersion: upgrade.modelVersion, sealedShare: upgrade.shares[p] } } : {}),
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
      a.requireLiveness(body, ch);
    });
    const requestId = randomId("req");
    const templateId = ch.templateId!;
    const modelVersion = body.modelVersion;
    const decided = { requestId, person, device, op: "enrol", modelVersion, t0 };
    // Written ahead, while the parties validate the template: should this process die before the
    // template is recorded below, the re-check job deletes it at both parties (no template the
    // gateway does not know, issue 16). Awaited before the commits; an enrolment refused before them
    // settles it in its decision's group commit; one that failed keeps it open for the re-check.
    const intent = recordRecheck(this.c, "enrol", person.id, templateId, "intent: commit");
    intent.catch(() => {}); // awaited below on every path
    const settled = async () => [this.c.store.resolveRecheck(await intent, this.c.now())];
    const early = async () => ({ id: await intent, committing: false });
    try {
      const session = requestId; // the parties' session is the decision's request id: the auditor reconciles the three chains by it
      const request = await this.partyRequests("enrol", body, session, templateId);
      const results = await this.parties.all(async (p, client) => client.enrol(await request(p)));
      if (!results.ok) {
        await this.parties.abortAll(session, templateId, modelVersion);
        return await this.parties.failure(results.error, { ...decided, templateId }, await early());
      }
      const valid = (results.value.P0.resultShare.valid ^ results.value.P1.resultShare.valid) as Bit;
      if (valid !== 1) {
        await this.parties.abortAll(session, templateId, modelVersion);
        await recordDecision(this.c, { ...decided, decision: "reject", reason: "INVALID_TEMPLATE" }, await settled());
        return { requestId, decision: "reject", reason: "INVALID_TEMPLATE", modelVersion };
      }
      let held: string[] | undefined;
      let counted: Promise<void> | undefined;
      if (this.c.o.enrolDedup === "reject" || this.c.o.enrolDedup === "hold") {
        // the parties' 1:N search of the prepared template (issue 15): one XOR-shared bit; under `hold`
        // also each party's share of the per-slot bits, so that only the gateway learns who matched
        const hold = this.c.o.enrolDedup === "hold";
        const search = await this.parties.all(async (p, client) =>
          client.dedup({ session, templateId, authorisation: await this.parties.authorise("dedup", p, session, templateId, "", undefined), ...(hold ? { matches: true } : {}) }),
        );
        if (!search.ok) {
          await this.parties.abortAll(session, templateId, modelVersion);
          return await this.parties.failure(search.error, { ...decided, templateId }, await early());
        }
        const { P0, P1 } = search.value;
        const duplicate = dedupAnswer(P0.resultShare, P1.resultShare);
        let matched: string[] = [];
        if (hold) {
          try {
            matched = matchedTemplates(P0.matches, P1.matches, P0.gallery, duplicate);
          } catch (e) {
            // the parties' halves do not fit together: no decision on them
            await this.parties.abortAll(session, templateId, modelVersion);
            return await this.parties.failure(e, { ...decided, templateId }, await early());
          }
        }
        if (duplicate === 1) {
          // a duplicate counts like a failed verification (person and device, R24): a terminal that
          // searches for enrolled faces through enrolments is locked after a few (SECURITY.md), held or not
          counted = this.c.store.recordFailure(person.id, device.id, this.c.now(), this.c.o).then((n) => {
            if (n.device.locked) this.c.log?.warn({ event: "device-locked", deviceId: device.id, consecutive: n.device.consecutive, today: n.device.today }, "device locked after refused enrolments");
          });
          if (!hold) {
            await this.parties.abortAll(session, templateId, modelVersion);
            await recordDecision(this.c, { ...decided, decision: "reject", reason: "DUPLICATE_ENROLMENT" }, [counted, ...(await settled())]);
            return { requestId, decision: "reject", reason: "DUPLICATE_ENROLMENT", modelVersion };
          }
          held = matched;
        }
      }
      killAt("gateway:enrol:validated");
      const id = await intent;
      const commit = await this.parties.all(async (p, client) =>
        client.commit({ session, templateId, authorisation: await this.parties.authorise("commit", p, session, templateId, modelVersion, undefined) }),
      );
      if (!commit.ok) {
        // One party may have committed: the intent stays open for the re-check, which deletes the template at both.
        return await this.parties.failure(commit.error, { ...decided, templateId }, { id, committing: true });
      }
      killAt("gateway:enrol:committed");
      if (held) {
        // committed at both but held: the template and its hold in one transaction, so no crash leaves
        // a usable template of a held enrolment; the intent is settled with the decision row
        await this.c.store.holdTemplate({ id: randomId("hld"), person_id: person.id, template_id: templateId, matches: JSON.stringify(held), at: this.c.now(), decision: null, decided_by: null, decided_at: null }, modelVersion);
        await recordDecision(this.c, { ...decided, decision: "reject", reason: "HELD_FOR_REVIEW" }, [...(counted ? [counted] : []), this.c.store.resolveRecheck(id, this.c.now())]);
        return { requestId, decision: "reject", reason: "HELD_FOR_REVIEW", modelVersion };
      }
      // the template, the intent's settlement and the decision row in one write (one round trip on
      // PostgreSQL), in the group commit of this turn with the audit record
      await recordDecision(this.c, { ...decided, decision: "accept", reason: "ENROLLED" }, [], (row) =>
        this.c.store.setTemplate(person.id, templateId, modelVersion, { recheck: id, at: this.c.now() }, row),
      );
      return { requestId, decision: "accept", reason: "ENROLLED", modelVersion };
    } finally {
      await intent.catch(() => {}); // a write this request issued settles before the person is released
      await a.release(person.id);
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
      a.requireLiveness(body, ch);
    });
    const requestId = randomId("req");
    const templateId = person.template_id!;
    const modelVersion = body.modelVersion;
    const upgrade = body.upgrade;
    try {
      const session = requestId; // the parties' session is the decision's request id: the auditor reconciles the three chains by it
      const request = await this.partyRequests("verify", body, session, templateId);
      const results = await this.parties.all(async (p, client) => client.verify(await request(p)));
      if (!results.ok) {
        if (upgrade) await this.parties.abortAll(session, templateId, upgrade.modelVersion);
        return await this.parties.failure(results.error, { op: "verify", requestId, person, device, templateId, modelVersion, t0 });
      }
      killAt("gateway:verify:computed");
      const r0 = results.value.P0.resultShare;
      const r1 = results.value.P1.resultShare;
      const valid = (r0.valid ^ r1.valid) as Bit;
      const match = (r0.match ^ r1.match) as Bit;
      const now = this.c.now();
      if (valid === 1 && match === 1) {
        let upgraded = false;
        let recordedVersion = modelVersion;
        if (upgrade) {
          // Promote only a template both parties computed as valid (contracts.md: valid ∧ match ∧
          // upgradeValid); an upgrade a party skipped (no upgradeValid share) is not promoted either.
          const upgradeValid = r0.upgradeValid !== undefined && r1.upgradeValid !== undefined && (r0.upgradeValid ^ r1.upgradeValid) === 1;
          if (!upgradeValid) {
            await this.parties.abortAll(session, templateId, upgrade.modelVersion);
            const skipped = r0.upgradeValid === undefined || r1.upgradeValid === undefined;
            this.c.log?.warn({ event: skipped ? "upgrade-skipped" : "upgrade-invalid", requestId, deviceId: device.id }, skipped ? "upgrade not computed at both parties" : "upgrade template outside the valid range: not promoted");
            if (!skipped) await this.c.audit?.append({ actor: `device:${device.id}`, action: "verify.upgrade", subject: person.id, requestId, outcome: "reject", code: "INVALID_TEMPLATE" });
          } else {
            // written ahead: should this process die before the new version is recorded, the re-check job finishes it
            const promotion = { session, modelVersion: upgrade.modelVersion };
            const intent = await recordRecheck(this.c, "upgrade", person.id, templateId, "intent: promote", promotion);
            const out = await this.parties.promote(session, templateId, upgrade.modelVersion);
            killAt("gateway:upgrade:promoted");
            if (out.P0 === "ok" && out.P1 === "ok") {
              await this.c.store.setModelVersion(person.id, upgrade.modelVersion);
              upgraded = true;
              recordedVersion = upgrade.modelVersion;
            } else {
              // promoted at one party (or none): the re-check run finishes or repairs it (Parties.finishUpgrade)
              await recordRecheck(this.c, "upgrade", person.id, templateId, `promotion: P0 ${out.P0}, P1 ${out.P1}`, promotion);
            }
            await this.c.store.resolveRecheck(intent, this.c.now());
          }
        }
        // the person's success (and the device's failures reset) in the decision row's write: one
        // savepoint, one round trip, in the group commit of this turn with the audit record
        const op = upgraded ? "verify.upgrade" : "verify";
        await recordDecision(this.c, { requestId, person, device, op, decision: "accept", reason: "MATCH", modelVersion: recordedVersion, t0 }, [], (row) =>
          this.c.store.insertVerifiedDecision(row, now, device.failed_count > 0),
        );
        return { requestId, decision: "accept", reason: "MATCH", upgraded };
      }
      if (upgrade) await this.parties.abortAll(session, templateId, upgrade.modelVersion);
      const reason = valid === 1 ? "NO_MATCH" : "INVALID_PROBE";
      // consecutive failures (reset by a success) and today's failures (never reset), person and device
      // (R24), counted in the decision's group commit
      const counted = this.c.store.recordFailure(person.id, device.id, now, this.c.o).then((n) => {
        if (n.person.locked) this.c.log?.warn({ event: "person-locked", personId: person.id, consecutive: n.person.consecutive, today: n.person.today }, "person locked after failed verifications");
        if (n.device.locked) this.c.log?.warn({ event: "device-locked", deviceId: device.id, consecutive: n.device.consecutive, today: n.device.today }, "device locked after failed verifications");
      });
      await recordDecision(this.c, { requestId, person, device, op: "verify", decision: "reject", reason, modelVersion, t0 }, [counted]);
      return { requestId, decision: "reject", reason, upgraded: false };
    } finally {
      await a.release(person.id);
    }
  }

  async deregister(body: SignedPersonRequest): Promise<DeletionResponse> {
    const t0 = performance.now();
    let proof: Proof | undefined;
    const { device, person } = await this.admission.admit(body, "deregister", async (person, ch) => {
      if (!person.template_id) throw new ApiError("NOT_ENROLLED");
      if (person.template_id !== ch.templateId) throw new ApiError("CHALLENGE_MISMATCH");
      proof = await this.proofOf(person, ch.deviceId);
      if (!proof) throw new ApiError("REVERIFY_REQUIRED");
    });
    try {
      await this.useProof(person, proof!);
      const requestId = randomId("req");
      killAt("gateway:deregister:proof-used");
      const status = await this.parties.deleteTemplate(person, "deregister", undefined, requestId);
      // deregistered_at recorded by deleteTemplate: identity attributes go once IDENTITY_RETENTION_DAYS have passed (re-check job)
      killAt("gateway:deregister:deleted");
      const reason = status === "deleted" ? "DELETED" : "DELETION_PENDING";
      await recordDecision(this.c, { requestId, person, device, op: "deregister", decision: "accept", reason, modelVersion: person.model_version ?? "", t0 });
      return { requestId, status };
    } finally {
      await this.admission.release(person.id);
    }
  }

  /**
   * Proof of the person for deleting their template (R14, issue 12 item 4): a successful verification
   * within the re-verification window made on the same device as this request, or an approved,
   * unused operator identity check (dual control). Nothing else: a device signature alone is not.
   */
  private async proofOf(person: PersonRow, deviceId: string): Promise<Proof | undefined> {
    const at = person.last_verified_at;
    const now = this.c.now();
    if (at !== null && person.last_verified_device === deviceId && now - at <= this.c.o.reverifyWindowMs) return { kind: "verification" };
    const check = await this.c.store.validIdentityCheck(person.id, now);
    return check ? { kind: "identity-check", id: check.id } : undefined;
  }

  /** Spends a proof: one proof allows one deletion. */
  private async useProof(person: PersonRow, proof: Proof): Promise<void> {
    if (proof.kind === "verification") await this.c.store.consumeVerification(person.id);
    else if (!(await this.c.store.useIdentityCheck(proof.id, this.c.now()))) throw new ApiError("REVERIFY_REQUIRED");
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
      await this.admission.release(person.id);
    }
  }

  /**
   * Opt-out (R13): the consent is withdrawn at once, so every use of the template stops (no challenge
   * for a verification or enrolment is issued any more). The template is deleted at both parties
   * when the person is proven (`proofOf`: a fresh verification on this device, or an operator identity
   * check); otherwise it stays, disabled (`status: "disabled"`), until an operator identity check
   * completes the deletion — so a withdrawal cannot clear the way for another face (issue 12 item 4).
   */
  async withdrawConsent(body: SignedPersonRequest): Promise<DeletionResponse & { consent: ConsentReceipt }> {
    const t0 = performance.now();
    let proof: Proof | undefined;
    const { device, person } = await this.admission.admit(body, "withdraw", async (person, ch, consent) => {
      // a consent to an earlier notice may always be withdrawn
      this.admission.requireConsent(consent, { outdatedCounts: true });
      if (person.template_id) proof = await this.proofOf(person, ch.deviceId);
    });
    try {
      const c = (await this.c.store.latestConsent(person.id))!;
      const now = this.c.now();
      await this.c.store.withdrawConsent(c.id, now);
      const requestId = randomId("req");
      let status: DeletionResponse["status"] = "deleted";
      if (person.template_id && proof) {
        await this.useProof(person, proof);
        status = await this.parties.deleteTemplate(person, "withdraw", undefined, requestId);
      } else if (person.template_id) {
        status = "disabled";
        this.c.log?.info({ event: "withdrawal-disabled", personId: person.id }, "consent withdrawn without proof of the person: template disabled, not deleted");
      }
      const reason = status === "deleted" ? "DELETED" : status === "pending" ? "DELETION_PENDING" : "DISABLED";
      await recordDecision(this.c, { requestId, person, device, op: "withdraw", decision: "accept", reason, modelVersion: person.model_version ?? "", t0 });
      return { requestId, status, consent: receiptView({ ...c, withdrawn_at: now }) };
    } finally {
      await this.admission.release(person.id);
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
