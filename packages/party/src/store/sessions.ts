/**
 * Two-phase enrolment and upgrade sessions (`party_sessions`): `prepare` → `commit` | `abort`, and
 * `stageUpgrade` → `promoteUpgrade` | `discardUpgrade`, each one transaction that changes the session
 * and its template rows together; the recovery pass reads the prepared ones.
 */
import { isUniqueViolation, toMs, type Tx } from "@privface/db";
import type { StoreContext } from "./_context.ts";
import { StoreError } from "./_errors.ts";
import { MAX_SHARE, MODEL_RE, SESSION_RE, bytes, checkAuth, duration, str, templateId } from "./_input.ts";
import type { AbortResult, CommitResult, OpOptions, PartyStore, TemplateStatus, TxnKind, TxnSession, TxnState } from "./index.ts";
import { consumeAuth } from "./nonces.ts";
import { insertPending } from "./templates.ts";

type SessionRow = { session: string; kind: TxnKind; state: TxnState; template_id: string; model_version: string; old_model_version: string | null; created_at: unknown; updated_at: unknown };

const toSession = (r: SessionRow): TxnSession => ({
  session: r.session,
  kind: r.kind,
  state: r.state,
  templateId: r.template_id,
  modelVersion: r.model_version,
  oldModelVersion: r.old_model_version,
  createdAt: toMs(r.created_at),
  updatedAt: toMs(r.updated_at),
});

async function getSessionRow(ctx: StoreContext, tx: Tx, session: string): Promise<SessionRow | undefined> {
  return tx.get<SessionRow>(`SELECT * FROM party_sessions WHERE session = ?${ctx.lock}`, [session]);
}

/** Repeat detection shared by prepare and stageUpgrade: undefined = new session. */
function repeatOf(s: SessionRow | undefined, kind: TxnKind, tid: string, mv: string): { created: false } | undefined {
  if (!s) return undefined;
  if (s.kind !== kind || s.template_id !== tid || s.model_version !== mv) {
    throw new StoreError("SESSION_EXISTS", "session id already used for another operation");
  }
  if (s.state === "aborted") throw new StoreError("SESSION_STATE", "session was aborted");
  return { created: false };
}

/** [session, kind, state, template_id, model_version, old_model_version, created_at, updated_at] */
async function insertSession(tx: Tx, values: [string, TxnKind, TxnState, string, string, string | null, number, number]): Promise<void> {
  try {
    await tx.run(
      "INSERT INTO party_sessions (session, kind, state, template_id, model_version, old_model_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      values,
    );
  } catch (err) {
    // Only reachable when two requests for the same new session id race (PostgreSQL).
    if (isUniqueViolation(err)) throw new StoreError("SESSION_EXISTS", "session id already used (concurrent request)");
    throw err;
  }
}

/** Stages v_new beside the active version (stageUpgrade, and beginVerify's `upgrade`). */
export async function stageInTx(ctx: StoreContext, tx: Tx, session: string, tid: string, mv: string, sealed: { keyId: string; blob: Buffer }, t: number): Promise<{ created: boolean }> {
  const pgLock = ctx.lock;
  const repeat = repeatOf(await getSessionRow(ctx, tx, session), "upgrade", tid, mv);
  if (repeat) return repeat;
  const active = await tx.get<{ model_version: string }>(`SELECT model_version FROM party_templates WHERE template_id = ? AND status = 'active'${pgLock}`, [tid]);
  if (!active) throw new StoreError("UNKNOWN_TEMPLATE", "no active template with this id");
  if (active.model_version === mv) throw new StoreError("WRONG_MODEL_VERSION", "the template is already at this model version");
  const pending = await tx.get<{ model_version: string }>(`SELECT model_version FROM party_templates WHERE template_id = ? AND status = 'pending'${pgLock}`, [tid]);
  if (pending) {
    // An older staged upgrade that was never promoted or discarded: this one supersedes it.
    await tx.run("UPDATE party_sessions SET state = 'aborted', updated_at = ? WHERE template_id = ? AND kind = 'upgrade' AND state = 'prepared'", [t, tid]);
    await tx.run("DELETE FROM party_templates WHERE template_id = ? AND status = 'pending'", [tid]);
  }
  await tx.run("DELETE FROM party_templates WHERE template_id = ? AND model_version = ? AND status = 'retired'", [tid, mv]);
  await insertPending(tx, tid, mv, sealed, t);
  await insertSession(tx, [session, "upgrade", "prepared", tid, mv, active.model_version, t, t]);
  return { created: true };
}

export function sessionOps(
  ctx: StoreContext,
): Pick<PartyStore, "prepare" | "commit" | "abort" | "promoteUpgrade" | "discardUpgrade" | "pendingOlderThan" | "getSession" | "stageUpgrade"> {
  const { exec, keyring, now } = ctx;

  // --- commit / abort shared by enrolment and upgrade -------------------------------------------
  async function commitOp(session: string, opts: (OpOptions & { templateId?: string }) | undefined, want: TxnKind | null): Promise<CommitResult> {
    str(session, "session", SESSION_RE);
    const auth = checkAuth(opts?.auth);
    const wantTid = opts?.templateId === undefined ? undefined : templateId(opts.templateId, "opts.templateId");
    return exec.tx(async (tx) => {
      const t = now();
      // sent together (pipelined on PostgreSQL); an authorisation error comes first
      const [, s] = await Promise.all([auth && consumeAuth(ctx, tx, auth, t), getSessionRow(ctx, tx, session)]);
      if (!s) throw new StoreError("SESSION_UNKNOWN", "no prepared session with this id");
      if (want && s.kind !== want) throw new StoreError("SESSION_STATE", `session is an ${s.kind}, not an ${want}`);
      if (wantTid !== undefined && s.template_id !== wantTid) throw new StoreError("INVALID_INPUT", "session belongs to another template");
      const result = { session, kind: s.kind, templateId: s.template_id, modelVersion: s.model_version };
      if (s.state === "committed") return { ...result, repeated: true };
      if (s.state === "aborted") throw new StoreError("SESSION_STATE", "session was aborted; it cannot be committed");
      // in this order, sent together; a version that is gone rolls all of them back
      const [, n] = await Promise.all([
        s.kind === "upgrade" &&
          tx.run(
            "UPDATE party_templates SET status = 'retired', share = NULL, key_id = NULL, updated_at = ? WHERE template_id = ? AND status = 'active' AND model_version <> ?",
            [t, s.template_id, s.model_version],
          ),
        tx.run("UPDATE party_templates SET status = 'active', updated_at = ? WHERE template_id = ? AND model_version = ? AND status = 'pending'", [t, s.template_id, s.model_version]),
        tx.run("UPDATE party_sessions SET state = 'committed', updated_at = ? WHERE session = ?", [t, session]),
      ]);
      if (n !== 1) throw new StoreError("SESSION_STATE", "the prepared template version is gone (erased?)");
      return { ...result, repeated: false };
    });
  }

  async function abortOp(session: string, opts: (OpOptions & { templateId?: string }) | undefined, want: TxnKind | null): Promise<AbortResult> {
    str(session, "session", SESSION_RE);
    const auth = checkAuth(opts?.auth);
    const wantTid = opts?.templateId === undefined ? undefined : templateId(opts.templateId, "opts.templateId");
    const out = await exec.tx(async (tx): Promise<AbortResult> => {
      const t = now();
      if (auth) await consumeAuth(ctx, tx, auth, t);
      const s = await getSessionRow(ctx, tx, session);
      if (!s) {
        // Presumed abort: remember it, so a prepare for this session that arrives late is refused.
        await insertSession(tx, [session, want ?? "enrol", "aborted", wantTid ?? "", "", null, t, t]);
        return { session, state: "unknown", kind: null, templateId: wantTid ?? null, repeated: false };
      }
      if (want && s.kind !== want) throw new StoreError("SESSION_STATE", `session is an ${s.kind}, not an ${want}`);
      if (wantTid !== undefined && s.template_id !== wantTid && s.template_id !== "") throw new StoreError("INVALID_INPUT", "session belongs to another template");
      const result = { session, kind: s.kind, templateId: s.template_id || null };
      if (s.state === "aborted") return { ...result, state: "aborted", repeated: true };
      if (s.state === "committed") throw new StoreError("SESSION_STATE", "session was committed; it cannot be aborted");
      await tx.run("DELETE FROM party_templates WHERE template_id = ? AND model_version = ? AND status = 'pending'", [s.template_id, s.model_version]);
      // an aborted enrolment leaves no version of the template: its key goes too
      if (s.kind === "enrol") keyring.templateKeys.destroy(s.template_id);
      await tx.run("UPDATE party_sessions SET state = 'aborted', updated_at = ? WHERE session = ?", [t, session]);
      return { ...result, state: "aborted", repeated: false };
    });
    if (out.state === "aborted" && !out.repeated) {
      if (out.kind === "enrol") await keyring.templateKeys.scrub();
      await ctx.checkpoint();
    }
    return out;
  }

  /** Checks the arguments of an operation that stores a share, and seals the share (before the transaction). */
  function shareInput(session: unknown, tid: unknown, mv: unknown, mvName: string, share: unknown, opts: OpOptions | undefined) {
    str(session, "session", SESSION_RE);
    templateId(tid);
    str(mv, mvName, MODEL_RE);
    bytes(share, "share", MAX_SHARE);
    const auth = checkAuth(opts?.auth);
    return { auth, sealed: keyring.sealShare(tid as string, mv as string, share as Uint8Array) };
  }

  return {
    async prepare(session, tid, mv, share, opts) {
      const { auth, sealed } = shareInput(session, tid, mv, "modelVersion", share, opts);
      // a key made for this enrolment goes if it is refused (e.g. the id of an erased template)
      const dropKey = (e: unknown) => {
        if (sealed.created) keyring.templateKeys.destroy(tid);
        throw e;
      };
      return exec.tx(async (tx) => {
        const t = now();
        // the checks go out together (pipelined on PostgreSQL), then the two inserts; an authorisation
        // error comes first, then a repeat, then the template's
        const [, s, rows] = await Promise.all([
          auth && consumeAuth(ctx, tx, auth, t),
          getSessionRow(ctx, tx, session),
          tx.all<{ status: TemplateStatus }>(`SELECT status FROM party_templates WHERE template_id = ?${ctx.lock}`, [tid]),
        ]);
        const repeat = repeatOf(s, "enrol", tid, mv);
        if (repeat) return repeat;
        if (rows.some((r) => r.status === "deleted")) throw new StoreError("TEMPLATE_EXISTS", "this template id was deleted; ids are never reused");
        if (rows.some((r) => r.status === "active" || r.status === "pending")) throw new StoreError("TEMPLATE_EXISTS", "a template with this id exists");
        await Promise.all([insertPending(tx, tid, mv, sealed, t), insertSession(tx, [session, "enrol", "prepared", tid, mv, null, t, t])]);
        return { created: true };
      }).catch(dropKey);
    },

    commit: (session, opts) => commitOp(session, opts, null),
    abort: (session, opts) => abortOp(session, opts, null),
    promoteUpgrade: (session, opts) => commitOp(session, opts, "upgrade"),
    discardUpgrade: (session, opts) => abortOp(session, opts, "upgrade"),

    async pendingOlderThan(age) {
      duration(age, "ms");
      const cutoff = now() - age;
      const rows = await exec.read((tx) =>
        tx.all<SessionRow>("SELECT * FROM party_sessions WHERE state = 'prepared' AND created_at < ? ORDER BY created_at, session", [cutoff]),
      );
      return rows.map(toSession);
    },

    async getSession(session) {
      str(session, "session", SESSION_RE);
      const row = await exec.read((tx) => tx.get<SessionRow>("SELECT * FROM party_sessions WHERE session = ?", [session]));
      return row ? toSession(row) : undefined;
    },

    async stageUpgrade(session, tid, mv, share, opts) {
      const { auth, sealed } = shareInput(session, tid, mv, "newModelVersion", share, opts);
      return exec.tx(async (tx) => {
        const t = now();
        if (auth) await consumeAuth(ctx, tx, auth, t);
        return stageInTx(ctx, tx, session, tid, mv, sealed, t);
      });
    },
  };
}
