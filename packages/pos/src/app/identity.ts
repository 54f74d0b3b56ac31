/**
 * The terminal's device identity in the browser: on first run the page makes two WebCrypto key
 * pairs whose private halves are NOT extractable — an Ed25519 signing key (the device signature on
 * every request) and an X25519 key-agreement key (the statement MACs for P0 and P1) — and keeps the
 * CryptoKey objects in IndexedDB (the browser stores them; script can use them, never read them).
 * The server never hands a private key to the page.
 *
 * Pairing: the page shows its public keys as a pairing code `pf1.<signing key>.<auth key>`
 * (base64url) and a short fingerprint; an administrator registers the code for the merchant
 * (`privface gateway device-add --pairing-code …`, which prints the same fingerprint), a second
 * operator approves it (`privface gateway device-approve`, R27), and the
 * cashier types the device id the gateway gave into the page, which keeps it in localStorage.
 */
import { toBase64url, type KeyAgreer, type PublicKey, type Signer } from "@privface/crypto";

export interface DeviceIdentity {
  signer: Signer;
  agreer: KeyAgreer;
  /** `pf1.<sign>.<auth>` */
  pairingCode: string;
  /** first 8 bytes of SHA-256 of the pairing code, hex in groups of four */
  fingerprint: string;
}

interface Stored {
  sign: CryptoKeyPair;
  auth: CryptoKeyPair;
}

const DB = "privface-pos";
const STORE = "device";
const KEY = "identity";

function idb<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const req = fn(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => {
        db.close();
        resolve(req.result);
      };
      req.onerror = () => {
        db.close();
        reject(req.error);
      };
    };
  });
}

const raw = async (k: CryptoKey) => new Uint8Array(await crypto.subtle.exportKey("raw", k));

/** The stored identity, or a new one (stored) on first run. */
export async function loadIdentity(): Promise<DeviceIdentity> {
  let s = await idb<Stored | undefined>("readonly", (st) => st.get(KEY) as IDBRequest<Stored | undefined>);
  if (!s) {
    s = {
      sign: (await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"])) as CryptoKeyPair,
      auth: (await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])) as CryptoKeyPair,
    };
    await idb("readwrite", (st) => st.put(s, KEY));
  }
  const signPub = await raw(s.sign.publicKey);
  const authPub = await raw(s.auth.publicKey);
  const { sign, auth } = s;
  const signer: Signer = {
    suite: "INTL",
    publicKey: signPub,
    sign: async (m) => new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, sign.privateKey, new Uint8Array(m))),
  };
  const agreer: KeyAgreer = {
    suite: "INTL",
    kind: "seal",
    publicKey: authPub,
    derive: async (peer: PublicKey) => {
      const pk = await crypto.subtle.importKey("raw", new Uint8Array(peer.publicKey), { name: "X25519" }, false, []);
      return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pk }, auth.privateKey, 256));
    },
  };
  const pairingCode = `pf1.${toBase64url(signPub)}.${toBase64url(authPub)}`;
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pairingCode))).slice(0, 8);
  const hex = Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
  return { signer, agreer, pairingCode, fingerprint: hex.match(/.{4}/g)!.join(" ") };
}
