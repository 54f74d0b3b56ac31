/**
 * `privface party devices | approve-device | revoke-device | rotate-data-key --party p0|p1` — the
 * party operator's commands on the party's own host, against the party's own database and audit
 * chain (configured as the party server is: PRIVFACE_P0_* / PRIVFACE_P1_*, PRIVFACE_HOME). With
 * DEVICE_APPROVAL=operator a terminal the gateway registers answers nothing at this party until its
 * operator approves it here.
 */
import type { Command } from "commander";

type PartyOpt = { party: string };

async function withAdmin<T>(o: PartyOpt, fn: (a: import("@privface/party").PartyAdmin) => Promise<T>): Promise<void> {
  const party = o.party.toUpperCase();
  if (party !== "P0" && party !== "P1") throw new Error("--party must be p0 or p1");
  const { loadPartyConfig, openPartyAdmin } = await import("@privface/party");
  const admin = await openPartyAdmin(loadPartyConfig(party));
  try {
    process.stdout.write(JSON.stringify(await fn(admin), null, 2) + "\n");
  } finally {
    await admin.close();
  }
}

const STATUSES = ["pending", "active", "revoked"] as const;

export function register(program: Command): void {
  const p = program.command("party").description("a party operator's commands on the party's host: its device registry, its data key");
  p.command("devices")
    .description("list the devices registered at this party")
    .requiredOption("--party <p0|p1>", "which party")
    .option("--status <status>", "pending | active | revoked")
    .action((o: PartyOpt & { status?: string }) => {
      if (o.status !== undefined && !(STATUSES as readonly string[]).includes(o.status)) throw new Error("--status must be pending, active or revoked");
      return withAdmin(o, async (a) => (await a.list(o.status as (typeof STATUSES)[number] | undefined)).map(({ deviceId, suite, status, createdAt, updatedAt }) => ({ deviceId, suite, status, createdAt, updatedAt })));
    });
  for (const [name, what] of [["approve-device", "approve"], ["revoke-device", "revoke"]] as const) {
    p.command(name)
      .description(what === "approve" ? "approve a pending device at this party (audited)" : "revoke a device at this party (audited)")
      .argument("<deviceId>")
      .requiredOption("--party <p0|p1>", "which party")
      .requiredOption("--operator <name>", "who approves (recorded in the party's audit chain)")
      .action((deviceId: string, o: PartyOpt & { operator: string }) =>
        withAdmin(o, async (a) => {
          const d = await a[what](deviceId, { operator: o.operator });
          return { deviceId: d.deviceId, status: d.status };
        }),
      );
  }
  p.command("rotate-data-key")
    .description("re-encrypt every stored share under the current data key (the first of DATA_KEYS; audited); run until it reports zeros, then retire the old key file")
    .requiredOption("--party <p0|p1>", "which party")
    .requiredOption("--operator <name>", "who rotates (recorded in the party's audit chain)")
    .action((o: PartyOpt & { operator: string }) => withAdmin(o, (a) => a.rotateDataKey({ operator: o.operator })));
}
