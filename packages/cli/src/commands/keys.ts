/**
 * `privface keys encrypt FILE…` — encrypt plaintext key files in place under the key secret of the
 * environment (PRIVFACE_KEY_SECRET or PRIVFACE_KEY_SECRET_FILE; never argv): JSON key pairs, data
 * keys, pool and pair seeds (@privface/crypto/node key files) and PEM private keys (encrypted PKCS#8,
 * scrypt). For a home made before keys were encrypted, outside the development stack (which does this
 * itself). Prints file names only; a file already encrypted is left alone. Exit 1 on any failure.
 */
import type { Command } from "commander";

export function register(program: Command): void {
  const keys = program.command("keys").description("key files (encrypted under PRIVFACE_KEY_SECRET)");
  keys
    .command("encrypt")
    .description("encrypt plaintext key files in place (JSON key files and PEM private keys)")
    .argument("<files...>", "key files")
    .action(async (files: string[]) => {
      const { readFileSync } = await import("node:fs");
      const { encryptKeyFileInPlace, isEncryptedKeyFile, isPlaintextPem, keySecretFromEnv } = await import("@privface/crypto/node");
      const { encryptTlsKeyInPlace } = await import("@privface/pki");
      keySecretFromEnv(); // no secret: stop before touching any file
      for (const f of files) {
        const text = readFileSync(f, "utf8");
        let done: boolean;
        if (text.includes("PRIVATE KEY-----")) {
          done = isPlaintextPem(text) ? await encryptTlsKeyInPlace(f) : false;
        } else {
          const j = JSON.parse(text) as { kind?: unknown; privateKey?: unknown };
          if (isEncryptedKeyFile(j)) done = false;
          else if (j.kind === "pool-seed" || j.kind === "pair-seed") done = encryptKeyFileInPlace(f, j.kind);
          else if (j.kind === "data") done = encryptKeyFileInPlace(f, "data-key");
          else if (typeof j.privateKey === "string") done = encryptKeyFileInPlace(f, "key-pair");
          else throw new Error(`${f}: not a private key file`);
        }
        process.stdout.write(`${f}: ${done ? "encrypted" : "already encrypted"}\n`);
      }
    });
}
