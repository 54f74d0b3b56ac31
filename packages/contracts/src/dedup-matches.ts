/**
 * Which templates a 1:N duplicate search matched (issue 15, docs/protocol.md section 14): the gateway
 * XORs the two parties' shares of the per-slot match bits (`DedupMatches`) and maps the set bits to the
 * slots' template ids. Each share alone is uniformly random (the output of the search's last AND gate),
 * so a party that sends its share learns nothing and the two together reveal only the match bits.
 */
import { fromBase64url, toBase64url } from "@privface/crypto";
import { PartyError } from "./errors.ts";
import type { DedupMatches } from "./party-api.ts";

/** A party's share of `count` slot bits, packed as DedupMatches.share (bit j of word ⌊j/32⌋, words little-endian). */
export function packMatchShare(words: Uint32Array, count: number): string {
  const out = new Uint8Array(Math.ceil(count / 8));
  for (let j = 0; j < count; j++) if ((words[j >>> 5] >>> (j & 31)) & 1) out[j >>> 3] |= 1 << (j & 7);
  return toBase64url(out);
}

/**
 * The template ids whose slot bit is 1 in share P0 ⊕ share P1, in slot order; also checks that the
 * answer is one answer: both halves cover `gallery` slots, a matching slot names the same template at
 * both, and the set is empty exactly when the parties' "any" bit `duplicate` is 0. PartyError
 * GALLERY_UNAVAILABLE when not (the parties' galleries differ, or an answer is malformed).
 */
export function matchedTemplates(a: DedupMatches | undefined, b: DedupMatches | undefined, gallery: number, duplicate: 0 | 1): string[] {
  const bad = (why: string) => new PartyError("GALLERY_UNAVAILABLE", `the parties' match lists disagree: ${why}`);
  if (!a || !b || !Array.isArray(a.templates) || !Array.isArray(b.templates)) throw bad("missing");
  if (a.templates.length !== gallery || b.templates.length !== gallery) throw bad("slot count");
  let x: Uint8Array, y: Uint8Array;
  try {
    x = fromBase64url(a.share);
    y = fromBase64url(b.share);
  } catch {
    throw bad("share encoding");
  }
  if (x.length !== Math.ceil(gallery / 8) || y.length !== x.length) throw bad("share length");
  const out: string[] = [];
  for (let j = 0; j < gallery; j++) {
    if ((((x[j >>> 3] ^ y[j >>> 3]) >>> (j & 7)) & 1) === 0) continue;
    const id = a.templates[j];
    if (typeof id !== "string" || id !== b.templates[j]) throw bad(`slot ${j}`);
    out.push(id);
  }
  // bits past `gallery` in the last byte are 0 in an honest answer
  if (gallery % 8 !== 0 && ((x[x.length - 1] ^ y[y.length - 1]) >>> (gallery % 8)) !== 0) throw bad("padding");
  if ((out.length > 0 ? 1 : 0) !== duplicate) throw bad("the match set and the duplicate bit");
  return out;
}
