/**
 * Validation of JSON bodies at a trust boundary: exact field sets (unknown fields refused), string
 * formats, base64url byte fields with length limits. Every failure is a `PartyError` INVALID_INPUT
 * that names the field and what was expected.
 */
import { PartyError } from "./errors.ts";
import { ID } from "./ids.ts";
import type { ShareContext } from "./share.ts";
import { parseStatement, type DeviceStatement } from "./statement.ts";

export type Json = Record<string, unknown>;

const B64URL_RE = /^[A-Za-z0-9_-]*$/;

export function bad(field: string, expected: string): never {
  throw new PartyError("INVALID_INPUT", `${field}: expected ${expected}`);
}

export function object(v: unknown, field: string, required: readonly string[], optional: readonly string[] = []): Json {
  if (v === null || typeof v !== "object" || Array.isArray(v)) bad(field, "an object");
  const o = v as Json;
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) bad(`${field}.${k}`, "no such field (unknown fields are refused)");
  for (const k of required) if (o[k] === undefined) bad(`${field}.${k}`, "a value (field is required)");
  return o;
}

export function str(v: unknown, field: string, re: RegExp, what: string): string {
  if (typeof v !== "string" || !re.test(v)) bad(field, what);
  return v;
}

export function bytes(v: unknown, field: string, maxLen: number): Uint8Array {
  if (typeof v !== "string" || !B64URL_RE.test(v) || v.length % 4 === 1) bad(field, "base64url without padding");
  const b = Buffer.from(v, "base64url");
  if (b.length === 0 || b.length > maxLen) bad(field, `1..${maxLen} bytes`);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

export function shareContext(v: unknown, field: string): ShareContext {
  const o = object(v, field, ["purpose", "challenge", "templateId", "modelVersion"]);
  return {
    purpose: str(o.purpose, `${field}.purpose`, ID.purpose, "a purpose name"),
    challenge: str(o.challenge, `${field}.challenge`, ID.challenge, "a challenge (base64url)"),
    templateId: str(o.templateId, `${field}.templateId`, ID.template, "a template id"),
    modelVersion: str(o.modelVersion, `${field}.modelVersion`, ID.modelVersion, "a model version [A-Za-z0-9._:+@-]+"),
  };
}

/** The largest sealed share a party accepts (bytes). */
export const MAX_SEALED_SHARE = 16 << 10;

/**
 * The fields the Party API's enrol and verify bodies share: template, model version, this party's
 * sealed share, the device's statement (decision 010) and its MAC for this party. The share context
 * is not sent: the party builds it from the statement (`statementContext`) after `checkStatement`.
 */
export function shareRequest(b: Json): { templateId: string; modelVersion: string; sealed: Uint8Array; statement: DeviceStatement; mac: string } {
  const templateId = str(b.templateId, "templateId", ID.template, "a pseudonymous template id");
  const modelVersion = str(b.modelVersion, "modelVersion", ID.modelVersion, "a model version [A-Za-z0-9._:+@-]+");
  const sealed = bytes(b.sealedShare, "sealedShare", MAX_SEALED_SHARE);
  const statement = parseStatement(b.statement, "statement");
  const mac = str(b.mac, "mac", /^[A-Za-z0-9_-]{43}$/, "a 32-byte MAC, base64url");
  return { templateId, modelVersion, sealed, statement, mac };
}

/** A verification's `upgrade` field (R5): a model version other than the current one and its sealed share. */
export function upgradeRequest(u: unknown, modelVersion: string): { modelVersion: string; sealed: Uint8Array } {
  const o = object(u, "upgrade", ["modelVersion", "sealedShare"]);
  const mv = str(o.modelVersion, "upgrade.modelVersion", ID.modelVersion, "a model version");
  if (mv === modelVersion) bad("upgrade.modelVersion", "a version other than the current one");
  return { modelVersion: mv, sealed: bytes(o.sealedShare, "upgrade.sealedShare", MAX_SEALED_SHARE) };
}
