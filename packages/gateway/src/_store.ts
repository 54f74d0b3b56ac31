/**
 * The gateway's own database (never shared with a party, R11): merchants, persons (identity fields
 * encrypted with the gateway data key, R12), devices and their public keys, privacy notices, consent
 * receipts, decision history, degraded-mode re-checks and operator quotas. Portable across SQLite and
 * PostgreSQL: the schema through @privface/db's migrations (Kysely's schema builder), every query
 * through its executor (`createExec`: one SQL text per query, a cached prepared statement on either
 * dialect; decision 008).
 *
 * The person → template id mapping lives only here. Template ids are random and pseudonymous.
 */
import { createExec, migrate, toMs, type Db, type DbMigration, type Exec, type Kysely, type Tx } from "@privface/db";

export const MIGRATIONS: Record<string, DbMigration> = {
  "001_init": {
    async up(k: Kysely<any>) {
      await k.schema
        .createTable("merchants")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await k.schema
        .createTable("persons")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("merchant_id", "text", (c) => c.notNull().references("merchants.id"))
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("name_enc", "text", (c) => c.notNull())
        .addColumn("id_number_enc", "text", (c) => c.notNull())
        .addColumn("phone_enc", "text", (c) => c.notNull())
        .addColumn("id_index", "text", (c) => c.notNull())
        .addColumn("template_id", "text", (c) => c.unique())
        .addColumn("model_version", "text")
        .addColumn("failed_count", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("locked_at", "bigint")
        .addColumn("last_verified_at", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await k.schema.createIndex("persons_merchant_id_index").on("persons").columns(["merchant_id", "id_index"]).unique().execute();
      await k.schema
        .createTable("devices")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("merchant_id", "text", (c) => c.notNull().references("merchants.id"))
        .addColumn("suite", "text", (c) => c.notNull())
        .addColumn("public_key", "text", (c) => c.notNull().unique())
        .addColumn("label", "text")
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("failed_count", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("locked_at", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await k.schema
        .createTable("notices")
        .addColumn("version", "text", (c) => c.primaryKey())
        .addColumn("text", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .addColumn("purposes", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await k.schema
        .createTable("consents")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("person_id", "text", (c) => c.notNull().references("persons.id"))
        .addColumn("notice_version", "text", (c) => c.notNull())
        .addColumn("notice_hash", "text", (c) => c.notNull())
        .addColumn("purposes", "text", (c) => c.notNull())
        .addColumn("device_id", "text", (c) => c.notNull())
        .addColumn("given_at", "bigint", (c) => c.notNull())
        .addColumn("withdrawn_at", "bigint")
        .execute();
      await k.schema.createIndex("consents_person").on("consents").columns(["person_id", "given_at"]).execute();
      await k.schema
        .createTable("decisions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("person_id", "text", (c) => c.notNull())
        .addColumn("merchant_id", "text", (c) => c.notNull())
        .addColumn("device_id", "text", (c) => c.notNull())
        .addColumn("op", "text", (c) => c.notNull())
        .addColumn("decision", "text", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("model_version", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("us", "bigint", (c) => c.notNull())
        .execute();
      await k.schema.createIndex("decisions_person").on("decisions").columns(["person_id", "at"]).execute();
      await k.schema
        .createTable("rechecks")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("op", "text", (c) => c.notNull())
        .addColumn("person_id", "text", (c) => c.notNull())
        .addColumn("template_id", "text")
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("resolved_at", "bigint")
        .execute();
      await k.schema
        .createTable("operator_queries")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("operator_id", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .execute();
      await k.schema
        .createTable("operator_reads")
        .addColumn("operator_id", "text", (c) => c.notNull())
        .addColumn("day", "text", (c) => c.notNull())
        .addColumn("count", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("operator_reads_pk", ["operator_id", "day"])
        .execute();
    },
  },
  // issue 12: absolute daily failure budgets (R24), the upgrade a re-check must finish (session, version)
  "002_failure_days": {
    async up(k: Kysely<any>) {
      await k.schema
        .createTable("failure_days")
        .addColumn("scope", "text", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("day", "text", (c) => c.notNull())
        .addColumn("count", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("failure_days_pk", ["scope", "subject", "day"])
        .execute();
      await k.schema.alterTable("rechecks").addColumn("session", "text").execute();
      await k.schema.alterTable("rechecks").addColumn("model_version", "text").execute();
    },
  },
  // issue 12 item 4: proof of the person (the device of the last success; operator identity checks
  // under dual control, with a notice record), device registration by two approvers
  "003_proof": {
    async up(k: Kysely<any>) {
      await k.schema.alterTable("persons").addColumn("last_verified_device", "text").execute();
      await k.schema.alterTable("devices").addColumn("requested_by", "text").execute();
      await k.schema.alterTable("devices").addColumn("approved_by", "text").execute();
      await k.schema
        .createTable("identity_checks")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("person_id", "text", (c) => c.notNull())
        .addColumn("requested_by", "text", (c) => c.notNull())
        .addColumn("requested_at", "bigint", (c) => c.notNull())
        .addColumn("approved_by", "text")
        .addColumn("approved_at", "bigint")
        .addColumn("valid_until", "bigint")
        .addColumn("used_at", "bigint")
        .execute();
      await k.schema.createIndex("identity_checks_person").on("identity_checks").columns(["person_id", "requested_at"]).execute();
      await k.schema
        .createTable("person_notices")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("person_id", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("sent_at", "bigint")
        .execute();
    },
  },
  /** decision 010 §2: the device's key-agreement public key, forwarded to the parties' registries */
  "004_device_auth_key": {
    async up(k: Kysely<any>) {
      await k.schema.alterTable("devices").addColumn("auth_key", "text").execute();
    },
  },
  /** issue 14: critical operator actions (unlocking a person) wait for a second, different operator (R27) */
  "005_approvals": {
    async up(k: Kysely<any>) {
      await k.schema
        .createTable("approvals")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("requested_by", "text", (c) => c.notNull())
        .addColumn("requested_at", "bigint", (c) => c.notNull())
        .addColumn("approved_by", "text")
        .addColumn("approved_at", "bigint")
        .execute();
    },
  },
  /** issue 13: a deregistered person's identity attributes are erased once the retention has passed */
  "006_identity_erasure": {
    async up(k: Kysely<any>) {
      await k.schema.alterTable("persons").addColumn("deregistered_at", "bigint").execute();
      await k.schema.alterTable("persons").addColumn("erased_at", "bigint").execute();
      // the re-check job looks for deregistrations past the retention every run: no scan of all persons
      await k.schema.createIndex("persons_deregistered_at").on("persons").column("deregistered_at").execute();
    },
  },
  /** issue 17: a still-image tool (CLI, demo) registered by operators gets no active liveness actions */
  "007_device_still_image": {
    async up(k: Kysely<any>) {
      await k.schema.alterTable("devices").addColumn("still_image", "integer", (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  /**
   * issue 15: an enrolment that matched enrolled faces under ENROL_DEDUP=hold is committed but held
   * (persons.held_at: no verification) until operators decide; the hold keeps the matching template ids.
   */
  "008_enrolment_holds": {
    async up(k: Kysely<any>) {
      await k.schema.alterTable("persons").addColumn("held_at", "bigint").execute();
      await k.schema
        .createTable("enrolment_holds")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("person_id", "text", (c) => c.notNull())
        .addColumn("template_id", "text", (c) => c.notNull())
        .addColumn("matches", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("decision", "text")
        .addColumn("decided_by", "text")
        .addColumn("decided_at", "bigint")
        .execute();
      await k.schema.createIndex("enrolment_holds_open").on("enrolment_holds").columns(["decided_at", "at"]).execute();
    },
  },
};

export async function migrateGateway(db: Db): Promise<void> {
  await migrate(db, MIGRATIONS, { table: "gateway_migrations" });
}

export interface MerchantRow {
  id: string;
  name: string;
  created_at: number;
}
export interface PersonRow {
  id: string;
  merchant_id: string;
  role: "principal" | "cashier";
  name_enc: string;
  id_number_enc: string;
  phone_enc: string;
  id_index: string;
  template_id: string | null;
  model_version: string | null;
  failed_count: number;
  locked_at: number | null;
  last_verified_at: number | null;
  /** the device of that success: only it may use it as proof of the person (R14) */
  last_verified_device: string | null;
  created_at: number;
  /** when a deregistration deleted the template (identity erased `IDENTITY_RETENTION_DAYS` later); null while enrolled or never */
  deregistered_at?: number | null;
  /** when the identity attributes were erased (name, ID number, phone and blind index emptied) */
  erased_at?: number | null;
  /** ENROL_DEDUP=hold: the enrolment matched enrolled faces and awaits the operators' decision (no verification until then) */
  held_at?: number | null;
}
/** A held enrolment (ENROL_DEDUP=hold): the template ids it matched, and the operators' decision once made. */
export interface HoldRow {
  id: string;
  person_id: string;
  template_id: string;
  /** JSON array of the matching template ids */
  matches: string;
  at: number;
  decision: "approved" | "rejected" | null;
  decided_by: string | null;
  decided_at: number | null;
}
export interface DeviceRow {
  id: string;
  merchant_id: string;
  suite: "INTL" | "GM";
  public_key: string;
  /** key-agreement public key (base64url); null for devices registered before decision 010 (they cannot make face requests) */
  auth_key: string | null;
  label: string | null;
  /** pending: registered by one operator, awaiting a second, different one (R27) */
  status: "pending" | "active" | "revoked";
  failed_count: number;
  locked_at: number | null;
  created_at: number;
  requested_by: string | null;
  approved_by: string | null;
  /**
   * A still-image tool (the CLI, the demo, benchmarks): its challenges carry no active liveness
   * actions (issue 17). Set only by the registering operator and approved with the device by a second
   * one; no device request can change it.
   */
  still_image?: boolean;
}
/** An operator identity check of a person under dual control: requested by one operator, approved by another. */
export interface IdentityCheckRow {
  id: string;
  person_id: string;
  requested_by: string;
  requested_at: number;
  approved_by: string | null;
  approved_at: number | null;
  valid_until: number | null;
  used_at: number | null;
}
/** A critical operator action awaiting a second, different operator (R27): an unlock, the decision on a held enrolment (subject: the hold's id), a device's still-image flag. */
export interface ApprovalRow {
  id: string;
  action: "person.unlock" | "hold.approve" | "hold.reject" | "device.still-image.on" | "device.still-image.off";
  subject: string;
  /** the requester's reason (gateway database only, as operator_queries) */
  reason: string;
  requested_by: string;
  requested_at: number;
  approved_by: string | null;
  approved_at: number | null;
}
export interface NoticeRow {
  version: string;
  text: string;
  hash: string;
  purposes: string;
  created_at: number;
}
export interface ConsentRow {
  id: string;
  person_id: string;
  notice_version: string;
  notice_hash: string;
  purposes: string;
  device_id: string;
  given_at: number;
  withdrawn_at: number | null;
}
export type ConsentState = "none" | "given" | "withdrawn";
export interface DecisionRow {
  id: string;
  person_id: string;
  merchant_id: string;
  device_id: string;
  op: string;
  decision: string;
  reason: string;
  model_version: string;
  at: number;
  us: number;
}
export interface RecheckRow {
  id: string;
  op: string;
  person_id: string;
  template_id: string | null;
  reason: string;
  at: number;
  resolved_at: number | null;
  /** an upgrade to finish: the verification's session and the new model version */
  session?: string | null;
  model_version?: string | null;
}

/** The failure limits `recordFailure` applies (R24). */
export interface FailureLimits {
  personLockAfter: number;
  deviceLockAfter: number;
  personDailyFailures: number;
  deviceDailyFailures: number;
}
/** What one failed verification did to the counters. */
export interface FailureCounts {
  person: { consecutive: number; today: number; locked: boolean };
  device: { consecutive: number; today: number; locked: boolean };
}

/** The UTC day of a time, "YYYY-MM-DD": the daily failure budgets' key. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

const num = (v: unknown): number => toMs(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : toMs(v));
const RESOLVE_RECHECK = "UPDATE rechecks SET resolved_at = ? WHERE id = ?";

function person(r: any): PersonRow {
  return {
    ...r,
    failed_count: num(r.failed_count),
    locked_at: numOrNull(r.locked_at),
    last_verified_at: numOrNull(r.last_verified_at),
    last_verified_device: r.last_verified_device ?? null,
    created_at: num(r.created_at),
    deregistered_at: numOrNull(r.deregistered_at),
    erased_at: numOrNull(r.erased_at),
    held_at: numOrNull(r.held_at),
  };
}
function identityCheck(r: any): IdentityCheckRow {
  return {
    ...r,
    requested_at: num(r.requested_at),
    approved_at: numOrNull(r.approved_at),
    valid_until: numOrNull(r.valid_until),
    used_at: numOrNull(r.used_at),
  };
}
function hold(r: any): HoldRow {
  return { ...r, at: num(r.at), decision: r.decision ?? null, decided_by: r.decided_by ?? null, decided_at: numOrNull(r.decided_at) };
}
function approval(r: any): ApprovalRow {
  return { ...r, requested_at: num(r.requested_at), approved_at: numOrNull(r.approved_at), approved_by: r.approved_by ?? null };
}
function device(r: any): DeviceRow {
  return { ...r, failed_count: num(r.failed_count), locked_at: numOrNull(r.locked_at), created_at: num(r.created_at), requested_by: r.requested_by ?? null, approved_by: r.approved_by ?? null, still_image: num(r.still_image) === 1 };
}

/**
 * Data access. With `cacheDevices`, devices are cached in memory (they then must change only through
 * this object: one gateway process); everything else is read from the database each time, so several
 * gateway processes may share one PostgreSQL when the cache is off.
 *
 * Every query is one SQL text run through `@privface/db`'s executor (decision 008): a read runs
 * outside a transaction, a write is one transaction — on SQLite a savepoint of the connection's
 * group commit (decision 007): the writes of one event-loop turn (requests finishing together, and
 * the audit log's appends) share one WAL commit, a failing write fails only its own request, and each
 * caller waits until its write is committed.
 */
export class Store {
  readonly exec: Exec;
  private readonly devices = new Map<string, DeviceRow>();

  constructor(
    readonly db: Db,
    private readonly opts: { cacheDevices: boolean } = { cacheDevices: true },
  ) {
    this.exec = createExec(db);
  }

  private get<T>(text: string, params: readonly unknown[]): Promise<T | undefined> {
    return this.exec.read((tx) => tx.get<T>(text, params));
  }
  private all<T>(text: string, params: readonly unknown[]): Promise<T[]> {
    return this.exec.read((tx) => tx.all<T>(text, params));
  }
  /** One statement as one write transaction; resolves to the number of changed rows. */
  private run(text: string, params: readonly unknown[]): Promise<number> {
    return this.exec.tx((tx) => tx.run(text, params));
  }

  // merchants
  async insertMerchant(m: MerchantRow): Promise<void> {
    await this.run("INSERT INTO merchants (id, name, created_at) VALUES (?, ?, ?)", [m.id, m.name, m.created_at]);
  }
  async getMerchant(id: string): Promise<MerchantRow | undefined> {
    const r = await this.get<MerchantRow>("SELECT * FROM merchants WHERE id = ?", [id]);
    return r ? { ...r, created_at: num(r.created_at) } : undefined;
  }

  // persons
  async insertPerson(p: PersonRow): Promise<void> {
    await this.run(
      "INSERT INTO persons (id, merchant_id, role, name_enc, id_number_enc, phone_enc, id_index, template_id, model_version, failed_count, locked_at, last_verified_at, last_verified_device, created_at) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [
        p.id, p.merchant_id, p.role, p.name_enc, p.id_number_enc, p.phone_enc, p.id_index, p.template_id ?? null, p.model_version ?? null,
        p.failed_count ?? 0, p.locked_at ?? null, p.last_verified_at ?? null, p.last_verified_device ?? null, p.created_at,
      ],
    );
  }
  async getPerson(id: string): Promise<PersonRow | undefined> {
    const r = await this.get("SELECT * FROM persons WHERE id = ?", [id]);
    return r ? person(r) : undefined;
  }
  /**
   * The person and the state of their latest consent receipt, in one statement (the admission path
   * of every challenge and face request needs both). The same order as `latestConsent`: newest
   * given_at, then highest id.
   */
  async getPersonWithConsent(id: string): Promise<{ person: PersonRow; consent: ConsentState; consentNotice: string | null } | undefined> {
    const row = await this.get<{ consent_state: string | null; consent_notice: string | null } & Record<string, unknown>>(
      "SELECT p.*, (SELECT CASE WHEN c.withdrawn_at IS NULL THEN 'given' ELSE 'withdrawn' END FROM consents c WHERE c.person_id = p.id ORDER BY c.given_at DESC, c.id DESC LIMIT 1) AS consent_state, " +
        "(SELECT c.notice_version FROM consents c WHERE c.person_id = p.id ORDER BY c.given_at DESC, c.id DESC LIMIT 1) AS consent_notice FROM persons p WHERE p.id = ?",
      [id],
    );
    if (!row) return undefined;
    const { consent_state, consent_notice, ...rest } = row;
    return { person: person(rest), consent: (consent_state ?? "none") as ConsentState, consentNotice: consent_notice ?? null };
  }
  async findPersonByIndex(merchantId: string, idIndex: string): Promise<PersonRow | undefined> {
    const r = await this.get("SELECT * FROM persons WHERE merchant_id = ? AND id_index = ?", [merchantId, idIndex]);
    return r ? person(r) : undefined;
  }
  /**
   * Records the person's template; with `resolve`, settles that re-check in the same write, and with
   * `decision`, inserts that decision row in it too (all or none; the statements are sent together).
   */
  async setTemplate(personId: string, templateId: string | null, modelVersion: string | null, resolve?: { recheck: string; at: number }, decision?: DecisionRow): Promise<void> {
    // a new template ends a deregistration's wait for erasure; no template, no hold
    const set = `UPDATE persons SET template_id = ?, model_version = ?, held_at = NULL${templateId ? ", deregistered_at = NULL" : ""} WHERE id = ?`;
    await this.exec.tx(async (tx) => {
      await Promise.all([
        tx.run(set, [templateId, modelVersion, personId]),
        resolve && tx.run(RESOLVE_RECHECK, [resolve.at, resolve.recheck]),
        decision && tx.run(INSERT_DECISION, decisionParams(decision)),
      ]);
    });
  }
  /** Records a held enrolment's template and its hold in one transaction: never a template without its hold. */
  async holdTemplate(h: HoldRow, modelVersion: string): Promise<void> {
    await this.exec.tx(async (tx) => {
      await tx.run("UPDATE persons SET template_id = ?, model_version = ?, held_at = ?, deregistered_at = NULL WHERE id = ?", [h.template_id, modelVersion, h.at, h.person_id]);
      await tx.run("INSERT INTO enrolment_holds (id, person_id, template_id, matches, at, decision, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL)", [h.id, h.person_id, h.template_id, h.matches, h.at]);
    });
  }
  async getHold(id: string): Promise<HoldRow | undefined> {
    const r = await this.get<any>("SELECT * FROM enrolment_holds WHERE id = ?", [id]);
    return r ? hold(r) : undefined;
  }
  /** Holds awaiting a decision, oldest first. */
  async openHolds(limit: number): Promise<HoldRow[]> {
    return (await this.all<any>("SELECT * FROM enrolment_holds WHERE decided_at IS NULL ORDER BY at, id LIMIT ?", [limit])).map(hold);
  }
  /** The person whose template this is (at most one: template ids are unique). */
  async findPersonByTemplate(templateId: string): Promise<PersonRow | undefined> {
    const r = await this.get("SELECT * FROM persons WHERE template_id = ?", [templateId]);
    return r ? person(r) : undefined;
  }
  async markDeregistered(personId: string, at: number): Promise<void> {
    await this.run("UPDATE persons SET deregistered_at = ? WHERE id = ? AND template_id IS NULL", [at, personId]);
  }
  /** Persons deregistered before `before`, not enrolled again and not yet erased. */
  async erasablePersons(before: number, limit: number): Promise<string[]> {
    const rows = await this.exec.read((tx) =>
      tx.all<{ id: string }>("SELECT id FROM persons WHERE deregistered_at IS NOT NULL AND deregistered_at < ? AND erased_at IS NULL AND template_id IS NULL ORDER BY deregistered_at LIMIT ?", [before, limit]),
    );
    return rows.map((r) => r.id);
  }
  /** Empties the identity attributes and the blind index (the ID number may be registered again); false if the person was enrolled meanwhile. */
  async eraseIdentity(personId: string, at: number): Promise<boolean> {
    return (
      (await this.exec.tx((tx) =>
        tx.run("UPDATE persons SET name_enc = '', id_number_enc = '', phone_enc = '', id_index = ?, erased_at = ? WHERE id = ? AND template_id IS NULL AND erased_at IS NULL", [`erased:${personId}`, at, personId]),
      )) === 1
    );
  }
  async setModelVersion(personId: string, modelVersion: string): Promise<void> {
    await this.run("UPDATE persons SET model_version = ? WHERE id = ?", [modelVersion, personId]);
  }
  /** After a successful verification: clear the failure counter, remember when and on which device (R14). */
  async personVerified(personId: string, at: number, deviceId: string): Promise<void> {
    await this.run(PERSON_VERIFIED, [at, deviceId, personId]);
  }
  /**
   * After a failed verification, in one transaction: the person's and the device's consecutive
   * failures (a success resets them) and today's failures (UTC day; nothing resets them, R24) each
   * count one more; either one reaching its limit locks the person or the device (an operator unlocks).
   * The person's last success is forgotten (R14).
   */
  async recordFailure(personId: string, deviceId: string, at: number, lim: FailureLimits): Promise<FailureCounts> {
    const day = utcDay(at);
    this.devices.delete(deviceId);
    try {
      return await this.exec.tx(async (tx) => ({
        person: await countFailure(tx, PERSON_FAILURE, personId, day, at, lim.personLockAfter, lim.personDailyFailures),
        device: await countFailure(tx, DEVICE_FAILURE, deviceId, day, at, lim.deviceLockAfter, lim.deviceDailyFailures),
      }));
    } finally {
      this.devices.delete(deviceId);
    }
  }
  /** Today's failures (UTC day) of a person or a device. */
  async failuresToday(scope: "person" | "device", subject: string, at: number): Promise<number> {
    const r = await this.get<{ count: unknown }>("SELECT count FROM failure_days WHERE scope = ? AND subject = ? AND day = ?", [scope, subject, utcDay(at)]);
    return r ? num(r.count) : 0;
  }
  async consumeVerification(personId: string): Promise<void> {
    await this.run("UPDATE persons SET last_verified_at = NULL, last_verified_device = NULL WHERE id = ?", [personId]);
  }
  async unlockPerson(personId: string): Promise<boolean> {
    return (await this.run("UPDATE persons SET failed_count = 0, locked_at = NULL WHERE id = ?", [personId])) > 0;
  }

  // devices
  async insertDevice(d: DeviceRow): Promise<void> {
    await this.run(
      "INSERT INTO devices (id, merchant_id, suite, public_key, auth_key, label, status, failed_count, locked_at, created_at, requested_by, approved_by, still_image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [
        d.id, d.merchant_id, d.suite, d.public_key, d.auth_key ?? null, d.label ?? null, d.status, d.failed_count ?? 0, d.locked_at ?? null, d.created_at,
        d.requested_by ?? null, d.approved_by ?? null, d.still_image ? 1 : 0,
      ],
    );
    this.devices.delete(d.id);
  }
  async getDevice(id: string): Promise<DeviceRow | undefined> {
    const c = this.devices.get(id);
    if (c) return c;
    const r = await this.get("SELECT * FROM devices WHERE id = ?", [id]);
    if (!r) return undefined;
    const d = device(r);
    if (this.opts.cacheDevices) this.devices.set(id, d);
    return d;
  }
  async findDeviceByKey(publicKey: string): Promise<DeviceRow | undefined> {
    const r = await this.get("SELECT * FROM devices WHERE public_key = ?", [publicKey]);
    return r ? device(r) : undefined;
  }
  /** pending → active by a second operator; false if the device is not pending (R27). */
  async approveDevice(id: string, approver: string): Promise<boolean> {
    this.devices.delete(id);
    const n = await this.run("UPDATE devices SET status = 'active', approved_by = ? WHERE id = ? AND status = 'pending'", [approver, id]);
    this.devices.delete(id);
    return n > 0;
  }
  /** Sets the given fields (an absent field is left as it is); false if there is no such device. */
  async updateDevice(id: string, set: Partial<Pick<DeviceRow, "status" | "failed_count" | "locked_at">>): Promise<boolean> {
    const has = (k: keyof typeof set) => (k in set && set[k] !== undefined ? 1 : 0);
    this.devices.delete(id);
    const n = await this.run(
      "UPDATE devices SET status = CASE WHEN ? = 1 THEN ? ELSE status END, failed_count = CASE WHEN ? = 1 THEN ? ELSE failed_count END, " +
        "locked_at = CASE WHEN ? = 1 THEN ? ELSE locked_at END WHERE id = ?",
      [has("status"), set.status ?? null, has("failed_count"), set.failed_count ?? null, has("locked_at"), set.locked_at ?? null, id],
    );
    this.devices.delete(id);
    return n > 0;
  }

  // operator identity checks (dual control) and the notices they owe the person
  async insertIdentityCheck(c: IdentityCheckRow): Promise<void> {
    await this.run(
      "INSERT INTO identity_checks (id, person_id, requested_by, requested_at, approved_by, approved_at, valid_until, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      [c.id, c.person_id, c.requested_by, c.requested_at, c.approved_by ?? null, c.approved_at ?? null, c.valid_until ?? null, c.used_at ?? null],
    );
  }
  async getIdentityCheck(id: string): Promise<IdentityCheckRow | undefined> {
    const r = await this.get("SELECT * FROM identity_checks WHERE id = ?", [id]);
    return r ? identityCheck(r) : undefined;
  }
  /** pending → approved by `approver`, valid until `until`; false if it is not pending. */
  async approveIdentityCheck(id: string, approver: string, at: number, until: number): Promise<boolean> {
    const n = await this.run("UPDATE identity_checks SET approved_by = ?, approved_at = ?, valid_until = ? WHERE id = ? AND approved_at IS NULL", [approver, at, until, id]);
    return n > 0;
  }
  /** The person's approved, unused, unexpired identity check, if any. */
  async validIdentityCheck(personId: string, at: number): Promise<IdentityCheckRow | undefined> {
    const r = await this.get(
      "SELECT * FROM identity_checks WHERE person_id = ? AND approved_at IS NOT NULL AND used_at IS NULL AND valid_until >= ? ORDER BY approved_at DESC LIMIT 1",
      [personId, at],
    );
    return r ? identityCheck(r) : undefined;
  }
  /** Marks a check used; false if someone used it first. */
  async useIdentityCheck(id: string, at: number): Promise<boolean> {
    return (await this.run("UPDATE identity_checks SET used_at = ? WHERE id = ? AND used_at IS NULL", [at, id])) > 0;
  }
  async insertPersonNotice(n: { id: string; person_id: string; kind: string; at: number }): Promise<void> {
    await this.run("INSERT INTO person_notices (id, person_id, kind, at, sent_at) VALUES (?, ?, ?, ?, NULL)", [n.id, n.person_id, n.kind, n.at]);
  }
  async personNotices(personId: string): Promise<{ id: string; kind: string; at: number }[]> {
    const rows = await this.all<{ id: string; kind: string; at: unknown }>("SELECT id, kind, at FROM person_notices WHERE person_id = ? ORDER BY at ASC", [personId]);
    return rows.map((r) => ({ id: r.id, kind: r.kind, at: num(r.at) }));
  }

  // notices and consents
  async insertNotice(n: NoticeRow): Promise<void> {
    await this.run("INSERT INTO notices (version, text, hash, purposes, created_at) VALUES (?, ?, ?, ?, ?)", [n.version, n.text, n.hash, n.purposes, n.created_at]);
  }
  async getNotice(version: string): Promise<NoticeRow | undefined> {
    const r = await this.get<NoticeRow>("SELECT * FROM notices WHERE version = ?", [version]);
    return r ? { ...r, created_at: num(r.created_at) } : undefined;
  }
  async latestNotice(): Promise<NoticeRow | undefined> {
    const r = await this.get<NoticeRow>("SELECT * FROM notices ORDER BY created_at DESC, version DESC LIMIT 1", []);
    return r ? { ...r, created_at: num(r.created_at) } : undefined;
  }
  async insertConsent(c: ConsentRow): Promise<void> {
    await this.run(
      "INSERT INTO consents (id, person_id, notice_version, notice_hash, purposes, device_id, given_at, withdrawn_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      [c.id, c.person_id, c.notice_version, c.notice_hash, c.purposes, c.device_id, c.given_at, c.withdrawn_at ?? null],
    );
  }
  /** The person's latest consent receipt (given or withdrawn). */
  async latestConsent(personId: string): Promise<ConsentRow | undefined> {
    const r = await this.get<ConsentRow>("SELECT * FROM consents WHERE person_id = ? ORDER BY given_at DESC, id DESC LIMIT 1", [personId]);
    return r ? { ...r, given_at: num(r.given_at), withdrawn_at: numOrNull(r.withdrawn_at) } : undefined;
  }
  async withdrawConsent(id: string, at: number): Promise<void> {
    await this.run("UPDATE consents SET withdrawn_at = ? WHERE id = ?", [at, id]);
  }

  // decisions
  async insertDecision(d: DecisionRow): Promise<void> {
    await this.run(INSERT_DECISION, decisionParams(d));
  }
  /**
   * An accepted verification's rows in one write, its statements sent together (one round trip on
   * PostgreSQL): the decision, the person's success at `verifiedAt` (`personVerified`), and, when `resetDevice`, the
   * device's consecutive failures back to 0. All or none.
   */
  async insertVerifiedDecision(d: DecisionRow, verifiedAt: number, resetDevice: boolean): Promise<void> {
    if (resetDevice) this.devices.delete(d.device_id);
    await this.exec.tx((tx) =>
      Promise.all([
        tx.run(INSERT_DECISION, decisionParams(d)),
        tx.run(PERSON_VERIFIED, [verifiedAt, d.device_id, d.person_id]),
        resetDevice && tx.run("UPDATE devices SET failed_count = 0 WHERE id = ?", [d.device_id]),
      ]),
    );
    if (resetDevice) this.devices.delete(d.device_id);
  }
  async decisions(personId: string, limit: number): Promise<DecisionRow[]> {
    const rows = await this.all<DecisionRow>("SELECT * FROM decisions WHERE person_id = ? ORDER BY at DESC LIMIT ?", [personId, limit]);
    return rows.map((r) => ({ ...r, at: num(r.at), us: num(r.us) }));
  }
  async countDecisions(): Promise<number> {
    const r = await this.get<{ n: unknown }>("SELECT COUNT(*) AS n FROM decisions", []);
    return Number(r!.n);
  }

  // re-checks (R35)
  async insertRecheck(r: RecheckRow): Promise<void> {
    await this.run(
      "INSERT INTO rechecks (id, op, person_id, template_id, reason, at, resolved_at, session, model_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [r.id, r.op, r.person_id, r.template_id ?? null, r.reason, r.at, r.resolved_at ?? null, r.session ?? null, r.model_version ?? null],
    );
  }
  async openRechecks(limit: number): Promise<RecheckRow[]> {
    const rows = await this.all<RecheckRow>("SELECT * FROM rechecks WHERE resolved_at IS NULL ORDER BY at ASC LIMIT ?", [limit]);
    return rows.map((r) => ({ ...r, at: num(r.at), resolved_at: numOrNull(r.resolved_at) }));
  }
  async resolveRecheck(id: string, at: number): Promise<void> {
    await this.run(RESOLVE_RECHECK, [at, id]);
  }

  // the console's lists (issue 14): at most `limit` rows each, newest first
  async listMerchants(limit: number): Promise<MerchantRow[]> {
    return (await this.all<MerchantRow>("SELECT * FROM merchants ORDER BY created_at DESC, id LIMIT ?", [limit])).map((r) => ({ ...r, created_at: num(r.created_at) }));
  }
  async listPersons(merchantId: string | null, limit: number): Promise<PersonRow[]> {
    const rows = merchantId
      ? await this.all("SELECT * FROM persons WHERE merchant_id = ? ORDER BY created_at DESC, id LIMIT ?", [merchantId, limit])
      : await this.all("SELECT * FROM persons ORDER BY created_at DESC, id LIMIT ?", [limit]);
    return rows.map(person);
  }
  async listDevices(merchantId: string | null, limit: number): Promise<DeviceRow[]> {
    const rows = merchantId
      ? await this.all("SELECT * FROM devices WHERE merchant_id = ? ORDER BY created_at DESC, id LIMIT ?", [merchantId, limit])
      : await this.all("SELECT * FROM devices ORDER BY created_at DESC, id LIMIT ?", [limit]);
    return rows.map(device);
  }
  async pendingDevices(limit: number): Promise<DeviceRow[]> {
    return (await this.all("SELECT * FROM devices WHERE status = 'pending' ORDER BY created_at, id LIMIT ?", [limit])).map(device);
  }
  async pendingIdentityChecks(limit: number): Promise<IdentityCheckRow[]> {
    return (await this.all("SELECT * FROM identity_checks WHERE approved_at IS NULL ORDER BY requested_at, id LIMIT ?", [limit])).map(identityCheck);
  }

  // critical actions under dual control (R27)
  async insertApproval(a: ApprovalRow): Promise<void> {
    await this.run("INSERT INTO approvals (id, action, subject, reason, requested_by, requested_at, approved_by, approved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
      a.id, a.action, a.subject, a.reason, a.requested_by, a.requested_at, a.approved_by, a.approved_at,
    ]);
  }
  async getApproval(id: string): Promise<ApprovalRow | undefined> {
    const r = await this.get<any>("SELECT * FROM approvals WHERE id = ?", [id]);
    return r ? approval(r) : undefined;
  }
  /**
   * The second operator's approval of a decision on a held enrolment, in one transaction: the approval
   * is approved and the hold decided; for "hold.approve" the person's hold is lifted (active). False
   * (nothing changed) if the approval or the hold is not pending. A rejection's template deletion
   * follows (Parties.deleteTemplate, under the intent `intentId` written here).
   */
  async decideHold(approvalId: string, approver: string, at: number, intentId: string): Promise<HoldRow | undefined> {
    return this.exec.tx(async (tx) => {
      const a = await tx.get<{ subject: string; action: string }>("SELECT subject, action FROM approvals WHERE id = ? AND action IN ('hold.approve', 'hold.reject') AND approved_at IS NULL", [approvalId]);
      if (!a) return undefined;
      const h = await tx.get<any>("SELECT * FROM enrolment_holds WHERE id = ? AND decided_at IS NULL", [a.subject]);
      if (!h) return undefined;
      const decision = a.action === "hold.approve" ? "approved" : "rejected";
      await tx.run("UPDATE approvals SET approved_by = ?, approved_at = ? WHERE id = ?", [approver, at, approvalId]);
      await tx.run("UPDATE enrolment_holds SET decision = ?, decided_by = ?, decided_at = ? WHERE id = ?", [decision, approver, at, a.subject]);
      if (decision === "approved") await tx.run("UPDATE persons SET held_at = NULL WHERE id = ? AND template_id = ?", [h.person_id, h.template_id]);
      // a rejection's deletion, written ahead in the same transaction: a crash before it is done leaves
      // the re-check to delete the template at both parties (the person stays held until then)
      else
        await tx.run("INSERT INTO rechecks (id, op, person_id, template_id, reason, at, resolved_at, session, model_version) VALUES (?, 'delete', ?, ?, 'intent: hold rejected', ?, NULL, NULL, NULL)", [intentId, h.person_id, h.template_id, at]);
      return hold({ ...h, decision, decided_by: approver, decided_at: at });
    });
  }
  /** Approves a pending change of a device's still-image flag and makes it, in one transaction; the device id, or undefined if it was not pending. */
  async approveStillImage(approvalId: string, approver: string, at: number): Promise<string | undefined> {
    const deviceId = await this.exec.tx(async (tx) => {
      const a = await tx.get<{ subject: string; action: string }>("SELECT subject, action FROM approvals WHERE id = ? AND action IN ('device.still-image.on', 'device.still-image.off') AND approved_at IS NULL", [approvalId]);
      if (!a) return undefined;
      await tx.run("UPDATE approvals SET approved_by = ?, approved_at = ? WHERE id = ?", [approver, at, approvalId]);
      await tx.run("UPDATE devices SET still_image = ? WHERE id = ?", [a.action === "device.still-image.on" ? 1 : 0, a.subject]);
      return a.subject;
    });
    if (deviceId) this.devices.delete(deviceId); // the next challenge reads the new flag
    return deviceId;
  }
  async pendingApprovals(limit: number): Promise<ApprovalRow[]> {
    return (await this.all<any>("SELECT * FROM approvals WHERE approved_at IS NULL ORDER BY requested_at, id LIMIT ?", [limit])).map(approval);
  }
  /**
   * Approves a pending unlock and unlocks the person in one transaction; false (and nothing changed)
   * if it was not pending.
   */
  async approveUnlock(id: string, approver: string, at: number): Promise<boolean> {
    return this.exec.tx(async (tx) => {
      const a = await tx.get<{ subject: string }>("SELECT subject FROM approvals WHERE id = ? AND action = 'person.unlock' AND approved_at IS NULL", [id]);
      if (!a) return false;
      await tx.run("UPDATE approvals SET approved_by = ?, approved_at = ? WHERE id = ?", [approver, at, id]);
      await tx.run("UPDATE persons SET failed_count = 0, locked_at = NULL WHERE id = ?", [a.subject]);
      return true;
    });
  }

  // operator queries and quotas (R26)
  async insertOperatorQuery(q: { id: string; operator_id: string; role: string; action: string; subject: string; reason: string; at: number }): Promise<void> {
    await this.run("INSERT INTO operator_queries (id, operator_id, role, action, subject, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)", [
      q.id, q.operator_id, q.role, q.action, q.subject, q.reason, q.at,
    ]);
  }
  /** Adds `n` sensitive records to today's count; returns false (and adds nothing) past `cap`. */
  async takeQuota(operatorId: string, day: string, n: number, cap: number): Promise<boolean> {
    return this.exec.tx(async (tx) => {
      const r = await tx.get<{ count: unknown }>("SELECT count FROM operator_reads WHERE operator_id = ? AND day = ?", [operatorId, day]);
      const used = r ? num(r.count) : 0;
      if (used + n > cap) return false;
      if (r) await tx.run("UPDATE operator_reads SET count = ? WHERE operator_id = ? AND day = ?", [used + n, operatorId, day]);
      else await tx.run("INSERT INTO operator_reads (operator_id, day, count) VALUES (?, ?, ?)", [operatorId, day, n]);
      return true;
    });
  }
}

/** The statements `countFailure` runs for persons and for devices (a person's failure also forgets its last success, R14). */
const PERSON_FAILURE = {
  scope: "person",
  select: "SELECT failed_count, locked_at FROM persons WHERE id = ?",
  update: "UPDATE persons SET failed_count = ?, last_verified_at = NULL, last_verified_device = NULL, locked_at = COALESCE(locked_at, ?) WHERE id = ?",
} as const;
const DEVICE_FAILURE = {
  scope: "device",
  select: "SELECT failed_count, locked_at FROM devices WHERE id = ?",
  update: "UPDATE devices SET failed_count = ?, locked_at = COALESCE(locked_at, ?) WHERE id = ?",
} as const;

/** One more consecutive and one more of today's failures of a person or a device; locks it (keeps an earlier lock time) at a limit. */
async function countFailure(
  tx: Tx,
  q: typeof PERSON_FAILURE | typeof DEVICE_FAILURE,
  id: string,
  day: string,
  at: number,
  lockAfter: number,
  daily: number,
): Promise<{ consecutive: number; today: number; locked: boolean }> {
  const r = await tx.get<{ failed_count: unknown; locked_at: unknown }>(q.select, [id]);
  if (!r) throw new Error(`recordFailure: no ${q.scope} ${id}`);
  const consecutive = num(r.failed_count) + 1;
  await tx.run("INSERT INTO failure_days (scope, subject, day, count) VALUES (?, ?, ?, 0) ON CONFLICT (scope, subject, day) DO NOTHING", [q.scope, id, day]);
  await tx.run("UPDATE failure_days SET count = count + 1 WHERE scope = ? AND subject = ? AND day = ?", [q.scope, id, day]);
  const t = await tx.get<{ count: unknown }>("SELECT count FROM failure_days WHERE scope = ? AND subject = ? AND day = ?", [q.scope, id, day]);
  const today = num(t!.count);
  const locked = consecutive >= lockAfter || today >= daily;
  await tx.run(q.update, [consecutive, locked ? at : null, id]);
  return { consecutive, today, locked: locked || r.locked_at !== null };
}

const INSERT_DECISION = "INSERT INTO decisions (id, person_id, merchant_id, device_id, op, decision, reason, model_version, at, us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const decisionParams = (d: DecisionRow) => [d.id, d.person_id, d.merchant_id, d.device_id, d.op, d.decision, d.reason, d.model_version, d.at, d.us];
const PERSON_VERIFIED = "UPDATE persons SET failed_count = 0, last_verified_at = ?, last_verified_device = ? WHERE id = ?";
