/** The audit tables (records; anchors kept for other servers, anchors.ts), the same on SQLite and PostgreSQL. */
import { migrate, type Db, type DbMigration } from "@privface/db";

export const AUDIT_TABLE = "audit_records";
export const ANCHOR_TABLE = "audit_anchors";
/** the keys a server's configuration named at its last start (keys.ts) */
export const KEYS_TABLE = "audit_keys";

const anchorMigration: DbMigration = {
  async up(k) {
    await k.schema
      .createTable(ANCHOR_TABLE)
      .addColumn("role", "text", (c) => c.notNull())
      .addColumn("seq", "bigint", (c) => c.notNull())
      .addColumn("hash", "text", (c) => c.notNull())
      .addColumn("record", "text", (c) => c.notNull())
      .addColumn("received_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("audit_anchors_pk", ["role", "seq"])
      .execute();
  },
};


export const auditMigrations: Record<string, DbMigration> = {
  "001_audit_records": {
    async up(k) {
      await k.schema
        .createTable(AUDIT_TABLE)
        .addColumn("seq", "bigint", (c) => c.primaryKey())
        .addColumn("time", "bigint", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("requester", "text", (c) => c.notNull())
        .addColumn("op", "text", (c) => c.notNull())
        .addColumn("template_id", "text")
        .addColumn("session", "text")
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("code", "text")
        .addColumn("prev", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .addColumn("sig", "text", (c) => c.notNull())
        .execute();
      await k.schema.createIndex("audit_records_session").on(AUDIT_TABLE).column("session").execute();
    },
  },
  "002_audit_anchors": anchorMigration,
  "003_audit_keys": {
    async up(k) {
      await k.schema
        .createTable(KEYS_TABLE)
        .addColumn("slot", "text", (c) => c.notNull())
        .addColumn("id", "text", (c) => c.notNull())
        .addColumn("since", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("audit_keys_pk", ["slot", "id"])
        .execute();
    },
  },
};

/** Create the audit table if needed (idempotent; migration table `audit_migrations`). */
export async function migrateAudit(db: Db): Promise<void> {
  await migrate(db, auditMigrations, { table: "audit_migrations" });
}

