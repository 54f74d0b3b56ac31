/**
 * The party store's tables (migration table `party_migrations`). Identifiers only: pseudonymous
 * template ids, model versions, session ids, pool item ids, nonces, key ids, timestamps (epoch ms),
 * and encrypted blobs. No names, phone, ID or account numbers (R11; test/store-schema.test.ts checks
 * every column against an allow-list).
 */
import { bytesType, sql, timestampType, type DbMigration } from "@privface/db";

export const PARTY_MIGRATIONS_TABLE = "party_migrations";
export const PARTY_TABLES = ["party_templates", "party_sessions", "party_verifications", "party_pool", "party_authorisations"] as const;

export const partyMigrations: Record<string, DbMigration> = {
  "001_init": {
    async up(k, { dialect }) {
      const ts = timestampType(dialect);
      const bytes = bytesType(dialect);
      await k.schema
        .createTable("party_templates")
        .addColumn("template_id", "text", (c) => c.notNull())
        .addColumn("model_version", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('pending', 'active', 'retired', 'deleted')`))
        .addColumn("key_id", "text")
        .addColumn("share", bytes)
        .addColumn("created_at", ts, (c) => c.notNull())
        .addColumn("updated_at", ts, (c) => c.notNull())
        .addPrimaryKeyConstraint("party_templates_pk", ["template_id", "model_version"])
        .addCheckConstraint("party_templates_share_status", sql`(share is null) = (status in ('retired', 'deleted'))`)
        .execute();
      // At most one active and at most one pending (enrolling or staged) version per template.
      await sql`create unique index party_templates_one_active on party_templates (template_id) where status = 'active'`.execute(k);
      await sql`create unique index party_templates_one_pending on party_templates (template_id) where status = 'pending'`.execute(k);

      await k.schema
        .createTable("party_sessions")
        .addColumn("session", "text", (c) => c.primaryKey())
        .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('enrol', 'upgrade')`))
        .addColumn("state", "text", (c) => c.notNull().check(sql`state in ('prepared', 'committed', 'aborted')`))
        .addColumn("template_id", "text", (c) => c.notNull())
        .addColumn("model_version", "text", (c) => c.notNull())
        .addColumn("old_model_version", "text")
        .addColumn("created_at", ts, (c) => c.notNull())
        .addColumn("updated_at", ts, (c) => c.notNull())
        .execute();
      await k.schema.createIndex("party_sessions_state").on("party_sessions").columns(["state", "created_at"]).execute();
      await k.schema.createIndex("party_sessions_template").on("party_sessions").column("template_id").execute();

      await k.schema
        .createTable("party_verifications")
        .addColumn("session", "text", (c) => c.primaryKey())
        .addColumn("template_id", "text", (c) => c.notNull())
        .addColumn("model_version", "text", (c) => c.notNull())
        .addColumn("item_id", "text", (c) => c.notNull())
        .addColumn("created_at", ts, (c) => c.notNull())
        .execute();
      await k.schema.createIndex("party_verifications_created").on("party_verifications").column("created_at").execute();

      let pool = k.schema.createTable("party_pool");
      pool =
        dialect === "postgres"
          ? pool.addColumn("seq", "bigserial", (c) => c.primaryKey())
          : pool.addColumn("seq", "integer", (c) => c.primaryKey().autoIncrement());
      await pool
        .addColumn("id", "text", (c) => c.notNull().unique())
        .addColumn("key_id", "text")
        .addColumn("item", bytes)
        .addColumn("added_at", ts, (c) => c.notNull())
        .addColumn("used_at", ts)
        .addColumn("session", "text")
        .addCheckConstraint("party_pool_item_used", sql`(item is null) = (used_at is not null)`)
        .execute();
      await k.schema.createIndex("party_pool_used").on("party_pool").columns(["used_at", "seq"]).execute();

      await k.schema
        .createTable("party_authorisations")
        .addColumn("nonce", "text", (c) => c.primaryKey())
        .addColumn("expires", ts, (c) => c.notNull())
        .execute();
      await k.schema.createIndex("party_authorisations_expires").on("party_authorisations").column("expires").execute();
    },
  },
};
