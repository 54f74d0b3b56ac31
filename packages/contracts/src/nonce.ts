/**
 * Party nonces: freshness the gateway cannot manufacture (decision 010). A party issues
 *   nonce = base64url( r (12 random bytes) ‖ expiresAt (u48 BE, epoch ms) ‖ HMAC-SHA256(k, "privface-nonce-v1" ‖ party ‖ r ‖ expiresAt)[0..16) )
 * (HMAC-SM3 when the key is a GM data key: a GM deployment's nonce key file holds one, 16 bytes)
 * with a key only it holds: issuing needs no storage (the gateway prefetches batches), checking needs
 * the key and the clock, and single use is the party store's (the nonce is consumed in the same
 * transaction as the request's authorisation). A face challenge carries one nonce of each party
 * (`composeChallenge`), so the share context — the AAD of each sealed share — binds them.
 *
 * An *item nonce* (decision 012) also names the correlated-randomness pool item P0 reserved for it:
 *   nonce = base64url( r ‖ expiresAt ‖ itemId (16 bytes) ‖ HMAC(k, "privface-nonce-v1-item" ‖ party ‖ r ‖ expiresAt ‖ itemId)[0..16) )
 * (67 characters). P1 reads the item from the challenge (`nonceItem`, no key needed) and starts its
 * first round at once; P0's tag binds the item to this nonce, and each party's pool ledger uses it once.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { suiteHash, type HashName } from "@privface/crypto";
import type { PartyName } from "./ids.ts";

const LABEL = Buffer.from("privface-nonce-v1");
const ITEM_LABEL = Buffer.from("privface-nonce-v1-item");
const R = 12;
const EXP = 6;
const ITEM = 16;
const TAG = 16;
/** A nonce (45–46 characters) or an item nonce (67). */
export const NONCE_RE = /^(?:[A-Za-z0-9_-]{45,46}|[A-Za-z0-9_-]{67})$/;
const ITEM_ID_RE = /^[0-9a-f]{32}$/;

/** The nonce key: raw bytes (HMAC-SHA256, at least 32), or a data key (`{ suite, key }`: GM → HMAC-SM3, at least 16). */
export type NonceKey = Uint8Array | { suite: "INTL" | "GM"; key: Uint8Array };

function macKey(k: NonceKey): { hash: HashName; key: Uint8Array } {
  const { hash, key } = k instanceof Uint8Array ? { hash: "sha256" as const, key: k } : { hash: suiteHash(k.suite), key: k.key };
  if (key.length < (hash === "sm3" ? 16 : 32)) throw new RangeError(`key: at least ${hash === "sm3" ? 16 : 32} bytes`);
  return { hash, key };
}

function tag(k: NonceKey, party: PartyName, body: Uint8Array): Buffer {
  const { hash, key } = macKey(k);
  return createHmac(hash, key).update(body.length === R + EXP ? LABEL : ITEM_LABEL).update(party).update(body).digest().subarray(0, TAG);
}

/** A fresh nonce of `party`; with `itemId` (a pool item id, 32 hex digits) an item nonce naming it. */
export function issueNonce(key: NonceKey, party: PartyName, expiresAt: number, rng: (n: number) => Uint8Array = (n) => randomBytes(n), itemId?: string): string {
  macKey(key);
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0 || expiresAt >= 2 ** 48) throw new RangeError("expiresAt: epoch ms");
  if (itemId !== undefined && !ITEM_ID_RE.test(itemId)) throw new RangeError("itemId: 32 hex digits");
  const body = Buffer.alloc(R + EXP + (itemId === undefined ? 0 : ITEM));
  body.set(rng(R));
  body.writeUIntBE(expiresAt, R, EXP);
  if (itemId !== undefined) body.write(itemId, R + EXP, "hex");
  return Buffer.concat([body, tag(key, party, body)]).toString("base64url");
}

/** Checks a nonce this party issued: returns its expiry (and the pool item an item nonce names), or why it is not good. */
export function checkNonce(
  key: NonceKey,
  party: PartyName,
  nonce: string,
  now: number,
): { ok: true; expiresAt: number; itemId?: string } | { ok: false; reason: "NONCE_INVALID" | "NONCE_EXPIRED" } {
  if (typeof nonce !== "string" || !NONCE_RE.test(nonce)) return { ok: false, reason: "NONCE_INVALID" };
  const b = Buffer.from(nonce, "base64url");
  if (b.length !== R + EXP + TAG && b.length !== R + EXP + ITEM + TAG) return { ok: false, reason: "NONCE_INVALID" };
  const body = b.subarray(0, b.length - TAG);
  if (!timingSafeEqual(tag(key, party, body), b.subarray(b.length - TAG))) return { ok: false, reason: "NONCE_INVALID" };
  const expiresAt = body.readUIntBE(R, EXP);
  if (expiresAt <= now) return { ok: false, reason: "NONCE_EXPIRED" };
  return body.length === R + EXP ? { ok: true, expiresAt } : { ok: true, expiresAt, itemId: body.subarray(R + EXP).toString("hex") };
}

/**
 * The pool item an item nonce names, read without the key (P1 reads P0's): null for a plain or
 * malformed nonce. Unauthenticated here — the issuer's tag check and each party's pool ledger decide.
 */
export function nonceItem(nonce: string | null): string | null {
  if (typeof nonce !== "string" || !NONCE_RE.test(nonce) || nonce.length !== 67) return null;
  return Buffer.from(nonce, "base64url").subarray(R + EXP, R + EXP + ITEM).toString("hex");
}
