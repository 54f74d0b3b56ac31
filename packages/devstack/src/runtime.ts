/**
 * `ensureRuntime(home)` creates, only where missing, what a development deployment keeps in its
 * runtime home (@privface/config `runtimeLayout` names every file): the dev PKI (`pki/`, via
 * @privface/pki `ensureDevPki`) and one key folder per server (`keys/<server>/`, mode 0700, only that
 * server's private material): party sealing key pairs, data keys and pool seeds (the helper keeps its
 * own copy of each party's seed), the gateway signing key, audit signing keys per server, the result
 * keys of the parties and the gateway (result-share MACs); and `keys/public/` with the public halves
 * the others receive (party sealing keys, the gateway's signing key, result and audit keys). Keys of the earlier flat `keys/` layout are moved into their folders first.
 * Private key files are encrypted under PRIVFACE_KEY_SECRET (@privface/crypto/node key files); when
 * the environment names no secret, the development secret is set in `process.env` (so the servers the
 * stack spawns inherit it), and plaintext key files of an earlier home are encrypted in place.
 * With `opts.gatewaySigningKey` (or PRIVFACE_GATEWAY_SIGNING_KEY) a PKCS#11 URI, the gateway's signing
 * key lives in that token: no key file is made, and the token key's public half is published.
 * Keys are made in the deployment's suite (`PRIVFACE_SUITE`, INTL by default; @privface/config
 * `deploymentSuite`); a home made in the other suite is refused by the servers at start.
 * Returns the names it created or encrypted (never key material).
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, relative } from "node:path";
import { deploymentSuite, legacyKeyFiles, runtimeLayout, SERVER_NAMES, useDevKeySecret, type RuntimeLayout } from "@privface/config";
import { resultKey, type PartyName, type ResultKey } from "@privface/contracts";
import { publicKeyToJson, type PublicKey } from "@privface/crypto";
import { isPkcs11Uri, pkcs11SignerFromUri } from "@privface/crypto/pkcs11";
import { encryptKeyFileInPlace, ensureDataKeyFile, ensureKeyPairFile, ensurePairSeedFiles, ensurePoolSeedFile, readKeyPairFile, readPublicKeyFile, writePublicKeyFile, type KeyFileKind } from "@privface/crypto/node";
import { ensureDevPki } from "@privface/pki";

export async function ensureRuntime(home: string, opts: { gatewaySigningKey?: string; suite?: "INTL" | "GM" } = {}): Promise<{ layout: RuntimeLayout; created: string[] }> {
  const L = runtimeLayout(home);
  const privateDirs = [L.home, L.dirs.keys, L.dirs.data, L.dirs.cli, ...SERVER_NAMES.map((s) => L.keyDir(s))];
  for (const d of privateDirs) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chmodSync(d, 0o700);
  }
  mkdirSync(L.dirs.public, { recursive: true, mode: 0o755 });
  for (const { from, to } of legacyKeyFiles(L)) if (existsSync(from) && !existsSync(to)) renameSync(from, to);
  useDevKeySecret();
  const created: string[] = [];
  const made = (path: string) => created.push(relative(L.home, path));
  for (const [path, kind] of privateKeyFiles(L)) if (existsSync(path) && encryptKeyFileInPlace(path, kind)) made(path);
  const pki = await ensureDevPki(L.dirs.pki);
  created.push(...pki.created.map((f) => `pki/${f}`));
  /** the public half of the key pair at `priv`, written to `pub` unless it already holds exactly that */
  const publish = async (priv: string, pub: string) => publishKey(await readKeyPairFile(priv), pub);
  /** `kp`'s public half written to `pub` unless it already holds exactly that */
  const publishKey = async (kp: PublicKey, pub: string) => {
    const want = JSON.stringify(publicKeyToJson({ suite: kp.suite, kind: kp.kind, publicKey: kp.publicKey }));
    let have = "";
    try {
      have = JSON.stringify(JSON.parse(readFileSync(pub, "utf8")));
    } catch {
      /* missing or unreadable: rewrite */
    }
    if (have === want) return;
    writePublicKeyFile(pub, { suite: kp.suite, kind: kp.kind, publicKey: kp.publicKey });
    made(pub);
  };
  const month = new Date().toISOString().slice(0, 7);
  const suite = opts.suite ?? deploymentSuite();
  for (const p of ["p0", "p1"] as const) {
    if ((await ensureKeyPairFile(L.sealKey(p), suite, "seal")).created) made(L.sealKey(p));
    await publish(L.sealKey(p), L.sealPub(p));
    if ((await ensureKeyPairFile(L.root(p), suite, "sign")).created) made(L.root(p));
    await publish(L.root(p), L.rootPub(p));
    if (ensureDataKeyFile(L.dataKey(p), suite, `${p}-${month}`).created) made(L.dataKey(p));
    if (ensureDataKeyFile(L.nonceKey(p), suite, `${p}-nonce`).created) made(L.nonceKey(p));
    if (ensurePoolSeedFile(L.poolSeed(p), p === "p0" ? "P0" : "P1")) made(L.poolSeed(p));
    // the helper's copy of the seed it shares with this party (the party's copy is the original)
    const hp = L.helperPoolSeed(p);
    if (!existsSync(hp) || !readFileSync(hp).equals(readFileSync(L.poolSeed(p)))) {
      mkdirSync(dirname(hp), { recursive: true, mode: 0o700 });
      copyFileSync(L.poolSeed(p), hp);
      chmodSync(hp, 0o600);
      made(hp);
    }
  }
  // the seed only P0 and P1 share (one seed, a copy in each party's folder)
  for (const f of ensurePairSeedFiles([L.pairSeed("p0"), L.pairSeed("p1")])) made(f);
  for (const s of SERVER_NAMES) {
    if ((await ensureKeyPairFile(L.auditKey(s), suite, "sign")).created) made(L.auditKey(s));
    await publish(L.auditKey(s), L.auditPub(s));
  }
  const tokenKey = opts.gatewaySigningKey ?? process.env.PRIVFACE_GATEWAY_SIGNING_KEY;
  if (isPkcs11Uri(tokenKey)) {
    // the gateway signs with a key in a PKCS#11 token: publish that key's public half
    const signer = await pkcs11SignerFromUri(tokenKey);
    signer.close();
    await publishKey({ suite: signer.suite, kind: "sign", publicKey: signer.publicKey }, L.gatewaySigningPub);
  } else {
    if ((await ensureKeyPairFile(L.gatewaySigningKey, suite, "sign")).created) made(L.gatewaySigningKey);
    await publish(L.gatewaySigningKey, L.gatewaySigningPub);
  }
  for (const s of ["p0", "p1", "gateway"] as const) {
    if ((await ensureKeyPairFile(L.resultKey(s), suite, "seal")).created) made(L.resultKey(s));
    await publish(L.resultKey(s), L.resultPub(s));
  }
  return { layout: L, created };
}

/** Every private key file of a home's servers and what it holds. */
export function privateKeyFiles(L: RuntimeLayout): [string, KeyFileKind][] {
  const out: [string, KeyFileKind][] = [];
  for (const p of ["p0", "p1"] as const) {
    out.push([L.sealKey(p), "key-pair"], [L.root(p), "key-pair"], [L.resultKey(p), "key-pair"]);
    out.push([L.dataKey(p), "data-key"], [L.nonceKey(p), "data-key"]);
    out.push([L.poolSeed(p), "pool-seed"], [L.helperPoolSeed(p), "pool-seed"], [L.pairSeed(p), "pair-seed"]);
  }
  for (const s of SERVER_NAMES) out.push([L.auditKey(s), "key-pair"]);
  out.push([L.gatewaySigningKey, "key-pair"], [L.resultKey("gateway"), "key-pair"], [L.gatewayDataKey, "data-key"]);
  return out;
}

/** The gateway's result-share MAC key with `party`, from a runtime home (for clients of the parties in tests and tools). */
export async function gatewayResultKey(L: RuntimeLayout, party: PartyName): Promise<ResultKey> {
  useDevKeySecret(); // a development home: its secret, as ensureRuntime set it
  return resultKey(await readKeyPairFile(L.resultKey("gateway")), readPublicKeyFile(L.resultPub(party === "P0" ? "p0" : "p1")), party);
}
