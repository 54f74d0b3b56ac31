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
 *
 * `privface keys rotate --server gateway|p0|p1 --kind result --out FILE --public FILE --operator NAME` —
 * starts a result-key rotation: a new result key pair in the deployment's suite (PRIVFACE_SUITE), its
 * public half, and `key.rotate` (session `result:<file name>`) in the server's audit chain; prints the
 * configuration changes that finish it (docs/operations.md "Key rotation"). `--kind root` is refused
 * (ROTATION_UNSUPPORTED): devices are provisioned with each party's root and have no way yet to move
 * to a new one.
 *
 * `privface keys destroy request|approve` — a key file a rotation retired, destroyed under dual control
 * (R27, as `privface exit`): `request --server S --file FILE --operator A` records `key.destroy.request`
 * in the server's audit chain (session: a random request code; templateId: `file:` and the first 32
 * hex digits of the SHA-256 of the file's absolute path) and prints the code; `approve --server S
 * --file FILE --request CODE --operator B`, by another operator (SAME_APPROVER otherwise) within 24 h
 * (DESTROY_NOT_REQUESTED for an unknown, expired, already carried out or other file's code), overwrites
 * the file with random bytes, removes it and records `key.destroy` (same session and file digest,
 * code: the requester's name is in the request record). Both steps refuse (KEY_IN_USE) while the
 * server's configuration names the file (current or retired). A refusal changes nothing.
 */
import type { Command } from "commander";

/** How long a destruction request stays approvable. */
export const DESTROY_REQUEST_TTL_MS = 24 * 3_600_000;
const OPERATOR = /^[A-Za-z0-9._@-]{1,64}$/;

/**
 * The checks both steps of `keys destroy` share: the server, the operator's name, the file exists and
 * no configuration names it. Then `fn` with the server's audit log and the file's digest.
 */
async function withDestroyTarget<T>(
  serverName: string,
  file: string,
  operator: string,
  env: NodeJS.ProcessEnv,
  fn: (log: import("@privface/audit").AuditLog, ctx: { server: string; fileRef: string; requester: string; db: import("@privface/db").Db }) => Promise<T>,
): Promise<T> {
  const { existsSync } = await import("node:fs");
  const { resolve } = await import("node:path");
  const { createHash } = await import("node:crypto");
  const { SERVERS, targetOf, BackupError } = await import("./backup.ts");
  const server = serverName as (typeof SERVERS)[number];
  if (!SERVERS.includes(server)) throw new Error(`--server must be one of ${SERVERS.join(", ")}`);
  if (!OPERATOR.test(operator)) throw new Error("--operator: 1–64 letters, digits, . _ @ -");
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  const cfg = await targetOf(server, env);
  const named = Object.values(cfg).flat().filter((v): v is string => typeof v === "string").map((v) => resolve(v));
  if (named.includes(resolve(file))) throw new BackupError("KEY_IN_USE", `${file} is in ${server}'s configuration: remove it there (and restart) first`);
  const { readKeyPairFile } = await import("@privface/crypto/node");
  const { createAuditLog } = await import("@privface/audit");
  const { openDb, closeDb } = await import("@privface/db");
  const db = await openDb(cfg.db, cfg.dbSchema ? { schema: cfg.dbSchema } : {});
  try {
    const log = await createAuditLog(db, { role: server, signingKey: await readKeyPairFile(cfg.auditKey) });
    const fileRef = `file:${createHash("sha256").update(resolve(file)).digest("hex").slice(0, 32)}`;
    return await fn(log, { server, fileRef, requester: `operator:${operator}`, db });
  } finally {
    await closeDb(db);
  }
}

/** `keys destroy request`: see the module comment. Nothing is destroyed. */
export async function requestDestroyKey(serverName: string, file: string, by: { operator: string }, env: NodeJS.ProcessEnv = process.env, now: () => number = Date.now) {
  const { randomBytes } = await import("node:crypto");
  return withDestroyTarget(serverName, file, by.operator, env, async (log, { server, fileRef, requester }) => {
    const request = `kd_${randomBytes(12).toString("hex")}`;
    const time = now();
    await log.append({ requester, op: "key.destroy.request", templateId: fileRef, session: request, outcome: "requested", time });
    return { server, file, request, expiresAt: new Date(time + DESTROY_REQUEST_TTL_MS).toISOString() };
  });
}

/** `keys destroy approve`: see the module comment. */
export async function approveDestroyKey(serverName: string, file: string, by: { operator: string; request: string }, env: NodeJS.ProcessEnv = process.env, now: () => number = Date.now) {
  const { BackupError } = await import("./backup.ts");
  const { exportChain } = await import("@privface/audit");
  const { destroyFile } = await import("@privface/party");
  return withDestroyTarget(serverName, file, by.operator, env, async (log, { server, fileRef, requester, db }) => {
    const records = await exportChain(db);
    const req = records.find((r) => r.op === "key.destroy.request" && r.session === by.request);
    if (!req || req.templateId !== fileRef || now() - req.time > DESTROY_REQUEST_TTL_MS) {
      throw new BackupError("DESTROY_NOT_REQUESTED", "no request to destroy this file with this code in the server's chain (or older than 24 h): run `privface keys destroy request` first");
    }
    if (records.some((r) => r.op === "key.destroy" && r.session === by.request)) throw new BackupError("DESTROY_NOT_REQUESTED", "this request was already carried out");
    if (req.requester === requester) throw new BackupError("SAME_APPROVER", "the destruction must be approved by another operator than the one who requested it");
    destroyFile(file);
    await log.append({ requester, op: "key.destroy", templateId: fileRef, session: by.request, outcome: "ok", time: now() });
    return { server, destroyed: file, request: by.request, requestedBy: req.requester, approvedBy: requester };
  });
}

/** `keys rotate`: see the module comment. */
export async function rotateKey(serverName: string, kind: string, out: string, pub: string, by: { operator: string }, env: NodeJS.ProcessEnv = process.env) {
  const { existsSync } = await import("node:fs");
  const { basename } = await import("node:path");
  const { SERVERS, targetOf, BackupError } = await import("./backup.ts");
  if (kind === "root") {
    throw new BackupError("ROTATION_UNSUPPORTED", "a party's root is provisioned in every device (FaceDevice trust.roots), which has no way yet to accept a new root signed by the old one: a new root means provisioning the devices again (docs/operations.md \"Key rotation\")");
  }
  if (kind !== "result") throw new Error("--kind must be result (data: privface party rotate-data-key; audit: privface audit rotate-key; seal and sign: privface keys generate and the configuration)");
  const server = serverName as (typeof SERVERS)[number];
  if (server !== "gateway" && server !== "p0" && server !== "p1") throw new Error("--server must be gateway, p0 or p1 (the servers with a result key)");
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(by.operator)) throw new Error("--operator: 1–64 letters, digits, . _ @ -");
  for (const f of [out, pub]) if (existsSync(f)) throw new Error(`${f} exists: a new key never replaces a file`);
  const cfg = (await targetOf(server, env)) as Awaited<ReturnType<typeof targetOf>> & { suite: "INTL" | "GM"; resultKey: string };
  const { ensureKeyPairFile, readKeyPairFile, writePublicKeyFile } = await import("@privface/crypto/node");
  const { createAuditLog } = await import("@privface/audit");
  const { openDb, closeDb } = await import("@privface/db");
  const db = await openDb(cfg.db, cfg.dbSchema ? { schema: cfg.dbSchema } : {});
  try {
    const log = await createAuditLog(db, { role: server, signingKey: await readKeyPairFile(cfg.auditKey) });
    const { key } = await ensureKeyPairFile(out, cfg.suite, "seal");
    writePublicKeyFile(pub, { suite: key.suite, kind: "seal", publicKey: key.publicKey });
    await log.append({ requester: `operator:${by.operator}`, op: "key.rotate", session: `result:${basename(out).replace(/[^A-Za-z0-9._:-]/g, "_").slice(0, 100)}`, outcome: "ok" });
    const P = server === "gateway" ? "PRIVFACE_GATEWAY_" : `PRIVFACE_${server.toUpperCase()}_`;
    const next =
      server === "gateway"
        ? [`restart the gateway with ${P}RESULT_KEY=${out} ${P}RETIRED_RESULT_KEYS=${cfg.resultKey}`, `restart each party with PRIVFACE_Px_GATEWAY_RESULT_KEY=${pub}`, `remove ${P}RETIRED_RESULT_KEYS, restart the gateway, then privface keys destroy the old file`]
        : [`restart the gateway with PRIVFACE_GATEWAY_${server.toUpperCase()}_RESULT_KEY=${pub} PRIVFACE_GATEWAY_${server.toUpperCase()}_RETIRED_RESULT_KEYS=<the old public key>`, `restart ${server} with ${P}RESULT_KEY=${out}`, `remove the retired key at the gateway, restart it, then privface keys destroy the old file`];
    return { server, kind, suite: key.suite, file: out, public: pub, next };
  } finally {
    await closeDb(db);
  }
}

export function register(program: Command): void {
  const keys = program.command("keys").description("key files (encrypted under PRIVFACE_KEY_SECRET)");
  const destroy = keys.command("destroy").description("overwrite and remove a key file no longer in the server's configuration, under dual control: request, then approve by another operator (recorded in its audit chain)");
  destroy
    .command("request")
    .description("ask for a key file's destruction: key.destroy.request in the server's audit chain; prints the request code (valid 24 h)")
    .requiredOption("--server <gateway|p0|p1|helper>", "whose key")
    .requiredOption("--file <file>", "the key file")
    .requiredOption("--operator <name>", "who asks (recorded)")
    .action(async (o: { server: string; file: string; operator: string }) => {
      process.stdout.write(JSON.stringify(await requestDestroyKey(o.server, o.file, { operator: o.operator })) + "\n");
    });
  destroy
    .command("approve")
    .description("approve a destruction request (another operator): the file overwritten and removed, key.destroy in the chain")
    .requiredOption("--server <gateway|p0|p1|helper>", "whose key")
    .requiredOption("--file <file>", "the key file (the one requested)")
    .requiredOption("--request <code>", "the request code `keys destroy request` printed")
    .requiredOption("--operator <name>", "who approves (recorded; not the requester)")
    .action(async (o: { server: string; file: string; request: string; operator: string }) => {
      process.stdout.write(JSON.stringify(await approveDestroyKey(o.server, o.file, { operator: o.operator, request: o.request })) + "\n");
    });
  keys
    .command("rotate")
    .description("start a result-key rotation: a new key pair, its public half, key.rotate in the server's audit chain (root: refused)")
    .requiredOption("--server <gateway|p0|p1>", "whose key")
    .requiredOption("--kind <result|root>", "which key")
    .requiredOption("--out <file>", "the new key file (must not exist)")
    .requiredOption("--public <file>", "its public half (keys/public/…)")
    .requiredOption("--operator <name>", "who rotates (recorded)")
    .action(async (o: { server: string; kind: string; out: string; public: string; operator: string }) => {
      process.stdout.write(JSON.stringify(await rotateKey(o.server, o.kind, o.out, o.public, { operator: o.operator })) + "\n");
    });
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
