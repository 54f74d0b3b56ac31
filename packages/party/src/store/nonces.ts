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
  // the expired marks' purge (once a second) goes out with the insert (pipelined on PostgreSQL)
  let purged: Promise<number> | undefined;
  if (t - ctx.lastAuthPurge >= AUTH_PURGE_EVERY_MS) {
    ctx.lastAuthPurge = t;
    purged = tx.run("DELETE FROM party_authorisations WHERE expires < ?", [t]);
  }
  // one statement for the authorisation and its marks; a key it did not insert was used before
  // (one ledger, other namespaces: gateway nonces are 8..128 plain characters, marks carry a prefix)
  const keys = [auth.nonce, ...marks.map((m) => `${m.kind === "nonce" ? "n" : "e"}_${m.value}`)];
  const expires = [auth.expires, ...marks.map((m) => Math.max(m.expires, t + 1))];
  if (ctx.exec.dialect === "sqlite") {
    // SQLite has no round trips to save: one cached single-row insert per key is cheaper than the
    // multi-row insert with RETURNING (which buffers its rows), and the first key not inserted — there
    // before, or given twice — is the error, in the order given
    await purged;
    for (let i = 0; i < keys.length; i++) {
      if ((await tx.run("INSERT INTO party_authorisations (nonce, expires) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING", [keys[i], expires[i]])) === 1) continue;
      if (i === 0) throw new StoreError("AUTH_REUSED", "authorisation was already used");
      throw reusedMark(marks[i - 1]);
    }
    return;
  }
  const [, inserted] = await Promise.all([
    purged,
    tx.all<{ nonce: string }>(
      `INSERT INTO party_authorisations (nonce, expires) VALUES ${keys.map(() => "(?, ?)").join(", ")} ON CONFLICT (nonce) DO NOTHING RETURNING nonce`,
      keys.flatMap((k, i) => [k, expires[i]]),
    ),
  ]);
  if (inserted.length === keys.length) return;
  // the first key, in the order given, that was there before or is given twice names the error
  const fresh = new Set(inserted.map((r) => r.nonce));
  if (!fresh.has(auth.nonce)) throw new StoreError("AUTH_REUSED", "authorisation was already used");
  const seen = new Set<string>();
  const i = keys.findIndex((k) => {
    const reused = !fresh.has(k) || seen.has(k);
    seen.add(k);
    return reused;
  });
  throw reusedMark(marks[i - 1]);
}

const reusedMark = (m: UseMark): StoreError =>
  m.kind === "nonce" ? new StoreError("NONCE_REUSED", "this party's nonce was already used") : new StoreError("ENVELOPE_REUSED", "this envelope was already presented");

export function nonceOps(ctx: StoreContext): Pick<PartyStore, "consumeAuthorisation"> {
  return {
    async consumeAuthorisation(nonce, expires, marks) {
      const auth = checkAuth({ nonce, expires })!;
      const m = checkMarks(marks);
      await ctx.exec.tx((tx) => consumeAuth(ctx, tx, auth, ctx.now(), m));
    },
  };
}
