/**
 * `privface bench crypto [--bytes N] [--ms MS]` — throughput of seal / open / sign / verify per suite
 * (INTL and GM) in this process (node:crypto backend). One JSON line per operation and suite.
 */
import type { Command } from "commander";
import { benchGroup } from "./_bench.ts";

export function register(program: Command): void {
  benchGroup(program)
    .command("crypto")
    .description("seal/open and sign/verify throughput for the INTL and GM suites")
    .option("--bytes <n>", "plaintext / message size in bytes (default 512: one share of d = 512)", "512")
    .option("--ms <ms>", "time per measurement in ms", "1000")
    .action(async (opts: { bytes: string; ms: string }) => {
      const c = await import("@privface/crypto");
      const { contextAad } = await import("@privface/contracts");
      const bytes = Number(opts.bytes);
      const ms = Number(opts.ms);
      if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError("--bytes must be a non-negative integer");
      if (!(ms > 0)) throw new RangeError("--ms must be positive");
      const measure = async (fn: () => Promise<unknown>) => {
        for (let i = 0; i < 20; i++) await fn();
        let n = 0;
        const t0 = performance.now();
        while (performance.now() - t0 < ms) {
          await fn();
          n++;
        }
        const dt = performance.now() - t0;
        return { ops_per_s: Math.round((n * 1000) / dt), us_per_op: Math.round((dt * 1000) / n) };
      };
      const aad = contextAad({ purpose: "verify", challenge: "bench-challenge-0001", templateId: "bench-template-0001", modelVersion: "m", party: "P0" });
      const pt = c.randomBytes(bytes);
      for (const suite of c.SUITES) {
        const kp = await c.generateSealKeyPair(suite);
        const env = await c.seal(kp, pt, aad);
        const sk = await c.generateSigningKeyPair(suite);
        const sig = await c.sign(sk, pt);
        const out = (op: string, r: object) => process.stdout.write(JSON.stringify({ suite: "crypto", op, cipher_suite: suite, bytes, ...r }) + "\n");
        out("seal", await measure(() => c.seal(kp, pt, aad)));
        out("open", await measure(() => c.open(kp, env, aad)));
        out("sign", await measure(() => c.sign(sk, pt)));
        out("verify", await measure(() => c.verify(sk, pt, sig)));
      }
    });
}
