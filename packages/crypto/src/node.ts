/**
 * Node-only key files for the runtime layout's keys/ directory (`$PRIVFACE_HOME/keys/*.json`).
 * Files holding private or secret keys are written with mode 0600 (atomically: temp file + rename)
 * and never printed. `ensure*` functions create a key only when the file is missing. Pool seed files
 * (a party's seed shared with the helper): `readPoolSeedFile`, `ensurePoolSeedFile`.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import { generateSealKeyPair } from "./_seal.ts";
import { generateSigningKeyPair } from "./_sign.ts";
import { generateDataKey } from "./_datakey.ts";
import type { DataKey } from "./_datakey.ts";
import { dataKeyFromJson, dataKeyToJson, keyPairFromJson, keyPairToJson, publicKeyFromJson, publicKeyToJson } from "./_keys.ts";
import { CryptoError } from "./_errors.ts";
import type { KeyKind, KeyPair, PublicKey, SuiteId } from "./_types.ts";

function writeSecret(path: string, text: string, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(tmp, text, { mode, flag: "wx" });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw e;
    throw new CryptoError("BAD_KEY", `${path} is not valid JSON`);
  }
}

export function writeKeyPairFile(path: string, kp: KeyPair): void {
  writeSecret(path, JSON.stringify(keyPairToJson(kp), null, 2) + "\n");
}

export async function readKeyPairFile(path: string): Promise<KeyPair> {
  return keyPairFromJson(readJson(path));
}

/** Public half only (reads a key-pair file or a public-key file). */
export function readPublicKeyFile(path: string): PublicKey {
  return publicKeyFromJson(readJson(path));
}

export function writePublicKeyFile(path: string, k: PublicKey): void {
  writeSecret(path, JSON.stringify(publicKeyToJson(k), null, 2) + "\n", 0o644);
}

/** Read the key pair at `path`, or create one of `suite`/`kind` there. `created` tells which. */
export async function ensureKeyPairFile(path: string, suite: SuiteId, kind: KeyKind): Promise<{ key: KeyPair; created: boolean }> {
  if (existsSync(path)) {
    const key = await readKeyPairFile(path);
    if (key.suite !== suite || key.kind !== kind) {
      throw new CryptoError("BAD_KEY", `${path} holds a ${key.suite} ${key.kind} key, expected ${suite} ${kind}`);
    }
    return { key, created: false };
  }
  const key = kind === "seal" ? await generateSealKeyPair(suite) : await generateSigningKeyPair(suite);
  writeKeyPairFile(path, key);
  return { key, created: true };
}

export function writeDataKeyFile(path: string, dk: DataKey): void {
  writeSecret(path, JSON.stringify(dataKeyToJson(dk), null, 2) + "\n");
}

export function readDataKeyFile(path: string): DataKey {
  return dataKeyFromJson(readJson(path));
}

export function ensureDataKeyFile(path: string, suite: SuiteId, id: string): { key: DataKey; created: boolean } {
  if (existsSync(path)) return { key: readDataKeyFile(path), created: false };
  const key = generateDataKey(suite, id);
  writeDataKeyFile(path, key);
  return { key, created: true };
}
export { readPoolSeedFile, ensurePoolSeedFile } from "./_poolseed.ts";
export { readPairSeedFile, ensurePairSeedFiles } from "./_pairseed.ts";
