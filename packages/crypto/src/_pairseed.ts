/**
 * Pair seed files: the 32-byte seed P0 and P1 share and the helper never receives (re-randomisation of
 * stored template shares, @privface/mpc `reshare`). Both parties hold a copy with the same seed.
 * File format: `{ "kind": "pair-seed", "seed": "<base64url>" }`, encrypted as a key file of kind "pair-seed"
 * (`_keyfile.ts`), mode 0600.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { CryptoError } from "./_errors.ts";
import { readSecretJsonFile, writeSecretJsonFile } from "./_secretfile.ts";

export function readPairSeedFile(path: string): Uint8Array {
  let j: { kind?: unknown; seed?: unknown };
  try {
    j = readSecretJsonFile(path, "pair-seed") as typeof j;
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    throw new Error(`pair seed file ${path}: ${(e as Error).message}`);
  }
  if (j.kind !== "pair-seed" || typeof j.seed !== "string") throw new Error(`pair seed file ${path}: expected a pair-seed`);
  const seed = new Uint8Array(Buffer.from(j.seed, "base64url"));
  if (seed.length !== 32) throw new Error(`pair seed file ${path}: seed must be 32 bytes, got ${seed.length}`);
  return seed;
}

/**
 * Makes both parties' copies hold one seed: when neither exists a fresh CSPRNG seed is written to
 * both; when one exists it is copied to the other; when both exist they are left alone (a mismatch
 * throws: the parties would re-randomise with different seeds). Returns the paths it wrote.
 */
export function ensurePairSeedFiles(paths: readonly [string, string]): string[] {
  const have = paths.filter((p) => existsSync(p));
  if (have.length === 2) {
    if (Buffer.compare(Buffer.from(readPairSeedFile(paths[0])), Buffer.from(readPairSeedFile(paths[1]))) !== 0) throw new Error(`pair seed files ${paths[0]} and ${paths[1]} differ`);
    return [];
  }
  const seed = have.length === 1 ? readPairSeedFile(have[0]) : new Uint8Array(randomBytes(32));
  const written: string[] = [];
  for (const p of paths) {
    if (existsSync(p)) continue;
    writeSecretJsonFile(p, "pair-seed", "INTL", { kind: "pair-seed", seed: Buffer.from(seed).toString("base64url") });
    written.push(p);
  }
  return written;
}
