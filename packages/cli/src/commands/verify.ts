/**
 * `privface verify --image FILE --merchant M --person P`: 1:1 verification at a running stack; prints
 * the decision and the reason code (never a score). Also holds the shared implementation of the
 * `enrol` command (enrol.ts).
 */
import type { Command } from "commander";

interface FaceOpts {
  image: string;
  merchant: string;
  person: string;
  gateway?: string;
  home?: string;
  tokenFile?: string;
  acceptNotice?: boolean;
  largestFace?: boolean;
}

export function faceCommand(program: Command, purpose: "enrol" | "verify", description: string): void {
  program
    .command(purpose)
    .description(description)
    .requiredOption("--image <file>", "JPEG or PNG with the person's face (processed on this machine only)")
    .requiredOption("--merchant <id>", "merchant id")
    .requiredOption("--person <id>", "person id (principal or cashier of the merchant)")
    .option("--gateway <url>", "gateway URL (default $PRIVFACE_GATEWAY_URL or https://127.0.0.1:7443)")
    .option("--home <dir>", "runtime home with pki/ca.crt and keys/ (default $PRIVFACE_HOME or ./.privface)")
    .option("--token-file <file>", "file holding the admin operator token to register this CLI as a device on first use (default $PRIVFACE_GATEWAY_TOKEN)")
    .option("--accept-notice", "the person has read the privacy notice and agrees (records consent)")
    .option("--largest-face", "take the largest face when the image shows several (a till refuses such frames by default)")
    .action(async (opts: FaceOpts) => {
      const { connect, cliDevice, describe, embedImage, faceOp, giveConsent } = await import("@privface/devstack");
      const { createFaceEngine } = await import("@privface/device");
      const conn = connect(opts);
      try {
        const device = await cliDevice(conn, opts.merchant);
        if (opts.acceptNotice) {
          const n = await conn.client.call("GET", "/v1/notices/current");
          process.stderr.write(`privacy notice ${n.body.version}:\n${n.body.text}\n\n`);
          const c = await giveConsent(device, opts.person);
          process.stderr.write(`consent: ${c.ok ? "recorded" : c.reason}\n`);
        }
        const engine = await createFaceEngine(opts.largestFace ? { multipleFaces: "largest" } : {});
        const { embedding, liveness } = await embedImage(engine, opts.image);
        const r = await faceOp(device, opts.person, purpose, embedding, { liveness });
        if (r.reason === "CONSENT_REQUIRED" || r.reason === "CONSENT_WITHDRAWN") {
          const n = await conn.client.call("GET", "/v1/notices/current");
          process.stderr.write(`no valid consent. Privacy notice ${n.body.version}:\n${n.body.text}\n\nrerun with --accept-notice if the person agrees.\n`);
        }
        process.stdout.write(`${purpose}: ${describe({ status: r.status, body: r.body, ms: r.ms })}\n`);
        if (!r.ok) process.exitCode = 1;
      } finally {
        conn.close();
      }
    });
}

export function register(program: Command): void {
  faceCommand(program, "verify", "verify a person's face from an image at a running gateway (decision and reason, never a score)");
}
