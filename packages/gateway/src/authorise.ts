/**
 * The gateway's signer of party authorisations (R16; the format is @privface/contracts/auth): the
 * authorisations asked for in one event-loop turn (at most `maxBatch`) are signed together, at the end
 * of that turn (`turnBatcher`): no timer, no waiting beyond it; one signature covers the batch
 * (decision 006).
 */
import type { KeyPair, Signer } from "@privface/crypto";
import { MAX_AUTH_BATCH, signAuthorisations, type AuthPayload, type SignedAuthorisation } from "@privface/contracts/auth";
import { turnBatcher } from "@privface/transport";

export function createAuthorisationSigner(signer: KeyPair | Signer, maxBatch = MAX_AUTH_BATCH): (p: AuthPayload) => Promise<SignedAuthorisation> {
  if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > MAX_AUTH_BATCH) throw new RangeError(`maxBatch: 1..${MAX_AUTH_BATCH}`);
  type Waiting = { payload: AuthPayload; resolve: (a: SignedAuthorisation) => void; reject: (e: unknown) => void };
  const push = turnBatcher<Waiting>((q) => {
    signAuthorisations(signer, q.map((w) => w.payload)).then(
      (out) => q.forEach((w, i) => w.resolve(out[i])),
      (e) => q.forEach((w) => w.reject(e)),
    );
  }, maxBatch);
  return (payload) => new Promise((resolve, reject) => push({ payload, resolve, reject }));
}
