/**
 * Single-use marks: gateway authorisation nonces, this party's challenge nonces and envelope digests,
 * one ledger (`party_authorisations`) in three namespaces. `consumeAuth` runs inside the transaction
 * of the operation it authorises: both happen, or neither.
 */
import type { Tx } from "@privface/db";
import type { StoreContext } from "./_context.ts";
import { StoreError } from "./_errors.ts";
import { checkAuth, checkMarks } from "./_input.ts";
import type { Authorisation, PartyStore, UseMark } from "./index.ts";

const AUTH_PURGE_EVERY_MS = 1000;

export async function consumeAuth(ctx: StoreContext, tx: Tx, auth: Authorisation, t: number, marks: readonly UseMark[] = []): Promise<void> {
  if (auth.expires <= t) throw new StoreError("AUTH_EXPIRED", "authorisation has expired");
  if (t - ctx.lastAuthPurge >= AUTH_PURGE_EVERY_MS) {
    ctx.lastAuthPurge = t;
    await tx.run("DELETE FROM party_authorisations WHERE expires < ?", [t]);
  }
  // One statement for the authorisation and the marks (one ledger, other namespaces: gateway nonces
  // are 8..128 plain characters, marks carry a prefix). A key missing from RETURNING was already there
  // (or given twice): the first such key, in the order given, names the error.
  const keys = [auth.nonce];
  const params: unknown[] = [auth.nonce, auth.expires];
  for (const m of marks) {
    const key = `${m.kind === "nonce" ? "n" : "e"}_${m.value}`;
    keys.push(key);
    params.push(key, Math.max(m.expires, t + 1));
  }
  const inserted = await tx.all<{ nonce: string }>(insertMarks(keys.length), params);
  if (inserted.length === keys.length) return;
  const fresh = new Set(inserted.map((r) => r.nonce));
  for (let i = 0; i < keys.length; i++) {
    if (fresh.delete(keys[i])) continue;
    if (i === 0) throw new StoreError("AUTH_REUSED", "authorisation was already used");
    throw marks[i - 1].kind === "nonce" ? new StoreError("NONCE_REUSED", "this party's nonce was already used") : new StoreError("ENVELOPE_REUSED", "this envelope was already presented");
  }
  throw new StoreError("INTEGRITY", "single-use ledger: fewer rows inserted than given, none missing");
}

const INSERT_MARKS: string[] = [];
/** `INSERT … VALUES (?, ?), … ON CONFLICT DO NOTHING RETURNING nonce` for n rows (one cached statement per n). */
function insertMarks(n: number): string {
  return (INSERT_MARKS[n] ??= `INSERT INTO party_authorisations (nonce, expires) VALUES ${Array.from({ length: n }, () => "(?, ?)").join(", ")} ON CONFLICT (nonce) DO NOTHING RETURNING nonce`);
}

export function nonceOps(ctx: StoreContext): Pick<PartyStore, "consumeAuthorisation"> {
  return {
    async consumeAuthorisation(nonce, expires, marks) {
      const auth = checkAuth({ nonce, expires })!;
      const m = checkMarks(marks);
      await ctx.exec.tx((tx) => consumeAuth(ctx, tx, auth, ctx.now(), m));
    },
  };
}
