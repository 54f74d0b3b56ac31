/**
 * The gateway's own database (never shared with a party, R11): merchants, persons (identity fields
 * encrypted with the gateway data key, R12), devices and their public keys, privacy notices, consent
 * receipts, decision history, degraded-mode re-checks and operator quotas. Portable across SQLite and
 * PostgreSQL through @privface/db's Kysely and migrations.
 *
 * The person → template id mapping lives only here. Template ids are random and pseudonymous.
 */
import { migrate, toMs, type Db, type DbMigration } from "@privface/db";
import { sql, type Kysely } from "kysely";

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

function person(r: any): PersonRow {
  return {
    ...r,
    failed_count: num(r.failed_count),
    locked_at: numOrNull(r.locked_at),
    last_verified_at: numOrNull(r.last_verified_at),
    last_verified_device: r.last_verified_device ?? null,
    created_at: num(r.created_at),
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
function device(r: any): DeviceRow {
  return { ...r, failed_count: num(r.failed_count), locked_at: numOrNull(r.locked_at), created_at: num(r.created_at), requested_by: r.requested_by ?? null, approved_by: r.approved_by ?? null };
}

/**
 * Data access. With `cacheDevices`, devices are cached in memory (they then must change only through
 * this object: one gateway process); everything else is read from the database each time, so several
 * gateway processes may share one PostgreSQL when the cache is off.
 */
export class Store {
  readonly k: Kysely<any>;
  private readonly devices = new Map<string, DeviceRow>();
  /** SQLite only: prepared statements for the per-request hot path (measured: Kysely's compile + prepare dominated). */
  private fast: ReturnType<typeof prepareFast> | undefined;

  constructor(
    readonly db: Db,
    private readonly opts: { cacheDevices: boolean } = { cacheDevices: true },
  ) {
    this.k = db.kysely;
  }

  /** Call after the migrations ran: prepares the hot-path statements (SQLite). */
  prepare(): void {
    if (this.db.sqlite) this.fast = prepareFast(this.db.sqlite);
  }

  /** Runs a raw statement while holding Kysely's connection, so it never lands inside another transaction. */
  private raw<T>(fn: (f: ReturnType<typeof prepareFast>) => T): Promise<T> {
    const f = this.fast!;
    // No transaction open on the connection: a synchronous statement cannot interleave with anyone
    // (Kysely holds the connection across awaits only inside a transaction), so skip the mutex.
    if (!this.db.sqlite!.inTransaction) {
      try {
        return Promise.resolve(fn(f));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.db.exclusive(() => fn(f));
  }

  // The hot-path writes (SQLite) go through the connection's group commit (@privface/db groupWrite):
  // writes of one event-loop turn (requests finishing together, and the audit log's appends) share
  // one WAL commit, each in its own savepoint, so a failing write fails only its own request; each
  // caller waits until its write is committed.
  private write(fn: (f: ReturnType<typeof prepareFast>) => void): Promise<void> {
    return this.db.groupWrite(() => fn(this.fast!));
  }

  // merchants
  async insertMerchant(m: MerchantRow): Promise<void> {
    await this.k.insertInto("merchants").values(m).execute();
  }
  async getMerchant(id: string): Promise<MerchantRow | undefined> {
    const r = await this.k.selectFrom("merchants").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? { ...(r as MerchantRow), created_at: num(r.created_at) } : undefined;
  }

  // persons
  async insertPerson(p: PersonRow): Promise<void> {
    await this.k.insertInto("persons").values(p).execute();
  }
  async getPerson(id: string): Promise<PersonRow | undefined> {
    if (this.fast) {
      const row = await this.raw((f) => f.getPerson.get(id));
      return row ? person(row) : undefined;
    }
    const r = await this.k.selectFrom("persons").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? person(r) : undefined;
  }
  /**
   * The person and the state of their latest consent receipt, in one statement on SQLite (the
   * admission path of every challenge and face request needs both).
   */
  async getPersonWithConsent(id: string): Promise<{ person: PersonRow; consent: ConsentState; consentNotice: string | null } | undefined> {
    if (this.fast) {
      const row = await this.raw((f) => f.getPersonWithConsent.get(id) as ({ consent_state: string | null; consent_notice: string | null } & Record<string, unknown>) | undefined);
      if (!row) return undefined;
      const { consent_state, consent_notice, ...rest } = row;
      return { person: person(rest), consent: (consent_state ?? "none") as ConsentState, consentNotice: consent_notice ?? null };
    }
    const p = await this.getPerson(id);
    if (!p) return undefined;
    const c = await this.latestConsent(id);
    return { person: p, consent: !c ? "none" : c.withdrawn_at !== null ? "withdrawn" : "given", consentNotice: c?.notice_version ?? null };
  }
  async findPersonByIndex(merchantId: string, idIndex: string): Promise<PersonRow | undefined> {
    const r = await this.k.selectFrom("persons").selectAll().where("merchant_id", "=", merchantId).where("id_index", "=", idIndex).executeTakeFirst();
    return r ? person(r) : undefined;
  }
  async setTemplate(personId: string, templateId: string | null, modelVersion: string | null): Promise<void> {
    if (this.fast) {
      await this.write((f) => void f.setTemplate.run(templateId, modelVersion, personId));
      return;
    }
    await this.k.updateTable("persons").set({ template_id: templateId, model_version: modelVersion }).where("id", "=", personId).execute();
  }
  async setModelVersion(personId: string, modelVersion: string): Promise<void> {
    await this.k.updateTable("persons").set({ model_version: modelVersion }).where("id", "=", personId).execute();
  }
  /** After a successful verification: clear the failure counter, remember when and on which device (R14). */
  async personVerified(personId: string, at: number, deviceId: string): Promise<void> {
    if (this.fast) {
      await this.write((f) => void f.personVerified.run(at, deviceId, personId));
      return;
    }
    await this.k.updateTable("persons").set({ failed_count: 0, last_verified_at: at, last_verified_device: deviceId }).where("id", "=", personId).execute();
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
      return await this.k.transaction().execute(async (tx) => {
        const today = async (scope: "person" | "device", subject: string): Promise<number> => {
          await tx.insertInto("failure_days").values({ scope, subject, day, count: 0 }).onConflict((oc) => oc.columns(["scope", "subject", "day"]).doNothing()).execute();
          await tx.updateTable("failure_days").set({ count: sql`count + 1` }).where("scope", "=", scope).where("subject", "=", subject).where("day", "=", day).execute();
          const r = await tx.selectFrom("failure_days").select(["count"]).where("scope", "=", scope).where("subject", "=", subject).where("day", "=", day).executeTakeFirstOrThrow();
          return num(r.count);
        };
        const count = async (table: "persons" | "devices", id: string, lockAfter: number, daily: number, scope: "person" | "device") => {
          const r = await tx.selectFrom(table).select(["failed_count", "locked_at"]).where("id", "=", id).executeTakeFirstOrThrow();
          const consecutive = num(r.failed_count) + 1;
          const t = await today(scope, id);
          const locked = consecutive >= lockAfter || t >= daily;
          await tx
            .updateTable(table)
            .set({
              failed_count: consecutive,
              ...(table === "persons" ? { last_verified_at: null, last_verified_device: null } : {}),
              ...(locked && r.locked_at === null ? { locked_at: at } : {}),
            })
            .where("id", "=", id)
            .execute();
          return { consecutive, today: t, locked: locked || r.locked_at !== null };
        };
        return {
          person: await count("persons", personId, lim.personLockAfter, lim.personDailyFailures, "person"),
          device: await count("devices", deviceId, lim.deviceLockAfter, lim.deviceDailyFailures, "device"),
        };
      });
    } finally {
      this.devices.delete(deviceId);
    }
  }
  /** Today's failures (UTC day) of a person or a device. */
  async failuresToday(scope: "person" | "device", subject: string, at: number): Promise<number> {
    const r = await this.k.selectFrom("failure_days").select(["count"]).where("scope", "=", scope).where("subject", "=", subject).where("day", "=", utcDay(at)).executeTakeFirst();
    return r ? num(r.count) : 0;
  }
  async consumeVerification(personId: string): Promise<void> {
    await this.k.updateTable("persons").set({ last_verified_at: null, last_verified_device: null }).where("id", "=", personId).execute();
  }
  async unlockPerson(personId: string): Promise<boolean> {
    const r = await this.k.updateTable("persons").set({ failed_count: 0, locked_at: null }).where("id", "=", personId).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  // devices
  async insertDevice(d: DeviceRow): Promise<void> {
    await this.k.insertInto("devices").values(d).execute();
    this.devices.delete(d.id);
  }
  async getDevice(id: string): Promise<DeviceRow | undefined> {
    const c = this.devices.get(id);
    if (c) return c;
    const r = await this.k.selectFrom("devices").selectAll().where("id", "=", id).executeTakeFirst();
    if (!r) return undefined;
    const d = device(r);
    if (this.opts.cacheDevices) this.devices.set(id, d);
    return d;
  }
  async findDeviceByKey(publicKey: string): Promise<DeviceRow | undefined> {
    const r = await this.k.selectFrom("devices").selectAll().where("public_key", "=", publicKey).executeTakeFirst();
    return r ? device(r) : undefined;
  }
  /** pending → active by a second operator; false if the device is not pending (R27). */
  async approveDevice(id: string, approver: string): Promise<boolean> {
    this.devices.delete(id);
    const r = await this.k.updateTable("devices").set({ status: "active", approved_by: approver }).where("id", "=", id).where("status", "=", "pending").executeTakeFirst();
    this.devices.delete(id);
    return Number(r.numUpdatedRows) > 0;
  }
  async updateDevice(id: string, set: Partial<Pick<DeviceRow, "status" | "failed_count" | "locked_at">>): Promise<boolean> {
    this.devices.delete(id);
    const r = await this.k.updateTable("devices").set(set).where("id", "=", id).executeTakeFirst();
    this.devices.delete(id);
    return Number(r.numUpdatedRows) > 0;
  }

  // operator identity checks (dual control) and the notices they owe the person
  async insertIdentityCheck(c: IdentityCheckRow): Promise<void> {
    await this.k.insertInto("identity_checks").values(c).execute();
  }
  async getIdentityCheck(id: string): Promise<IdentityCheckRow | undefined> {
    const r = await this.k.selectFrom("identity_checks").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? identityCheck(r) : undefined;
  }
  /** pending → approved by `approver`, valid until `until`; false if it is not pending. */
  async approveIdentityCheck(id: string, approver: string, at: number, until: number): Promise<boolean> {
    const r = await this.k
      .updateTable("identity_checks")
      .set({ approved_by: approver, approved_at: at, valid_until: until })
      .where("id", "=", id)
      .where("approved_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  /** The person's approved, unused, unexpired identity check, if any. */
  async validIdentityCheck(personId: string, at: number): Promise<IdentityCheckRow | undefined> {
    const r = await this.k
      .selectFrom("identity_checks")
      .selectAll()
      .where("person_id", "=", personId)
      .where("approved_at", "is not", null)
      .where("used_at", "is", null)
      .where("valid_until", ">=", at)
      .orderBy("approved_at", "desc")
      .limit(1)
      .executeTakeFirst();
    return r ? identityCheck(r) : undefined;
  }
  /** Marks a check used; false if someone used it first. */
  async useIdentityCheck(id: string, at: number): Promise<boolean> {
    const r = await this.k.updateTable("identity_checks").set({ used_at: at }).where("id", "=", id).where("used_at", "is", null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async insertPersonNotice(n: { id: string; person_id: string; kind: string; at: number }): Promise<void> {
    await this.k.insertInto("person_notices").values({ ...n, sent_at: null }).execute();
  }
  async personNotices(personId: string): Promise<{ id: string; kind: string; at: number }[]> {
    const rows = await this.k.selectFrom("person_notices").select(["id", "kind", "at"]).where("person_id", "=", personId).orderBy("at", "asc").execute();
    return rows.map((r) => ({ id: r.id as string, kind: r.kind as string, at: num(r.at) }));
  }

  // notices and consents
  async insertNotice(n: NoticeRow): Promise<void> {
    await this.k.insertInto("notices").values(n).execute();
  }
  async getNotice(version: string): Promise<NoticeRow | undefined> {
    const r = await this.k.selectFrom("notices").selectAll().where("version", "=", version).executeTakeFirst();
    return r ? { ...(r as NoticeRow), created_at: num(r.created_at) } : undefined;
  }
  async latestNotice(): Promise<NoticeRow | undefined> {
    const r = await this.k.selectFrom("notices").selectAll().orderBy("created_at", "desc").orderBy("version", "desc").limit(1).executeTakeFirst();
    return r ? { ...(r as NoticeRow), created_at: num(r.created_at) } : undefined;
  }
  async insertConsent(c: ConsentRow): Promise<void> {
    await this.k.insertInto("consents").values(c).execute();
  }
  /** The person's latest consent receipt (given or withdrawn). */
  async latestConsent(personId: string): Promise<ConsentRow | undefined> {
    if (this.fast) {
      const row = (await this.raw((f) => f.latestConsent.get(personId))) as ConsentRow | undefined;
      return row ? { ...row, given_at: num(row.given_at), withdrawn_at: numOrNull(row.withdrawn_at) } : undefined;
    }
    const r = await this.k
      .selectFrom("consents")
      .selectAll()
      .where("person_id", "=", personId)
      .orderBy("given_at", "desc")
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return r ? { ...(r as ConsentRow), given_at: num(r.given_at), withdrawn_at: numOrNull(r.withdrawn_at) } : undefined;
  }
  async withdrawConsent(id: string, at: number): Promise<void> {
    await this.k.updateTable("consents").set({ withdrawn_at: at }).where("id", "=", id).execute();
  }

  // decisions
  async insertDecision(d: DecisionRow): Promise<void> {
    if (this.fast) {
      await this.write((f) => void f.insertDecision.run(d));
      return;
    }
    await this.k.insertInto("decisions").values(d).execute();
  }
  async decisions(personId: string, limit: number): Promise<DecisionRow[]> {
    const rows = await this.k.selectFrom("decisions").selectAll().where("person_id", "=", personId).orderBy("at", "desc").limit(limit).execute();
    return rows.map((r) => ({ ...(r as DecisionRow), at: num(r.at), us: num(r.us) }));
  }
  async countDecisions(): Promise<number> {
    const r = await this.k.selectFrom("decisions").select((e) => e.fn.countAll().as("n")).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  // re-checks (R35)
  async insertRecheck(r: RecheckRow): Promise<void> {
    await this.k.insertInto("rechecks").values({ ...r, session: r.session ?? null, model_version: r.model_version ?? null }).execute();
  }
  async openRechecks(limit: number): Promise<RecheckRow[]> {
    const rows = await this.k.selectFrom("rechecks").selectAll().where("resolved_at", "is", null).orderBy("at", "asc").limit(limit).execute();
    return rows.map((r) => ({ ...(r as RecheckRow), at: num(r.at), resolved_at: numOrNull(r.resolved_at) }));
  }
  async resolveRecheck(id: string, at: number): Promise<void> {
    await this.k.updateTable("rechecks").set({ resolved_at: at }).where("id", "=", id).execute();
  }

  // operator queries and quotas (R26)
  async insertOperatorQuery(q: { id: string; operator_id: string; role: string; action: string; subject: string; reason: string; at: number }): Promise<void> {
    await this.k.insertInto("operator_queries").values(q).execute();
  }
  /** Adds `n` sensitive records to today's count; returns false (and adds nothing) past `cap`. */
  async takeQuota(operatorId: string, day: string, n: number, cap: number): Promise<boolean> {
    return this.k.transaction().execute(async (tx) => {
      const r = await tx.selectFrom("operator_reads").select(["count"]).where("operator_id", "=", operatorId).where("day", "=", day).executeTakeFirst();
      const used = r ? num(r.count) : 0;
      if (used + n > cap) return false;
      if (r) await tx.updateTable("operator_reads").set({ count: used + n }).where("operator_id", "=", operatorId).where("day", "=", day).execute();
      else await tx.insertInto("operator_reads").values({ operator_id: operatorId, day, count: n }).execute();
      return true;
    });
  }
}

function prepareFast(sqlite: NonNullable<Db["sqlite"]>) {
  return {
    getPerson: sqlite.prepare("SELECT * FROM persons WHERE id = ?"),
    setTemplate: sqlite.prepare("UPDATE persons SET template_id = ?, model_version = ? WHERE id = ?"),
    personVerified: sqlite.prepare("UPDATE persons SET failed_count = 0, last_verified_at = ?, last_verified_device = ? WHERE id = ?"),
    // the same order as latestConsent below: newest given_at, then highest id
    getPersonWithConsent: sqlite.prepare(
      "SELECT p.*, (SELECT CASE WHEN c.withdrawn_at IS NULL THEN 'given' ELSE 'withdrawn' END FROM consents c WHERE c.person_id = p.id ORDER BY c.given_at DESC, c.id DESC LIMIT 1) AS consent_state, " +
        "(SELECT c.notice_version FROM consents c WHERE c.person_id = p.id ORDER BY c.given_at DESC, c.id DESC LIMIT 1) AS consent_notice FROM persons p WHERE p.id = ?",
    ),
    latestConsent: sqlite.prepare("SELECT * FROM consents WHERE person_id = ? ORDER BY given_at DESC, id DESC LIMIT 1"),
    insertDecision: sqlite.prepare(
      "INSERT INTO decisions (id, person_id, merchant_id, device_id, op, decision, reason, model_version, at, us) VALUES (@id, @person_id, @merchant_id, @device_id, @op, @decision, @reason, @model_version, @at, @us)",
    ),
  };
}
