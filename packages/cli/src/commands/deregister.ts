/**
 * `privface deregister --merchant M --person P [--image FILE]`: delete a person's face template at
 * both parties. Deregistration needs a fresh successful verification (R14): with `--image` the
 * command verifies first, then deregisters.
 */
import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("deregister")
    .description("delete a person's face template at both parties (verifies first with --image)")
    .requiredOption("--merchant <id>", "merchant id")
    .requiredOption("--person <id>", "person id")
    .option("--image <file>", "a current image of the person, to re-verify first (R14)")
    .option("--largest-face", "take the largest face when the image shows several")
    .option("--gateway <url>", "gateway URL (default $PRIVFACE_GATEWAY_URL or https://127.0.0.1:7443)")
    .option("--home <dir>", "runtime home with pki/ca.crt and keys/ (default $PRIVFACE_HOME or ./.privface)")
    .option("--token-file <file>", "file holding the admin operator token to register this CLI as a device on first use (default $PRIVFACE_GATEWAY_TOKEN)")
    .action(async (opts: { merchant: string; person: string; image?: string; largestFace?: boolean; gateway?: string; home?: string; tokenFile?: string }) => {
      const { connect, cliDevice, describe, deregister, embedImage, faceOp } = await import("@privface/devstack");
      const conn = connect(opts);
      try {
        const device = await cliDevice(conn, opts.merchant);
        if (opts.image) {
          const { createFaceEngine } = await import("@privface/device");
          const { embedding, liveness } = await embedImage(await createFaceEngine(opts.largestFace ? { multipleFaces: "largest" } : {}), opts.image);
          const v = await faceOp(device, opts.person, "verify", embedding, { liveness });
          process.stdout.write(`verify: ${describe({ status: v.status, body: v.body, ms: v.ms })}\n`);
          if (!v.ok || v.decision !== "accept") {
            process.exitCode = 1;
            return;
          }
        }
        const r = await deregister(device, opts.person);
        process.stdout.write(`deregister: ${describe({ status: r.status, body: r.body, ms: r.ms })}\n`);
        if (!r.ok) process.exitCode = 1;
      } finally {
        conn.close();
      }
    });
}
