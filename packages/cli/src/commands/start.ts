/**
 * `privface start` — the whole system on loopback: creates the dev PKI and keys on first run (under
 * $PRIVFACE_HOME or ./.privface), then starts the helper, P1, P0 and the gateway, each as its own
 * child process with its own embedded SQLite file, on ports base+0..3 (default 7440–7443), through
 * @privface/devstack's `startStack`. Prints where each listens. Ctrl-C (SIGINT) or SIGTERM stops all
 * of them; a child that dies is reported and stops the rest (exit code 1).
 */
import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("start")
    .description("start helper, P0, P1 and the gateway on loopback; creates dev certificates and keys on first run")
    .option("--home <dir>", "runtime directory (default $PRIVFACE_HOME or ./.privface)")
    .option("--ports <base>", "first of four consecutive ports: helper, P0, P1, gateway (default $PRIVFACE_PORT_BASE or 7440)")
    .option("--no-gateway", "do not start the gateway")
    .option("-q, --quiet", "do not echo the servers' log lines")
    .action(async (opts: { home?: string; ports?: string; gateway: boolean; quiet?: boolean }) => {
      const { homeFromEnv, runtimeLayout } = await import("@privface/config");
      const { ensureRuntime, startStack } = await import("@privface/devstack");
      const L = runtimeLayout(opts.home ?? homeFromEnv());
      const base = Number(opts.ports ?? process.env.PRIVFACE_PORT_BASE ?? 7440);
      if (!Number.isInteger(base) || base < 1 || base > 65532) throw new Error(`--ports: expected a port number, got ${opts.ports}`);
      const out = (s: string) => process.stdout.write(s + "\n");
      const { created } = await ensureRuntime(L.home);
      out(created.length ? `privface: created ${created.length} files in ${L.home} (dev PKI and keys)` : `privface: using ${L.home}`);

      let stack: Awaited<ReturnType<typeof startStack>>;
      try {
        stack = await startStack({
          home: L.home,
          ports: { helper: base, p0: base + 1, p1: base + 2, gateway: base + 3 },
          gateway: opts.gateway ? "process" : "none",
          onLog: opts.quiet ? undefined : (server, line) => process.stderr.write(`[${server}] ${line}\n`),
          readyTimeoutMs: 60_000,
          web: opts.gateway,
        });
      } catch (e) {
        process.stderr.write(`privface: ${(e as Error).message}\n`);
        process.exit(1);
      }
      let stopping = false;
      const stopAll = async (why: string, code: number) => {
        if (stopping) return;
        stopping = true;
        out(`privface: stopping (${why})`);
        await stack.stop();
        out("privface: stopped");
        process.exit(code);
      };
      process.once("SIGINT", () => void stopAll("SIGINT", 0));
      process.once("SIGTERM", () => void stopAll("SIGTERM", 0));
      for (const [name, h] of Object.entries(stack.servers)) {
        out(`privface: ${name.padEnd(7)} listening on https://127.0.0.1:${h!.port}`);
        void h!.exited.then((code) => {
          if (stopping) return;
          process.stderr.write(`privface: ${name} exited (${code}); stopping the others\n`);
          void stopAll(`${name} exited`, 1);
        });
      }
      if (opts.gateway) out(`privface: POS web app on ${stack.url}/pos/, operator console on ${stack.url}/console/`);
      out(`privface: ready (home ${L.home}); Ctrl-C stops all servers`);
      await new Promise(() => {}); // run until a signal or a child's exit
    });
}
