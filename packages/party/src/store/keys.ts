/**
 * The data keys' lifecycle and the store's backup: `rotateDataKey` re-wraps every template's key (and
 * moves a share still under the data key itself under its template's key) and every unused pool
 * item's key under a new data key; `backup` copies a SQLite store and
 * labels the copy as C3 data. Sealing under the keys: ./_aead.ts (Keyring).
 */
import { chmodSync, writeFileSync } from "node:fs";
import { toBytes } from "@privface/db";
import type { StoreContext } from "./_context.ts";
import { StoreError } from "./_errors.ts";
import { checkKey } from "./_input.ts";
import type { PartyStore } from "./index.ts";
import type { TemplateRow } from "./templates.ts";

export function keyOps(ctx: StoreContext): Pick<PartyStore, "rotateDataKey" | "backup"> {
  const { exec, keyring, db, role, now } = ctx;
  const keys = keyring.keys;
  const pgLock = ctx.lock;
  return {
    async rotateDataKey(newKeyId) {
      if (typeof newKeyId !== "string") throw new TypeError("newKeyId must be a string");
      if (!keys.has(newKeyId)) throw new StoreError("KEY_UNKNOWN", `add key ${JSON.stringify(newKeyId)} to dataKeys.keys before rotating to it`);
      checkKey(newKeyId, keys.get(newKeyId));
      keyring.use(newKeyId);
      const BATCH = 200;
      let templates = 0;
      let items = 0;
      for (;;) {
        const n = await exec.tx(async (tx) => {
          const rows = await tx.all<TemplateRow>(
            `SELECT template_id, model_version, key_id, share FROM party_templates WHERE share IS NOT NULL AND key_id <> ? LIMIT ${BATCH}${pgLock}`,
            [newKeyId],
          );
          for (const r of rows) {
            if (keyring.shareKeyDestroyed(r.share, r.template_id)) throw new StoreError("KEY_DESTROYED", "a template erased after this database was copied is still in it: drop it first (dropDestroyed)");
            // the template's key under the new data key; a share of the data key itself (written
            // before the template-key register) moves under its template's key
            keyring.rewrapTemplateKey(r.template_id);
            let blob = r.share;
            if (toBytes(r.share)[0] === 0x01) {
              const plain = keyring.openShare(r, r.template_id, r.model_version);
              blob = keyring.sealShare(r.template_id, r.model_version, plain).blob;
              plain.fill(0);
            }
            await tx.run("UPDATE party_templates SET key_id = ?, share = ? WHERE template_id = ? AND model_version = ?", [newKeyId, blob, r.template_id, r.model_version]);
          }
          return rows.length;
        });
        templates += n;
        if (n < BATCH) break;
      }
      // keys of templates with no stored share (none but after a crash mid-enrolment): re-wrapped too
      for (let ids = keyring.templateKeys.wrappedOtherThan(newKeyId, BATCH); ids.length > 0; ids = keyring.templateKeys.wrappedOtherThan(newKeyId, BATCH)) {
        for (const tid of ids) keyring.rewrapTemplateKey(tid);
      }
      // Pool items: only their 61-byte item key is re-wrapped, the ciphertexts stay as they are.
      for (;;) {
        const n = await exec.tx(async (tx) => {
          const rows = await tx.all<{ seq: unknown; id: string; key_id: string | null; item_key: unknown }>(
            `SELECT seq, id, key_id, item_key FROM party_pool WHERE used_at IS NULL AND key_id <> ? LIMIT ${BATCH}${pgLock}`,
            [newKeyId],
          );
          for (const r of rows) {
            const itemKey = keyring.unwrapItemKey(r, r.id);
            const w = keyring.wrapItemKey(r.id, itemKey);
            itemKey.fill(0);
            await tx.run("UPDATE party_pool SET key_id = ?, item_key = ? WHERE seq = ?", [w.keyId, w.wrapped, r.seq]);
          }
          return rows.length;
        });
        items += n;
        if (n < BATCH) break;
      }
      if (templates + items > 0) await ctx.checkpoint();
      return { templates, items };
    },

    async backup(path) {
      if (typeof path !== "string" || path.length === 0) throw new TypeError("path must be a non-empty string");
      const s = db.sqlite;
      if (!s) throw new StoreError("UNSUPPORTED", "backup() is for SQLite; back PostgreSQL up with pg_dump (the dump holds the same encrypted columns)");
      await s.backup(path);
      chmodSync(path, 0o600);
      const label = {
        classification: "C3",
        contents: `privface party ${role} store: template shares and correlated randomness, encrypted with AES-256-GCM under the party's data keys`,
        keyIds: [...keys.keys()],
        createdAt: new Date(now()).toISOString(),
      };
      writeFileSync(`${path}.label.json`, JSON.stringify(label, null, 2) + "\n", { mode: 0o600 });
    },
  };
}
