/**
 * `node --import tsx packages/party/src/main.ts P0|P1` (or PRIVFACE_PARTY) — one compute party
 * process: config from PRIVFACE_P0_* / PRIVFACE_P1_* (a bad config exits 2 listing every problem),
 * JSON log lines on stderr (never bodies, shares or keys), a ready line on stdout, SIGINT/SIGTERM
 * stop it cleanly.
 */
import type { PartyName } from "@privface/contracts";
import { ConfigError, loadPartyConfig } from "./config.ts";
import { startParty } from "./server.ts";

const party = (process.argv[2] ?? process.env.PRIVFACE_PARTY ?? "").toUpperCase() as PartyName;
const log = (e: Record<string, unknown>) => process.stderr.write(JSON.stringify({ t: new Date().toISOString(), server: party.toLowerCase(), ...e }) + "\n");

try {
  const cfg = loadPartyConfig(party);
  const p = await startParty(cfg, { log });
  log({ event: "listening", url: `https://${cfg.host}:${p.port}` });
  process.stdout.write(JSON.stringify({ ready: party.toLowerCase(), port: p.port }) + "\n");
  const stop = async (sig: string) => {
    log({ event: "stopping", signal: sig });
    await p.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`privface party ${party || "?"}: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`privface party ${party || "?"}: failed to start: ${(e as Error).message}\n`);
  process.exit(1);
}
