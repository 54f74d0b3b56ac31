/** Suite identifiers, key shapes and the byte codes the envelopes carry. */
import { CryptoError } from "./_errors.ts";

export type SuiteId = "INTL" | "GM";
export const SUITES: readonly SuiteId[] = ["INTL", "GM"];
export type KeyKind = "seal" | "sign";

export interface PublicKey {
  suite: SuiteId;
  publicKey: Uint8Array;
  /** Optional: when present, functions refuse a key of the other kind. */
  kind?: KeyKind;
}
export interface KeyPair extends PublicKey {
  privateKey: Uint8Array;
}

/** Suite byte carried in every envelope header. */
export const SUITE_CODE: Record<SuiteId, number> = { INTL: 0x01, GM: 0x02 };

export function suiteFromCode(code: number): SuiteId {
  for (const s of SUITES) if (SUITE_CODE[s] === code) return s;
  throw new CryptoError("UNKNOWN_SUITE", `unknown suite byte 0x${code.toString(16).padStart(2, "0")}`);
}

export function checkSuite(suite: unknown, param = "suite"): SuiteId {
  if (suite !== "INTL" && suite !== "GM") {
    throw new TypeError(`${param} must be "INTL" or "GM", got ${typeof suite === "string" ? JSON.stringify(suite) : typeof suite}`);
  }
  return suite;
}

export function checkBytes(v: unknown, param: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${param} must be a Uint8Array`);
  return v;
}

/** Public key length per suite and key kind. GM public keys are uncompressed SM2 points. */
export function publicKeyLength(suite: SuiteId): number {
  return suite === "INTL" ? 32 : 65;
}

export function checkKey(key: PublicKey, kind: KeyKind, param: string, needPrivate: boolean): void {
  if (typeof key !== "object" || key === null) throw new TypeError(`${param} must be a key object`);
  checkSuite(key.suite, `${param}.suite`);
  if (key.kind !== undefined && key.kind !== kind) {
    throw new CryptoError("BAD_KEY", `${param} is a ${key.kind} key, expected a ${kind} key`);
  }
  checkBytes(key.publicKey, `${param}.publicKey`);
  if (key.publicKey.length !== publicKeyLength(key.suite)) {
    throw new CryptoError("BAD_PUBLIC_KEY", `${param}.publicKey must be ${publicKeyLength(key.suite)} bytes for ${key.suite}, got ${key.publicKey.length}`);
  }
  if (needPrivate) {
    const priv = checkBytes((key as KeyPair).privateKey, `${param}.privateKey`);
    if (priv.length !== 32) throw new CryptoError("BAD_KEY", `${param}.privateKey must be 32 bytes, got ${priv.length}`);
  }
}
