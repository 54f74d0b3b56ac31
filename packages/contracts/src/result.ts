/**
 * Result shares bound to their request and authenticated (decision 010 §7, issue 12 item 9). A
 * party's XOR share of a decision travels back to the gateway with a MAC over the request it answers:
 *
 *   resultMac = base64url(mac(suite, K, canonicalJson({ v: 1, kind: "privface.result-share", op,
 *                 party, session, templateId, authorisation: base64url(SHA-256(authorisation.payload)) (SM3 in GM),
 *                 resultShare [, matches: base64url(SHA-256(canonicalJson(matches))) (SM3 in GM)] })))
 *   K = agreeKey(own result key, other side's result key, "privface-result-mac-v1|" + party)
 *
 * The party holds its result key pair (`keys/<party>/result.json`) and the gateway's public one; the
 * gateway holds its own pair and each party's public one: only that party and the gateway can compute
 * K (a static ECDH, done once at start-up), so neither a network position nor a holder of any other
 * deployment certificate can answer in a party's name, and a share cannot be moved to another
 * request, session, template or party. Cost per answer: one HMAC (a few µs) each side.
 * Rotation: the gateway checks a MAC under each of its result keys with a party (the current pair
 * and the retired ones, docs/operations.md "Key rotation"); the first that verifies wins.
 */
import { agreeKey, canonicalJson, digest, equalBytes, fromBase64url, mac, suiteHash, toBase64url, utf8, type KeyPair, type PublicKey, type SuiteId } from "@privface/crypto";
import type { SignedAuthorisation } from "./auth.ts";
import type { PartyName } from "./ids.ts";
import type { Bit } from "./party-api.ts";

export const RESULT_KIND = "privface.result-share";

/** What a result share answers: the request it belongs to, and the share itself. */
export interface ResultBinding {
  op: "enrol" | "verify" | "dedup";
  party: PartyName;
  session: string;
  templateId: string;
  authorisation: Pick<SignedAuthorisation, "payload">;
  resultShare: Record<string, Bit | string>;
  /** a dedup answer's `matches` (DedupResponse), bound by its digest when the answer carries them */
  matches?: unknown;
}

/** The MAC key between one party and the gateway, from either side's key pair and the other's public key. */
export interface ResultKey {
  suite: SuiteId;
  key: Uint8Array;
}

export async function resultKey(own: KeyPair, other: PublicKey, party: PartyName): Promise<ResultKey> {
  return { suite: own.suite, key: await agreeKey(own, other, utf8(`privface-result-mac-v1|${party}`)) };
}

export async function resultBytes(b: ResultBinding, suite: SuiteId = "INTL"): Promise<Uint8Array> {
  const hash = suiteHash(suite);
  const auth = toBase64url(await digest(hash, utf8(String(b.authorisation?.payload ?? ""))));
  const matches = b.matches === undefined ? {} : { matches: toBase64url(await digest(hash, utf8(canonicalJson(b.matches)))) };
  return utf8(canonicalJson({ v: 1, kind: RESULT_KIND, op: b.op, party: b.party, session: b.session, templateId: b.templateId, authorisation: auth, resultShare: b.resultShare, ...matches }));
}

export async function resultMac(k: ResultKey, b: ResultBinding): Promise<string> {
  return toBase64url(await mac(k.suite, k.key, await resultBytes(b, k.suite)));
}

/** Does `tag` authenticate this answer to this request under `k` (or one of `k`: rotation)? Never throws (any malformed input → false). */
export async function checkResultMac(k: ResultKey | readonly ResultKey[], b: ResultBinding, tag: unknown): Promise<boolean> {
  if (typeof tag !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(tag)) return false;
  try {
    const t = fromBase64url(tag);
    for (const key of Array.isArray(k) ? (k as readonly ResultKey[]) : [k as ResultKey]) if (equalBytes(t, await mac(key.suite, key.key, await resultBytes(b, key.suite)))) return true;
    return false;
  } catch {
    return false;
  }
}
