/**
 * `privface gateway …`: operator commands against a running gateway (admin role): register a
 * merchant, a person (principal or cashier; identity attributes are stored encrypted and shown
 * masked), and look up a person's masked record or decision history (operator role, with a reason).
 */
import type { Command } from "commander";

type Conn = { gateway?: string; home?: string; token?: string };

function common(c: Command): Command {
  return c
    .option("--gateway <url>", "gateway URL (default $PRIVFACE_GATEWAY_URL or https://127.0.0.1:7443)")
    .option("--home <dir>", "runtime home (default $PRIVFACE_HOME or ./.privface)")
    .option("--token <token>", "operator token (default: from <home>/keys/gateway/operators.json)");
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
      .requiredOption("--id-number <id>", "18-character resident ID number")
      .requiredOption("--phone <phone>", "11-digit mobile number"),
  ).action((o: Conn & { merchant: string; role: string; name: string; idNumber: string; phone: string }) =>
    run(o, "admin", (c) => c.admin("POST", `/v1/admin/merchants/${encodeURIComponent(o.merchant)}/persons`, { role: o.role, name: o.name, idNumber: o.idNumber, phone: o.phone })),
  );
  common(g.command("person").description("a person's masked record (operator role)").requiredOption("--person <id>", "person id").requiredOption("--reason <text>", "why you look (recorded)")).action(
    (o: Conn & { person: string; reason: string }) => run(o, "operator", (c) => c.admin("GET", `/v1/admin/persons/${encodeURIComponent(o.person)}`, undefined, o.reason)),
  );
  common(g.command("history").description("a person's decisions, newest first (operator role)").requiredOption("--person <id>", "person id").requiredOption("--reason <text>", "why you look (recorded)")).action(
    (o: Conn & { person: string; reason: string }) => run(o, "operator", (c) => c.admin("GET", `/v1/admin/persons/${encodeURIComponent(o.person)}/decisions`, undefined, o.reason)),
  );
  common(g.command("unlock").description("unlock a person after repeated failures (operator role)").requiredOption("--person <id>", "person id").requiredOption("--reason <text>", "why (recorded)")).action(
    (o: Conn & { person: string; reason: string }) => run(o, "operator", (c) => c.admin("POST", `/v1/admin/persons/${encodeURIComponent(o.person)}/unlock`, undefined, o.reason)),
  );
}
