/**
 * The KeyProvider seam. Servers hold their long-term keys behind `Signer` / `Opener` so that an HSM
 * or a certified cryptographic module (GM/T 0028, as GB/T 39786 assessments expect) can replace the
 * software keys without touching protocol code. `softwareSigner` / `softwareOpener` wrap a KeyPair.
 */
import { open } from "./_seal.ts";
import { sign } from "./_sign.ts";
import type { KeyPair, SuiteId } from "./_types.ts";

export interface Signer {
  readonly suite: SuiteId;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

export interface Opener {
  readonly suite: SuiteId;
  readonly publicKey: Uint8Array;
  open(envelope: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
}

export function softwareSigner(kp: KeyPair): Signer {
  return { suite: kp.suite, publicKey: kp.publicKey, sign: (m) => sign(kp, m) };
}

export function softwareOpener(kp: KeyPair): Opener {
  return { suite: kp.suite, publicKey: kp.publicKey, open: (e, a) => open(kp, e, a) };
}
