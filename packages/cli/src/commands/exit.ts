/**
 * `privface exit request | approve | verify` — an institution's orderly exit (R15), on the party's own
 * host with its configuration (PRIVFACE_P0_* / PRIVFACE_P1_*, PRIVFACE_HOME, PRIVFACE_KEY_SECRET) and
 * its server stopped (SERVER_RUNNING otherwise): one operator requests, a second approves with the
 * request code; every template erased and its key destroyed, the pool discarded, every private key file
 * destroyed, and a signed exit record written. The other institution verifies the record
 * (`privface exit verify`). What each step does: @privface/party exit.ts.
 */
import type { Command } from "commander";
import { readFileSync, writeFileSync } from "node:fs";
import { listening, BackupError } from "./backup.ts";

type PartyOpt = { party: string };

async function partyConfig(o: PartyOpt, env: NodeJS.ProcessEnv = process.env) {
  const party = o.party.toUpperCase();
  if (party !== "P0" && party !== "P1") throw new Error("--party must be p0 or p1");
  const { loadPartyConfig } = await import("@privface/party");
  return loadPartyConfig(party, env);
}

/** `exit approve`: refuses while the party's server answers on its port; writes the signed record to `out` (mode 0600). */
export async function exitParty(o: PartyOpt & { operator: string; request: string; out: string }, env: NodeJS.ProcessEnv = process.env) {
  const cfg = await partyConfig(o, env);
  if (await listening(cfg.host, cfg.port)) throw new BackupError("SERVER_RUNNING", `something answers on ${cfg.party}'s port ${cfg.host}:${cfg.port}: stop the party server first`);
  const { approveExit } = await import("@privface/party");
  const { record, signed } = await approveExit(cfg, { operator: o.operator, request: o.request });
  writeFileSync(o.out, JSON.stringify(signed) + "\n", { mode: 0o600, flag: "wx" });
  const { auditHead, ...summary } = record;
  return { ...summary, auditHead: { seq: auditHead.seq, hash: auditHead.hash }, out: o.out };
}

export function register(program: Command): void {
  const e = program.command("exit").description("an institution's orderly exit (R15), under dual control: erase every template, destroy the keys, sign an exit record");
  e.command("request")
    .description("ask for this party's exit (recorded in its audit chain); prints the request code a second operator approves")
    .requiredOption("--party <p0|p1>", "which party")
    .requiredOption("--operator <name>", "who asks")
    .action(async (o: PartyOpt & { operator: string }) => {
      const { requestExit } = await import("@privface/party");
      process.stdout.write(JSON.stringify(await requestExit(await partyConfig(o), { operator: o.operator }), null, 2) + "\n");
    });
  e.command("approve")
    .description("carry out the exit (the server stopped): a second operator, with the request code; writes the signed exit record")
    .requiredOption("--party <p0|p1>", "which party")
    .requiredOption("--operator <name>", "who approves (not the requester)")
    .requiredOption("--request <code>", "the code `exit request` printed")
    .requiredOption("--out <file>", "where to write the signed exit record (must not exist)")
    .action(async (o: PartyOpt & { operator: string; request: string; out: string }) => {
      process.stdout.write(JSON.stringify(await exitParty(o), null, 2) + "\n");
    });
  e.command("verify")
    .description("at the other institution: check an exit record against the exiting party's root and audit public keys and the heads kept for it")
    .requiredOption("--record <file>", "the signed exit record")
    .requiredOption("--root <file>", "the exiting party's root public key (keys/public/pX-root.pub.json)")
    .requiredOption("--audit-key <file>", "the exiting party's audit public key (keys/public/pX-audit.pub.json)")
    .option("--anchors <db>", "this institution's database (the heads it keeps of the exiting party's chain)")
    .action(async (o: { record: string; root: string; auditKey: string; anchors?: string }) => {
      const { verifyExit } = await import("@privface/party");
      const { readPublicKeyFile } = await import("@privface/crypto/node");
      const { openDb, closeDb } = await import("@privface/db");
      const db = o.anchors ? await openDb(o.anchors) : undefined;
      try {
        const r = await verifyExit(JSON.parse(readFileSync(o.record, "utf8")), { root: readPublicKeyFile(o.root), audit: readPublicKeyFile(o.auditKey) }, db);
        process.stdout.write(JSON.stringify({ ok: true, party: r.party, at: r.at, requestedBy: r.requestedBy, approvedBy: r.approvedBy, templatesErased: r.templatesErased, auditHead: r.auditHead.seq }, null, 2) + "\n");
      } finally {
        if (db) await closeDb(db);
      }
    });
}
