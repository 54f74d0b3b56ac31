/**
 * Authorisations (R16), the format both sides share: the gateway signs, for each party and operation,
 * `{ v: 1, op, party, session, templateId, modelVersion, digest, expires, nonce }` (canonical JSON,
 * base64url). One signature (Ed25519; SM2 in a GM deployment) covers a batch of them: the gateway signs
 * `{ v: 1, kind: "privface.authorisations", hashes }`, the base64url SHA-256 (GM: SM3) of each payload string,
 * and every authorisation travels as `{ payload, batch, sig }`. A party checks signature (once per
 * batch: a verified batch is remembered by its signature), that the payload's hash is in the batch,
 * version, operation, party, session, template, model version, digest of the sealed share(s) and
 * expiry (≤ 60 s ahead) here; single use is enforced by the store (`nonce`).
 *
 * Why batches: an Ed25519 verification costs ≈ 115 µs here, the largest single cost of a
 * verification at a party; under load the gateway's authorisations of one event-loop turn share one
 * signature (the gateway's `createAuthorisationSigner` batches with `signAuthorisations`), so a party
 * verifies one signature per batch, not per call (decision 006).
 */
import { createHash } from "node:crypto";
import { canonicalJson, fromBase64url, fromUtf8, signJson, suiteHash, toBase64url, utf8, verifySignedJson, type KeyPair, type PublicKey, type Signer, type SuiteId } from "@privface/crypto";
import { PartyError } from "./errors.ts";
import type { PartyName } from "./ids.ts";
import { object, str } from "./validate.ts";

export type Op = "enrol" | "commit" | "abort" | "verify" | "upgrade" | "delete" | "dedup";
export const MAX_AUTH_AHEAD_MS = 60_000;
const CLOCK_SKEW_MS = 5_000;

export interface AuthPayload {
  v: 1;
  op: Op;
  party: PartyName;
  session: string;
  templateId: string;
  modelVersion: string;
  /** base64url(SHA-256(sealed share bytes)) (SM3 in a GM deployment), or "" for operations without a share */
  digest: string;
  /** epoch ms */
  expires: number;
  nonce: string;
}

export interface AuthExpectation {
  ops: readonly Op[];
  party: PartyName;
  session?: string;
  templateId: string;
  modelVersion?: string;
  /** base64url SHA-256 of the sealed share bytes ("" when the call carries none). */
  digest?: string;
}

/**
 * base64url(SHA-256(concatenation of the parts)), SM3 in a GM deployment (`suite`: the gateway
 * signing key's). With an upgrade, the parts are (sealedShare, upgrade.sealedShare).
 */
export function shareDigest(suite: SuiteId, ...parts: Uint8Array[]): string {
  const h = createHash(suiteHash(suite));
  for (const p of parts) h.update(p);
  return h.digest("base64url");
}

/** An authorisation as sent to a party. */
export interface SignedAuthorisation {
  /** base64url(canonicalJson(AuthPayload)) */
  payload: string;
  /** base64url(canonicalJson({ v: 1, kind, hashes })): the signed batch that lists this payload's hash */
  batch: string;
  /** base64url signature of the batch bytes by the gateway signing key */
  sig: string;
}

export const MAX_AUTH_BATCH = 32;
const BATCH_KIND = "privface.authorisations";
const payloadHash = (suite: SuiteId, payload: string): string => createHash(suiteHash(suite)).update(payload).digest("base64url");

/** Signs payloads as one batch (1..MAX_AUTH_BATCH) with one signature. */
export async function signAuthorisations(signer: KeyPair | Signer, payloads: readonly AuthPayload[]): Promise<SignedAuthorisation[]> {
  if (payloads.length < 1 || payloads.length > MAX_AUTH_BATCH) throw new RangeError(`payloads: 1..${MAX_AUTH_BATCH} per batch, got ${payloads.length}`);
  const encoded = payloads.map((p) => toBase64url(utf8(canonicalJson(p))));
  const signed = await signJson(signer, { v: 1, kind: BATCH_KIND, hashes: encoded.map((p) => payloadHash(signer.suite, p)) });
  return encoded.map((payload) => ({ payload, batch: signed.payload, sig: signed.sig }));
}

export type AuthorisationChecker = (auth: unknown, expect: AuthExpectation, now?: number) => Promise<AuthPayload>;

/**
 * A party's checker for authorisations signed by `gatewayKey`. It remembers the last `cacheSize`
 * verified batches by signature (with the exact batch string), so the calls of one batch cost one
 * signature verification; a batch that fails is forgotten.
 */
export function createAuthorisationChecker(gatewayKey: PublicKey | readonly PublicKey[], cacheSize = 256): AuthorisationChecker {
  // rotation: the current key and the ones being retired; a batch verifies under any of them
  const keys = Array.isArray(gatewayKey) ? (gatewayKey as readonly PublicKey[]) : [gatewayKey as PublicKey];
  // one deployment, one suite: its signatures (Ed25519 or SM2) and payload hashes (SHA-256 or SM3)
  const suite = keys[0].suite;
  if (keys.some((k) => k.suite !== suite)) throw new TypeError("gatewayKey: every key of one deployment is of one suite");
  const verifyAny = async (signed: { payload: string; sig: string }): Promise<unknown> => {
    for (const k of keys.slice(0, -1)) {
      try {
        return await verifySignedJson(k, signed);
      } catch {
        /* the next key */
      }
    }
    return verifySignedJson(keys[keys.length - 1], signed);
  };
  const batches = new Map<string, { batch: string; hashes: Promise<Set<string>> }>();

  function batchHashes(batch: string, sig: string): Promise<Set<string>> {
    const hit = batches.get(sig);
    if (hit && hit.batch === batch) return hit.hashes;
    const entry = {
      batch,
      hashes: verifyAny({ payload: batch, sig }).then((value) => {
        const o = value as Record<string, unknown>;
        const hashes = o?.hashes;
        if (o?.v !== 1 || o.kind !== BATCH_KIND || !Array.isArray(hashes) || hashes.length < 1 || hashes.length > MAX_AUTH_BATCH || !hashes.every((h) => typeof h === "string")) {
          throw new Error("not an authorisation batch");
        }
        return new Set(hashes as string[]);
      }),
    };
    entry.hashes.catch(() => {
      if (batches.get(sig) === entry) batches.delete(sig);
    });
    if (batches.size >= cacheSize) batches.delete(batches.keys().next().value as string);
    batches.set(sig, entry);
    return entry.hashes;
  }

  return async (auth, expect, now = Date.now()) => {
    const a = object(auth, "authorisation", ["payload", "batch", "sig"]);
    if (typeof a.payload !== "string" || typeof a.batch !== "string" || typeof a.sig !== "string" || a.payload.length > 4096 || a.batch.length > 4096 || a.sig.length > 512) {
      throw new PartyError("AUTH_INVALID", "authorisation: malformed");
    }
    let value: unknown;
    try {
      const hashes = await batchHashes(a.batch, a.sig);
      if (!hashes.has(payloadHash(suite, a.payload))) throw new Error("payload not in the batch");
      const text = fromUtf8(fromBase64url(a.payload));
      value = JSON.parse(text);
      if (canonicalJson(value) !== text) throw new Error("not canonical");
    } catch {
      throw new PartyError("AUTH_INVALID", "authorisation: bad signature");
    }
    return checkPayload(value, expect, now);
  };
}

function checkPayload(value: unknown, expect: AuthExpectation, now: number): AuthPayload {
  let p: AuthPayload;
  try {
    const o = object(value, "authorisation.payload", ["v", "op", "party", "session", "templateId", "modelVersion", "digest", "expires", "nonce"]);
    p = {
      v: o.v as 1,
      op: o.op as Op,
      party: o.party as "P0" | "P1",
      session: str(o.session, "session", /^[\x21-\x7e]{0,128}$/, "a session"),
      templateId: str(o.templateId, "templateId", /^[\x21-\x7e]{1,128}$/, "a template id"),
      modelVersion: str(o.modelVersion, "modelVersion", /^[\x21-\x7e]{0,64}$/, "a model version"),
      digest: str(o.digest, "digest", /^[A-Za-z0-9_-]{0,64}$/, "a digest"),
      expires: o.expires as number,
      nonce: str(o.nonce, "nonce", /^[A-Za-z0-9_-]{8,128}$/, "a nonce"),
    };
  } catch {
    throw new PartyError("AUTH_INVALID", "authorisation: payload fields");
  }
  if (p.v !== 1) throw new PartyError("AUTH_INVALID", "authorisation: version");
  if (!expect.ops.includes(p.op)) throw new PartyError("AUTH_INVALID", `authorisation: for operation ${String(p.op)}, not ${expect.ops.join("/")}`);
  if (p.party !== expect.party) throw new PartyError("AUTH_INVALID", "authorisation: for another party");
  if (expect.session !== undefined && p.session !== expect.session) throw new PartyError("AUTH_INVALID", "authorisation: for another session");
  if (p.templateId !== expect.templateId) throw new PartyError("AUTH_INVALID", "authorisation: for another template");
  if (expect.modelVersion !== undefined && p.modelVersion !== expect.modelVersion) throw new PartyError("AUTH_INVALID", "authorisation: for another model version");
  if (expect.digest !== undefined && p.digest !== expect.digest) throw new PartyError("AUTH_INVALID", "authorisation: for other share bytes");
  if (!Number.isSafeInteger(p.expires)) throw new PartyError("AUTH_INVALID", "authorisation: expires");
  if (p.expires <= now) throw new PartyError("AUTH_EXPIRED", "authorisation: expired");
  if (p.expires > now + MAX_AUTH_AHEAD_MS + CLOCK_SKEW_MS) throw new PartyError("AUTH_INVALID", "authorisation: expires more than 60 s ahead");
  return p;
}
