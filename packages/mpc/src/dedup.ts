/**
 * 1:N deduplication (issue 15): a freshly shared, validated probe x against a gallery of secret-shared
 * int8 templates y_j; the requester learns only the set { j live : valid(x) ∧ ⟨x, y_j⟩ ≥ threshold }
 * (non-strict; valid = normLo ≤ Σx² ≤ normHi, the enrolment validation of protocol.ts). Pure: no I/O,
 * no clock; randomness only in the dealer. docs/protocol.md section 13 has the derivation and the
 * security argument.
 *
 * Gallery ("mask once"). Template j in slot j of gallery epoch e gets a fixed mask b_j ∈ Z_2^32^d,
 * b_j = B_j^(0) + B_j^(1), B_j^(i) the d int32 at offset (j mod 256)·d of the stream
 * expand(seed_i, "privface/mpc/dedup/mask/v1", i ‖ e ‖ ⌊j / 256⌋ ‖ d) (`maskShares`: one PRF key per
 * block of 256 slots, so a gallery boots without a key schedule per template; the helper holds both
 * seeds). The parties open δ_j = y_j − b_j once (`galleryOpenShare`, 4d bytes each way) and each keeps
 * two rows of d int32 (`galleryAdd`): δ_j and G_j^(i), with
 * G_j^(0) = δ_j + B_j^(0), G_j^(1) = B_j^(1). Slots are never reused within an epoch, so no mask serves
 * two templates.
 *
 * Query (fresh id, material from `dealDedup`/`openDedup`; the probe's ring shares ⟦x⟧ and XOR share of
 * `valid` come from the enrolment-validation run of protocol.ts). With x = ε + a:
 *   ⟨x, y_j⟩ = ⟨ε, δ_j + b_j⟩ + ⟨a, δ_j⟩ + ⟨a, b_j⟩,  so  ⟦s_j⟧_i = ⟨ε, G_j^(i)⟩ + ⟨a^(i), δ_j⟩ + ⟦c_j⟧_i
 * with c_j = ⟨a, b_j⟩ dealt.
 *  0 prepare  (offline, before the probe exists: a^(i), c, r are in the material) one scan of the δ rows:
 *             pre_j = ⟨a^(i), δ_j⟩ + ⟦c_j⟧_i − threshold·[P0] + ⟦r_j⟧_i  (`dedupPrepare`).
 *  1 open     ε = x − a (a fresh: a = a^(0) + a^(1) from the seeds), d int32 each way.
 *  2 mask     one scan of the G rows with ε: open ẑ_j = ⟨ε, G_j^(i)⟩ + pre_j = s_j − threshold + r_j mod 2^n
 *             (n = `dedupBits`: every valid pair has s_j − threshold ∈ [−2^(n−1), 2^(n−1)) by Cauchy–Schwarz).
 *  3..    compare  scoreOk_j = [s_j − t ≥ 0] = 1 ⊕ ẑ_{n−1} ⊕ r_{n−1} ⊕ [ẑ mod 2^(n−1) < r mod 2^(n−1)], the last
 *             bit by a bit-sliced comparison circuit (public ẑ vs XOR-shared bits of r: leaves
 *             lt_k = ¬ẑ_k ∧ r_k, eq_k = ¬(ẑ_k ⊕ r_k); combine (lo, hi) → (lt_hi ⊕ eq_hi ∧ lt_lo,
 *             eq_hi ∧ eq_lo)), one AND level per round, Beaver bit triples, 32 slots per word.
 *  last   match_j = valid ∧ scoreOk_j (one AND), bits of deleted slots and beyond the gallery set to 0.
 * Output: each party's XOR share of the match bits (32 per Uint32 word), for the requester.
 */
import { newItemId, type Seeds } from "./bundle.ts";
import { encodeDedupBundle } from "./dedup-wire.ts";
import { ShardedRows, paddedWidth, type RowStoreFactory } from "./dedup-store.ts";
import { ProtocolError } from "./errors.ts";
import type { PartyName } from "./messages.ts";
import { checkParams, type Params } from "./params.ts";
import { expand } from "./prg.ts";
import { secureRng, type Rng } from "./rng.ts";
import { claimMaterial } from "./single-use.ts";

const MASK_LABEL = "privface/mpc/dedup/mask/v1";
const QUERY_LABEL = "privface/mpc/dedup/query/v1";
/** Rows per shard by default (at d = 512: 128 MiB per store; a party has two stores per shard, δ and G). */
export const DEFAULT_SHARD_ROWS = 65_536;

/**
 * Bits n of the comparison domain: every valid probe against every valid template has
 * |⟨x, y⟩| ≤ normHi (Cauchy–Schwarz), so score − threshold ∈ [−2^(n−1), 2^(n−1)) when
 * 2^(n−1) > normHi + |threshold|. Defaults (66,400 + 27,200): n = 18.
 */
export function dedupBits(params: Params): number {
  checkParams(params);
  const n = 1 + Math.ceil(Math.log2(params.normHi + Math.abs(params.threshold) + 1));
  if (n > 31) throw new RangeError(`params: normHi + |threshold| too large for the dedup comparison (${n} bits)`);
  return n;
}

/** The comparison circuit's AND levels: gates per level for `leaves` leaves (the first pair never needs its eq). */
export function compareLevels(leaves: number): number[] {
  const out: number[] = [];
  for (let k = leaves; k > 1; k = Math.ceil(k / 2)) out.push(2 * Math.floor(k / 2) - 1);
  return out;
}

/** All AND gates of a query: the comparison levels, then one level of one gate (∧ valid). */
export function dedupGates(params: Params): number[] {
  return [...compareLevels(dedupBits(params) - 1), 1];
}

const words = (n: number) => Math.ceil(n / 32);

function ctx(...xs: number[]): Uint8Array {
  const out = new Uint8Array(4 * xs.length);
  const dv = new DataView(out.buffer);
  xs.forEach((x, i) => dv.setUint32(4 * i, x >>> 0));
  return out;
}

/** Slots per mask stream. */
export const MASK_BLOCK = 256;

/**
 * Party `role`'s shares B_j^(i) of the fixed masks of slots first … first + count − 1 in gallery epoch
 * `epoch`, row after row (count·d int32).
 */
export function maskShares(seed: Uint8Array, role: PartyName, epoch: number, first: number, count: number, d: number): Int32Array {
  checkSlot(epoch, first);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count: expected a positive integer, got ${count}`);
  checkSlot(epoch, first + count - 1);
  const out = new Int32Array(count * d);
  for (let j = first; j < first + count;) {
    const block = Math.floor(j / MASK_BLOCK), inBlock = j - block * MASK_BLOCK;
    const take = Math.min(MASK_BLOCK - inBlock, first + count - j);
    const stream = expand(seed, MASK_LABEL, ctx(role === "P0" ? 0 : 1, epoch, block, d), 4 * d * (inBlock + take));
    out.set(new Int32Array(stream.buffer, 4 * d * inBlock, d * take), (j - first) * d);
    stream.fill(0);
    j += take;
  }
  return out;
}

/** Party `role`'s share B_j^(i) of the fixed mask of slot `slot` in gallery epoch `epoch` (d int32). */
export function maskShare(seed: Uint8Array, role: PartyName, epoch: number, slot: number, d: number): Int32Array {
  return maskShares(seed, role, epoch, slot, 1, d);
}

function checkSlot(epoch: number, slot: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch >= 2 ** 32) throw new RangeError(`epoch: expected a u32, got ${epoch}`);
  if (!Number.isInteger(slot) || slot < 0 || slot >= 2 ** 31) throw new RangeError(`slot: expected an integer in [0, 2^31), got ${slot}`);
}

// ---------------------------------------------------------------- the party's gallery

/** A party's in-memory gallery: the rows G_j^(i) (scanned online) and δ_j (scanned offline), and which slots are live. */
export interface PartyGallery {
  readonly role: PartyName;
  readonly params: Params;
  readonly epoch: number;
  readonly online: ShardedRows;
  readonly delta: ShardedRows;
  /** 1 = live, 0 = deleted or never filled; length ≥ count */
  live: Uint8Array;
  /** slots used so far (slots are appended and never reused) */
  count: number;
}

export function newPartyGallery(role: PartyName, params: Params, epoch: number, make: RowStoreFactory, shardRows = DEFAULT_SHARD_ROWS): PartyGallery {
  checkParams(params);
  dedupBits(params);
  checkSlot(epoch, 0);
  const w = paddedWidth(params.d);
  return { role, params, epoch, online: new ShardedRows(w, shardRows, make), delta: new ShardedRows(w, shardRows, make), live: new Uint8Array(1024), count: 0 };
}

/**
 * Step 1 of adding a template to slot `slot`: the party's share of δ = y − b to send to the peer
 * (`templateShare` its stored Z_2^32 share of y; `mask` = maskShare(seed, role, epoch, slot, d)).
 */
export function galleryOpenShare(templateShare: Uint32Array, mask: Int32Array): Uint32Array {
  if (!(templateShare instanceof Uint32Array) || templateShare.length !== mask.length) throw new RangeError(`templateShare: expected a Uint32Array of ${mask.length}`);
  const out = new Uint32Array(mask.length);
  for (let k = 0; k < out.length; k++) out[k] = templateShare[k] - mask[k];
  return out;
}

/**
 * Step 2: with both δ shares, writes the row of slot `slot` = the gallery's next slot (slots are
 * appended in order and never reused). The party then wipes `own`/`peer` if it wishes; the row holds δ.
 * @throws RangeError if `slot` is not the next slot.
 */
export function galleryAdd(g: PartyGallery, slot: number, mask: Int32Array, own: Uint32Array, peer: Uint32Array): void {
  const d = g.params.d;
  if (slot !== g.count) throw new RangeError(`slot: expected the next slot ${g.count}, got ${slot}`);
  if (mask.length !== d || own.length !== d || peer.length !== d) throw new ProtocolError("LENGTH_MISMATCH", `expected ${d} elements`);
  const on = g.online.row(slot), de = g.delta.row(slot);
  const P0 = g.role === "P0";
  for (let k = 0; k < d; k++) {
    de[k] = (own[k] + peer[k]) | 0;
    on[k] = P0 ? (de[k] + mask[k]) | 0 : mask[k];
  }
  if (slot >= g.live.length) {
    const grown = new Uint8Array(2 * g.live.length);
    grown.set(g.live);
    g.live = grown;
  }
  g.live[slot] = 1;
  g.count = slot + 1;
}

/** Deletes slot `slot`: its row is zeroed and its match bit is 0 from now on. */
export function galleryRemove(g: PartyGallery, slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= g.count) throw new RangeError(`slot: expected an integer in [0, ${g.count}), got ${slot}`);
  g.online.row(slot).fill(0);
  g.delta.row(slot).fill(0);
  g.live[slot] = 0;
}

// ---------------------------------------------------------------- the helper's side

/** The helper's copy of the masks (rows b_j = B_j^(0) + B_j^(1)), to deal c_j = ⟨a, b_j⟩ per query. */
export interface HelperGallery {
  readonly params: Params;
  readonly epoch: number;
  readonly rows: ShardedRows;
  count: number;
}

export function newHelperGallery(params: Params, epoch: number, make: RowStoreFactory, shardRows = DEFAULT_SHARD_ROWS): HelperGallery {
  checkParams(params);
  return { params, epoch, rows: new ShardedRows(paddedWidth(params.d), shardRows, make), count: 0 };
}

/** Adds the masks of the next `count` slots, from `first` = the next slot (from both seeds). */
export function helperGalleryAdd(h: HelperGallery, seeds: Seeds, first: number, count = 1): void {
  if (first !== h.count) throw new RangeError(`first: expected the next slot ${h.count}, got ${first}`);
  const d = h.params.d;
  const b0 = maskShares(seeds.P0, "P0", h.epoch, first, count, d), b1 = maskShares(seeds.P1, "P1", h.epoch, first, count, d);
  for (let j = 0; j < count; j++) {
    const row = h.rows.row(first + j);
    for (let k = 0; k < d; k++) row[k] = (b0[j * d + k] + b1[j * d + k]) | 0;
  }
  b0.fill(0);
  b1.fill(0);
  h.count = first + count;
}

/** Forgets slot `slot`'s mask (its c_j is dealt as 0 from now on; the parties drop its bit anyway). */
export function helperGalleryRemove(h: HelperGallery, slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= h.count) throw new RangeError(`slot: expected an integer in [0, ${h.count}), got ${slot}`);
  h.rows.row(slot).fill(0);
}

// ---------------------------------------------------------------- per-query correlated randomness

/** A party's dealt part of one query: P0's is only the header; P1's carries the corrections. */
export interface DedupBundle {
  readonly id: string;
  readonly role: PartyName;
  readonly epoch: number;
  /** slots covered (the gallery's count when dealt) */
  readonly count: number;
  /** P1 only: c_j^(1) (count int32) ‖ r_j^(1) mod 2^n (count u32) ‖ bit shares of r (n·W u32) ‖ triple c (G·W u32) */
  readonly corrections?: Uint32Array;
}

/** A party's opened per-query material. Bit-sliced arrays: W = ⌈count/32⌉ words each. */
export interface DedupMaterial {
  readonly id: string;
  readonly role: PartyName;
  readonly params: Params;
  readonly epoch: number;
  readonly count: number;
  readonly a: Int32Array;
  readonly c: Int32Array;
  readonly r: Uint32Array;
  /** n arrays of W words: XOR shares of bit k of r_j */
  readonly rBits: Uint32Array[];
  /** per gate g (all levels in order): XOR shares of the triple (ta, tb, tc = ta ∧ tb), W words each */
  readonly ta: Uint32Array[];
  readonly tb: Uint32Array[];
  readonly tc: Uint32Array[];
  /** the "any" tree's word triples (XOR shares), `anyLevels(count)` summed */
  readonly oa: Uint32Array;
  readonly ob: Uint32Array;
  readonly oc: Uint32Array;
}

/**
 * The "any match" tree over a query's W match words (`dedupAny*`): word-triples per AND level — pairs of
 * words while more than one is left, then five levels inside the last word (x ∧ x ≫ 16, 8, 4, 2, 1).
 */
export function anyLevels(count: number): number[] {
  const out: number[] = [];
  for (let k = words(count); k > 1; k = Math.ceil(k / 2)) out.push(Math.floor(k / 2));
  return [...out, 1, 1, 1, 1, 1];
}

function sizes(params: Params, count: number) {
  const n = dedupBits(params), W = words(count), G = dedupGates(params).reduce((s, g) => s + g, 0);
  const T = anyLevels(count).reduce((s, g) => s + g, 0);
  return { n, W, G, T, d: params.d };
}

function queryStream(seed: Uint8Array, role: PartyName, id: string, epoch: number, count: number, params: Params): Uint32Array {
  const { n, W, G, T, d } = sizes(params, count);
  const words32 = role === "P0" ? d + 2 * count + n * W + 3 * G * W + 3 * T : d + 2 * G * W + 2 * T;
  const idBytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) idBytes[i] = parseInt(id.slice(2 * i, 2 * i + 2), 16);
  const c = new Uint8Array(16 + 4 * 7);
  c.set(idBytes);
  c.set(ctx(role === "P0" ? 0 : 1, epoch, count, d, params.threshold, params.normLo, params.normHi), 16);
  return new Uint32Array(expand(seed, QUERY_LABEL, c, 4 * words32).buffer);
}

function split(buf: Uint32Array, lens: number[]): Uint32Array[] {
  let o = 0;
  return lens.map((l) => buf.subarray(o, (o += l)));
}

function fromStream(role: PartyName, s: Uint32Array, params: Params, count: number) {
  const { n, W, G, T, d } = sizes(params, count);
  if (role === "P0") {
    const [a, c, r, bits, tri, oa, ob, oc] = split(s, [d, count, count, n * W, 3 * G * W, T, T, T]);
    return { a, c, r, bits, ta: split(tri.subarray(0, G * W), Array(G).fill(W)), tb: split(tri.subarray(G * W, 2 * G * W), Array(G).fill(W)), tc: split(tri.subarray(2 * G * W), Array(G).fill(W)), oa, ob, oc };
  }
  const [a, tri, oa, ob] = split(s, [d, 2 * G * W, T, T]);
  return { a, ta: split(tri.subarray(0, G * W), Array(G).fill(W)), tb: split(tri.subarray(G * W), Array(G).fill(W)), oa, ob };
}

/** Bytes of P1's corrections for a gallery of `count` slots: 8·count + 4·(n + G)·⌈count/32⌉ + 4·T (the "any" tree's triples, T ≈ W). */
export function dedupCorrectionBytes(params: Params, count: number): number {
  const { n, W, G, T } = sizes(params, count);
  return 4 * (2 * count + (n + G) * W + T);
}

/**
 * The dealer's batch (the helper's `/v1/dedup/refill`, and the in-process stand-in): `n` queries over
 * the first `count` slots of gallery `epoch`, each half encoded. `cache` is the dealer's copy of the
 * masks: kept while epoch and params stay, a new one otherwise, extended to `count` slots from the
 * seeds; the copy to keep is returned. `tamper` (tests: a cheating helper) sees P1's corrections.
 */
export function dealDedupBatch(
  cache: HelperGallery | null,
  o: { params: Params; seeds: Seeds; epoch: number; count: number; n: number; rows: RowStoreFactory; tamper?: (corrections: Uint32Array, i: number) => void },
): { masks: HelperGallery; P0: Uint8Array[]; P1: Uint8Array[] } {
  const masks = cache && cache.epoch === o.epoch && JSON.stringify(cache.params) === JSON.stringify(o.params) ? cache : newHelperGallery(o.params, o.epoch, o.rows);
  if (masks.count < o.count) helperGalleryAdd(masks, o.seeds, masks.count, o.count - masks.count);
  const P0: Uint8Array[] = [], P1: Uint8Array[] = [];
  for (let i = 0; i < o.n; i++) {
    const d = dealDedup(masks, o.seeds, newItemId(), undefined, o.count);
    o.tamper?.(d.P1.corrections!, i);
    P0.push(encodeDedupBundle(d.P0));
    P1.push(encodeDedupBundle(d.P1));
  }
  return { masks, P0, P1 };
}

/**
 * The helper deals one query over the first `count` slots of the gallery (default: all `h.count`): a fresh probe mask a
 * (from both seeds), c_j = ⟨a, b_j⟩ (one scan of the helper's masks), comparison masks r_j uniform in
 * Z_2^n with XOR shares of their bits, and one bit triple per gate and slot. P0 derives all of its
 * part from its seed; P1 gets the corrections.
 */
export function dealDedup(h: HelperGallery, seeds: Seeds, id: string, rng: Rng = secureRng, count = h.count): { P0: DedupBundle; P1: DedupBundle } {
  const params = h.params;
  if (!Number.isInteger(count) || count < 0 || count > h.count) throw new RangeError(`count: expected an integer in [0, ${h.count}], got ${count}`);
  const { n, W, G, T, d } = sizes(params, count);
  const p0 = fromStream("P0", queryStream(seeds.P0, "P0", id, h.epoch, count, params), params, count) as Required<ReturnType<typeof fromStream>>;
  const p1 = fromStream("P1", queryStream(seeds.P1, "P1", id, h.epoch, count, params), params, count);
  const corr = new Uint32Array(2 * count + (n + G) * W + T);
  const [c1, r1, bits1, tc1, oc1] = split(corr, [count, count, n * W, G * W, T]);
  for (let i = 0; i < T; i++) oc1[i] = ((p0.oa[i] ^ p1.oa[i]) & (p0.ob[i] ^ p1.ob[i])) ^ p0.oc[i];
  // c_j = ⟨a, b_j⟩
  const vec = new Int32Array(h.rows.width);
  for (let k = 0; k < d; k++) vec[k] = (p0.a[k] + p1.a[k]) | 0;
  const c = new Int32Array(count);
  if (count > 0) h.rows.matvec(vec, count, c);
  const nMask = 2 ** n - 1;
  const r = new Uint32Array(rng(4 * count).buffer);
  for (let j = 0; j < count; j++) {
    c1[j] = c[j] - p0.c[j];
    r[j] &= nMask;
    r1[j] = (r[j] - p0.r[j]) & nMask;
  }
  transposeBits(r, n, W, bits1);
  for (let i = 0; i < n * W; i++) bits1[i] ^= p0.bits[i];
  for (let g = 0; g < G; g++) {
    const t = tc1.subarray(g * W, (g + 1) * W);
    for (let w = 0; w < W; w++) t[w] = ((p0.ta[g][w] ^ p1.ta[g][w]) & (p0.tb[g][w] ^ p1.tb[g][w])) ^ p0.tc[g][w];
  }
  r.fill(0);
  c.fill(0);
  return { P0: { id, role: "P0", epoch: h.epoch, count }, P1: { id, role: "P1", epoch: h.epoch, count, corrections: corr } };
}

/**
 * bits[k·W + w] bit b = bit k of v[32w + b] (bit-slicing), for k < n: per word, a 32 × 32 bit-matrix
 * transpose by block swaps (Warren, Hacker's Delight, 2nd ed., §7-3), least significant bit first.
 */
function transposeBits(v: Uint32Array, n: number, W: number, bits: Uint32Array): void {
  const a = new Uint32Array(32);
  for (let w = 0; w < W; w++) {
    const base = 32 * w, end = Math.min(32, v.length - base);
    a.set(v.subarray(base, base + end));
    a.fill(0, end);
    for (let j = 16, m = 0x0000ffff; j !== 0; j >>>= 1, m ^= m << j) {
      for (let k = 0; k < 32; k = ((k | j) + 1) & ~j) {
        const t = ((a[k] >>> j) ^ a[k | j]) & m;
        a[k | j] ^= t;
        a[k] ^= t << j;
      }
    }
    for (let k = 0; k < n; k++) bits[k * W + w] = a[k];
  }
  a.fill(0);
}

/** A party opens its part of a query (P0 from its seed alone; P1 with the corrections). */
export function openDedup(role: PartyName, seed: Uint8Array, params: Params, bundle: DedupBundle): DedupMaterial {
  if (bundle.role !== role) throw new ProtocolError("WRONG_ROLE", `bundle for ${bundle.role}, opened by ${role}`);
  const { count, epoch, id } = bundle;
  const { n, W, G, T } = sizes(params, count);
  const s = fromStream(role, queryStream(seed, role, id, epoch, count, params), params, count);
  if (role === "P0") {
    const p0 = s as Required<typeof s>;
    return { id, role, params, epoch, count, a: new Int32Array(p0.a.buffer, p0.a.byteOffset, p0.a.length), c: new Int32Array(p0.c.buffer, p0.c.byteOffset, count), r: p0.r, rBits: split(p0.bits, Array(n).fill(W)), ta: p0.ta, tb: p0.tb, tc: p0.tc, oa: p0.oa, ob: p0.ob, oc: p0.oc };
  }
  const corr = bundle.corrections;
  if (!(corr instanceof Uint32Array) || corr.length !== 2 * count + (n + G) * W + T) throw new ProtocolError("LENGTH_MISMATCH", "P1 corrections have the wrong length");
  const [c, r, bits, tc, oc] = split(corr, [count, count, n * W, G * W, T]);
  return { id, role, params, epoch, count, a: new Int32Array(s.a.buffer, s.a.byteOffset, s.a.length), c: new Int32Array(c.buffer, c.byteOffset, count), r, rBits: split(bits, Array(n).fill(W)), ta: s.ta, tb: s.tb, tc: split(tc, Array(G).fill(W)), oa: s.oa, ob: s.ob, oc };
}

// ---------------------------------------------------------------- the query's steps

export interface DedupPrepareInput {
  readonly role: PartyName;
  readonly gallery: PartyGallery;
  readonly material: DedupMaterial;
}

export interface DedupEpsMsg { readonly step: 1; readonly from: PartyName; readonly id: string; readonly eps: Uint32Array }
export interface DedupZMsg { readonly step: 2; readonly from: PartyName; readonly z: Uint32Array }
/** an AND level: d ‖ e openings (gates·W words each) */
export interface DedupAndMsg { readonly step: number; readonly from: PartyName; readonly de: Uint32Array }
export type DedupMsg = DedupEpsMsg | DedupZMsg | DedupAndMsg;

interface Node { lt: Uint32Array; eq: Uint32Array | null }
interface Base { readonly role: PartyName; readonly g: PartyGallery; readonly mat: DedupMaterial; readonly valid: 0 | 1 }
export interface DedupPrepared { readonly phase: "dedup:prepared"; readonly role: PartyName; readonly g: PartyGallery; readonly mat: DedupMaterial; readonly pre: Int32Array }
export interface DedupOpened extends Base { readonly phase: "dedup:opened"; readonly pre: Int32Array; readonly eps: Uint32Array }
export interface DedupMasked extends Base { readonly phase: "dedup:masked"; readonly z: Uint32Array }
export interface DedupComparing extends Base {
  readonly phase: "dedup:comparing";
  /** AND level in progress (index into dedupGates) and the first gate of that level */
  readonly level: number;
  readonly gate0: number;
  readonly nodes: Node[];
  /** scoreOk shares once the tree is done (level = last) */
  readonly topBit: Uint32Array;
  readonly inputs: [Uint32Array, Uint32Array][];
  readonly sent: Uint32Array;
}
export interface DedupDone { readonly phase: "dedup:done"; readonly match: Uint32Array }
export type DedupState = DedupPrepared | DedupOpened | DedupMasked | DedupComparing | DedupDone;

function peer(role: PartyName): PartyName {
  return role === "P0" ? "P1" : "P0";
}

function expectMsg(st: Base, msg: DedupMsg, step: number): void {
  if (msg === null || typeof msg !== "object") throw new TypeError("msg: expected a message object");
  if (msg.step !== step) throw new ProtocolError("WRONG_STEP", `expected step ${step}, got ${msg.step}`);
  if (msg.from !== peer(st.role)) throw new ProtocolError("WRONG_SENDER", `expected a message from ${peer(st.role)}, got ${msg.from}`);
}

function phase(st: { phase: string } | null | undefined, p: string): void {
  if (!st || st.phase !== p) throw new ProtocolError("WRONG_PHASE", `expected state ${p}, got ${st?.phase}`);
}

/**
 * Step 0, offline (before the probe exists): claims the material and scans the δ rows with a^(i):
 * pre_j = ⟨a^(i), δ_j⟩ + ⟦c_j⟧_i − threshold·[P0] + ⟦r_j⟧_i. The gallery must not change until the query ends.
 */
export function dedupPrepare(input: DedupPrepareInput): DedupPrepared {
  const { role, gallery: g, material: mat } = input;
  if (role !== "P0" && role !== "P1") throw new RangeError(`role: expected "P0" or "P1", got ${String(role)}`);
  if (g.role !== role || mat.role !== role) throw new ProtocolError("WRONG_ROLE", "gallery or material of the other party");
  if (mat.epoch !== g.epoch || mat.count > g.count) throw new ProtocolError("BUNDLE_MISMATCH", `material dealt for epoch ${mat.epoch} / ${mat.count} slots, gallery at ${g.epoch} / ${g.count}`);
  claimMaterial(mat);
  const d = g.params.d, count = mat.count;
  const vec = new Int32Array(g.delta.width);
  vec.set(mat.a.subarray(0, d));
  const pre = new Int32Array(count);
  if (count > 0) g.delta.matvec(vec, count, pre);
  const t = role === "P0" ? g.params.threshold : 0;
  for (let j = 0; j < count; j++) pre[j] = pre[j] + mat.c[j] - t + mat.r[j];
  return { phase: "dedup:prepared", role, g, mat, pre };
}

/** Step 1 (the probe is there): opens ε_i = x_i − a^(i) (`probeShare` ⟦x⟧_i and `valid` from enrolment validation). */
export function dedupStart(st: DedupPrepared, probeShare: Uint32Array, valid: 0 | 1): { state: DedupOpened; send: DedupEpsMsg } {
  phase(st, "dedup:prepared");
  const { role, g, mat } = st;
  if (st.g.count < mat.count) throw new ProtocolError("BUNDLE_MISMATCH", `the gallery shrank since dedupPrepare (${mat.count} → ${g.count} slots)`);
  if (!(probeShare instanceof Uint32Array) || probeShare.length !== g.params.d) throw new ProtocolError("LENGTH_MISMATCH", `probeShare: expected ${g.params.d} ring elements`);
  if (valid !== 0 && valid !== 1) throw new RangeError("valid: expected 0 or 1");
  const eps = new Uint32Array(probeShare.length);
  for (let k = 0; k < eps.length; k++) eps[k] = probeShare[k] - mat.a[k];
  return { state: { phase: "dedup:opened", role, g, mat, valid, pre: st.pre, eps }, send: { step: 1, from: role, id: mat.id, eps } };
}

/** Receives ε's other share, scans the G rows, opens the masked differences ẑ_j. */
export function dedupOnEps(st: DedupOpened, msg: DedupEpsMsg): { state: DedupMasked; send: DedupZMsg } {
  phase(st, "dedup:opened");
  expectMsg(st, msg, 1);
  const { g, mat } = st;
  if (msg.id !== mat.id) throw new ProtocolError("BUNDLE_MISMATCH", "peer uses another query material");
  const d = g.params.d;
  if (!(msg.eps instanceof Uint32Array) || msg.eps.length !== d) throw new ProtocolError("LENGTH_MISMATCH", `eps: expected ${d}`);
  const vec = new Int32Array(g.online.width);
  for (let k = 0; k < d; k++) vec[k] = st.eps[k] + msg.eps[k];
  const count = mat.count;
  const s = new Int32Array(count);
  if (count > 0) g.online.matvec(vec, count, s);
  const nMask = 2 ** dedupBits(g.params) - 1;
  const z = new Uint32Array(count);
  for (let j = 0; j < count; j++) z[j] = (s[j] + st.pre[j]) & nMask;
  return { state: { phase: "dedup:masked", role: st.role, g, mat, valid: st.valid, z }, send: { step: 2, from: st.role, z } };
}

/** Receives the other ẑ share: builds the comparison's leaves and sends the first AND level. */
export function dedupOnZ(st: DedupMasked, msg: DedupZMsg): { state: DedupComparing; send: DedupAndMsg } {
  phase(st, "dedup:masked");
  expectMsg(st, msg, 2);
  const { g, mat } = st;
  const count = mat.count;
  if (!(msg.z instanceof Uint32Array) || msg.z.length !== count) throw new ProtocolError("LENGTH_MISMATCH", `z: expected ${count}`);
  const n = dedupBits(g.params), W = words(count);
  const nMask = 2 ** n - 1;
  const zhat = new Uint32Array(count);
  for (let j = 0; j < count; j++) zhat[j] = (st.z[j] + msg.z[j]) & nMask;
  const zb = new Uint32Array(n * W);
  transposeBits(zhat, n, W, zb);
  const P0 = st.role === "P0";
  const nodes: Node[] = [];
  for (let k = 0; k < n - 1; k++) {
    const zk = zb.subarray(k * W, (k + 1) * W), rk = mat.rBits[k];
    const lt = new Uint32Array(W), eq = new Uint32Array(W);
    for (let w = 0; w < W; w++) {
      lt[w] = ~zk[w] & rk[w];
      eq[w] = P0 ? rk[w] ^ ~zk[w] : rk[w];
    }
    nodes.push({ lt, eq });
  }
  // scoreOk = 1 ⊕ ẑ_{n−1} ⊕ r_{n−1} ⊕ LT: the public part and the r bit, LT added when the tree is done
  const top = new Uint32Array(W), zt = zb.subarray((n - 1) * W), rt = mat.rBits[n - 1];
  for (let w = 0; w < W; w++) top[w] = P0 ? ~zt[w] ^ rt[w] : rt[w];
  return andLevel({ role: st.role, g, mat, valid: st.valid }, 0, 0, nodes, top);
}

/** Gate inputs of AND level `level` and the message that opens them. */
function andLevel(b: Base, level: number, gate0: number, nodes: Node[], top: Uint32Array): { state: DedupComparing; send: DedupAndMsg } {
  const W = words(b.mat.count);
  const inputs: [Uint32Array, Uint32Array][] = [];
  if (nodes.length > 1) {
    for (let m = 0; 2 * m + 1 < nodes.length; m++) {
      const lo = nodes[2 * m], hi = nodes[2 * m + 1];
      inputs.push([hi.eq!, lo.lt]);
      if (m > 0) inputs.push([hi.eq!, lo.eq!]);
    }
  } else {
    // the last level: scoreOk ∧ valid
    const ok = new Uint32Array(W);
    for (let w = 0; w < W; w++) ok[w] = top[w] ^ nodes[0].lt[w];
    inputs.push([ok, new Uint32Array(W).fill(b.valid ? 0xffffffff : 0)]);
  }
  const G = inputs.length;
  const de = new Uint32Array(2 * G * W);
  inputs.forEach(([x, y], i) => {
    const ta = b.mat.ta[gate0 + i], tb = b.mat.tb[gate0 + i];
    for (let w = 0; w < W; w++) {
      de[i * W + w] = x[w] ^ ta[w];
      de[(G + i) * W + w] = y[w] ^ tb[w];
    }
  });
  const state: DedupComparing = { phase: "dedup:comparing", role: b.role, g: b.g, mat: b.mat, valid: b.valid, level, gate0, nodes, topBit: top, inputs, sent: de };
  return { state, send: { step: 3 + level, from: b.role, de } };
}

/** Receives an AND level's openings: the next level, or (after the last) the match bits. */
export function dedupOnAnd(st: DedupComparing, msg: DedupAndMsg): { state: DedupComparing; send: DedupAndMsg } | { state: DedupDone; match: Uint32Array } {
  phase(st, "dedup:comparing");
  expectMsg(st, msg, 3 + st.level);
  const { g, mat, inputs, sent } = st;
  const W = words(mat.count), G = inputs.length;
  if (!(msg.de instanceof Uint32Array) || msg.de.length !== sent.length) throw new ProtocolError("LENGTH_MISMATCH", `de: expected ${sent.length}`);
  const P0 = st.role === "P0";
  const out = inputs.map((_, i) => {
    const ta = mat.ta[st.gate0 + i], tb = mat.tb[st.gate0 + i], tc = mat.tc[st.gate0 + i];
    const z = new Uint32Array(W);
    for (let w = 0; w < W; w++) {
      const dd = sent[i * W + w] ^ msg.de[i * W + w], ee = sent[(G + i) * W + w] ^ msg.de[(G + i) * W + w];
      z[w] = tc[w] ^ (dd & tb[w]) ^ (ee & ta[w]) ^ (P0 ? dd & ee : 0);
    }
    return z;
  });
  if (st.nodes.length === 1) {
    const match = out[0];
    for (let j = 0; j < 32 * W; j++) if (j >= mat.count || !g.live[j]) match[j >>> 5] &= ~(1 << (j & 31));
    return { state: { phase: "dedup:done", match }, match };
  }
  const next: Node[] = [];
  let o = 0;
  for (let m = 0; 2 * m + 1 < st.nodes.length; m++) {
    const hi = st.nodes[2 * m + 1];
    const t = out[o++];
    const lt = new Uint32Array(W);
    for (let w = 0; w < W; w++) lt[w] = hi.lt[w] ^ t[w];
    next.push({ lt, eq: m > 0 ? out[o++] : null });
  }
  if (st.nodes.length % 2) next.push(st.nodes[st.nodes.length - 1]);
  return andLevel(st, st.level + 1, st.gate0 + G, next, st.topBit);
}

// ---------------------------------------------------------------- the spot-check of dealt query material

/**
 * The parties sacrifice a dealt query to check the helper (issue 15 §2; docs/protocol.md section 14):
 * P1 sends a^(1) of the sacrificed query, P0 answers `dedupSpotOpening` — its own fresh material of
 * that query (a^(0), r^(0), bit and triple shares) and v0_j = ⟨a, B_j^(0)⟩ − c_j^(0), which c_j^(0)
 * (a one-time pad from P0's seed, used by no other query) hides — and P1 checks with its own material
 * that c_j = ⟨a, b_j⟩, r = r^(0) + r^(1) with the bit shares of r, and every triple (`dedupSpotCheck`).
 * b_j itself is never opened: with δ_j it would give the template. The checked material is claimed.
 * Slots removed at either party are skipped (their bits are 0 anyway).
 */
export function dedupSpotOpening(g: PartyGallery, mat: DedupMaterial, a1: Uint32Array): Uint32Array {
  if (g.role !== "P0" || mat.role !== "P0") throw new ProtocolError("WRONG_ROLE", "the opening is P0's");
  if (mat.epoch !== g.epoch || mat.count > g.count) throw new ProtocolError("BUNDLE_MISMATCH", "material of another gallery");
  const { n, W, G, T, d } = sizes(g.params, mat.count);
  if (!(a1 instanceof Uint32Array) || a1.length !== d) throw new ProtocolError("LENGTH_MISMATCH", `a1: expected ${d}`);
  claimMaterial(mat);
  const count = mat.count;
  const vec = new Int32Array(g.online.width);
  for (let k = 0; k < d; k++) vec[k] = (mat.a[k] + a1[k]) | 0;
  const on = new Int32Array(count), de = new Int32Array(count);
  if (count > 0) {
    g.online.matvec(vec, count, on);
    g.delta.matvec(vec, count, de);
  }
  const out = new Uint32Array(d + W + 2 * count + n * W + 3 * G * W + 3 * T);
  const [a0, live, v0, r0, bits, ta, tb, tc, oa, ob, oc] = split(out, [d, W, count, count, n * W, G * W, G * W, G * W, T, T, T]);
  a0.set(new Uint32Array(mat.a.buffer, mat.a.byteOffset, d));
  for (let j = 0; j < count; j++) {
    if (g.live[j]) live[j >>> 5] |= 1 << (j & 31);
    v0[j] = on[j] - de[j] - mat.c[j];
  }
  r0.set(mat.r);
  mat.rBits.forEach((b, k) => bits.set(b, k * W));
  for (let i = 0; i < G; i++) {
    ta.set(mat.ta[i], i * W);
    tb.set(mat.tb[i], i * W);
    tc.set(mat.tc[i], i * W);
  }
  oa.set(mat.oa);
  ob.set(mat.ob);
  oc.set(mat.oc);
  return out;
}

/** P1's side of the spot-check: what is wrong with the sacrificed query's material (empty: it is right). */
export function dedupSpotCheck(g: PartyGallery, mat: DedupMaterial, opening: Uint32Array): string[] {
  if (g.role !== "P1" || mat.role !== "P1") throw new ProtocolError("WRONG_ROLE", "the check is P1's");
  if (mat.epoch !== g.epoch || mat.count > g.count) throw new ProtocolError("BUNDLE_MISMATCH", "material of another gallery");
  const { n, W, G, T, d } = sizes(g.params, mat.count);
  const count = mat.count;
  if (!(opening instanceof Uint32Array) || opening.length !== d + W + 2 * count + n * W + 3 * G * W + 3 * T) throw new ProtocolError("LENGTH_MISMATCH", "opening: wrong length");
  claimMaterial(mat);
  const [a0, live, v0, r0, bits, ta, tb, tc, oa, ob, oc] = split(opening, [d, W, count, count, n * W, G * W, G * W, G * W, T, T, T]);
  const failures: string[] = [];
  const vec = new Int32Array(g.online.width);
  for (let k = 0; k < d; k++) vec[k] = (a0[k] + mat.a[k]) | 0;
  const u1 = new Int32Array(count);
  if (count > 0) g.online.matvec(vec, count, u1);
  for (let j = 0; j < count; j++) {
    if (!g.live[j] || !((live[j >>> 5] >>> (j & 31)) & 1)) continue;
    if (v0[j] !== ((mat.c[j] - u1[j]) >>> 0)) {
      failures.push("c");
      break;
    }
  }
  const nMask = 2 ** n - 1;
  const r = new Uint32Array(32 * W);
  for (let j = 0; j < count; j++) r[j] = (r0[j] + mat.r[j]) & nMask;
  const rb = new Uint32Array(n * W);
  transposeBits(r, n, W, rb);
  for (let k = 0; k < n && !failures.includes("r"); k++) for (let w = 0; w < W; w++) if (((bits[k * W + w] ^ mat.rBits[k][w]) >>> 0) !== rb[k * W + w]) {
    failures.push("r");
    break;
  }
  outer: for (let i = 0; i < G; i++) for (let w = 0; w < W; w++) {
    const x = ta[i * W + w] ^ mat.ta[i][w], y = tb[i * W + w] ^ mat.tb[i][w], z = tc[i * W + w] ^ mat.tc[i][w];
    if ((x & y) !== z) {
      failures.push("triples");
      break outer;
    }
  }
  for (let i = 0; i < T; i++) if (((oa[i] ^ mat.oa[i]) & (ob[i] ^ mat.ob[i])) !== (oc[i] ^ mat.oc[i])) {
    failures.push("any-triples");
    break;
  }
  return failures;
}

// ---------------------------------------------------------------- "any match": one bit instead of the set

/** One AND level of the "any" tree: the words whose AND is taken in pairs (x[m] ∧ y[m]). */
export interface DedupAnying {
  readonly phase: "dedup:any";
  readonly role: PartyName;
  readonly mat: DedupMaterial;
  /** index into anyLevels(count), and the first triple word of that level */
  readonly level: number;
  readonly t0: number;
  /** the words left after this level that are not in a pair (an odd word out) */
  readonly rest: Uint32Array;
  readonly x: Uint32Array;
  readonly y: Uint32Array;
  readonly sent: Uint32Array;
}

/** The step number of the first "any" level (after the comparison's AND levels). */
export function dedupAnyFirstStep(params: Params): number {
  return 3 + dedupGates(params).length;
}

/**
 * Starts the reduction of a query's match-bit shares (`DedupDone.match`) to one XOR-shared bit
 * dup = ⋁_j match_j: the AND of the negated bits by a tree of bit-sliced AND gates (word pairs, then
 * inside the last word), with the material's word triples; bits beyond `count` are 0 in `match` at
 * both parties, so their negations are neutral. Reveals nothing but the final share.
 */
export function dedupAnyStart(role: PartyName, mat: DedupMaterial, match: Uint32Array): { state: DedupAnying; send: DedupAndMsg } {
  const W = words(mat.count);
  if (!(match instanceof Uint32Array) || match.length !== W) throw new ProtocolError("LENGTH_MISMATCH", `match: expected ${W} words`);
  const none = new Uint32Array(Math.max(1, W)).fill(role === "P0" ? 0xffffffff : 0); // an empty gallery: one word of non-matches
  for (let w = 0; w < W; w++) none[w] = role === "P0" ? ~match[w] : match[w];
  return anyLevel(role, mat, 0, 0, none);
}

function anyLevel(role: PartyName, mat: DedupMaterial, level: number, t0: number, v: Uint32Array): { state: DedupAnying; send: DedupAndMsg } {
  let x: Uint32Array, y: Uint32Array, rest: Uint32Array;
  if (v.length > 1) {
    const p = Math.floor(v.length / 2);
    x = new Uint32Array(p);
    y = new Uint32Array(p);
    for (let m = 0; m < p; m++) {
      x[m] = v[2 * m];
      y[m] = v[2 * m + 1];
    }
    rest = v.length % 2 ? v.subarray(v.length - 1) : new Uint32Array(0);
  } else {
    const shift = 16 >>> (level - (anyLevels(mat.count).length - 5));
    x = v.slice(0, 1);
    y = new Uint32Array([v[0] >>> shift]);
    rest = new Uint32Array(0);
  }
  const p = x.length;
  const sent = new Uint32Array(2 * p);
  for (let m = 0; m < p; m++) {
    sent[m] = x[m] ^ mat.oa[t0 + m];
    sent[p + m] = y[m] ^ mat.ob[t0 + m];
  }
  return { state: { phase: "dedup:any", role, mat, level, t0, rest, x, y, sent }, send: { step: dedupAnyFirstStep(mat.params) + level, from: role, de: sent } };
}

/** Receives an "any" level's openings: the next level, or (after the last) this party's share of dup. */
export function dedupAnyOnAnd(st: DedupAnying, msg: DedupAndMsg): { state: DedupAnying; send: DedupAndMsg } | { duplicate: 0 | 1 } {
  phase(st, "dedup:any");
  if (msg === null || typeof msg !== "object") throw new TypeError("msg: expected a message object");
  if (msg.step !== dedupAnyFirstStep(st.mat.params) + st.level) throw new ProtocolError("WRONG_STEP", `expected step ${dedupAnyFirstStep(st.mat.params) + st.level}, got ${msg.step}`);
  if (msg.from !== peer(st.role)) throw new ProtocolError("WRONG_SENDER", `expected a message from ${peer(st.role)}, got ${msg.from}`);
  if (!(msg.de instanceof Uint32Array) || msg.de.length !== st.sent.length) throw new ProtocolError("LENGTH_MISMATCH", `de: expected ${st.sent.length}`);
  const { mat, t0, sent } = st, p = st.x.length, P0 = st.role === "P0";
  const z = new Uint32Array(p + st.rest.length);
  for (let m = 0; m < p; m++) {
    const dd = sent[m] ^ msg.de[m], ee = sent[p + m] ^ msg.de[p + m];
    z[m] = mat.oc[t0 + m] ^ (dd & mat.ob[t0 + m]) ^ (ee & mat.oa[t0 + m]) ^ (P0 ? dd & ee : 0);
  }
  z.set(st.rest, p);
  if (st.level + 1 === anyLevels(mat.count).length) return { duplicate: (((z[0] & 1) ^ (P0 ? 1 : 0)) as 0 | 1) };
  return anyLevel(st.role, mat, st.level + 1, t0 + p, z);
}

/** The match set from both parties' shares (what the requester does). */
export function dedupReveal(a: Uint32Array, b: Uint32Array, count: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < count; j++) if (((a[j >>> 5] ^ b[j >>> 5]) >>> (j & 31)) & 1) out.push(j);
  return out;
}

/** Plaintext twin: the live slots j with valid(x) ∧ ⟨x, y_j⟩ ≥ threshold. */
export function dedupPlain(params: Params, x: Int8Array, gallery: readonly (Int8Array | null)[]): number[] {
  checkParams(params);
  let norm = 0;
  for (let k = 0; k < x.length; k++) norm += x[k] * x[k];
  if (x.length !== params.d || norm < params.normLo || norm > params.normHi) return [];
  const out: number[] = [];
  gallery.forEach((y, j) => {
    if (!y) return;
    let s = 0;
    for (let k = 0; k < y.length; k++) s += x[k] * y[k];
    if (s >= params.threshold) out.push(j);
  });
  return out;
}
