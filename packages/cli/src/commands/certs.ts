/**
 * `privface certs init [--dir DIR]` — create the dev CA and the server / client certificates
 * (helper, p0, p1, gateway, gateway-client) that are missing or unusable. Prints file names only,
 * never key material.
 */
import type { Command } from "commander";

export function register(program: Command): void {
  const certs = program.command("certs").description("development PKI (CA and per-server certificates)");
  certs
    .command("init")
    .description("create the dev CA and certificates that are missing (idempotent)")
    .option("--dir <dir>", "PKI directory (default: $PRIVFACE_HOME/pki or ./.privface/pki)")
    .action(async (opts: { dir?: string }) => {
      const { ensureDevPki, defaultPkiDir } = await import("@privface/pki");
      const { useDevKeySecret } = await import("@privface/config");
      useDevKeySecret(); // the dev PKI's keys are encrypted under PRIVFACE_KEY_SECRET, else the development secret
      const dir = opts.dir ?? defaultPkiDir();
      const pki = await ensureDevPki(dir);
      if (pki.created.length === 0) {
        process.stdout.write(`PKI in ${dir}: complete, nothing created\n`);
      } else {
        process.stdout.write(`PKI in ${dir}: created ${pki.created.join(", ")}\n`);
      }
      for (const c of Object.values(pki.certs)) process.stdout.write(`  ${c.name.padEnd(15)} role ${c.role.padEnd(8)} ${c.certPath}\n`);
    });
}
