/**
 * Pool seed files: the long-term 32-byte seed a party shares with the helper (mpc `deal` derives
 * most of a party's correlated randomness from it, so only corrections travel). File format:
 * `{ "kind": "pool-seed", "party": "P0", "seed": "<base64url>" }`, mode 0600.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export type PartyName = "P0" | "P1";

export function readSeedFile(path: string, party: PartyName): Uint8Array {
  let j: { kind?: unknown; party?: unknown; seed?: unknown };
  try {
    j = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`pool seed file ${path}: ${(e as Error).message}`);
  }
  if (j.kind !== "pool-seed" || j.party !== party || typeof j.seed !== "string") throw new Error(`pool seed file ${path}: expected a pool-seed for ${party}`);
  const seed = new Uint8Array(Buffer.from(j.seed, "base64url"));
  if (seed.length !== 32) throw new Error(`pool seed file ${path}: seed must be 32 bytes, got ${seed.length}`);
  return seed;
}

/** Creates the seed file when missing (fresh CSPRNG seed); returns whether it was created. */
export function ensureSeedFile(path: string, party: PartyName): boolean {
  if (existsSync(path)) return false;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify({ kind: "pool-seed", party, seed: randomBytes(32).toString("base64url") }) + "\n", { mode: 0o600, flag: "wx" });
  return true;
}

/** [u32 count] then per item [u32 length][bytes] — the pool batch encoding on the helper links. */
export function encodeBatch(items: readonly Uint8Array[]): Buffer {
  let n = 4;
  for (const it of items) n += 4 + it.length;
  const out = Buffer.allocUnsafe(n);
  out.writeUInt32BE(items.length, 0);
  let o = 4;
  for (const it of items) {
    out.writeUInt32BE(it.length, o);
    out.set(it, o + 4);
    o += 4 + it.length;
  }
  return out;
}

export function decodeBatch(buf: Uint8Array, maxItems = 100_000): Uint8Array[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b.length < 4) throw new RangeError("batch: too short");
  const count = b.readUInt32BE(0);
  if (count > maxItems) throw new RangeError(`batch: ${count} items exceeds ${maxItems}`);
  const out: Uint8Array[] = [];
  let o = 4;
  for (let i = 0; i < count; i++) {
    if (o + 4 > b.length) throw new RangeError("batch: truncated");
    const len = b.readUInt32BE(o);
    if (o + 4 + len > b.length) throw new RangeError("batch: truncated");
    out.push(new Uint8Array(b.subarray(o + 4, o + 4 + len)));
    o += 4 + len;
  }
  if (o !== b.length) throw new RangeError("batch: trailing bytes");
  return out;
}
