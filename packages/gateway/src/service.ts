/**
 * The gateway's business flows, independent of HTTP: one facade (`GatewayService`, what the Fastify
 * app calls) over four modules along the service's seams:
 *   _admission.ts     admission of signed device requests: device, person, signature, replay,
 *                     challenge, consent, lockout, liveness, one operation per person at a time;
 *   _device-flows.ts  challenge, enrol, verify (with model upgrade), deregister, consent, withdrawal;
 *   _operators.ts     registry and operator actions: merchants, persons, devices, notices, masked
 *                     views, history, quota, the re-check list;
 *   _parties.ts       coordination of P0 and P1: authorisations (R16), parallel calls, abort,
 *                     deletion, failures (R35), health, the re-check run.
 * They share one context (_context.ts); the first privacy notice is a data file (_notice.ts).
 */
import { migrateGateway } from "./_store.ts";
import { Admission } from "./_admission.ts";
import { createContext, type GatewayContext, type Operator, type ServiceOptions } from "./_context.ts";
import { DeviceFlows } from "./_device-flows.ts";
import { DEFAULT_NOTICE } from "./_notice.ts";
import { Operators } from "./_operators.ts";
import { Parties } from "./_parties.ts";
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
  SignedPersonRequest,
  VerificationResponse,
} from "./schemas.ts";

export { DEFAULT_LIMITS } from "./_context.ts";
export type { AuditEvent, AuditSink, Log, Operator, OperatorRole, PartyKey, ServiceOptions } from "./_context.ts";
export { DEFAULT_NOTICE };

export class GatewayService {
  readonly store: GatewayContext["store"];
  readonly challenges: GatewayContext["challenges"];
  readonly limiter: GatewayContext["limiter"];
  readonly shared: GatewayContext["shared"];
  readonly identity: GatewayContext["identity"];
  private readonly c: GatewayContext;
  private readonly flows: DeviceFlows;
  private readonly operators: Operators;
  private readonly parties: Parties;

  constructor(options: ServiceOptions) {
    this.c = createContext(options);
    this.store = this.c.store;
    this.challenges = this.c.challenges;
    this.limiter = this.c.limiter;
    this.shared = this.c.shared;
    this.identity = this.c.identity;
    const admission = new Admission(this.c);
    this.parties = new Parties(this.c);
    this.flows = new DeviceFlows(this.c, admission, this.parties);
    this.operators = new Operators(this.c, admission, (person, why, intent) => this.parties.deleteTemplate(person, why, intent));
  }

  /** The audit trail's own chain check (for the metrics), when its sink offers one. */
  get auditCheck(): (() => Promise<{ ok: boolean; records: number }>) | undefined {
    const a = this.c.audit;
    return a?.check ? () => a.check!() : undefined;
  }


  /** The audit log's head and records (what the gateway anchors at the parties), when its sink offers them. */
  get auditAnchorSource() {
    return this.c.audit?.anchorSource;
  }

  /** Creates the tables and the default privacy notice if there is none. */
  async init(): Promise<void> {
    await migrateGateway(this.store.db);
    // SQLite: erased identity attributes are overwritten in the file, not only unlinked
    const s = this.store.db.sqlite;
    if (s) await this.store.db.exclusive(() => s.pragma("secure_delete = ON"));
    if (!(await this.store.latestNotice())) await this.addNotice(DEFAULT_NOTICE, { id: "system", role: "admin" });
  }

  /** The deployed model version: new enrolments use it, verifications of older templates upgrade to it (R5). */
  get modelVersion(): string {
    return this.c.o.modelVersion;
  }

  // ---- device flows (_device-flows.ts) ---------------------------------------------------------

  /** The per-source limit of the device API (issue 12 item 6), before anything else is looked at. */
  takeSource(source: string): Promise<void> {
    return this.c.limiter.takeSource(source, this.c.now());
  }

  challenge(req: ChallengeRequest): Promise<ChallengeResponse> {
    return this.flows.challenge(req);
  }
  enrol(body: FaceRequest): Promise<EnrolmentResponse> {
    return this.flows.enrol(body);
  }
  verify(body: FaceRequest): Promise<VerificationResponse> {
    return this.flows.verify(body);
  }
  deregister(body: SignedPersonRequest): Promise<DeletionResponse> {
    return this.flows.deregister(body);
  }
  giveConsent(body: ConsentRequest): Promise<ConsentReceipt> {
    return this.flows.giveConsent(body);
  }
  /** Opt-out (R13): the consent is withdrawn at once and the template deleted at both parties. */
  withdrawConsent(body: SignedPersonRequest): Promise<DeletionResponse & { consent: ConsentReceipt }> {
    return this.flows.withdrawConsent(body);
  }
  currentNotice(): Promise<Notice> {
    return this.flows.currentNotice();
  }

  // ---- the parties (_parties.ts) ---------------------------------------------------------------

  health(timeoutMs?: number): Promise<{ status: "ok" | "degraded"; parties: Record<string, string> }> {
    return this.parties.health(timeoutMs);
  }
  /** Retries what degraded mode left behind (deletions at both parties; verifications once the parties answer). */
  runRechecks(): Promise<{ resolved: number; open: number }> {
    return this.parties.runRechecks();
  }

  // ---- registry and operator actions (_operators.ts) -------------------------------------------

  addMerchant(name: string, op: Operator) {
    return this.operators.addMerchant(name, op);
  }
  addPerson(merchantId: string, p: PersonCreate, op: Operator): Promise<PersonView> {
    return this.operators.addPerson(merchantId, p, op);
  }
  addDevice(merchantId: string, d: { suite: "INTL" | "GM"; publicKey: string; authKey: string; label?: string }, op: Operator) {
    return this.operators.addDevice(merchantId, d, op);
  }
  /** The second approver of a device registration (R27). */
  approveDevice(deviceId: string, op: Operator) {
    return this.operators.approveDevice(deviceId, op);
  }
  /** An operator identity check of a person, under dual control (request, then another operator approves). */
  requestIdentityCheck(personId: string, op: Operator, reason: string) {
    return this.operators.requestIdentityCheck(personId, op, reason);
  }
  approveIdentityCheck(checkId: string, op: Operator, reason: string) {
    return this.operators.approveIdentityCheck(checkId, op, reason);
  }
  revokeDevice(deviceId: string, op: Operator) {
    return this.operators.revokeDevice(deviceId, op);
  }
  /** Requests a person's unlock: it happens when another operator approves it (`approve`, R27). */
  unlockPerson(personId: string, op: Operator, reason: string) {
    return this.operators.unlockPerson(personId, op, reason);
  }
  /** Requests setting or clearing a device's still-image flag: made when another operator approves it (`approve`, R27). */
  requestStillImage(deviceId: string, stillImage: boolean, op: Operator, reason: string) {
    return this.operators.requestStillImage(deviceId, stillImage, op, reason);
  }
  /** Held enrolments (ENROL_DEDUP=hold) with the persons they matched, masked, against the daily quota. */
  listHolds(op: Operator, reason: string) {
    return this.operators.listHolds(op, reason);
  }
  /** Requests the decision on a held enrolment: made when another operator approves it (`approve`, R27). */
  decideHold(holdId: string, decision: "approve" | "reject", op: Operator, reason: string) {
    return this.operators.decideHold(holdId, decision, op, reason);
  }
  /** A second, different operator approves a pending critical action. */
  approve(approvalId: string, op: Operator, reason: string) {
    return this.operators.approve(approvalId, op, reason);
  }
  /** A console sign-in or sign-out, in the audit trail. */
  async consoleEvent(op: Operator, action: "console.sign-in" | "console.sign-out"): Promise<void> {
    await this.c.audit?.append({ actor: `operator:${op.id}`, action, outcome: "ok" });
  }
  /** Everything awaiting a second operator. */
  pending(limit?: number) {
    return this.operators.pending(limit);
  }
  listMerchants(limit: number) {
    return this.operators.listMerchants(limit);
  }
  listDevices(merchantId: string | null, limit: number) {
    return this.operators.listDevices(merchantId, limit);
  }
  /** Masked persons, each row one sensitive record against the daily quota (R26). */
  listPersons(merchantId: string | null, op: Operator, reason: string, limit: number) {
    return this.operators.listPersons(merchantId, op, reason, limit);
  }
  unlockDevice(deviceId: string, op: Operator, reason: string) {
    return this.operators.unlockDevice(deviceId, op, reason);
  }
  addNotice(n: { version: string; text: string; purposes: string[] }, op: Operator): Promise<Notice> {
    return this.operators.addNotice(n, op);
  }
  /** A masked person record: one sensitive record against the operator's daily quota (R26). */
  viewPerson(personId: string, op: Operator, reason: string): Promise<PersonView> {
    return this.operators.viewPerson(personId, op, reason);
  }
  history(personId: string, op: Operator, reason: string, limit?: number) {
    return this.operators.history(personId, op, reason, limit);
  }
  rechecks(limit?: number) {
    return this.operators.rechecks(limit);
  }
}
