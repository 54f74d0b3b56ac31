/**
 * `privface start` — the whole system on loopback: creates the dev PKI and keys on first run
 * (`ensureRuntime`, under $PRIVFACE_HOME or ./.privface), then starts the helper, P1, P0 and — when
 * @privface/gateway has a main module — the gateway, each as its own child process with its own
 * embedded SQLite file, on ports base+0..3 (default 7440–7443). Prints where each listens.
 * Ctrl-C (SIGINT) or SIGTERM stops all of them; a child that dies is reported and stops the rest
 * (exit code 1).
 */
import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("start")
    .description("start helper, P0, P1 (and the gateway) on loopback; creates dev certificates and keys on first run")
    .option("--home <dir>", "runtime directory (default $PRIVFACE_HOME or ./.privface)")
    .option("--ports <base>", "first of four consecutive ports: helper, P0, P1, gateway (default $PRIVFACE_PORT_BASE or 7440)")
    .option("--no-gateway", "do not start the gateway")
    .option("-q, --quiet", "do not echo the servers' log lines")
    .action(async (opts: { home?: string; ports?: string; gateway: boolean; quiet?: boolean }) => {
      const { resolve } = await import("node:path");
      const { ensureRuntime } = await import("@privface/party/runtime");
      const { spawnServer, gatewayMain } = await import("@privface/party/stack");
      const home = resolve(opts.home ?? process.env.PRIVFACE_HOME ?? ".privface");
      const base = Number(opts.ports ?? process.env.PRIVFACE_PORT_BASE ?? 7440);
      if (!Number.isInteger(base) || base < 1 || base > 65532) throw new Error(`--ports: expected a port number, got ${opts.ports}`);
      const ports = { helper: base, p0: base + 1, p1: base + 2, gateway: base + 3 };
      const out = (s: string) => process.stdout.write(s + "\n");

      const { created } = await ensureRuntime(home);
      out(created.length ? `privface: created ${created.length} files in ${home} (dev PKI and keys)` : `privface: using ${home}`);

      type Handle = Awaited<ReturnType<typeof spawnServer>>;
      const running: Handle[] = [];
      let stopping = false;
      let exitCode = 0;
      const stopAll = async (why: string) => {
        if (stopping) return;
        stopping = true;
        out(`privface: stopping (${why})`);
        for (const h of [...running].reverse()) await h.stop("SIGTERM");
        out("privface: stopped");
        process.exit(exitCode);
      };
      process.once("SIGINT", () => void stopAll("SIGINT"));
      process.once("SIGTERM", () => void stopAll("SIGTERM"));

      const spawnOpts = {
        home,
        ports,
        onLog: opts.quiet ? undefined : (server: string, line: string) => process.stderr.write(`[${server}] ${line}\n`),
      };
      const watch = (name: string, h: Handle) => {
        running.push(h);
        out(`privface: ${name.padEnd(7)} listening on https://127.0.0.1:${h.port}`);
        void h.exited.then((code) => {
          if (stopping) return;
          exitCode = code === 0 ? 0 : 1;
          process.stderr.write(`privface: ${name} exited (${code}); stopping the others\n`);
          void stopAll(`${name} exited`);
        });
      };
      const failed = async (name: string, e: unknown) => {
        exitCode = 1;
        process.stderr.write(`privface: ${name} failed to start: ${(e as Error).message}\n`);
        await stopAll(`${name} failed`);
      };
      // helper and parties start in parallel (P0 re-dials P1 and retries the helper until they are up)
      const first = ["helper", "p1", "p0"] as const;
      const results = await Promise.allSettled(first.map((n) => spawnServer(n, spawnOpts)));
      results.forEach((r, i) => {
        if (r.status === "fulfilled") watch(first[i], r.value);
      });
      const bad = results.findIndex((r) => r.status === "rejected");
      if (bad >= 0) return failed(first[bad], (results[bad] as PromiseRejectedResult).reason);
      if (opts.gateway && gatewayMain()) {
        try {
          watch("gateway", await spawnServer("gateway", spawnOpts));
        } catch (e) {
          return failed("gateway", e);
        }
      } else if (opts.gateway) out("privface: @privface/gateway has no main module yet; starting without the gateway");
      out(`privface: ready (home ${home}); Ctrl-C stops all servers`);
      await new Promise(() => {}); // run until a signal or a child's exit
    });
}
