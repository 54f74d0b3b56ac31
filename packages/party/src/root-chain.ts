/**
 * A party's root handover chain (issue 13, @privface/contracts `signRootHandover`): the file
 * `ROOT_HANDOVERS` (default `keys/public/<party>-root-handovers.json`, public: a JSON array of
 * signed handovers, oldest first) that `privface keys rotate --kind root` appends to. The party sends
 * it inside every key list it signs. At start the chain must be whole (each step signed by the root
 * before it) and end at the configured `ROOT_KEY`: a party configured with a root that has handed
 * over is refused (`ROOT_RETIRED`, exit 2), so the old root signs no list after its handover.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { ConfigError } from "@privface/config";
import { followRootHandovers, TrustError, type PartyName } from "@privface/contracts";
import { fromBase64url, toBase64url, type PublicKey, type SignedJson } from "@privface/crypto";

/** The chain in `file` (none: []), checked whole. @throws ConfigError */
export async function readRootHandovers(file: string, party: PartyName): Promise<SignedJson[]> {
  if (!existsSync(file)) return [];
  let chain: unknown;
  try {
    chain = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new ConfigError([`ROOT_HANDOVERS (${file}): not JSON`]);
  }
  if (!Array.isArray(chain)) throw new ConfigError([`ROOT_HANDOVERS (${file}): expected an array of signed handovers`]);
  if (chain.length === 0) return [];
  try {
    const first = JSON.parse(Buffer.from(String((chain[0] as SignedJson)?.payload), "base64url").toString("utf8")) as { from?: { suite?: string; publicKey?: string } };
    const from: PublicKey = { suite: first.from?.suite === "GM" ? "GM" : "INTL", kind: "sign", publicKey: fromBase64url(String(first.from?.publicKey)) };
    await followRootHandovers(from, party, chain);
  } catch (e) {
    throw new ConfigError([`ROOT_HANDOVERS (${file}): ${e instanceof TrustError ? e.message : "malformed"} (ROOT_HANDOVER_INVALID)`]);
  }
  return chain as SignedJson[];
}

/** The root the chain ends at (undefined: no chain). */
export function newestRoot(chain: readonly SignedJson[]): { suite: string; publicKey: string } | undefined {
  const last = chain.at(-1);
  return last ? (JSON.parse(Buffer.from(last.payload, "base64url").toString("utf8")) as { to: { suite: string; publicKey: string } }).to : undefined;
}

/** The configured root must be the newest of the chain. @throws ConfigError ROOT_RETIRED */
export function checkCurrentRoot(chain: readonly SignedJson[], root: PublicKey, rootFile: string): void {
  const newest = newestRoot(chain);
  if (newest && (newest.suite !== root.suite || newest.publicKey !== toBase64url(root.publicKey)))
    throw new ConfigError([`ROOT_KEY (${rootFile}) has handed over to a newer root (ROOT_RETIRED): set ROOT_KEY to the newest root of ROOT_HANDOVERS`]);
}

/** Appends a handover to the chain file (write beside it, then rename: never half written). */
export function appendRootHandover(file: string, chain: readonly SignedJson[], handover: SignedJson): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify([...chain, handover], null, 2) + "\n", { mode: 0o644 });
  renameSync(tmp, file);
}
