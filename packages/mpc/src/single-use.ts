/**
 * The single-use rule of correlated randomness (R25): a bundle serves exactly one protocol run.
 *
 * Two mechanisms, one per layer, never two ledgers for the same thing:
 * - Durable: a party's pool (@privface/party store) hands an item out at most once, across crashes —
 *   it marks the id used in the same transaction that returns the bytes (`takeItem`, `markUsed`,
 *   `beginVerify`). That is the ledger of bundle ids; the protocol core keeps none.
 * - In memory: the start steps (`verifyStart`, `enrolStart`, `budgetStart`) refuse a `Material` object that already
 *   started a run (ProtocolError ITEM_REUSED). The guard is on the object itself, so a caller that
 *   keeps an opened material around cannot run it twice (its buffers are zeroed when the first run
 *   ends). Opening the same bundle bytes again makes a new material: only the durable ledger sees that.
 */
import { ProtocolError } from "./errors.ts";

const started = new WeakSet<{ readonly id: string }>();

/** Marks `mat` as started; throws ProtocolError ITEM_REUSED if it started a run before. */
export function claimMaterial(mat: { readonly id: string }): void {
  if (started.has(mat)) throw new ProtocolError("ITEM_REUSED", `correlated randomness ${mat.id} was already used`);
  started.add(mat);
}
