/**
 * `privface certs init [--dir DIR]` — create the dev CA and the server / client certificates
 * (helper, p0, p1, gateway, gateway-client) that are missing or unusable. Prints file names only,
 * never key material. `privface certs revoke <name>` — revoke a certificate of the dev CA and rewrite
 * its CRL (`ca.crl`), which every server reads at start.
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
  certs
    .command("revoke <name>")
    .description("revoke a certificate (a name such as p1 or gateway-client, or a .crt path) and rewrite the CA's CRL; servers read it at start: restart them")
    .option("--dir <dir>", "PKI directory (default: $PRIVFACE_HOME/pki or ./.privface/pki)")
    .action(async (name: string, opts: { dir?: string }) => {
      const { revokeCertificate, defaultPkiDir } = await import("@privface/pki");
      const { useDevKeySecret } = await import("@privface/config");
      const { join } = await import("node:path");
      useDevKeySecret();
      const dir = opts.dir ?? defaultPkiDir();
      const certPath = name.endsWith(".crt") ? name : join(dir, `${name}.crt`);
      const r = await revokeCertificate(dir, certPath);
      process.stdout.write(`revoked ${certPath} (serial ${r.serial}); CRL written to ${r.crl}: restart every server to apply it\n`);
    });
}
