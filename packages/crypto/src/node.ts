/**
 * Node-only key files for the runtime layout's keys/ directory (`$PRIVFACE_HOME/keys/<server>/*.json`).
 * Files holding private or secret keys are encrypted under the key secret of the environment
 * (`PRIVFACE_KEY_SECRET` / `PRIVFACE_KEY_SECRET_FILE`; format and KDF in `_keyfile.ts`), written
 * with mode 0600 (atomically: temp file + rename) and never printed; a plaintext key file is refused
 * (PLAINTEXT_KEY_FILE) except by `encryptKeyFileInPlace`. Public-key files stay plaintext.
 * `ensure*` functions create a key only when the file is missing. Pool seed files (a party's seed
 * shared with the helper): `readPoolSeedFile`, `ensurePoolSeedFile`.
 */
import { existsSync } from "node:fs";
import { generateSealKeyPair } from "./_seal.ts";
import { generateSigningKeyPair } from "./_sign.ts";
import { generateDataKey } from "./_datakey.ts";
import type { DataKey } from "./_datakey.ts";
import { dataKeyFromJson, dataKeyToJson, keyPairFromJson, keyPairToJson, publicKeyFromJson, publicKeyToJson } from "./_keys.ts";
import { CryptoError } from "./_errors.ts";
import { isEncryptedKeyFile } from "./_keyfile.ts";
import { readJson, readSecretJsonFile, writeSecret, writeSecretJsonFile } from "./_secretfile.ts";
import type { KeyKind, KeyPair, PublicKey, SuiteId } from "./_types.ts";

export function writeKeyPairFile(path: string, kp: KeyPair): void {
  writeSecretJsonFile(path, "key-pair", kp.suite, keyPairToJson(kp));
}

export async function readKeyPairFile(path: string): Promise<KeyPair> {
  return keyPairFromJson(readSecretJsonFile(path, "key-pair"));
}

/** Public half only (reads a public-key file, or an encrypted key-pair file under the environment's secret). */
export function readPublicKeyFile(path: string): PublicKey {
  const j = readJson(path);
  return publicKeyFromJson(isEncryptedKeyFile(j) ? readSecretJsonFile(path, "key-pair") : j);
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
  writeSecretJsonFile(path, "data-key", dk.suite, dataKeyToJson(dk));
}

export function readDataKeyFile(path: string): DataKey {
  return dataKeyFromJson(readSecretJsonFile(path, "data-key"));
}

export function ensureDataKeyFile(path: string, suite: SuiteId, id: string): { key: DataKey; created: boolean } {
  if (existsSync(path)) return { key: readDataKeyFile(path), created: false };
  const key = generateDataKey(suite, id);
  writeDataKeyFile(path, key);
  return { key, created: true };
}
export { readTlsKey, readTlsPrivateKey, rememberTlsKey, isPlaintextPem } from "./_tlskey.ts";
export { readSecretJsonFile, writeSecretJsonFile, encryptKeyFileInPlace, writeSecret } from "./_secretfile.ts";
export { keySecretFromEnv, isEncryptedKeyFile, encryptKeyFile, decryptKeyFile, KEY_FILE_SCRYPT, MIN_KEY_SECRET_LENGTH, type KeyFileKind } from "./_keyfile.ts";
export { readPoolSeedFile, ensurePoolSeedFile } from "./_poolseed.ts";
export { readPairSeedFile, ensurePairSeedFiles } from "./_pairseed.ts";
export { sm4GcmEncryptSync, sm4GcmDecryptSync } from "./_backend.node.ts";
