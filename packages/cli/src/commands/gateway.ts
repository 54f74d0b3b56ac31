/**
 * `privface gateway …`: operator commands against a running gateway (admin role): register a
 * merchant, a person (principal or cashier; identity attributes are stored encrypted and shown
 * masked), a POS terminal from the pairing code its web app shows (`device-add`; a second operator
 * approves it with `device-approve`, R27), and look up a person's masked record or decision history
 * (operator role, with a reason).
 */
import { createHash } from "node:crypto";
import type { Command } from "commander";

type Conn = { gateway?: string; home?: string; tokenFile?: string };

function common(c: Command): Command {
  return c
    .option("--gateway <url>", "gateway URL (default $PRIVFACE_GATEWAY_URL or https://127.0.0.1:7443)")
    .option("--home <dir>", "runtime home (default $PRIVFACE_HOME or ./.privface)")
    .option("--token-file <file>", "file holding the operator token (default $PRIVFACE_GATEWAY_TOKEN, else <home>/keys/gateway/operators.json)");
}

async function run(o: Conn, role: "admin" | "operator", fn: (c: import("@privface/devstack").GatewayClient) => Promise<{ status: number; body: unknown }>) {
  const { connect } = await import("@privface/devstack");
  const conn = connect({ ...o, role });
  try {
    const r = await fn(conn.client);
    process.stdout.write(JSON.stringify(r.body, null, 2) + "\n");
    if (r.status >= 300) process.exitCode = 1;
  } finally {
    conn.close();
  }
}

export function register(program: Command): void {
  const g = program.command("gateway").description("operator commands against a running gateway");
  common(g.command("merchant-add").description("register a merchant").requiredOption("--name <name>", "merchant name")).action((o: Conn & { name: string }) =>
    run(o, "admin", (c) => c.admin("POST", "/v1/admin/merchants", { name: o.name })),
  );
  common(
    g
      .command("person-add")
      .description("register a principal or cashier of a merchant")
      .requiredOption("--merchant <id>", "merchant id")
      .requiredOption("--role <role>", "principal | cashier")
      .requiredOption("--name <name>", "full name")
      .option("--id-number-file <file>", "file holding the 18-character resident ID number (else $PRIVFACE_ID_NUMBER, else asked)")
      .option("--phone-file <file>", "file holding the 11-digit mobile number (else $PRIVFACE_PHONE, else asked)"),
  ).action(async (o: Conn & { merchant: string; role: string; name: string; idNumberFile?: string; phoneFile?: string }) => {
    const { readSecret } = await import("./_secrets.ts");
    const idNumber = await readSecret("resident ID number", { file: o.idNumberFile, env: "PRIVFACE_ID_NUMBER" });
    const phone = await readSecret("mobile number", { file: o.phoneFile, env: "PRIVFACE_PHONE" });
    return run(o, "admin", (c) => c.admin("POST", `/v1/admin/merchants/${encodeURIComponent(o.merchant)}/persons`, { role: o.role, name: o.name, idNumber, phone }));
  });
  common(
    g
      .command("device-add")
      .description("register a POS terminal from the pairing code its web app shows (pf1.<signing key>.<auth key>); a second operator approves it")
      .requiredOption("--merchant <id>", "merchant id")
      .requiredOption("--pairing-code <code>", "the code the terminal shows")
      .option("--label <text>", "a label for the terminal", "pos web app")
      .option("--still-image", "a still-image tool (kiosk test rig, demo): no active liveness actions (issue 17); the second operator approves it with the device"),
  ).action((o: Conn & { merchant: string; pairingCode: string; label: string; stillImage?: boolean }) => {
    const m = /^pf1\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/.exec(o.pairingCode.trim());
    if (!m) throw new Error("--pairing-code: expected pf1.<43 base64url characters>.<43 base64url characters>");
    // the fingerprint the terminal shows beside its code (first 8 bytes of SHA-256): compare them
    const fp = createHash("sha256").update(o.pairingCode.trim()).digest("hex").slice(0, 16).match(/.{4}/g)!.join(" ");
    process.stderr.write(`privface: terminal fingerprint ${fp}\n`);
    return run(o, "admin", (c) => c.admin("POST", `/v1/admin/merchants/${encodeURIComponent(o.merchant)}/devices`, { suite: "INTL", publicKey: m[1], authKey: m[2], label: o.label, ...(o.stillImage ? { stillImage: true } : {}) }));
  });
  common(g.command("device-approve").description("approve a terminal another administrator registered (operator role; R27)").requiredOption("--device <id>", "device id")).action(
    (o: Conn & { device: string }) => run(o, "operator", (c) => c.admin("POST", `/v1/admin/devices/${encodeURIComponent(o.device)}/approve`)),
  );
  common(g.command("person").description("a person's masked record (operator role)").requiredOption("--person <id>", "person id").requiredOption("--reason <text>", "why you look (recorded)")).action(
    (o: Conn & { person: string; reason: string }) => run(o, "operator", (c) => c.admin("GET", `/v1/admin/persons/${encodeURIComponent(o.person)}`, undefined, o.reason)),
  );
  common(g.command("history").description("a person's decisions, newest first (operator role)").requiredOption("--person <id>", "person id").requiredOption("--reason <text>", "why you look (recorded)")).action(
    (o: Conn & { person: string; reason: string }) => run(o, "operator", (c) => c.admin("GET", `/v1/admin/persons/${encodeURIComponent(o.person)}/decisions`, undefined, o.reason)),
  );
  common(g.command("unlock").description("request a person's unlock after repeated failures (operator role); done when another operator approves it (`approve`)").requiredOption("--person <id>", "person id").requiredOption("--reason <text>", "why (recorded)")).action(
    (o: Conn & { person: string; reason: string }) => run(o, "operator", (c) => c.admin("POST", `/v1/admin/persons/${encodeURIComponent(o.person)}/unlock`, undefined, o.reason)),
  );
  common(
    g
      .command("approve")
      .description("approve a pending unlock as a second, different operator (operator role; give that operator's --token-file)")
      .requiredOption("--approval <id>", "approval id (from `unlock`)")
      .requiredOption("--reason <text>", "why (recorded)"),
  ).action((o: Conn & { approval: string; reason: string }) => run(o, "operator", (c) => c.admin("POST", `/v1/admin/approvals/${encodeURIComponent(o.approval)}/approve`, undefined, o.reason)));
}
