/**
 * Pool seed files: the long-term 32-byte seed a party shares with the helper (@privface/mpc `deal`
 * derives most of a party's correlated randomness from it, so only corrections travel). File format:
 * `{ "kind": "pool-seed", "party": "P0", "seed": "<base64url>" }`, encrypted as a key file of kind
 * "pool-seed" (`_keyfile.ts`), mode 0600.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { CryptoError } from "./_errors.ts";
import { readSecretJsonFile, writeSecretJsonFile } from "./_secretfile.ts";

export function readPoolSeedFile(path: string, party: "P0" | "P1"): Uint8Array {
  let j: { kind?: unknown; party?: unknown; seed?: unknown };
  try {
    j = readSecretJsonFile(path, "pool-seed") as typeof j;
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    throw new Error(`pool seed file ${path}: ${(e as Error).message}`);
  }
  if (j.kind !== "pool-seed" || j.party !== party || typeof j.seed !== "string") throw new Error(`pool seed file ${path}: expected a pool-seed for ${party}`);
  const seed = new Uint8Array(Buffer.from(j.seed, "base64url"));
  if (seed.length !== 32) throw new Error(`pool seed file ${path}: seed must be 32 bytes, got ${seed.length}`);
  return seed;
}

/** Creates the seed file when missing (fresh CSPRNG seed); returns whether it was created. */
export function ensurePoolSeedFile(path: string, party: "P0" | "P1"): boolean {
  if (existsSync(path)) return false;
  writeSecretJsonFile(path, "pool-seed", "INTL", { kind: "pool-seed", party, seed: randomBytes(32).toString("base64url") });
  return true;
}
