/**
 * A stored template share and its re-randomisation epoch (decision 010 §6; @privface/mpc `reshare`).
 *
 * Bytes kept (encrypted) in the store: the d ring elements (4d bytes, little-endian u32) ‖ epoch
 * (u32 big-endian) ‖ 0xE5. A share stored before re-randomisation existed is the 4d bytes alone
 * (epoch 0); the trailer's odd length tells the two apart. The epoch travels inside the encrypted
 * blob, so a share and its epoch change in the same transaction or not at all.
 *
 * - `storedShare`: what enrolment and upgrade staging store — the fresh share moved to epoch 1 (so the
 *   helper-derivable epoch-0 share never reaches the disk).
 * - `runShare`: the share a protocol run uses — the stored one moved back to epoch 0 in memory; both
 *   parties do this, so their stored epochs never have to agree.
 * - `nextShare`: the scheduled step, epoch e → e + 1 (null when there is nothing to do).
 * Without a pair seed (a deployment that has not provisioned one) shares are stored at epoch 0 as
 * before and `nextShare` does nothing; a share at epoch > 0 then cannot be used (INTERNAL).
 */
import { PartyError, type PartyName } from "@privface/contracts";
import { MAX_EPOCH, epochOffset, reshare, type ShareSlot } from "@privface/mpc";

const TRAILER = 5;
const MARK = 0xe5;

export function packShare(share: Uint32Array, epoch: number): Uint8Array {
  if (epoch === 0) return new Uint8Array(share.buffer.slice(share.byteOffset, share.byteOffset + share.byteLength));
  const out = new Uint8Array(share.byteLength + TRAILER);
  out.set(new Uint8Array(share.buffer, share.byteOffset, share.byteLength));
  new DataView(out.buffer).setUint32(share.byteLength, epoch);
  out[out.length - 1] = MARK;
  return out;
}

export function unpackShare(bytes: Uint8Array): { share: Uint32Array; epoch: number } {
  const legacy = bytes.length % 4 === 0;
  if (!legacy && (bytes.length % 4 !== 1 || bytes[bytes.length - 1] !== MARK)) throw new PartyError("INTERNAL", "stored share: unknown format");
  const n = legacy ? bytes.length : bytes.length - TRAILER;
  const copy = new Uint8Array(n);
  copy.set(bytes.subarray(0, n));
  const epoch = legacy ? 0 : new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(n);
  return { share: new Uint32Array(copy.buffer), epoch };
}

/** The epoch of a stored share (without copying it out). */
export function epochOf(bytes: Uint8Array): number {
  return bytes.length % 4 === 0 ? 0 : new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(bytes.length - TRAILER);
}

/** The bytes to store for a share fresh from an enrolment run (epoch 1 when a pair seed is configured). */
export function storedShare(party: PartyName, pairSeed: Uint8Array | undefined, slot: ShareSlot, fresh: Uint32Array): Uint8Array {
  if (!pairSeed) return packShare(fresh, 0);
  const s = reshare(party, pairSeed, slot, fresh, 0, 1);
  const out = packShare(s, 1);
  s.fill(0);
  return out;
}

/**
 * The offsets Z_e of the slots last used, per pair seed (`runShare` of every verification would
 * otherwise expand one, ≈ 2 KB of AES-CTR, issue 12's CPU budget). An offset is a function of the pair
 * seed, which this process holds anyway, so keeping it adds nothing to what the memory reveals; the
 * map is bounded (least recently used out) and an entry names its epoch, so a share moved on by
 * `nextShare` (here or in another process) misses the old entry.
 */
const OFFSETS_MAX = 1024;
const offsets = new WeakMap<Uint8Array, Map<string, Uint32Array>>();

function cachedOffset(pairSeed: Uint8Array, slot: ShareSlot, epoch: number, d: number): Uint32Array {
  let m = offsets.get(pairSeed);
  if (!m) offsets.set(pairSeed, (m = new Map()));
  const key = `${slot.templateId}\0${slot.modelVersion}\0${epoch}\0${d}`;
  let z = m.get(key);
  if (z) m.delete(key); // re-inserted below: the most recently used last
  else {
    z = epochOffset(pairSeed, slot, epoch, d);
    if (m.size >= OFFSETS_MAX) m.delete(m.keys().next().value!);
  }
  m.set(key, z);
  return z;
}

/** The share a run uses (epoch 0), from the stored bytes: `reshare(…, epoch, 0)` with a cached Z_epoch. The caller wipes both. */
export function runShare(party: PartyName, pairSeed: Uint8Array | undefined, slot: ShareSlot, stored: Uint8Array): Uint32Array {
  const { share, epoch } = unpackShare(stored);
  if (epoch === 0) return share;
  if (!pairSeed) throw new PartyError("INTERNAL", "a re-randomised share needs the pair seed");
  const z = cachedOffset(pairSeed, slot, epoch, share.length);
  // reshare(party, pairSeed, slot, share, epoch, 0): + (Z_0 − Z_epoch) at P0, − at P1, Z_0 = 0
  if (party === "P0") for (let k = 0; k < share.length; k++) share[k] = share[k] - z[k];
  else if (party === "P1") for (let k = 0; k < share.length; k++) share[k] = share[k] + z[k];
  else throw new RangeError(`role: expected "P0" or "P1", got ${String(party)}`);
  return share;
}

/** The stored bytes moved one epoch on, or null (no pair seed, or the last epoch). */
export function nextShare(party: PartyName, pairSeed: Uint8Array | undefined, slot: ShareSlot, stored: Uint8Array): Uint8Array | null {
  if (!pairSeed) return null;
  const { share, epoch } = unpackShare(stored);
  if (epoch >= MAX_EPOCH) return null;
  const s = reshare(party, pairSeed, slot, share, epoch, epoch + 1);
  share.fill(0);
  const out = packShare(s, epoch + 1);
  s.fill(0);
  return out;
}
