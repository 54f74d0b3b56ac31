/**
 * `ensureRuntime(home)` creates, only where missing, what a development deployment keeps in its
 * runtime home (@privface/config `runtimeLayout` names every file): the dev PKI (`pki/`, via
 * @privface/pki `ensureDevPki`), party sealing key pairs, party data keys, pool seeds shared by the
 * helper and each party, the gateway signing key (and its public half for the parties), audit
 * signing keys per server. Returns the names it created (never key material).
 */
import { existsSync, mkdirSync } from "node:fs";
import { relative } from "node:path";
import { runtimeLayout, type RuntimeLayout } from "@privface/config";
import { ensureDataKeyFile, ensureKeyPairFile, ensurePoolSeedFile, readKeyPairFile, writePublicKeyFile } from "@privface/crypto/node";
import { ensureDevPki } from "@privface/pki";

export async function ensureRuntime(home: string): Promise<{ layout: RuntimeLayout; created: string[] }> {
  const L = runtimeLayout(home);
  for (const d of [L.home, L.dirs.keys, L.dirs.data]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const made = (path: string) => created.push(relative(L.home, path));
  const pki = await ensureDevPki(L.dirs.pki);
  created.push(...pki.created.map((f) => `pki/${f}`));
  const month = new Date().toISOString().slice(0, 7);
  for (const p of ["p0", "p1"] as const) {
    if ((await ensureKeyPairFile(L.sealKey(p), "INTL", "seal")).created) made(L.sealKey(p));
    const root = await ensureKeyPairFile(L.root(p), "INTL", "sign");
    if (root.created) made(L.root(p));
    if (root.created || !existsSync(L.rootPub(p))) {
      writePublicKeyFile(L.rootPub(p), { suite: root.key.suite, publicKey: root.key.publicKey, kind: "sign" });
      made(L.rootPub(p));
    }
    if (ensureDataKeyFile(L.dataKey(p), "INTL", `${p}-${month}`).created) made(L.dataKey(p));
    if (ensureDataKeyFile(L.nonceKey(p), "INTL", `${p}-nonce`).created) made(L.nonceKey(p));
    if (ensurePoolSeedFile(L.poolSeed(p), p === "p0" ? "P0" : "P1")) made(L.poolSeed(p));
  }
  for (const s of ["helper", "p0", "p1", "gateway"] as const) {
    if ((await ensureKeyPairFile(L.auditKey(s), "INTL", "sign")).created) made(L.auditKey(s));
  }
  const gw = await ensureKeyPairFile(L.gatewaySigningKey, "INTL", "sign");
  if (gw.created) made(L.gatewaySigningKey);
  if (gw.created || !existsSync(L.gatewaySigningPub)) {
    const kp = await readKeyPairFile(L.gatewaySigningKey);
    writePublicKeyFile(L.gatewaySigningPub, { suite: kp.suite, publicKey: kp.publicKey, kind: "sign" });
    made(L.gatewaySigningPub);
  }
  return { layout: L, created };
}
