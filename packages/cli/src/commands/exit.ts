/**
 * `privface exit request | approve | verify` — an institution's orderly exit (R15), on the party's own
 * host with its configuration (PRIVFACE_P0_* / PRIVFACE_P1_*, PRIVFACE_HOME, PRIVFACE_KEY_SECRET) and
 * its server stopped (SERVER_RUNNING otherwise): one operator requests, a second approves with the
 * request code; every template erased and its key destroyed, the pool discarded, every private key file
 * destroyed, and a signed exit record written. The other institution verifies the record
 * (`privface exit verify`). What each step does: @privface/party exit.ts.
 *
 * What the exiting party's host cannot do itself, each checked against the signed exit record (the
 * party's root and audit public keys) before anything is touched:
 * - `privface exit helper --party pX --record F --root F --audit-key F --operator NAME`, on the helper's
 *   host with its configuration: destroys the helper's copy of that party's pool seed (SEED_PX) and
 *   records `exit.seed-destroy` in the helper's audit chain (the helper then needs a new configuration:
 *   with one party left it has nothing to deal).
 * - `privface exit revoke --party pX --record F --root F --audit-key F [--dir PKI]`, at the CA: revokes
 *   the party's server and client certificates and rewrites the CRL, which every server re-reads
 *   within 30 s (transport crl.ts).
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

type RecordOpt = { party: string; record: string; root: string; auditKey: string };

/** The exit record of `o.party`, verified against its root and audit public keys (EXIT_RECORD_INVALID otherwise). */
async function verifiedExit(o: RecordOpt) {
  const party = o.party.toUpperCase();
  if (party !== "P0" && party !== "P1") throw new Error("--party must be p0 or p1");
  const { verifyExit, ExitError } = await import("@privface/party");
  const { readPublicKeyFile } = await import("@privface/crypto/node");
  let signed: unknown;
  try {
    signed = JSON.parse(readFileSync(o.record, "utf8"));
  } catch {
    throw new ExitError("EXIT_RECORD_INVALID", `${o.record} is not a JSON exit record`);
  }
  const r = await verifyExit(signed, { root: readPublicKeyFile(o.root), audit: readPublicKeyFile(o.auditKey) });
  if (r.party !== party) throw new ExitError("EXIT_RECORD_INVALID", `the record is ${r.party}'s exit, not ${party}'s`);
  return r;
}

/** `exit helper`: the helper's copy of the exiting party's pool seed destroyed, recorded in the helper's chain. */
export async function exitAtHelper(o: RecordOpt & { operator: string }, env: NodeJS.ProcessEnv = process.env) {
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(o.operator)) throw new Error("--operator: 1–64 letters, digits, . _ @ -");
  const r = await verifiedExit(o);
  const { loadHelperConfig } = await import("@privface/helper");
  const { destroyFile } = await import("@privface/party");
  const { readKeyPairFile } = await import("@privface/crypto/node");
  const { createAuditLog } = await import("@privface/audit");
  const { openDb, closeDb } = await import("@privface/db");
  const { existsSync } = await import("node:fs");
  // a second run finds the seed gone: the configuration is read without the seeds' existence check
  const cfg = loadHelperConfig(env, { seedsMayBeGone: true });
  const seed = r.party === "P0" ? cfg.seedP0 : cfg.seedP1;
  const db = await openDb(cfg.db, cfg.dbSchema ? { schema: cfg.dbSchema } : {});
  try {
    const log = await createAuditLog(db, { role: "helper", signingKey: await readKeyPairFile(cfg.auditKey) });
    const destroyed = existsSync(seed);
    if (destroyed) destroyFile(seed);
    await log.append({ requester: `operator:${o.operator}`, op: "exit.seed-destroy", session: r.request, outcome: destroyed ? "ok" : "absent" });
    return { party: r.party, request: r.request, seed, destroyed };
  } finally {
    await closeDb(db);
  }
}

/** `exit revoke`: the exiting party's server and client certificates revoked in the CA's CRL. */
export async function exitRevoke(o: RecordOpt & { dir?: string }) {
  const r = await verifiedExit(o);
  const { revokeCertificate, defaultPkiDir } = await import("@privface/pki");
  const { useDevKeySecret } = await import("@privface/config");
  const { join } = await import("node:path");
  useDevKeySecret();
  const dir = o.dir ?? defaultPkiDir();
  const name = r.party.toLowerCase();
  const revoked = [];
  for (const cert of [join(dir, `${name}.crt`), join(dir, `${name}-client.crt`)]) revoked.push({ cert, ...(await revokeCertificate(dir, cert)) });
  return { party: r.party, request: r.request, revoked };
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
  const recordOptions = (c: Command) =>
    c
      .requiredOption("--party <p0|p1>", "the exiting party")
      .requiredOption("--record <file>", "its signed exit record")
      .requiredOption("--root <file>", "its root public key (keys/public/pX-root.pub.json)")
      .requiredOption("--audit-key <file>", "its audit public key (keys/public/pX-audit.pub.json)");
  recordOptions(e.command("helper").description("on the helper's host, after a verified exit: destroy the helper's copy of the party's pool seed (recorded in the helper's chain)"))
    .requiredOption("--operator <name>", "who does it (recorded)")
    .action(async (o: RecordOpt & { operator: string }) => {
      process.stdout.write(JSON.stringify(await exitAtHelper(o), null, 2) + "\n");
    });
  recordOptions(e.command("revoke").description("at the CA, after a verified exit: revoke the party's server and client certificates (the CRL every server re-reads)"))
    .option("--dir <dir>", "PKI directory (default: $PRIVFACE_HOME/pki or ./.privface/pki)")
    .action(async (o: RecordOpt & { dir?: string }) => {
      process.stdout.write(JSON.stringify(await exitRevoke(o), null, 2) + "\n");
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
