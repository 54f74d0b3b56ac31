/**
 * `privface demo`: a merchant with a principal and two cashiers and a POS device; consent, enrolment
 * from face photos shipped with an npm package, genuine and impostor verifications, a replay attempt
 * and a deregistration; prints a table (person, role, action, decision, reason, ms). Starts the whole
 * stack on embedded storage in a temporary home, or uses a running one with `--gateway URL`.
 */
import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("demo")
    .description("run a merchant, a principal and two cashiers through enrol, verify, replay and deregister; print a table")
    .option("--gateway <url>", "use a running gateway instead of starting the stack")
    .option("--home <dir>", "runtime home of the running stack (CA, operator tokens), with --gateway")
    .option("--token-file <file>", "file holding the admin operator token, with --gateway (default $PRIVFACE_GATEWAY_TOKEN, else <home>/keys/gateway/operators.json)")
    .option("--no-engine", "use precomputed embeddings instead of the on-device face engine")
    .option("--json", "print the result as JSON instead of a table")
    .action(async (opts: { gateway?: string; home?: string; tokenFile?: string; engine: boolean; json?: boolean }) => {
      const { mkdtempSync, rmSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const { join } = await import("node:path");
      const { runDemo, formatTable, connect, startStack, runtimeTrust } = await import("@privface/devstack");
      const say = (l: string) => process.stderr.write(`${l}\n`);
      let stop = async () => {};
      let admin;
      let approver;
      let where: string;
      let home: string | undefined = opts.home;
      if (opts.gateway) {
        const conn = connect({ gateway: opts.gateway, home: opts.home, tokenFile: opts.tokenFile });
        admin = conn.client;
        approver = conn.approver;
        where = conn.url;
        stop = async () => conn.close();
      } else {
        home = mkdtempSync(join(tmpdir(), "privface-demo-"));
        say(`starting helper, P0, P1 and the gateway on loopback (SQLite, dev certificates) in ${home} …`);
        const stack = await startStack({ home, readyTimeoutMs: 60_000 });
        admin = stack.client("admin");
        approver = stack.client("operator");
        where = stack.url;
        stop = async () => {
          await stack.stop();
          rmSync(home!, { recursive: true, force: true });
        };
      }
      try {
        say(`gateway: ${where}`);
        const result = await runDemo({ admin, approver, useEngine: opts.engine, log: say, trust: runtimeTrust(home) });
        if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
        else {
          process.stdout.write(`\n${formatTable(result.rows)}\n\n`);
          for (const n of result.notes) process.stdout.write(`note: ${n}\n`);
          process.stdout.write(result.ok ? "every outcome as expected: genuine accepted, impostors rejected, replay refused, deregistered face gone\n" : "UNEXPECTED outcomes (see the table)\n");
        }
        if (!result.ok) process.exitCode = 1;
      } finally {
        await stop();
      }
    });
}
