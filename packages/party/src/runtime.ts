/**
 * The runtime layout of a dev deployment (docs/contracts.md): `ensureRuntime(home)` creates, only
 * where missing, the dev PKI (`pki/`, via @privface/pki ensureDevPki) and every key file (`keys/`):
 * party sealing key pairs, party data keys, pool seeds shared by the helper and each party, the
 * gateway signing key (and its public half for the parties), audit signing keys per server.
 * Returns the names it created (never key material).
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensureDataKeyFile, ensureKeyPairFile, readKeyPairFile, writePublicKeyFile } from "@privface/crypto/node";
import { ensureSeedFile } from "@privface/helper/seed";
import { ensureDevPki } from "@privface/pki";

export interface RuntimePaths {
  home: string;
  pki: string;
  keys: string;
  data: string;
}

export function runtimePaths(home: string): RuntimePaths {
  return { home, pki: join(home, "pki"), keys: join(home, "keys"), data: join(home, "data") };
}

export async function ensureRuntime(home: string): Promise<{ paths: RuntimePaths; created: string[] }> {
  const paths = runtimePaths(home);
  for (const d of [home, paths.keys, paths.data]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const pki = await ensureDevPki(paths.pki);
  created.push(...pki.created.map((f) => `pki/${f}`));
  const k = (f: string) => join(paths.keys, f);
  const month = new Date().toISOString().slice(0, 7);
  for (const p of ["p0", "p1"]) {
    if ((await ensureKeyPairFile(k(`${p}-seal.json`), "INTL", "seal")).created) created.push(`keys/${p}-seal.json`);
    if (ensureDataKeyFile(k(`${p}-data.json`), "INTL", `${p}-${month}`).created) created.push(`keys/${p}-data.json`);
    if (ensureSeedFile(k(`${p}-pool-seed.json`), p.toUpperCase() as "P0" | "P1")) created.push(`keys/${p}-pool-seed.json`);
  }
  for (const s of ["helper", "p0", "p1", "gateway"]) {
    if ((await ensureKeyPairFile(k(`${s}-audit.json`), "INTL", "sign")).created) created.push(`keys/${s}-audit.json`);
  }
  const gw = await ensureKeyPairFile(k("gateway-signing.json"), "INTL", "sign");
  if (gw.created) created.push("keys/gateway-signing.json");
  if (gw.created || !existsSync(k("gateway-signing.pub.json"))) {
    const kp = await readKeyPairFile(k("gateway-signing.json"));
    writePublicKeyFile(k("gateway-signing.pub.json"), { suite: kp.suite, publicKey: kp.publicKey, kind: "sign" });
    created.push("keys/gateway-signing.pub.json");
  }
  return { paths, created };
}
