/**
 * Party nonces: freshness the gateway cannot manufacture (decision 010). A party issues
 *   nonce = base64url( r (12 random bytes) ‖ expiresAt (u48 BE, epoch ms) ‖ HMAC-SHA256(k, "privface-nonce-v1" ‖ party ‖ r ‖ expiresAt)[0..16) )
 * (HMAC-SM3 when the key is a GM data key: a GM deployment's nonce key file holds one, 16 bytes)
 * with a key only it holds: issuing needs no storage (the gateway prefetches batches), checking needs
 * the key and the clock, and single use is the party store's (the nonce is consumed in the same
 * transaction as the request's authorisation). A face challenge carries one nonce of each party
 * (`composeChallenge`), so the share context — the AAD of each sealed share — binds them.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { suiteHash, type HashName } from "@privface/crypto";
import type { PartyName } from "./ids.ts";

const LABEL = Buffer.from("privface-nonce-v1");
const R = 12;
const EXP = 6;
const TAG = 16;
export const NONCE_RE = /^[A-Za-z0-9_-]{45,46}$/;

/** The nonce key: raw bytes (HMAC-SHA256, at least 32), or a data key (`{ suite, key }`: GM → HMAC-SM3, at least 16). */
export type NonceKey = Uint8Array | { suite: "INTL" | "GM"; key: Uint8Array };

function macKey(k: NonceKey): { hash: HashName; key: Uint8Array } {
  const { hash, key } = k instanceof Uint8Array ? { hash: "sha256" as const, key: k } : { hash: suiteHash(k.suite), key: k.key };
  if (key.length < (hash === "sm3" ? 16 : 32)) throw new RangeError(`key: at least ${hash === "sm3" ? 16 : 32} bytes`);
  return { hash, key };
}

function tag(k: NonceKey, party: PartyName, body: Uint8Array): Buffer {
  const { hash, key } = macKey(k);
  return createHmac(hash, key).update(LABEL).update(party).update(body).digest().subarray(0, TAG);
}

export function issueNonce(key: NonceKey, party: PartyName, expiresAt: number, rng: (n: number) => Uint8Array = (n) => randomBytes(n)): string {
  macKey(key);
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0 || expiresAt >= 2 ** 48) throw new RangeError("expiresAt: epoch ms");
  const body = Buffer.alloc(R + EXP);
  body.set(rng(R));
  body.writeUIntBE(expiresAt, R, EXP);
  return Buffer.concat([body, tag(key, party, body)]).toString("base64url");
}

/** Checks a nonce this party issued: returns its expiry, or why it is not good. */
export function checkNonce(key: NonceKey, party: PartyName, nonce: string, now: number): { ok: true; expiresAt: number } | { ok: false; reason: "NONCE_INVALID" | "NONCE_EXPIRED" } {
  if (typeof nonce !== "string" || !NONCE_RE.test(nonce)) return { ok: false, reason: "NONCE_INVALID" };
  const b = Buffer.from(nonce, "base64url");
  if (b.length !== R + EXP + TAG) return { ok: false, reason: "NONCE_INVALID" };
  const body = b.subarray(0, R + EXP);
  if (!timingSafeEqual(tag(key, party, body), b.subarray(R + EXP))) return { ok: false, reason: "NONCE_INVALID" };
  const expiresAt = body.readUIntBE(R, EXP);
  if (expiresAt <= now) return { ok: false, reason: "NONCE_EXPIRED" };
  return { ok: true, expiresAt };
}
