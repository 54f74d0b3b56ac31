/**
 * The registry and the operators' actions: merchants, persons (identity attributes sealed at rest,
 * a blind index for uniqueness), devices (register, revoke, unlock), privacy notices, masked person
 * views and decision history against a daily quota (R26: each recorded with operator and reason),
 * and the list of open re-checks. Every action is in the audit trail.
 */
import { fromBase64url, utf8 } from "@privface/crypto";
import type { Admission } from "./_admission.ts";
import { forwardDevice } from "./_parties.ts";
import { recordOperatorQuery, type GatewayContext, type Operator } from "./_context.ts";
import { randomId, sha256b64u } from "./_crypto.ts";
import { blindIndex, maskIdNumber, maskName, maskPhone, openField, sealField } from "./_identity.ts";
import type { ApprovalRow, ConsentState, DeviceRow, HoldRow, PersonRow } from "./_store.ts";
import { ApiError } from "./errors.ts";
import type { Notice, PersonCreate, PersonView } from "./schemas.ts";

/** How long an approved operator identity check stands as proof of the person (30 min). */
export const IDENTITY_CHECK_VALID_MS = 30 * 60_000;

export class Operators {
  constructor(
    private readonly c: GatewayContext,
    private readonly admission: Admission,
    /** deletes a person's template at both parties (Parties.deleteTemplate) */
    private readonly deleteTemplate: (person: PersonRow, why: "withdraw" | "hold rejected", intent?: string) => Promise<"deleted" | "pending">,
  ) {}

  async addMerchant(name: string, op: Operator): Promise<{ merchantId: string; name: string; createdAt: number }> {
    const m = { id: randomId("mer"), name, created_at: this.c.now() };
    await this.c.store.insertMerchant(m);
    await this.c.audit?.append({ actor: `operator:${op.id}`, action: "merchant.create", subject: m.id, outcome: "ok" });
    return { merchantId: m.id, name, createdAt: m.created_at };
  }

  async addPerson(merchantId: string, p: PersonCreate, op: Operator): Promise<PersonView> {
    const { store, identity } = this.c;
    if (!(await store.getMerchant(merchantId))) throw new ApiError("MERCHANT_UNKNOWN");
    const idIndex = blindIndex(identity, "id", p.idNumber);
    if (await store.findPersonByIndex(merchantId, idIndex)) throw new ApiError("DUPLICATE");
    const id = randomId("per");
    const row: PersonRow = {
      id,
      merchant_id: merchantId,
      role: p.role,
      name_enc: await sealField(identity, p.name, `${id}|name`),
      id_number_enc: await sealField(identity, p.idNumber, `${id}|id_number`),
      phone_enc: await sealField(identity, p.phone, `${id}|phone`),
      id_index: idIndex,
      template_id: null,
      model_version: null,
      failed_count: 0,
      locked_at: null,
      last_verified_at: null,
      last_verified_device: null,
      created_at: this.c.now(),
    };
    await store.insertPerson(row);
    await this.c.audit?.append({ actor: `operator:${op.id}`, action: "person.create", subject: id, outcome: "ok" });
    return personView(row, p);
  }

  async addDevice(merchantId: string, d: { suite: "INTL" | "GM"; publicKey: string; authKey: string; label?: string; stillImage?: boolean }, op: Operator) {
    if (!(await this.c.store.getMerchant(merchantId))) throw new ApiError("MERCHANT_UNKNOWN");
    for (const field of ["publicKey", "authKey"] as const) {
      let pub: Uint8Array;
      try {
        pub = fromBase64url(d[field]);
      } catch {
        throw new ApiError("INVALID_INPUT", { field: `/${field}` });
      }
      if (pub.length !== (d.suite === "INTL" ? 32 : 65)) throw new ApiError("INVALID_INPUT", { field: `/${field}` });
    }
    if (await this.c.store.findDeviceByKey(d.publicKey)) throw new ApiError("DUPLICATE");
    const row: DeviceRow = {
      id: randomId("dev"),
      merchant_id: merchantId,
      suite: d.suite,
      public_key: d.publicKey,
      auth_key: d.authKey,
      label: d.label ?? null,
      status: "pending",
      failed_count: 0,
      locked_at: null,
      created_at: this.c.now(),
      requested_by: op.id,
      approved_by: null,
      still_image: d.stillImage === true,
    };
    await this.c.store.insertDevice(row);
    await this.c.audit?.append({ actor: `operator:${op.id}`, action: "device.register", subject: row.id, outcome: "ok", code: row.still_image ? "PENDING_STILL_IMAGE" : "PENDING" });
    return deviceView(row);
  }

  /** The second approver of a device registration (R27): another operator than the one who registered it. */
  async approveDevice(deviceId: string, op: Operator) {
    const d = await this.c.store.getDevice(deviceId);
    if (!d) throw new ApiError("DEVICE_UNKNOWN");
    if (d.status !== "pending") throw new ApiError("NOT_PENDING");
    if (d.requested_by === op.id) throw new ApiError("SAME_APPROVER");
    if (!(await this.c.store.approveDevice(deviceId, op.id))) throw new ApiError("NOT_PENDING");
    await this.c.audit?.append({ actor: `operator:${op.id}`, action: "device.approve", subject: deviceId, outcome: "ok" });
    // active at the gateway: each party's own registry learns of it and activates it by its policy (decision 010 §2)
    if (d.auth_key) await forwardDevice(this.c, { deviceId, suite: d.suite, signingKey: d.public_key, authKey: d.auth_key });
    return deviceView((await this.c.store.getDevice(deviceId))!);
  }

  /**
   * An operator identity check of a person (seen in person with an identity document, say), under
   * dual control: one operator requests it with a reason, a different one approves it. An approved
   * check is proof of the person for IDENTITY_CHECK_VALID_MS: it lets one deregistration or one
   * withdrawal delete the template without a fresh verification; a person who already withdrew
   * consent has the disabled template deleted at the approval. Each approval records a notice owed
   * to the person (person_notices), sent to their registered contact outside this service.
   */
  async requestIdentityCheck(personId: string, op: Operator, reason: string) {
    if (!(await this.c.store.getPerson(personId))) throw new ApiError("PERSON_UNKNOWN");
    const row = { id: randomId("idc"), person_id: personId, requested_by: op.id, requested_at: this.c.now(), approved_by: null, approved_at: null, valid_until: null, used_at: null };
    await this.c.store.insertIdentityCheck(row);
    await recordOperatorQuery(this.c, op, "identity-check.request", personId, reason);
    return { checkId: row.id, personId, status: "pending" as const, requestedBy: op.id };
  }

  async approveIdentityCheck(checkId: string, op: Operator, reason: string) {
    const ch = await this.c.store.getIdentityCheck(checkId);
    if (!ch || ch.approved_at !== null) throw new ApiError("NOT_PENDING");
    if (ch.requested_by === op.id) throw new ApiError("SAME_APPROVER");
    const now = this.c.now();
    const until = now + IDENTITY_CHECK_VALID_MS;
    if (!(await this.c.store.approveIdentityCheck(checkId, op.id, now, until))) throw new ApiError("NOT_PENDING");
    await recordOperatorQuery(this.c, op, "identity-check.approve", ch.person_id, reason);
    await this.c.store.insertPersonNotice({ id: randomId("ntc"), person_id: ch.person_id, kind: "identity-check", at: now });
    let templateDeletion: "deleted" | "pending" | undefined;
    const person = (await this.c.store.getPerson(ch.person_id))!;
    const consent = await this.c.store.latestConsent(person.id);
    if (person.template_id && consent && consent.withdrawn_at !== null && (await this.c.store.useIdentityCheck(checkId, now))) {
      // the withdrawal the person asked for, completed now that they are proven (R13)
      templateDeletion = await this.deleteTemplate(person, "withdraw");
      await this.c.store.insertPersonNotice({ id: randomId("ntc"), person_id: person.id, kind: "template-deleted", at: now });
      await this.c.audit?.append({ actor: `operator:${op.id}`, action: "withdraw.complete", subject: person.id, outcome: "ok", code: templateDeletion === "deleted" ? "DELETED" : "DELETION_PENDING" });
    }
    return {
      checkId,
      personId: ch.person_id,
      status: "approved" as const,
      requestedBy: ch.requested_by,
      approvedBy: op.id,
      validUntil: until,
      ...(templateDeletion ? { templateDeletion } : {}),
    };
  }

  async revokeDevice(deviceId: string, op: Operator) {
    if (!(await this.c.store.updateDevice(deviceId, { status: "revoked" }))) throw new ApiError("DEVICE_UNKNOWN");
    this.admission.forgetDevice(deviceId);
    await this.c.audit?.append({ actor: `operator:${op.id}`, action: "device.revoke", subject: deviceId, outcome: "ok" });
    await forwardDevice(this.c, { deviceId, revoke: true });
    return deviceView((await this.c.store.getDevice(deviceId))!);
  }

  /**
   * Unlocking a person is a critical action (R27, issue 14): it is recorded as pending and happens
   * only when a second, different operator approves it (`approve`).
   */
  async unlockPerson(personId: string, op: Operator, reason: string): Promise<ApprovalView> {
    if (!(await this.c.store.getPerson(personId))) throw new ApiError("PERSON_UNKNOWN");
    const row: ApprovalRow = { id: randomId("apr"), action: "person.unlock", subject: personId, reason, requested_by: op.id, requested_at: this.c.now(), approved_by: null, approved_at: null };
    await this.c.store.insertApproval(row);
    await recordOperatorQuery(this.c, op, "person.unlock.request", personId, reason);
    return approvalView(row);
  }

  /**
   * The decision on an enrolment held for review (ENROL_DEDUP=hold) is a critical action (R27): one
   * operator asks for `approve` (the person becomes active) or `reject` (the template is deleted at
   * both parties, the person is not enrolled) with a reason; it happens when a second, different
   * operator approves it (`approve`).
   */
  async decideHold(holdId: string, decision: "approve" | "reject", op: Operator, reason: string): Promise<ApprovalView> {
    const h = await this.c.store.getHold(holdId);
    if (!h) throw new ApiError("HOLD_UNKNOWN");
    if (h.decided_at !== null) throw new ApiError("NOT_PENDING");
    const row: ApprovalRow = { id: randomId("apr"), action: `hold.${decision}`, subject: holdId, reason, requested_by: op.id, requested_at: this.c.now(), approved_by: null, approved_at: null };
    await this.c.store.insertApproval(row);
    await recordOperatorQuery(this.c, op, `hold.${decision}.request`, holdId, reason);
    return approvalView(row);
  }

  /**
   * Setting or clearing a device's still-image flag (a still-image tool gets no active liveness
   * actions, issue 17) is a critical action (R27, issue 14): requested by an administrator with a
   * reason, made when a second, different operator approves it (`approve`).
   */
  async requestStillImage(deviceId: string, stillImage: boolean, op: Operator, reason: string): Promise<ApprovalView> {
    if (!(await this.c.store.getDevice(deviceId))) throw new ApiError("DEVICE_UNKNOWN");
    const action = stillImage ? "device.still-image.on" : "device.still-image.off";
    const row: ApprovalRow = { id: randomId("apr"), action, subject: deviceId, reason, requested_by: op.id, requested_at: this.c.now(), approved_by: null, approved_at: null };
    await this.c.store.insertApproval(row);
    await recordOperatorQuery(this.c, op, `${action}.request`, deviceId, reason);
    return approvalView(row);
  }

  /** The second operator's approval of a pending critical action: refused to its requester (SAME_APPROVER). */
  async approve(approvalId: string, op: Operator, reason: string): Promise<ApprovalView> {
    const a = await this.c.store.getApproval(approvalId);
    if (!a || a.approved_at !== null) throw new ApiError("NOT_PENDING");
    if (a.requested_by === op.id) throw new ApiError("SAME_APPROVER");
    const at = this.c.now();
    if (a.action === "person.unlock") {
      if (!(await this.c.store.approveUnlock(approvalId, op.id, at))) throw new ApiError("NOT_PENDING");
      await recordOperatorQuery(this.c, op, `${a.action}.approve`, a.subject, reason);
      return approvalView({ ...a, approved_by: op.id, approved_at: at });
    }
    if (a.action === "device.still-image.on" || a.action === "device.still-image.off") {
      const deviceId = await this.c.store.approveStillImage(approvalId, op.id, at);
      if (!deviceId) throw new ApiError("NOT_PENDING");
      await recordOperatorQuery(this.c, op, `${a.action}.approve`, deviceId, reason);
      return approvalView({ ...a, approved_by: op.id, approved_at: at });
    }
    const intent = randomId("chk");
    const h = await this.c.store.decideHold(approvalId, op.id, at, intent);
    if (!h) throw new ApiError("NOT_PENDING");
    await recordOperatorQuery(this.c, op, `${a.action}.approve`, a.subject, reason);
    let code = "ACTIVE";
    if (h.decision === "rejected") {
      const person = await this.c.store.getPerson(h.person_id);
      if (person?.template_id === h.template_id) code = (await this.deleteTemplate(person, "hold rejected", intent)) === "deleted" ? "DELETED" : "DELETION_PENDING";
      else await this.c.store.resolveRecheck(intent, this.c.now());
    }
    await this.c.audit?.append({ actor: `operator:${op.id}`, action: a.action, subject: h.person_id, outcome: "ok", code });
    return approvalView({ ...a, approved_by: op.id, approved_at: at });
  }

  /**
   * Open holds, oldest first, each with the held person and the enrolled persons its face matched,
   * masked (R26): every person shown is a sensitive record against the daily quota (the whole page is
   * refused, nothing counted, when it would pass it), at most 100 per view and 20 matches per hold.
   */
  async listHolds(op: Operator, reason: string) {
    const { store, identity } = this.c;
    const page: { h: HoldRow; person: PersonRow; matches: PersonRow[]; more: number }[] = [];
    let shown = 0;
    for (const h of await store.openHolds(100)) {
      const person = await store.getPerson(h.person_id);
      if (!person) continue;
      const ids = JSON.parse(h.matches) as string[];
      const matches: PersonRow[] = [];
      for (const t of ids.slice(0, 20)) {
        const m = await store.findPersonByTemplate(t);
        if (m) matches.push(m);
      }
      if (page.length > 0 && shown + 1 + matches.length > 100) break;
      page.push({ h, person, matches, more: ids.length - matches.length });
      shown += 1 + matches.length;
    }
    if (shown > 0) await this.takeQuota(op, shown);
    await recordOperatorQuery(this.c, op, "hold.list", "all-merchants", reason);
    const view = async (p: PersonRow) => personView(p, await plainOf(identity, p), await this.consentState(p.id));
    const holds = [];
    for (const x of page) holds.push({ holdId: x.h.id, at: x.h.at, person: await view(x.person), matches: await Promise.all(x.matches.map(view)), more: x.more });
    return { holds };
  }

  /** What waits for a second operator: device registrations, identity checks and unlocks (oldest first, at most `limit` of each). */
  async pending(limit = 100) {
    const [devices, checks, approvals] = await Promise.all([this.c.store.pendingDevices(limit), this.c.store.pendingIdentityChecks(limit), this.c.store.pendingApprovals(limit)]);
    return {
      devices: devices.map(deviceView),
      identityChecks: checks.map((c) => ({ checkId: c.id, personId: c.person_id, status: "pending" as const, requestedBy: c.requested_by, requestedAt: c.requested_at })),
      approvals: approvals.map(approvalView),
    };
  }

  async listMerchants(limit: number) {
    return { merchants: (await this.c.store.listMerchants(limit)).map((m) => ({ merchantId: m.id, name: m.name, createdAt: m.created_at })) };
  }

  async listDevices(merchantId: string | null, limit: number) {
    return { devices: (await this.c.store.listDevices(merchantId, limit)).map(deviceView) };
  }

  /**
   * Masked person records with their enrolment state: every row is a sensitive record against the
   * operator's daily quota (R26). The whole page is refused (QUOTA_EXCEEDED, nothing counted) when
   * the quota left is smaller than the rows it would show; the query is recorded with its reason.
   */
  async listPersons(merchantId: string | null, op: Operator, reason: string, limit: number) {
    const { store, identity } = this.c;
    const rows = await store.listPersons(merchantId, limit);
    if (rows.length > 0) await this.takeQuota(op, rows.length);
    await recordOperatorQuery(this.c, op, "person.list", merchantId ?? "all-merchants", reason);
    const persons: PersonView[] = [];
    for (const p of rows) persons.push(personView(p, await plainOf(identity, p), await this.consentState(p.id)));
    return { persons };
  }

  async unlockDevice(deviceId: string, op: Operator, reason: string): Promise<{ ok: boolean }> {
    if (!(await this.c.store.updateDevice(deviceId, { failed_count: 0, locked_at: null }))) throw new ApiError("DEVICE_UNKNOWN");
    await recordOperatorQuery(this.c, op, "device.unlock", deviceId, reason);
    return { ok: true };
  }

  async addNotice(n: { version: string; text: string; purposes: string[] }, op: Operator): Promise<Notice> {
    if (await this.c.store.getNotice(n.version)) throw new ApiError("DUPLICATE");
    const hash = sha256b64u(utf8(n.text));
    await this.c.store.insertNotice({ version: n.version, text: n.text, hash, purposes: JSON.stringify(n.purposes), created_at: this.c.now() });
    this.admission.noticeChanged();
    await this.c.audit?.append({ actor: `operator:${op.id}`, action: "notice.publish", subject: n.version, outcome: "ok" });
    return { version: n.version, hash, text: n.text, purposes: n.purposes };
  }

  /** A masked person record: one sensitive record against the operator's daily quota (R26). */
  async viewPerson(personId: string, op: Operator, reason: string): Promise<PersonView> {
    const { store, identity } = this.c;
    const p = await store.getPerson(personId);
    if (!p) throw new ApiError("PERSON_UNKNOWN");
    await this.takeQuota(op, 1);
    await recordOperatorQuery(this.c, op, "person.view", personId, reason);
    return personView(p, await plainOf(identity, p), await this.consentState(p.id));
  }

  async history(personId: string, op: Operator, reason: string, limit = 100) {
    const p = await this.c.store.getPerson(personId);
    if (!p) throw new ApiError("PERSON_UNKNOWN");
    const rows = await this.c.store.decisions(personId, Math.min(limit, 100));
    await this.takeQuota(op, 1);
    await recordOperatorQuery(this.c, op, "person.history", personId, reason);
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
    const rows = await this.c.store.openRechecks(Math.min(limit, 100));
    return {
      rechecks: rows.map((r) => ({ id: r.id, op: r.op, personId: r.person_id, reason: r.reason, at: r.at, ...(r.resolved_at ? { resolvedAt: r.resolved_at } : {}) })),
    };
  }

  private async takeQuota(op: Operator, n: number): Promise<void> {
    const day = new Date(this.c.now()).toISOString().slice(0, 10);
    if (!(await this.c.store.takeQuota(op.id, day, n, this.c.o.operatorDailyQuota))) throw new ApiError("QUOTA_EXCEEDED");
  }

  private async consentState(personId: string): Promise<ConsentState> {
    const c = await this.c.store.latestConsent(personId);
    return !c ? "none" : c.withdrawn_at !== null ? "withdrawn" : "given";
  }
}

/** A person's identity attributes in clear (for masking), or empty once erased after deregistration. */
async function plainOf(identity: GatewayContext["identity"], p: PersonRow): Promise<{ name: string; idNumber: string; phone: string }> {
  if (p.erased_at) return { name: "", idNumber: "", phone: "" };
  return {
    name: await openField(identity, p.name_enc, `${p.id}|name`),
    idNumber: await openField(identity, p.id_number_enc, `${p.id}|id_number`),
    phone: await openField(identity, p.phone_enc, `${p.id}|phone`),
  };
}

function personView(p: PersonRow, plain: { name: string; idNumber: string; phone: string }, consent: PersonView["consent"] = "none"): PersonView {
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
    ...(p.held_at ? { held: true } : {}),
    ...(p.erased_at ? { erased: true } : {}),
  };
}

export interface ApprovalView {
  approvalId: string;
  action: ApprovalRow["action"];
  subject: string;
  status: "pending" | "approved";
  requestedBy: string;
  requestedAt: number;
  reason: string;
  approvedBy?: string;
}

function approvalView(a: ApprovalRow): ApprovalView {
  return {
    approvalId: a.id,
    action: a.action,
    subject: a.subject,
    status: a.approved_at === null ? "pending" : "approved",
    requestedBy: a.requested_by,
    requestedAt: a.requested_at,
    reason: a.reason,
    ...(a.approved_by ? { approvedBy: a.approved_by } : {}),
  };
}

function deviceView(d: DeviceRow) {
  return {
    deviceId: d.id,
    merchantId: d.merchant_id,
    suite: d.suite,
    status: d.status,
    locked: d.locked_at !== null,
    ...(d.label ? { label: d.label } : {}),
    ...(d.requested_by ? { requestedBy: d.requested_by } : {}),
    ...(d.approved_by ? { approvedBy: d.approved_by } : {}),
    stillImage: d.still_image === true,
  };
}
