/**
 * Party nonces: freshness the gateway cannot manufacture (decision 010). A party issues
 *   nonce = base64url( r (12 random bytes) ‖ expiresAt (u48 BE, epoch ms) ‖ HMAC-SHA256(k, "privface-nonce-v1" ‖ party ‖ r ‖ expiresAt)[0..16) )
 * with a key only it holds: issuing needs no storage (the gateway prefetches batches), checking needs
 * the key and the clock, and single use is the party store's (the nonce is consumed in the same
 * transaction as the request's authorisation). A face challenge carries one nonce of each party
 * (`composeChallenge`), so the share context — the AAD of each sealed share — binds them.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { PartyName } from "./ids.ts";

const LABEL = Buffer.from("privface-nonce-v1");
const R = 12;
const EXP = 6;
const TAG = 16;
export const NONCE_RE = /^[A-Za-z0-9_-]{45,46}$/;

function tag(key: Uint8Array, party: PartyName, body: Uint8Array): Buffer {
  return createHmac("sha256", key).update(LABEL).update(party).update(body).digest().subarray(0, TAG);
}

export function issueNonce(key: Uint8Array, party: PartyName, expiresAt: number, rng: (n: number) => Uint8Array = (n) => randomBytes(n)): string {
  if (key.length < 32) throw new RangeError("key: at least 32 bytes");
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0 || expiresAt >= 2 ** 48) throw new RangeError("expiresAt: epoch ms");
  const body = Buffer.alloc(R + EXP);
  body.set(rng(R));
  body.writeUIntBE(expiresAt, R, EXP);
  return Buffer.concat([body, tag(key, party, body)]).toString("base64url");
}

/** Checks a nonce this party issued: returns its expiry, or why it is not good. */
export function checkNonce(key: Uint8Array, party: PartyName, nonce: string, now: number): { ok: true; expiresAt: number } | { ok: false; reason: "NONCE_INVALID" | "NONCE_EXPIRED" } {
  if (typeof nonce !== "string" || !NONCE_RE.test(nonce)) return { ok: false, reason: "NONCE_INVALID" };
  const b = Buffer.from(nonce, "base64url");
  if (b.length !== R + EXP + TAG) return { ok: false, reason: "NONCE_INVALID" };
  const body = b.subarray(0, R + EXP);
  if (!timingSafeEqual(tag(key, party, body), b.subarray(R + EXP))) return { ok: false, reason: "NONCE_INVALID" };
  const expiresAt = body.readUIntBE(R, EXP);
  if (expiresAt <= now) return { ok: false, reason: "NONCE_EXPIRED" };
  return { ok: true, expiresAt };
}
