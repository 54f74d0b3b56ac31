/**
 * `privface keys encrypt FILE…` — encrypt plaintext key files in place under the key secret of the
 * environment (PRIVFACE_KEY_SECRET or PRIVFACE_KEY_SECRET_FILE; never argv): JSON key pairs, data
 * keys, pool and pair seeds (@privface/crypto/node key files) and PEM private keys (encrypted PKCS#8,
 * scrypt). For a home made before keys were encrypted, outside the development stack (which does this
 * itself). Prints file names only; a file already encrypted is left alone. Exit 1 on any failure.
 *
 * `privface keys generate --kind seal|sign|data --suite INTL|GM --out FILE [--id ID] [--public FILE]` — a new key file,
 * encrypted under the same secret (mode 0600), for a rotation (a party's next sealing key, a data key)
 * or a GM data key; refuses an existing file. Prints the file, kind, suite and the key's id (a
 * sealing key's list id, a data key's id), never the key.
 */
import type { Command } from "commander";

export function register(program: Command): void {
  const keys = program.command("keys").description("key files (encrypted under PRIVFACE_KEY_SECRET)");
  keys
    .command("generate")
    .description("a new encrypted key file: a sealing or signing key pair, or a data key (INTL: AES-256; GM: SM4)")
    .requiredOption("--kind <seal|sign|data>", "what key")
    .requiredOption("--suite <INTL|GM>", "which suite")
    .requiredOption("--out <file>", "the file to write (must not exist)")
    .option("--id <id>", "a data key's id (default: data-<random>)")
    .option("--public <file>", "a key pair: also write its public half here (keys/public/…)")
    .action(async (o: { kind: string; suite: string; out: string; id?: string; public?: string }) => {
      const { existsSync } = await import("node:fs");
      const { randomBytes } = await import("node:crypto");
      const { ensureDataKeyFile, ensureKeyPairFile, keySecretFromEnv, writePublicKeyFile } = await import("@privface/crypto/node");
      const { sealingKeyId } = await import("@privface/contracts");
      if (o.kind !== "seal" && o.kind !== "sign" && o.kind !== "data") throw new Error("--kind must be seal, sign or data");
      if (o.suite !== "INTL" && o.suite !== "GM") throw new Error("--suite must be INTL or GM");
      keySecretFromEnv(); // no secret: stop before writing anything
      for (const f of [o.out, o.public]) if (f && existsSync(f)) throw new Error(`${f} exists: a new key never replaces a file`);
      if (o.public && o.kind === "data") throw new Error("--public: a data key has no public half");
      let id: string;
      if (o.kind === "data") id = ensureDataKeyFile(o.out, o.suite, o.id ?? `data-${randomBytes(6).toString("hex")}`).key.id;
      else {
        const { key } = await ensureKeyPairFile(o.out, o.suite, o.kind);
        id = o.kind === "seal" ? await sealingKeyId(key) : "";
        if (o.public) writePublicKeyFile(o.public, { suite: key.suite, kind: key.kind, publicKey: key.publicKey });
      }
      process.stdout.write(JSON.stringify({ file: o.out, kind: o.kind, suite: o.suite, ...(id ? { id } : {}) }) + "\n");
    });
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
