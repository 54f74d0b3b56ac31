/**
 * The party store's tables (migration table `party_migrations`). Identifiers only: pseudonymous
 * template ids, model versions, session ids, pool item ids, nonces, key ids, timestamps (epoch ms),
 * and encrypted blobs. No names, phone, ID or account numbers (R11; test/store-schema.test.ts checks
 * every column against an allow-list).
 */
import { bytesType, sql, timestampType, type DbMigration } from "@privface/db";

export const PARTY_MIGRATIONS_TABLE = "party_migrations";
export const PARTY_TABLES = ["party_templates", "party_sessions", "party_verifications", "party_pool", "party_pool_items", "party_authorisations", "party_budgets", "party_devices"] as const;

/**
 * `party_pool.item_key` of an item migrated from 001 whose ciphertext is still under the data key
 * (one zero byte; a wrapped key is 61 bytes). The store converts such items to per-item keys when it
 * opens (and in rotateDataKey), see _store.ts.
 */
export const LEGACY_ITEM_KEY = new Uint8Array([0]);

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
  /**
   * Per-item keys (crypto-erasure of used pool items). Each item's ciphertext moves to its own table
   * `party_pool_items` (seq → item, AES-256-GCM under a random per-item key); `party_pool` keeps the
   * item key wrapped under the data key (`item_key`, ~61 bytes, NULL once used). Using an item then
   * erases 61 bytes in a small row instead of zeroing a 29 KB overflow chain in the hot transaction;
   * the undecryptable ciphertext is deleted later in bulk (addItems, purge).
   *
   * Existing data: used markers are kept as they are (their ciphertext is already NULL). Unused items
   * are kept, not dropped (the pool is refilled from the helper anyway, but a silently emptied pool
   * would make the next verifications fail until the refill): their v1 ciphertext (under the data
   * key) moves to `party_pool_items` unchanged and `item_key` is set to LEGACY_ITEM_KEY. A migration
   * has no keys, so the store re-encrypts them under per-item keys when it opens.
   *
   * The table is rebuilt rather than altered: SQLite cannot drop `item`, which the 001 CHECK names.
   */
  "002_pool_item_keys": {
    async up(k, { dialect }) {
      const ts = timestampType(dialect);
      const bytes = bytesType(dialect);
      const legacy = dialect === "postgres" ? sql`'\\x00'::bytea` : sql`x'00'`;
      await k.schema
        .createTable("party_pool_items")
        .addColumn("seq", dialect === "postgres" ? "bigint" : "integer", (c) => c.primaryKey()) // SQLite: the rowid
        .addColumn("item", bytes, (c) => c.notNull())
        .execute();
      await sql`insert into party_pool_items (seq, item) select seq, item from party_pool where item is not null`.execute(k);
      if (dialect === "postgres") {
        // In place: dropping `item` drops the 001 CHECK that names it; the bigserial sequence stays.
        await sql`alter table party_pool add column item_key bytea`.execute(k);
        await sql`update party_pool set item_key = ${legacy} where item is not null`.execute(k);
        await sql`alter table party_pool drop column item`.execute(k);
        await sql`alter table party_pool add constraint party_pool_key_used check ((item_key is null) = (used_at is not null))`.execute(k);
        return;
      }
      // SQLite: new table, copy, swap. sqlite_sequence keeps the old high-water mark, so a seq is never
      // reused (an orphaned ciphertext of a purged marker must never meet a new item with its seq).
      await k.schema
        .createTable("party_pool_v2")
        .addColumn("seq", "integer", (c) => c.primaryKey().autoIncrement())
        .addColumn("id", "text", (c) => c.notNull().unique())
        .addColumn("key_id", "text")
        .addColumn("item_key", bytes)
        .addColumn("added_at", ts, (c) => c.notNull())
        .addColumn("used_at", ts)
        .addColumn("session", "text")
        .addCheckConstraint("party_pool_key_used", sql`(item_key is null) = (used_at is not null)`)
        .execute();
      await sql`insert into party_pool_v2 (seq, id, key_id, item_key, added_at, used_at, session)
        select seq, id, key_id, case when item is null then null else ${legacy} end, added_at, used_at, session from party_pool`.execute(k);
      const hw = await sql<{ seq: number }>`select seq from sqlite_sequence where name = 'party_pool'`.execute(k);
      await sql`drop table party_pool`.execute(k);
      await sql`alter table party_pool_v2 rename to party_pool`.execute(k);
      await sql`delete from sqlite_sequence where name in ('party_pool', 'party_pool_v2')`.execute(k);
      if (hw.rows[0]) await sql`insert into sqlite_sequence (name, seq) values ('party_pool', ${hw.rows[0].seq})`.execute(k);
      await k.schema.createIndex("party_pool_used").on("party_pool").columns(["used_at", "seq"]).execute();
    },
  },
  /**
   * The daily failure budget (decision 010 §4, @privface/mpc budget.ts): per (template, day number)
   * this party's additive share of the failure counter mod 2^16 and the share before the last run
   * (uniform on their own: a share says nothing without the peer's), the public bookkeeping (runs
   * applied, verifications answered) and whether the budget is exhausted for the day.
   */
  "003_failure_budget": {
    async up(k, { dialect }) {
      const ts = timestampType(dialect);
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
    },
  },
  /**
   * Decision 010 §2: the party's own device registry (registrations forwarded by the gateway, activated
   * by the party's policy: an operator's approval, or `auto` in development), and an index for the
   * per-template volume budgets (§4) counted over `party_verifications`.
   */
  "004_device_registry": {
    async up(k, { dialect }) {
      const ts = timestampType(dialect);
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
      await k.schema.createIndex("party_verifications_template").on("party_verifications").columns(["template_id", "created_at"]).execute();
    },
  },
};
