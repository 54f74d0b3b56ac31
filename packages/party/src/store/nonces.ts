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
  const n = await tx.run("INSERT INTO party_authorisations (nonce, expires) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING", [auth.nonce, auth.expires]);
  if (n === 0) throw new StoreError("AUTH_REUSED", "authorisation was already used");
  // one ledger, other namespaces: gateway nonces are 8..128 plain characters, marks carry a prefix
  for (const m of marks) {
    const key = `${m.kind === "nonce" ? "n" : "e"}_${m.value}`;
    const k = await tx.run("INSERT INTO party_authorisations (nonce, expires) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING", [key, Math.max(m.expires, t + 1)]);
    if (k === 0) throw m.kind === "nonce" ? new StoreError("NONCE_REUSED", "this party's nonce was already used") : new StoreError("ENVELOPE_REUSED", "this envelope was already presented");
  }
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
