/**
 * The web front ends `privface start` serves through the gateway (issue 14): the POS app is built
 * with esbuild into `HOME/web/pos` — with the parties' institution roots of this runtime home
 * compiled in — and handed to the gateway as `PRIVFACE_GATEWAY_WEB=/pos/=HOME/web/pos`. The gateway
 * only serves the directory; it never imports the app or the face runtime.
 */
import { join } from "node:path";
import { runtimeLayout } from "@privface/config";
import { toBase64url } from "@privface/crypto";
import { readPublicKeyFile } from "@privface/crypto/node";
import { buildPosApp } from "@privface/pos/build";

/** Builds the POS app for `home` and returns the gateway's environment that serves it. */
export async function buildWebApps(home: string): Promise<Record<string, string>> {
  const L = runtimeLayout(home);
  const root = (p: "p0" | "p1") => toBase64url(readPublicKeyFile(L.rootPub(p)).publicKey);
  const outDir = join(L.home, "web", "pos");
  await buildPosApp({ outDir, roots: { P0: root("p0"), P1: root("p1") } });
  return { PRIVFACE_GATEWAY_WEB: `/pos/=${outDir}` };
}
