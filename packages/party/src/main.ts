/**
 * `node --import tsx packages/party/src/main.ts P0|P1` (or PRIVFACE_PARTY) — one compute party
 * process, run by the servers' one bootstrap (@privface/config `runServer`): config from
 * PRIVFACE_P0_* / PRIVFACE_P1_* (a bad config, or no party named, exits 2 listing every problem),
 * pino JSON log lines on stderr (never bodies, shares or keys), `{"ready":"p0","port":N}` on stdout,
 * SIGINT/SIGTERM stop it cleanly.
 */
import { runServer } from "@privface/config";
import { serverRoleOf, type PartyName } from "@privface/contracts";
import { loadPartyConfig } from "./config.ts";
import { startParty } from "./server.ts";

const party = (process.argv[2] ?? process.env.PRIVFACE_PARTY ?? "").toUpperCase() as PartyName;

await runServer(party === "P0" || party === "P1" ? serverRoleOf(party) : "party", async (log) => {
  const cfg = loadPartyConfig(party);
  const p = await startParty(cfg, { log });
  return { ...p, url: `https://${cfg.host}:${p.port}` };
});
