/**
 * The associated data that binds a sealed share to its request: canonical JSON of the context plus
 * a fixed label, UTF-8. A share sealed for P0 cannot be opened as P1's, for another purpose,
 * challenge, template or model version.
 *   contextAad(ctx) = utf8(canonicalJson({ aad: "privface-share-v1", challenge, modelVersion, party, purpose, templateId }))
 */
import { utf8 } from "./_bytes.ts";
import { canonicalJson } from "./_canonical.ts";

export interface AadContext {
  purpose: string;
  challenge: string;
  templateId: string;
  modelVersion: string;
  party: "P0" | "P1";
}

const MAX_FIELD = 512;

export function contextAad(ctx: AadContext): Uint8Array {
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
