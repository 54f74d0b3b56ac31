/** Reading and writing the encrypted key files of `_keyfile.ts` (Node only; used by node.ts and the seed files). */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import { CryptoError } from "./_errors.ts";
import { decryptKeyFile, encryptKeyFile, isEncryptedKeyFile, keySecretFromEnv, type KeyFileKind } from "./_keyfile.ts";
import type { SuiteId } from "./_types.ts";

export function writeSecret(path: string, text: string, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(tmp, text, { mode, flag: "wx" });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** Write `value` (JSON) encrypted as a key file of `kind` under the environment's key secret. */
export function writeSecretJsonFile(path: string, kind: KeyFileKind, suite: SuiteId, value: unknown): void {
  const pt = Buffer.from(JSON.stringify(value));
  try {
    writeSecret(path, encryptKeyFile(kind, suite, pt, keySecretFromEnv()));
  } finally {
    pt.fill(0);
  }
}

/** The JSON value of the encrypted key file at `path` (of `kind`), decrypted under the environment's secret. */
export function readSecretJsonFile(path: string, kind: KeyFileKind): unknown {
  const pt = decryptKeyFile(readJson(path), kind, keySecretFromEnv(), path);
  try {
    return JSON.parse(Buffer.from(pt).toString("utf8"));
  } finally {
    pt.fill(0);
  }
}

/**
 * Encrypt a plaintext key file in place (a development home of an earlier version, or an operator's
 * migration). Returns false when the file is already encrypted. `kind` names what it holds.
 */
export function encryptKeyFileInPlace(path: string, kind: KeyFileKind): boolean {
  const j = readJson(path);
  if (isEncryptedKeyFile(j)) return false;
  const suite = (j as { suite?: unknown }).suite === "GM" ? "GM" : "INTL";
  writeSecretJsonFile(path, kind, suite, j);
  return true;
}

export function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw e;
    throw new CryptoError("BAD_KEY", `${path} is not valid JSON`);
  }
}

