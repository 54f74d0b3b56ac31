/**
 * The party store's tables (migration table `party_migrations`). Identifiers only: pseudonymous
 * template ids, model versions, session ids, pool item ids, nonces, key ids, timestamps (epoch ms),
 * and encrypted blobs. No names, phone, ID or account numbers (R11; the store contract's schema test
 * checks every column against an allow-list).
 *
 * One migration: the pre-release migrations 001–004 (schema, per-item pool keys, failure budget,
 * device registry) were squashed into `001_schema` on 2026-12-07, before any release. A database made
 * by an earlier build is refused (StoreError UNSUPPORTED, see _context.ts): start from an empty one.
 * `002_budget_pending`: the failure budget's run rides in the next verification (issue 12's CPU budget),
 * so each party keeps its XOR share of the last answered verification's match bit until then.
 * `003_pool_reserved`: P0 reserves a pool item for each item nonce it issues (decision 012) until the
 * nonce expires: no other run takes it, and the purge discards it unused once the nonce has expired.
 */
import { bytesType, sql, timestampType, type DbMigration } from "@privface/db";

export const PARTY_MIGRATIONS_TABLE = "party_migrations";
export const PARTY_TABLES = ["party_templates", "party_sessions", "party_verifications", "party_pool", "party_pool_items", "party_authorisations", "party_budgets", "party_devices"] as const;

export const partyMigrations: Record<string, DbMigration> = {
  "001_schema": {
    async up(k, { dialect }) {
      const ts = timestampType(dialect);
      const bytes = bytesType(dialect);

      // Template rows: the share sealed under the data key; none once retired or deleted.
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

      // Two-phase enrolment and upgrade sessions.
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

      // Verify sessions; (template_id, created_at) serves the per-template volume budgets (decision 010 §4).
      await k.schema
        .createTable("party_verifications")
        .addColumn("session", "text", (c) => c.primaryKey())
        .addColumn("template_id", "text", (c) => c.notNull())
        .addColumn("model_version", "text", (c) => c.notNull())
        .addColumn("item_id", "text", (c) => c.notNull())
        .addColumn("created_at", ts, (c) => c.notNull())
        .execute();
      await k.schema.createIndex("party_verifications_created").on("party_verifications").column("created_at").execute();
      await k.schema.createIndex("party_verifications_template").on("party_verifications").columns(["template_id", "created_at"]).execute();

      // The pool: one marker per item with its per-item key wrapped under the data key (`item_key`,
      // ~61 bytes, NULL once used: crypto-erasure), the ciphertext in `party_pool_items` (same seq),
      // deleted in bulk after use. seq is never reused (SQLite AUTOINCREMENT, PostgreSQL bigserial): an
      // orphaned ciphertext of a purged marker must never meet a new item with its seq.
      let pool = k.schema.createTable("party_pool");
      pool =
        dialect === "postgres"
          ? pool.addColumn("seq", "bigserial", (c) => c.primaryKey())
          : pool.addColumn("seq", "integer", (c) => c.primaryKey().autoIncrement());
      await pool
        .addColumn("id", "text", (c) => c.notNull().unique())
        .addColumn("key_id", "text")
        .addColumn("item_key", bytes)
        .addColumn("added_at", ts, (c) => c.notNull())
        .addColumn("used_at", ts)
        .addColumn("session", "text")
        .addCheckConstraint("party_pool_key_used", sql`(item_key is null) = (used_at is not null)`)
        .execute();
      await k.schema.createIndex("party_pool_used").on("party_pool").columns(["used_at", "seq"]).execute();
      await k.schema
        .createTable("party_pool_items")
        .addColumn("seq", dialect === "postgres" ? "bigint" : "integer", (c) => c.primaryKey()) // SQLite: the rowid
        .addColumn("item", bytes, (c) => c.notNull())
        .execute();

      // The single-use ledger: authorisation nonces, party nonces and envelope digests.
      await k.schema
        .createTable("party_authorisations")
        .addColumn("nonce", "text", (c) => c.primaryKey())
        .addColumn("expires", ts, (c) => c.notNull())
        .execute();
      await k.schema.createIndex("party_authorisations_expires").on("party_authorisations").column("expires").execute();

      // The daily failure budget (decision 010 §4, @privface/mpc budget.ts): per (template, day number)
      // this party's additive share of the failure counter mod 2^16 and the share before the last run
      // (uniform on their own: a share says nothing without the peer's), the public bookkeeping (runs
      // applied, verifications answered) and whether the budget is exhausted for the day.
      await k.schema
        .createTable("party_budgets")
        .addColumn("template_id", "text", (c) => c.notNull())
        .addColumn("day", "integer", (c) => c.notNull())
        .addColumn("runs", "bigint", (c) => c.notNull())
        .addColumn("share", "integer", (c) => c.notNull())
        .addColumn("prev_runs", "bigint", (c) => c.notNull())
        .addColumn("prev_share", "integer", (c) => c.notNull())
        .addColumn("verifications", "bigint", (c) => c.notNull())
        .addColumn("exhausted", "integer", (c) => c.notNull())
        .addColumn("updated_at", ts, (c) => c.notNull())
        .addPrimaryKeyConstraint("party_budgets_pk", ["template_id", "day"])
        .execute();
      await k.schema.createIndex("party_budgets_day").on("party_budgets").column("day").execute();

      // The party's own device registry (decision 010 §2): registrations forwarded by the gateway,
      // activated by the party's policy (an operator's approval, or `auto` in development).
      await k.schema
        .createTable("party_devices")
        .addColumn("device_id", "text", (c) => c.primaryKey())
        .addColumn("suite", "text", (c) => c.notNull().check(sql`suite in ('INTL', 'GM')`))
        .addColumn("signing_key", "text", (c) => c.notNull())
        .addColumn("auth_key", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('pending', 'active', 'revoked')`))
        .addColumn("created_at", ts, (c) => c.notNull())
        .addColumn("updated_at", ts, (c) => c.notNull())
        .execute();
    },
  },
  "002_budget_pending": {
    async up(k) {
      // this party's XOR share of the match bit of the last verification it answered (uniform on its
      // own); the budget run in the template's next verification counts it (@privface/mpc budget.ts)
      await k.schema.alterTable("party_budgets").addColumn("pending", "integer", (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  "003_pool_reserved": {
    async up(k, { dialect }) {
      // P0: the expiry of the item nonce this unused item is reserved for (decision 012); NULL: free
      await k.schema.alterTable("party_pool").addColumn("reserved_until", timestampType(dialect)).execute();
    },
  },
};
