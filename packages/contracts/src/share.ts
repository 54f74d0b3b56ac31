/**
 * What binds a sealed share to its request. A device seals each party's share with the request's
 * `ShareContext` (purpose, challenge, template id, model version) and the party's name as associated
 * data, and P0's seed is expanded under the same context (@privface/mpc `expandSeedShare`): a share
 * sealed for P0 cannot be opened as P1's, nor for another purpose, challenge, template or model.
 *
 *   contextAad(ctx) = utf8(canonicalJson({ aad: "privface-share-v1", challenge, modelVersion, party, purpose, templateId }))
 *
 * `shareDigest` is the SHA-256 of the sealed envelopes a call carries (base64url), which the
 * authorisations bind (auth.ts).
 */
import { canonicalJson, utf8 } from "@privface/crypto";
import type { PartyName, ShareContext } from "@privface/mpc";

export type { ShareContext };

const MAX_FIELD = 512;

export function contextAad(ctx: ShareContext & { party: PartyName }): Uint8Array {
  if (typeof ctx !== "object" || ctx === null) throw new TypeError("ctx must be an object");
  for (const f of ["purpose", "challenge", "templateId", "modelVersion"] as const) {
    const v = ctx[f];
    if (typeof v !== "string") throw new TypeError(`ctx.${f} must be a string, got ${typeof v}`);
    if (v.length > MAX_FIELD) throw new RangeError(`ctx.${f} must be at most ${MAX_FIELD} characters, got ${v.length}`);
  }
  if (ctx.party !== "P0" && ctx.party !== "P1") throw new TypeError(`ctx.party must be "P0" or "P1", got ${String(ctx.party)}`);
  return utf8(
    canonicalJson({
      aad: "privface-share-v1",
      challenge: ctx.challenge,
      modelVersion: ctx.modelVersion,
      party: ctx.party,
      purpose: ctx.purpose,
      templateId: ctx.templateId,
    }),
  );
}
