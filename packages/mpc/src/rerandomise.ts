/**
 * Re-randomisation of stored template shares (decision 010 §6, issue 12 item 8).
 *
 * Enrolment leaves P1 holding y1 = a^(c)_1, a Beaver mask from P1's bundle stream — which the helper
 * knows (it holds P1's seed), up to the branch bit per coordinate; so the helper's seeds plus P0's
 * stored share y0 rebuild the template (x = y0 + y1, the wrong branch gives a value outside int8).
 * P0 and P1 therefore add a zero-sharing the helper never sees: from a 32-byte *pair seed* only they
 * hold, for each template (id, model version) and epoch e ≥ 0, the offset
 *   Z_0 = 0,  Z_e = expand(pairSeed, "privface/mpc/rerandomise/v1", templateId ‖ modelVersion ‖ e)  (d × u32)
 * and a share at epoch e is y0 + Z_e at P0, y1 − Z_e at P1 (in Z_2^32). Moving a share from epoch e to
 * e' adds ±(Z_e' − Z_e) (`reshare`): one PRF evaluation whatever the distance, forwards or back, so each
 * party moves its stored shares on its own schedule and in its own transactions, and for a run both
 * bring their share to one common epoch in memory (`reshare(…, e, 0)`): the two stored epochs never
 * need to agree, and a crash between the parties' steps cannot desynchronise anything.
 * Pure and I/O free.
 */
import { expand } from "./prg.ts";
import type { PartyName } from "./messages.ts";
import { MAX_D } from "./params.ts";

const LABEL = "privface/mpc/rerandomise/v1";
const enc = new TextEncoder();

/** What a stored share is bound to (the same strings at both parties). */
export interface ShareSlot {
  readonly templateId: string;
  readonly modelVersion: string;
}

/** Largest epoch (u32). */
export const MAX_EPOCH = 0xffff_ffff;

function checkEpoch(name: string, e: number): void {
  if (!Number.isInteger(e) || e < 0 || e > MAX_EPOCH) throw new RangeError(`${name}: expected an integer in [0, 2^32), got ${e}`);
}

function context(slot: ShareSlot, epoch: number, d: number): Uint8Array {
  if (slot === null || typeof slot !== "object" || typeof slot.templateId !== "string" || typeof slot.modelVersion !== "string") throw new TypeError("slot: expected { templateId, modelVersion } strings");
  const t = enc.encode(slot.templateId), m = enc.encode(slot.modelVersion);
  if (t.length > 1024 || m.length > 1024) throw new RangeError("slot: fields of at most 1024 bytes");
  const out = new Uint8Array(4 + t.length + 4 + m.length + 8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, t.length);
  out.set(t, 4);
  dv.setUint32(4 + t.length, m.length);
  out.set(m, 8 + t.length);
  dv.setUint32(8 + t.length + m.length, epoch);
  dv.setUint32(12 + t.length + m.length, d);
  return out;
}

/** Z_e for one slot (d ring elements; all zero at epoch 0). */
export function epochOffset(pairSeed: Uint8Array, slot: ShareSlot, epoch: number, d: number): Uint32Array {
  if (!(pairSeed instanceof Uint8Array) || pairSeed.length !== 32) throw new RangeError("pairSeed: expected 32 bytes");
  checkEpoch("epoch", epoch);
  if (!Number.isInteger(d) || d < 1 || d > MAX_D) throw new RangeError(`d: expected an integer in [1, ${MAX_D}], got ${d}`);
  if (epoch === 0) return new Uint32Array(d);
  const b = expand(pairSeed, LABEL, context(slot, epoch, d), 4 * d);
  return new Uint32Array(b.buffer, b.byteOffset, d);
}

/**
 * `share` (this party's, at epoch `from`) moved to epoch `to`: + (Z_to − Z_from) at P0, − at P1. A new
 * array; the input is left as it is (the caller wipes it).
 * @example const stored = reshare("P1", pairSeed, { templateId, modelVersion }, fresh, 0, 1);
 */
export function reshare(role: PartyName, pairSeed: Uint8Array, slot: ShareSlot, share: Uint32Array, from: number, to: number): Uint32Array {
  if (role !== "P0" && role !== "P1") throw new RangeError(`role: expected "P0" or "P1", got ${String(role)}`);
  if (!(share instanceof Uint32Array)) throw new TypeError("share: expected a Uint32Array");
  checkEpoch("from", from);
  checkEpoch("to", to);
  const d = share.length;
  const out = new Uint32Array(share);
  if (from === to) return out;
  const zt = epochOffset(pairSeed, slot, to, d);
  const zf = epochOffset(pairSeed, slot, from, d);
  const sign = role === "P0" ? 1 : -1;
  for (let k = 0; k < d; k++) out[k] = out[k] + sign * (zt[k] - zf[k]);
  zt.fill(0);
  zf.fill(0);
  return out;
}
