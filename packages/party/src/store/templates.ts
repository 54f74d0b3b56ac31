/**
 * Template rows (`party_templates`): one per (pseudonymous template id, model version), status
 * pending | active | retired | deleted, the share sealed under the data key. Reading, erasure,
 * counts and the share rewrite of re-randomisation; the two-phase changes are in ./sessions.ts.
 */
import { isUniqueViolation, toMs, type Tx } from "@privface/db";
import type { StoreContext } from "./_context.ts";
import { StoreError } from "./_errors.ts";
import { MAX_SHARE, bytes, checkAuth, templateId } from "./_input.ts";
import type { PartyStore, TemplateInfo, TemplateStatus } from "./index.ts";
import { consumeAuth } from "./nonces.ts";

export type TemplateRow = { template_id: string; model_version: string; status: TemplateStatus; key_id: string | null; share: unknown; created_at: unknown; updated_at: unknown };

/** The active row's model version and sealed share (open it with `ctx.keyring.openShare`). */
export async function activeRow(tx: Tx, tid: string): Promise<TemplateRow | undefined> {
  return tx.get<TemplateRow>("SELECT model_version, key_id, share FROM party_templates WHERE template_id = ? AND status = 'active'", [tid]);
}

export async function insertPending(tx: Tx, tid: string, mv: string, sealed: { keyId: string; blob: Buffer }, t: number): Promise<void> {
  try {
    await tx.run(
      "INSERT INTO party_templates (template_id, model_version, status, key_id, share, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)",
      [tid, mv, sealed.keyId, sealed.blob, t, t],
    );
  } catch (err) {
    if (isUniqueViolation(err)) throw new StoreError("TEMPLATE_EXISTS", "a pending or active version of this template exists");
    throw err;
  }
}

/** Inside `tx`: the template's prepared sessions aborted, every row of it gone, a tombstone left (the key is the caller's). */
async function eraseRows(tx: Tx, tid: string, t: number): Promise<void> {
  await tx.run("UPDATE party_sessions SET state = 'aborted', updated_at = ? WHERE template_id = ? AND state = 'prepared'", [t, tid]);
  await tx.run("DELETE FROM party_templates WHERE template_id = ?", [tid]);
  await tx.run("INSERT INTO party_templates (template_id, model_version, status, key_id, share, created_at, updated_at) VALUES (?, '', 'deleted', NULL, NULL, ?, ?)", [tid, t, t]);
}

export function templateOps(
  ctx: StoreContext,
): Pick<PartyStore, "templateVersions" | "loadActive" | "erase" | "dropDestroyed" | "eraseAll" | "updateShares" | "templateCounts" | "activePage"> {
  const { exec, keyring, now } = ctx;
  /** Every row of the template (and its prepared sessions) gone, a tombstone left, its key destroyed. */
  const tombstone = (tid: string) =>
    exec.tx(async (tx) => {
      const t = now();
      keyring.templateKeys.destroy(tid);
      await eraseRows(tx, tid, t);
    });
  return {
    async templateVersions(tid) {
      templateId(tid);
      const rows = await exec.read((tx) =>
        tx.all<TemplateRow>(
          "SELECT template_id, model_version, status, key_id, created_at, updated_at FROM party_templates WHERE template_id = ? ORDER BY created_at, model_version",
          [tid],
        ),
      );
      return rows.map(
        (r): TemplateInfo => ({
          templateId: r.template_id,
          modelVersion: r.model_version,
          status: r.status,
          keyId: r.key_id,
          createdAt: toMs(r.created_at),
          updatedAt: toMs(r.updated_at),
        }),
      );
    },

    async loadActive(tid) {
      templateId(tid);
      return exec.read(async (tx) => {
        const r = await activeRow(tx, tid);
        if (!r) throw new StoreError("UNKNOWN_TEMPLATE", "no active template with this id");
        return { modelVersion: r.model_version, share: keyring.openShare(r, tid, r.model_version) };
      });
    },

    async activePage(mv, after, limit) {
      if (typeof mv !== "string" || mv.length === 0) throw new TypeError("modelVersion must be a non-empty string");
      if (typeof after !== "string") throw new TypeError("after must be a string");
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RangeError("limit: expected an integer in 1..1000");
      // byte order on both dialects (the two parties' galleries must list templates in the same order)
      const c = ctx.db.dialect === "postgres" ? ' COLLATE "C"' : "";
      return exec.read(async (tx) => {
        const rows = await tx.all<TemplateRow>(
          `SELECT template_id, model_version, key_id, share FROM party_templates WHERE status = 'active' AND model_version = ? AND template_id${c} > ?${c} ORDER BY template_id${c} LIMIT ${limit}`,
          [mv, after],
        );
        return rows.map((r) => ({ templateId: r.template_id, share: keyring.openShare(r, r.template_id, r.model_version) }));
      });
    },

    async erase(tid, opts) {
      templateId(tid);
      const auth = checkAuth(opts?.auth);
      const out = await exec.tx(async (tx) => {
        const t = now();
        if (auth) await consumeAuth(ctx, tx, auth, t);
        // the key first, inside the transaction: if the commit then fails, the rows are unreadable
        // (KEY_DESTROYED) until a repeated erase removes them; never the other way round
        keyring.templateKeys.destroy(tid);
        const rows = await tx.all<{ status: TemplateStatus }>(`SELECT status FROM party_templates WHERE template_id = ?${ctx.lock}`, [tid]);
        const existed = rows.some((r) => r.status !== "deleted");
        if (!existed && rows.length > 0) return { existed };
        await eraseRows(tx, tid, t);
        return { existed };
      });
      await keyring.templateKeys.scrub();
      if (out.existed) await ctx.checkpoint();
      return out;
    },

    async dropDestroyed() {
      let dropped = 0;
      let after = "";
      for (;;) {
        const page = await exec.read((tx) =>
          tx.all<{ template_id: string; share: unknown }>(
            "SELECT template_id, share FROM party_templates WHERE share IS NOT NULL AND template_id > ? ORDER BY template_id LIMIT 500",
            [after],
          ),
        );
        const gone = new Set(page.filter((r) => keyring.shareKeyDestroyed(r.share, r.template_id)).map((r) => r.template_id));
        for (const tid of gone) await tombstone(tid);
        dropped += gone.size;
        if (page.length < 500) break;
        after = page[page.length - 1].template_id;
      }
      if (dropped > 0) await ctx.checkpoint();
      return dropped;
    },

    async eraseAll() {
      const keys = keyring.templateKeys.count();
      let templates = 0;
      for (;;) {
        const ids = await exec.read((tx) =>
          tx.all<{ template_id: string }>("SELECT DISTINCT template_id FROM party_templates WHERE status <> 'deleted' LIMIT 500"),
        );
        for (const r of ids) await tombstone(r.template_id);
        templates += ids.length;
        if (ids.length < 500) break;
      }
      keyring.templateKeys.destroyAll(); // keys of no stored template (an enrolment cut short)
      await keyring.templateKeys.scrub();
      await ctx.checkpoint();
      return { templates, keys };
    },

    async updateShares(fn) {
      if (typeof fn !== "function") throw new TypeError("fn must be a function");
      let scanned = 0;
      let updated = 0;
      let last: [string, string] = ["", ""];
      const PAGE = 200;
      for (;;) {
        const page = await exec.read((tx) =>
          tx.all<{ template_id: string; model_version: string }>(
            `SELECT template_id, model_version FROM party_templates WHERE share IS NOT NULL AND (template_id > ? OR (template_id = ? AND model_version > ?)) ORDER BY template_id, model_version LIMIT ${PAGE}`,
            [last[0], last[0], last[1]],
          ),
        );
        for (const p of page) {
          scanned++;
          const changed = await exec.tx(async (tx) => {
            const r = await tx.get<TemplateRow>(`SELECT key_id, share FROM party_templates WHERE template_id = ? AND model_version = ? AND share IS NOT NULL${ctx.lock}`, [p.template_id, p.model_version]);
            if (!r) return false;
            const plain = keyring.openShare(r, p.template_id, p.model_version);
            let next: Uint8Array | null;
            try {
              next = fn({ templateId: p.template_id, modelVersion: p.model_version }, plain);
            } finally {
              plain.fill(0);
            }
            if (next === null) return false;
            bytes(next, "share", MAX_SHARE);
            const sealed = keyring.sealShare(p.template_id, p.model_version, next);
            next.fill(0);
            await tx.run("UPDATE party_templates SET key_id = ?, share = ? WHERE template_id = ? AND model_version = ?", [sealed.keyId, sealed.blob, p.template_id, p.model_version]);
            return true;
          });
          if (changed) updated++;
        }
        if (page.length < PAGE) break;
        const end = page[page.length - 1];
        last = [end.template_id, end.model_version];
      }
      if (updated > 0) await ctx.checkpoint();
      return { scanned, updated };
    },

    async templateCounts() {
      const rows = await exec.read((tx) => tx.all<{ status: TemplateStatus; n: unknown }>("SELECT status, count(*) AS n FROM party_templates GROUP BY status"));
      const counts: Record<TemplateStatus, number> = { pending: 0, active: 0, retired: 0, deleted: 0 };
      for (const r of rows) counts[r.status] = toMs(r.n);
      return counts;
    },
  };
}
