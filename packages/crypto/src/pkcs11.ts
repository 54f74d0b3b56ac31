/**
 * @privface/crypto/pkcs11 — the PKCS#11 key provider (Node only): signing keys that live in a token
 * (an HSM; SoftHSM2 in the tests) and never leave it. Keys are generated inside the token as
 * sensitive and non-extractable; `sign` runs C_Sign in the token; only public keys come out.
 *
 * The binding is pkcs11js (an optional dependency, built from source with node-gyp), imported only
 * when `openPkcs11` is called, so servers that use file keys start without it.
 *
 * - `openPkcs11({ module, token, pin })` → a session on the token whose label is `token`.
 * - `session.generateKey(label, algorithm)`: a key pair inside the token ("Ed25519" with CKM_EDDSA,
 *   "ECDSA-P256" with CKM_ECDSA over SHA-256); `session.key(label)`: an existing one.
 * - `TokenKey.sign(message)` → Ed25519: the 64-byte signature; ECDSA-P256: r ‖ s (IEEE P1363, 64 bytes)
 *   over SHA-256(message). `TokenKey.publicKey` → Ed25519: 32 bytes; P-256: the uncompressed point.
 * - `pkcs11Signer(key)`: the `Signer` seam (@privface/crypto `softwareSigner`'s twin) for an Ed25519
 *   token key, i.e. the INTL suite's signatures. SM2 (GM suite) is not offered: SoftHSM2 has no SM2.
 * - `pkcs11SignerFromUri(uri)` / `openPkcs11Uri(uri)` / `generatePkcs11KeyFromUri(uri)`: the same from a
 *   PKCS#11 URI (the PIN from its pin-source file or PRIVFACE_PKCS11_PIN); the last makes a new Ed25519
 *   key under the URI's label (`privface keys hsm-generate`, the key ceremony), never over an existing one.
 * - `session.readPrivateValue(label)`: asks the token for the private key's CKA_VALUE — a token that
 *   keeps keys inside refuses (the tests assert it does).
 *
 * Errors: CryptoError PKCS11_UNAVAILABLE (binding or module cannot be loaded), PKCS11_ERROR (a call
 * failed: no such token, wrong PIN, no such key, mechanism refused), with the PKCS#11 function named.
 * Calls are synchronous (C_SignInit + C_Sign pairs never interleave on a session).
 *
 * @example
 *   const s = await openPkcs11({ module: "/usr/lib/softhsm/libsofthsm2.so", token: "privface", pin });
 *   const signer = pkcs11Signer(s.key("gateway-signing"));
 *   const sig = await signer.sign(message); // verify(...) with signer.publicKey, suite INTL
 */
import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { CryptoError } from "./_errors.ts";
import type { Signer } from "./_provider.ts";

export type TokenKeyAlgorithm = "Ed25519" | "ECDSA-P256";

export interface Pkcs11Options {
  /** path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so) */
  module: string;
  /** the token's label */
  token: string;
  /** the user PIN */
  pin: string;
}

export interface TokenKey {
  readonly label: string;
  readonly algorithm: TokenKeyAlgorithm;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

export interface Pkcs11Session {
  generateKey(label: string, algorithm: TokenKeyAlgorithm): TokenKey;
  key(label: string): TokenKey;
  readPrivateValue(label: string): Uint8Array;
  close(): void;
}

// the parts of pkcs11js this module uses (its own typings come with the optional dependency)
type Handle = Buffer;
interface Attr {
  type: number;
  value?: number | boolean | string | Buffer;
}
interface Pkcs11Module {
  load(path: string): void;
  C_Initialize(): void;
  C_Finalize(): void;
  C_GetSlotList(tokenPresent?: boolean): Handle[];
  C_GetTokenInfo(slot: Handle): { label: string };
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_FindObjectsInit(session: Handle, template: Attr[]): void;
  C_FindObjects(session: Handle, max: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(session: Handle, object: Handle, template: Attr[]): { type: number; value: Buffer }[];
  C_GenerateKeyPair(session: Handle, mechanism: { mechanism: number }, publicTemplate: Attr[], privateTemplate: Attr[]): { publicKey: Handle; privateKey: Handle };
  C_SignInit(session: Handle, mechanism: { mechanism: number }, key: Handle): void;
  C_Sign(session: Handle, data: Buffer, out: Buffer): Buffer;
}
type Binding = Record<string, number> & { PKCS11: new () => Pkcs11Module };

// PKCS#11 v3.0 constants pkcs11js does not name
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
const CKR_USER_ALREADY_LOGGED_IN = 0x100;
/** DER of the curve OIDs: id-Ed25519 (1.3.101.112) and prime256v1 (1.2.840.10045.3.1.7) */
const EC_PARAMS: Record<TokenKeyAlgorithm, Buffer> = {
  Ed25519: Buffer.from("06032b6570", "hex"),
  "ECDSA-P256": Buffer.from("06082a8648ce3d030107", "hex"),
};

function loadBinding(): Binding {
  try {
    return createRequire(import.meta.url)("pkcs11js") as Binding;
  } catch (e) {
    throw new CryptoError("PKCS11_UNAVAILABLE", `the pkcs11js binding cannot be loaded (optional dependency; npm install builds it): ${(e as Error).message}`);
  }
}

/** one loaded, initialised module per path (C_Initialize once per process), finalised when unused */
const modules = new Map<string, { mod: Pkcs11Module; users: number }>();

function call<T>(fn: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    throw new CryptoError("PKCS11_ERROR", `${fn}: ${(e as Error).message}`);
  }
}

/** The DER OCTET STRING wrapping of CKA_EC_POINT removed (SoftHSM and most tokens wrap it). */
function unwrapPoint(v: Buffer): Buffer {
  if (v[0] === 0x04 && v.length > 2 && v[1] === v.length - 2) return v.subarray(2);
  if (v[0] === 0x04 && v[1] === 0x81 && v[2] === v.length - 3) return v.subarray(3);
  return v;
}

export async function openPkcs11(o: Pkcs11Options): Promise<Pkcs11Session> {
  if (typeof o?.module !== "string" || typeof o.token !== "string" || typeof o.pin !== "string") throw new TypeError("openPkcs11: module, token and pin must be strings");
  const p = loadBinding();
  let entry = modules.get(o.module);
  if (!entry) {
    const mod = new p.PKCS11();
    try {
      mod.load(o.module);
    } catch (e) {
      throw new CryptoError("PKCS11_UNAVAILABLE", `PKCS#11 module ${o.module} cannot be loaded: ${(e as Error).message}`);
    }
    call("C_Initialize", () => mod.C_Initialize());
    entry = { mod, users: 0 };
    modules.set(o.module, entry);
  }
  const mod = entry.mod;
  const slot = call("C_GetSlotList", () => mod.C_GetSlotList(true)).find((s) => mod.C_GetTokenInfo(s).label.trim() === o.token);
  if (!slot) throw new CryptoError("PKCS11_ERROR", `C_GetTokenInfo: no token labelled ${JSON.stringify(o.token)} in ${o.module}`);
  const session = call("C_OpenSession", () => mod.C_OpenSession(slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION));
  entry.users++;
  try {
    mod.C_Login(session, p.CKU_USER, o.pin);
  } catch (e) {
    if ((e as { code?: number }).code !== CKR_USER_ALREADY_LOGGED_IN) {
      mod.C_CloseSession(session);
      entry.users--;
      throw new CryptoError("PKCS11_ERROR", `C_Login: ${(e as Error).message}`);
    }
  }

  const find = (label: string, cls: number): Handle => {
    const found = call("C_FindObjects", () => {
      mod.C_FindObjectsInit(session, [{ type: p.CKA_CLASS, value: cls }, { type: p.CKA_LABEL, value: label }]);
      try {
        return mod.C_FindObjects(session, 2);
      } finally {
        mod.C_FindObjectsFinal(session);
      }
    });
    if (found.length !== 1) throw new CryptoError("PKCS11_ERROR", `C_FindObjects: ${found.length} ${cls === p.CKO_PRIVATE_KEY ? "private" : "public"} keys labelled ${JSON.stringify(label)} in token ${JSON.stringify(o.token)}, expected 1`);
    return found[0];
  };

  const tokenKey = (label: string, algorithm: TokenKeyAlgorithm, priv: Handle, pub: Handle): TokenKey => {
    const point = call("C_GetAttributeValue", () => mod.C_GetAttributeValue(session, pub, [{ type: p.CKA_EC_POINT }])[0].value);
    const publicKey = new Uint8Array(unwrapPoint(point));
    const mechanism = { mechanism: algorithm === "Ed25519" ? CKM_EDDSA : p.CKM_ECDSA };
    return {
      label,
      algorithm,
      publicKey,
      async sign(message) {
        if (!(message instanceof Uint8Array)) throw new TypeError("sign: message must be a Uint8Array");
        const data = algorithm === "Ed25519" ? Buffer.from(message) : createHash("sha256").update(message).digest();
        return call("C_Sign", () => {
          mod.C_SignInit(session, mechanism, priv);
          return new Uint8Array(mod.C_Sign(session, data, Buffer.alloc(128)));
        });
      },
    };
  };

  const algorithmOf = (pub: Handle): TokenKeyAlgorithm => {
    const [type, params] = call("C_GetAttributeValue", () => mod.C_GetAttributeValue(session, pub, [{ type: p.CKA_KEY_TYPE }, { type: p.CKA_EC_PARAMS }]));
    if (type.value.readUInt32LE(0) === CKK_EC_EDWARDS) return "Ed25519"; // a CK_ULONG, little-endian here
    if (params.value.equals(EC_PARAMS["ECDSA-P256"])) return "ECDSA-P256";
    throw new CryptoError("PKCS11_ERROR", "C_GetAttributeValue: the key is neither Ed25519 nor EC P-256");
  };

  let open = true;
  return {
    generateKey(label, algorithm) {
      if (!EC_PARAMS[algorithm]) throw new RangeError(`algorithm must be Ed25519 or ECDSA-P256, got ${String(algorithm)}`);
      const id = randomBytes(16);
      const common = [{ type: p.CKA_TOKEN, value: true }, { type: p.CKA_LABEL, value: label }, { type: p.CKA_ID, value: id }];
      const { publicKey, privateKey } = call("C_GenerateKeyPair", () =>
        mod.C_GenerateKeyPair(
          session,
          { mechanism: algorithm === "Ed25519" ? CKM_EC_EDWARDS_KEY_PAIR_GEN : p.CKM_EC_KEY_PAIR_GEN },
          [...common, { type: p.CKA_EC_PARAMS, value: EC_PARAMS[algorithm] }, { type: p.CKA_VERIFY, value: true }],
          [...common, { type: p.CKA_PRIVATE, value: true }, { type: p.CKA_SENSITIVE, value: true }, { type: p.CKA_EXTRACTABLE, value: false }, { type: p.CKA_SIGN, value: true }],
        ),
      );
      return tokenKey(label, algorithm, privateKey, publicKey);
    },
    key(label) {
      const pub = find(label, p.CKO_PUBLIC_KEY);
      return tokenKey(label, algorithmOf(pub), find(label, p.CKO_PRIVATE_KEY), pub);
    },
    readPrivateValue(label) {
      const priv = find(label, p.CKO_PRIVATE_KEY);
      return new Uint8Array(call("C_GetAttributeValue", () => mod.C_GetAttributeValue(session, priv, [{ type: p.CKA_VALUE }])[0].value));
    },
    close() {
      if (!open) return;
      open = false;
      mod.C_CloseSession(session);
      if (--entry.users === 0) {
        modules.delete(o.module);
        mod.C_Finalize();
      }
    },
  };
}

/** The `Signer` seam over an Ed25519 token key: INTL-suite signatures made inside the token. */
export function pkcs11Signer(key: TokenKey): Signer {
  if (key.algorithm !== "Ed25519") throw new CryptoError("PKCS11_ERROR", `a Signer needs an Ed25519 token key (the INTL suite), ${key.label} is ${key.algorithm}`);
  return { suite: "INTL", publicKey: key.publicKey, sign: (m) => key.sign(m) };
}

/** A PKCS#11 URI (RFC 7512) naming a key: `pkcs11:token=<label>;object=<label>?module-path=<so>&pin-source=file:<path>`. */
export interface Pkcs11KeyUri {
  token: string;
  object: string;
  module: string;
  /** the file holding the PIN (pin-source=file:…), else the PIN comes from PRIVFACE_PKCS11_PIN */
  pinFile: string | undefined;
}

export function isPkcs11Uri(v: string | undefined): v is string {
  return typeof v === "string" && v.startsWith("pkcs11:");
}

/** Parses the subset of RFC 7512 this provider uses; throws RangeError naming what is missing. */
export function parsePkcs11Uri(uri: string): Pkcs11KeyUri {
  if (!isPkcs11Uri(uri)) throw new RangeError(`a PKCS#11 URI starts with "pkcs11:", got ${JSON.stringify(String(uri).slice(0, 12))}`);
  const [path, query = ""] = uri.slice("pkcs11:".length).split("?", 2);
  const attrs = (s: string, sep: string) => new Map(s.split(sep).filter(Boolean).map((kv) => {
    const i = kv.indexOf("=");
    return [kv.slice(0, i), decodeURIComponent(kv.slice(i + 1))] as [string, string];
  }));
  const p = attrs(path, ";");
  const q = attrs(query, "&");
  const token = p.get("token");
  const object = p.get("object");
  const module = q.get("module-path");
  const pin = q.get("pin-source");
  if (!token || !object || !module) throw new RangeError("a PKCS#11 key URI needs token= and object= (path) and module-path= (query)");
  if (q.has("pin-value")) throw new RangeError("pin-value is refused in a PKCS#11 URI: use pin-source=file:… or PRIVFACE_PKCS11_PIN");
  if (pin !== undefined && !pin.startsWith("file:")) throw new RangeError("pin-source must be file:<path>");
  return { token, object, module, pinFile: pin?.slice("file:".length) };
}

/**
 * The Signer of the Ed25519 token key a PKCS#11 URI names (the PIN from its pin-source file, else
 * `env.PRIVFACE_PKCS11_PIN`), with `close()` to end its session.
 */
export async function pkcs11SignerFromUri(uri: string, env: NodeJS.ProcessEnv = process.env): Promise<Signer & { close(): void }> {
  const { session: s, object } = await openPkcs11Uri(uri, env);
  try {
    return { ...pkcs11Signer(s.key(object)), close: () => s.close() };
  } catch (e) {
    s.close();
    throw e;
  }
}

/** A session on the token a PKCS#11 URI names (the PIN as for `pkcs11SignerFromUri`), and the key label it names. */
export async function openPkcs11Uri(uri: string, env: NodeJS.ProcessEnv = process.env): Promise<{ session: Pkcs11Session; object: string }> {
  const u = parsePkcs11Uri(uri);
  let pin = env.PRIVFACE_PKCS11_PIN;
  if (u.pinFile) {
    const { readFileSync } = await import("node:fs");
    pin = readFileSync(u.pinFile, "utf8").replace(/\r?\n$/, "");
  }
  if (!pin) throw new CryptoError("PKCS11_ERROR", `no PIN for token ${JSON.stringify(u.token)}: give pin-source=file:… in the URI or PRIVFACE_PKCS11_PIN`);
  return { session: await openPkcs11({ module: u.module, token: u.token, pin }), object: u.object };
}

/**
 * The key ceremony's step (`privface keys hsm-generate`): a new Ed25519 key pair made inside the token
 * under the URI's label, sensitive and non-extractable; refused (PKCS11_ERROR) when the label exists.
 * Returns its public key.
 */
export async function generatePkcs11KeyFromUri(uri: string, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  const { session: s, object } = await openPkcs11Uri(uri, env);
  try {
    let exists = true;
    try {
      s.key(object);
    } catch {
      exists = false;
    }
    if (exists) throw new CryptoError("PKCS11_ERROR", `the token already holds a key labelled ${JSON.stringify(object)}: a new key never replaces one`);
    return s.generateKey(object, "Ed25519").publicKey;
  } finally {
    s.close();
  }
}
