/**
 * Encrypted key files: how the embedded key provider keeps private and secret keys on disk (Node only).
 * A file holding private material is never plaintext; it is this versioned JSON envelope:
 *
 *   { "format": "privface-keyfile", "v": 1, "kind": "key-pair" | "data-key" | "pool-seed" | "pair-seed" | "backup",
 *     "suite": "INTL" | "GM",
 *     "kdf": { "alg": "scrypt", "N": 65536, "r": 8, "p": 1, "salt": "<16 bytes, base64url>" },
 *     "aead": "AES-256-GCM" (INTL) | "SM4-GCM" (GM), "nonce": "<12 bytes>", "ciphertext": "<ct ‖ tag>" }
 *
 * The key-encryption key (KEK) is scrypt(secret, salt, N, r, p) → 32 bytes; the AEAD key is
 * HKDF-SHA256(KEK, info "privface keyfile v1 <aead>") (32 bytes for AES-256-GCM, 16 for SM4-GCM).
 * The associated data is the canonical JSON of every header field (all but nonce and ciphertext),
 * so a file cannot be passed off as another kind or suite, nor its KDF parameters changed.
 *
 * The secret comes from the environment, never argv: `PRIVFACE_KEY_SECRET` (at least 16 characters)
 * or `PRIVFACE_KEY_SECRET_FILE` (a file holding it). A process derives the KEK once per salt and
 * writes all its files under one salt (one scrypt per process, ≈0.2 s at N = 2^16).
 *
 * Errors (CryptoError codes): KEY_SECRET_MISSING (no or short secret), WRONG_KEY_SECRET (the file does
 * not open under the secret), PLAINTEXT_KEY_FILE (a key file in the clear: refused), BAD_KEY (not a
 * key file, another kind, unknown parameters).
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, scryptSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { sm4GcmDecryptSync, sm4GcmEncryptSync } from "./_backend.node.ts";
import { canonicalJson } from "./_canonical.ts";
import { CryptoError } from "./_errors.ts";
import type { SuiteId } from "./_types.ts";

export type KeyFileKind = "key-pair" | "data-key" | "pool-seed" | "pair-seed" | "backup";
const KINDS: readonly KeyFileKind[] = ["key-pair", "data-key", "pool-seed", "pair-seed", "backup"];
export const KEY_FILE_FORMAT = "privface-keyfile";
/** scrypt cost written into new files: 64 MiB, ≈0.2 s on one core. */
export const KEY_FILE_SCRYPT = { N: 1 << 16, r: 8, p: 1 } as const;
export const MIN_KEY_SECRET_LENGTH = 16;

interface Header {
  format: typeof KEY_FILE_FORMAT;
  v: 1;
  kind: KeyFileKind;
  suite: SuiteId;
  kdf: { alg: "scrypt"; N: number; r: number; p: number; salt: string };
  aead: "AES-256-GCM" | "SM4-GCM";
}

/** The key-file secret named by the environment (PRIVFACE_KEY_SECRET, else PRIVFACE_KEY_SECRET_FILE). */
export function keySecretFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  let secret = env.PRIVFACE_KEY_SECRET;
  let from = "PRIVFACE_KEY_SECRET";
  if (!secret && env.PRIVFACE_KEY_SECRET_FILE) {
    from = `PRIVFACE_KEY_SECRET_FILE (${env.PRIVFACE_KEY_SECRET_FILE})`;
    try {
      secret = readFileSync(env.PRIVFACE_KEY_SECRET_FILE, "utf8").replace(/\r?\n$/, "");
    } catch (e) {
      throw new CryptoError("KEY_SECRET_MISSING", `${from} cannot be read: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
    }
  }
  if (!secret) throw new CryptoError("KEY_SECRET_MISSING", "key files are encrypted: set PRIVFACE_KEY_SECRET or PRIVFACE_KEY_SECRET_FILE (the development stack sets a development secret itself)");
  if (secret.length < MIN_KEY_SECRET_LENGTH) throw new CryptoError("KEY_SECRET_MISSING", `${from} must be at least ${MIN_KEY_SECRET_LENGTH} characters, got ${secret.length}`);
  return secret;
}

const keks = new Map<string, Buffer>();
const writeSalts = new Map<string, string>();
const fingerprint = (secret: string) => createHash("sha256").update("privface key secret\0").update(secret).digest("base64url");

function kek(secret: string, kdf: Header["kdf"]): Buffer {
  const id = `${fingerprint(secret)}:${kdf.N}:${kdf.r}:${kdf.p}:${kdf.salt}`;
  let k = keks.get(id);
  if (!k) {
    k = scryptSync(secret, Buffer.from(kdf.salt, "base64url"), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r });
    keks.set(id, k);
  }
  return k;
}

function aeadKey(k: Buffer, aead: Header["aead"]): Buffer {
  return Buffer.from(hkdfSync("sha256", k, new Uint8Array(0), `privface keyfile v1 ${aead}`, aead === "SM4-GCM" ? 16 : 32));
}

function checkHeader(j: Record<string, unknown>, where: string): Header {
  const kdf = j.kdf as Record<string, unknown> | undefined;
  const okKdf =
    typeof kdf === "object" && kdf !== null && kdf.alg === "scrypt" && typeof kdf.salt === "string" &&
    [kdf.N, kdf.r, kdf.p].every((x) => Number.isInteger(x)) &&
    (kdf.N as number) >= 1 << 14 && (kdf.N as number) <= 1 << 20 && ((kdf.N as number) & ((kdf.N as number) - 1)) === 0 &&
    (kdf.r as number) >= 1 && (kdf.r as number) <= 32 && (kdf.p as number) >= 1 && (kdf.p as number) <= 16;
  if (j.v !== 1) throw new CryptoError("BAD_KEY", `${where}: key file version ${String(j.v)}, expected 1`);
  if (!KINDS.includes(j.kind as KeyFileKind)) throw new CryptoError("BAD_KEY", `${where}: unknown key file kind ${String(j.kind)}`);
  if (j.suite !== "INTL" && j.suite !== "GM") throw new CryptoError("BAD_KEY", `${where}: unknown suite ${String(j.suite)}`);
  if (!okKdf) throw new CryptoError("BAD_KEY", `${where}: kdf must be scrypt with N a power of two in 2^14..2^20, r 1..32, p 1..16`);
  if (j.aead !== (j.suite === "GM" ? "SM4-GCM" : "AES-256-GCM")) throw new CryptoError("BAD_KEY", `${where}: aead ${String(j.aead)} does not match suite ${String(j.suite)}`);
  return { format: KEY_FILE_FORMAT, v: 1, kind: j.kind as KeyFileKind, suite: j.suite, kdf: { alg: "scrypt", N: kdf!.N as number, r: kdf!.r as number, p: kdf!.p as number, salt: kdf!.salt as string }, aead: j.aead as Header["aead"] };
}

/** Is this parsed JSON an encrypted key file (by its format marker)? */
export function isEncryptedKeyFile(j: unknown): boolean {
  return typeof j === "object" && j !== null && (j as { format?: unknown }).format === KEY_FILE_FORMAT;
}

/** The text of an encrypted key file holding `plaintext`, under `secret`. */
export function encryptKeyFile(kind: KeyFileKind, suite: SuiteId, plaintext: Uint8Array, secret: string): string {
  const fp = fingerprint(secret);
  let salt = writeSalts.get(fp);
  if (!salt) writeSalts.set(fp, (salt = randomBytes(16).toString("base64url")));
  const header: Header = { format: KEY_FILE_FORMAT, v: 1, kind, suite, kdf: { alg: "scrypt", ...KEY_FILE_SCRYPT, salt }, aead: suite === "GM" ? "SM4-GCM" : "AES-256-GCM" };
  const key = aeadKey(kek(secret, header.kdf), header.aead);
  const nonce = randomBytes(12);
  const aad = Buffer.from(canonicalJson(header));
  let ct: Uint8Array;
  if (header.aead === "SM4-GCM") ct = sm4GcmEncryptSync(key, nonce, plaintext, aad);
  else {
    const c = createCipheriv("aes-256-gcm", key, nonce).setAAD(aad);
    ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  }
  key.fill(0);
  return JSON.stringify({ ...header, nonce: nonce.toString("base64url"), ciphertext: Buffer.from(ct).toString("base64url") }, null, 2) + "\n";
}

/**
 * The plaintext of an encrypted key file (parsed JSON `j`, read from `where`) of kind `kind`.
 * A plaintext key file is refused with PLAINTEXT_KEY_FILE; a wrong secret gives WRONG_KEY_SECRET.
 */
export function decryptKeyFile(j: unknown, kind: KeyFileKind, secret: string, where: string): Uint8Array {
  if (!isEncryptedKeyFile(j)) {
    const o = typeof j === "object" && j !== null ? (j as Record<string, unknown>) : {};
    if (["privateKey", "key", "seed", "secret", "d"].some((f) => f in o)) {
      throw new CryptoError("PLAINTEXT_KEY_FILE", `${where} holds private key material in the clear; key files must be encrypted (privface start re-encrypts a development home; elsewhere: privface keys encrypt ${where})`);
    }
    throw new CryptoError("BAD_KEY", `${where} is not a privface key file`);
  }
  const o = j as Record<string, unknown>;
  const h = checkHeader(o, where);
  if (h.kind !== kind) throw new CryptoError("BAD_KEY", `${where} holds a ${h.kind}, expected a ${kind}`);
  if (typeof o.nonce !== "string" || typeof o.ciphertext !== "string") throw new CryptoError("BAD_KEY", `${where}: nonce and ciphertext must be base64url strings`);
  const nonce = Buffer.from(o.nonce, "base64url");
  const ct = Buffer.from(o.ciphertext, "base64url");
  if (nonce.length !== 12 || ct.length < 16) throw new CryptoError("BAD_KEY", `${where}: nonce must be 12 bytes and ciphertext at least the 16-byte tag`);
  const key = aeadKey(kek(secret, h.kdf), h.aead);
  const aad = Buffer.from(canonicalJson(h));
  try {
    if (h.aead === "SM4-GCM") return sm4GcmDecryptSync(key, nonce, ct, aad);
    const d = createDecipheriv("aes-256-gcm", key, nonce).setAAD(aad).setAuthTag(ct.subarray(ct.length - 16));
    return new Uint8Array(Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]));
  } catch (e) {
    if (e instanceof CryptoError && e.code !== "AUTH_FAILED") throw e;
    throw new CryptoError("WRONG_KEY_SECRET", `${where} does not open under the key secret given (wrong PRIVFACE_KEY_SECRET, or the file was altered)`);
  } finally {
    key.fill(0);
  }
}
