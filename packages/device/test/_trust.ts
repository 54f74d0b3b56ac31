/** Test provisioning of decision 010 §1: institution roots, signed key lists for given sealing keys, a device auth key. */
import { sealingKeyId, signKeyList, type PartyName } from "@privface/contracts";
import { generateSealKeyPair, generateSigningKeyPair, toBase64url, type KeyPair, type SignedJson, type SuiteId } from "@privface/crypto";
import type { DeviceTrust } from "../src/index.ts";

export interface TestTrust {
  roots: Record<PartyName, KeyPair>;
  keyLists: Record<PartyName, SignedJson>;
  trust: DeviceTrust;
  auth: KeyPair;
  list(party: PartyName, seal: KeyPair, o?: { version?: number; expiresAt?: number; root?: KeyPair; as?: PartyName }): Promise<SignedJson>;
}

export async function testTrust(suite: SuiteId, seal: Record<PartyName, KeyPair>): Promise<TestTrust> {
  const roots = { P0: await generateSigningKeyPair(suite), P1: await generateSigningKeyPair(suite) };
  const list: TestTrust["list"] = async (party, key, o = {}) => {
    const t = Date.now();
    return signKeyList(o.root ?? roots[party], {
      party: o.as ?? party,
      version: o.version ?? 1,
      issuedAt: t,
      expiresAt: o.expiresAt ?? t + 86_400_000,
      keys: [{ id: await sealingKeyId(key), suite: key.suite, publicKey: toBase64url(key.publicKey) }],
    });
  };
  const keyLists = { P0: await list("P0", seal.P0), P1: await list("P1", seal.P1) };
  const pub = (k: KeyPair) => ({ suite: k.suite, kind: "sign" as const, publicKey: k.publicKey });
  return { roots, keyLists, trust: { roots: { P0: pub(roots.P0), P1: pub(roots.P1) }, seen: {} }, auth: await generateSealKeyPair(suite), list };
}
