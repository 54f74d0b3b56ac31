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
 * `privface keys rotate --server S --kind data|seal|sign|audit --out FILE [--public FILE] --operator NAME`
 * — the new key in the deployment's suite (data: p0, p1, gateway; seal: p0, p1; sign: gateway; audit:
 * any server, which must be stopped: the handover of `privface audit rotate-key` follows at once),
 * `key.rotate` (session `<kind>:<file name>`, outcome `begun`) in the server's chain, and the
 * configuration steps that finish it (printed as `next`); the restart that applies them is recorded
 * as `key.activate` / `key.retire` (@privface/audit `recordKeysInUse`).
 *
 * `privface keys rotate --server gateway|p0|p1 --kind result --out FILE --public FILE --operator NAME` —
 * starts a result-key rotation: a new result key pair in the deployment's suite (PRIVFACE_SUITE), its
 * public half, and `key.rotate` (session `result:<file name>`) in the server's audit chain; prints the
 * configuration changes that finish it (docs/operations.md "Key rotation").
 *
 * `privface keys rotate --server p0|p1 --kind root --out FILE --public FILE --operator NAME` — a root
 * handover: a new root key pair, and a handover record signed by the current ROOT_KEY naming it,
 * appended to ROOT_HANDOVERS (@privface/contracts `signRootHandover`; party root-chain.ts), recorded
 * as `key.rotate` (session `root:<seq>`) in the party's chain. Refused with ROOT_RETIRED when the
 * configured ROOT_KEY is not the newest root of the chain. Then the party is restarted with ROOT_KEY =
 * the new file: its lists are signed by the new root and carry the chain, which devices provisioned
 * with the old root follow; the old root file is destroyed with `keys destroy`.
 *
 * `privface keys hsm-generate --uri URI --public FILE` — the key ceremony's step: an Ed25519 key pair
 * made inside the PKCS#11 token the URI names (`pkcs11:token=…;object=…?module-path=…&pin-source=file:…`,
 * or the PIN in PRIVFACE_PKCS11_PIN), sensitive and non-extractable, and its public half written to
 * FILE (what the parties read as GATEWAY_KEY). Refuses an existing label or file. Prints the URI's
 * token and label and the public file, never the PIN.
 *
 * `privface keys destroy request|approve` — a key file a rotation retired, destroyed under dual control
 * (R27, as `privface exit`): `request --server S --file FILE --operator A` records `key.destroy.request`
 * in the server's audit chain (session: a random request code; templateId: `file:` and the first 32
 * hex digits of the SHA-256 of the file's absolute path) and prints the code; `approve --server S
 * --file FILE --request CODE --operator B`, by another operator (SAME_APPROVER otherwise) within 24 h
 * (DESTROY_NOT_REQUESTED for an unknown, expired, already carried out or other file's code), overwrites
 * the file with random bytes, removes it and records `key.destroy` (same session and file digest,
 * code: the requester's name is in the request record). Both steps refuse (KEY_IN_USE) while the
 * server's configuration names the file (current or retired) or — a party's data key — while a stored
 * template or unused pool item is still under it. A refusal changes nothing.
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
  const { readKeyPairFile, readDataKeyFile } = await import("@privface/crypto/node");
  const { createAuditLog } = await import("@privface/audit");
  const { openDb, closeDb, createExec } = await import("@privface/db");
  const db = await openDb(cfg.db, cfg.dbSchema ? { schema: cfg.dbSchema } : {});
  try {
    // a party's data key still named by stored rows (the re-wrap has not finished): destroying it would lose them
    if (server === "p0" || server === "p1") {
      let dataKeyId: string | undefined;
      try {
        dataKeyId = readDataKeyFile(file).id;
      } catch {
        dataKeyId = undefined; // not a data key
      }
      if (dataKeyId !== undefined) {
        const used = await createExec(db).read(async (tx) =>
          (await tx.get("SELECT 1 AS x FROM party_templates WHERE share IS NOT NULL AND key_id = ? LIMIT 1", [dataKeyId])) ??
          (await tx.get("SELECT 1 AS x FROM party_pool WHERE used_at IS NULL AND key_id = ? LIMIT 1", [dataKeyId])),
        );
        if (used) throw new BackupError("KEY_IN_USE", `${file}: stored templates or pool items of ${server} are still under this data key: keep it in DATA_KEYS (after the current key) until the party's re-wrap has moved them`);
      }
    }
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
export async function rotateKey(serverName: string, kind: string, out: string, pub: string | undefined, by: { operator: string }, env: NodeJS.ProcessEnv = process.env) {
  const { existsSync } = await import("node:fs");
  const { basename } = await import("node:path");
  const { SERVERS, targetOf, BackupError } = await import("./backup.ts");
  if (kind === "root") return rotateRoot(serverName, out, pub, by, env);
  if (kind === "data" || kind === "seal" || kind === "sign" || kind === "audit") return rotateConfigured(serverName, kind, out, pub, by, env);
  if (kind !== "result") throw new Error("--kind must be data, seal, sign, audit, result or root");
  if (!pub) throw new Error("--public: where to write the new key's public half");
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

const NEEDS: Record<"data" | "seal" | "sign" | "audit", readonly string[]> = { data: ["p0", "p1", "gateway"], seal: ["p0", "p1"], sign: ["gateway"], audit: ["gateway", "p0", "p1", "helper"] };

/** `keys rotate --kind data|seal|sign|audit`: see the module comment. */
async function rotateConfigured(serverName: string, kind: "data" | "seal" | "sign" | "audit", out: string, pub: string | undefined, by: { operator: string }, env: NodeJS.ProcessEnv) {
  const { existsSync } = await import("node:fs");
  const { basename } = await import("node:path");
  const { randomBytes } = await import("node:crypto");
  const { targetOf, listening, BackupError } = await import("./backup.ts");
  if (!NEEDS[kind].includes(serverName)) throw new Error(`--kind ${kind}: --server must be ${NEEDS[kind].join(", ")}`);
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(by.operator)) throw new Error("--operator: 1–64 letters, digits, . _ @ -");
  if (kind === "data" && pub) throw new Error("--public: a data key has no public half");
  if (kind !== "data" && !pub) throw new Error("--public: where to write the new key's public half");
  for (const f of [out, pub]) if (f && existsSync(f)) throw new Error(`${f} exists: a new key never replaces a file`);
  const server = serverName as "gateway" | "p0" | "p1" | "helper";
  const cfg = (await targetOf(server, env)) as Awaited<ReturnType<typeof targetOf>> & { suite: "INTL" | "GM"; host: string; port: number };
  const suite = cfg.suite;
  const { ensureDataKeyFile, ensureKeyPairFile, readKeyPairFile, writePublicKeyFile } = await import("@privface/crypto/node");
  if (kind === "audit") {
    // the handover needs the server stopped: checked before any file is made
    if (await listening(cfg.host, cfg.port)) throw new BackupError("SERVER_RUNNING", `something answers on ${server}'s port ${cfg.host}:${cfg.port}: stop the server first`);
    const { key } = await ensureKeyPairFile(out, suite, "sign");
    writePublicKeyFile(pub!, { suite: key.suite, kind: "sign", publicKey: key.publicKey });
    const { rotateAuditKey } = await import("./audit.ts");
    const r = await rotateAuditKey(server, out, by, env);
    const P = server === "gateway" ? "PRIVFACE_GATEWAY_" : `PRIVFACE_${server.toUpperCase()}_`;
    return { ...r, kind, suite, file: out, public: pub, next: [`start ${server} with ${P}AUDIT_KEY=${out}`, `give the peers and auditors ${pub} (privface audit verify --key <old> --key ${pub})`, `privface keys destroy request|approve --server ${server} --file <the old audit key> (two operators)`] };
  }
  const { createAuditLog } = await import("@privface/audit");
  const { openDb, closeDb } = await import("@privface/db");
  const db = await openDb(cfg.db, cfg.dbSchema ? { schema: cfg.dbSchema } : {});
  try {
    const log = await createAuditLog(db, { role: server, signingKey: await readKeyPairFile(cfg.auditKey) });
    let id: string | undefined;
    if (kind === "data") id = ensureDataKeyFile(out, suite, `${server === "gateway" ? "gateway-data" : "data"}-${randomBytes(6).toString("hex")}`).key.id;
    else {
      const { key } = await ensureKeyPairFile(out, suite, kind);
      writePublicKeyFile(pub!, { suite: key.suite, kind: key.kind, publicKey: key.publicKey });
      if (kind === "seal") id = await (await import("@privface/contracts")).sealingKeyId(key);
    }
    await log.append({ requester: `operator:${by.operator}`, op: "key.rotate", session: `${kind}:${basename(out).replace(/[^A-Za-z0-9._:-]/g, "_").slice(0, 100)}`, outcome: "begun" });
    const P = server === "gateway" ? "PRIVFACE_GATEWAY_" : `PRIVFACE_${server.toUpperCase()}_`;
    const c = cfg as unknown as { dataKeys?: string[]; sealKey?: string; signingKey?: string };
    const next =
      kind === "data"
        ? server === "gateway"
          ? [`restart the gateway with ${P}DATA_KEYS=${[out, ...(c.dataKeys ?? [])].join(",")}: new identity attributes go under the new key; keep the old keys listed (no command re-encrypts the gateway's stored attributes)`]
          : [`restart ${server} with ${P}DATA_KEYS=${[out, ...(c.dataKeys ?? [])].join(",")}: new rows under the new key, the old rows re-wrapped in the background (key.rotate data:<id> in the chain)`, `then remove the old keys from ${P}DATA_KEYS, restart, and privface keys destroy each old file (refused while rows still name it)`]
        : kind === "seal"
          ? [`restart ${server} with ${P}SEAL_KEY=${out} ${P}RETIRED_SEAL_KEYS=${c.sealKey}: its key list names the new key first, devices seal to it as they fetch the list`, `give the gateway ${pub} (PRIVFACE_GATEWAY_${server.toUpperCase()}_SEAL_KEY)`, `after the lists' lifetime (7 days) remove ${P}RETIRED_SEAL_KEYS, restart, and privface keys destroy the old file`]
          : [`restart each party with PRIVFACE_Px_GATEWAY_KEY=${pub} PRIVFACE_Px_RETIRED_GATEWAY_KEYS=<the old public key>`, `restart the gateway with ${P}SIGNING_KEY=${out}`, `after 60 s remove PRIVFACE_Px_RETIRED_GATEWAY_KEYS, restart the parties, and privface keys destroy ${c.signingKey}`];
    return { server, kind, suite, file: out, ...(pub ? { public: pub } : {}), ...(id ? { id } : {}), next };
  } finally {
    await closeDb(db);
  }
}

/** `keys rotate --kind root`: see the module comment. */
async function rotateRoot(serverName: string, out: string, pub: string | undefined, by: { operator: string }, env: NodeJS.ProcessEnv) {
  const { existsSync } = await import("node:fs");
  const { targetOf, BackupError } = await import("./backup.ts");
  if (serverName !== "p0" && serverName !== "p1") throw new Error("--server must be p0 or p1 (a party's institution root)");
  if (!pub) throw new Error("--public: where to write the new root's public half (devices and exit verifiers need it)");
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(by.operator)) throw new Error("--operator: 1–64 letters, digits, . _ @ -");
  for (const f of [out, pub]) if (existsSync(f)) throw new Error(`${f} exists: a new key never replaces a file`);
  const { ConfigError } = await import("@privface/config");
  const { signRootHandover } = await import("@privface/contracts");
  const { appendRootHandover, checkCurrentRoot, readRootHandovers } = await import("@privface/party");
  const cfg = (await targetOf(serverName, env)) as import("@privface/party").PartyConfig;
  const { ensureKeyPairFile, readKeyPairFile, writePublicKeyFile } = await import("@privface/crypto/node");
  const old = await readKeyPairFile(cfg.rootKey);
  let chain;
  try {
    chain = await readRootHandovers(cfg.rootHandovers, cfg.party);
    checkCurrentRoot(chain, old, cfg.rootKey);
  } catch (e) {
    if (e instanceof ConfigError) throw new BackupError(/ROOT_RETIRED/.test(e.message) ? "ROOT_RETIRED" : "ROOT_HANDOVER_INVALID", e.problems.join("; "));
    throw e;
  }
  const { createAuditLog } = await import("@privface/audit");
  const { openDb, closeDb } = await import("@privface/db");
  const db = await openDb(cfg.db, cfg.dbSchema ? { schema: cfg.dbSchema } : {});
  try {
    const log = await createAuditLog(db, { role: serverName, signingKey: await readKeyPairFile(cfg.auditKey) });
    const { key } = await ensureKeyPairFile(out, old.suite, "sign");
    const seq = chain.length + 1;
    const handover = await signRootHandover(old, { party: cfg.party, seq, issuedAt: Date.now(), to: { suite: key.suite, kind: "sign", publicKey: key.publicKey } });
    writePublicKeyFile(pub, { suite: key.suite, kind: "sign", publicKey: key.publicKey });
    appendRootHandover(cfg.rootHandovers, chain, handover);
    await log.append({ requester: `operator:${by.operator}`, op: "key.rotate", session: `root:${seq}`, outcome: "ok" });
    const P = `PRIVFACE_${serverName.toUpperCase()}_`;
    return {
      server: serverName,
      kind: "root",
      suite: key.suite,
      file: out,
      public: pub,
      handovers: cfg.rootHandovers,
      seq,
      next: [
        `restart ${serverName} (every worker) with ${P}ROOT_KEY=${out}: its key lists are signed by the new root and carry the handovers; devices provisioned with the old root follow them`,
        `give the new public root (${pub}) to whoever checks ${serverName}'s exit records, and provision new devices with it`,
        `privface keys destroy --server ${serverName} --file ${cfg.rootKey} --operator <name>`,
      ],
    };
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
    .description("start a key rotation (data, seal, sign, result), hand an audit key or a party's root over: the new key, key.rotate in the server's audit chain, the steps that finish it")
    .requiredOption("--server <gateway|p0|p1>", "whose key")
    .requiredOption("--kind <data|seal|sign|audit|result|root>", "which key")
    .requiredOption("--out <file>", "the new key file (must not exist)")
    .option("--public <file>", "its public half (keys/public/…; every kind but data)")
    .requiredOption("--operator <name>", "who rotates (recorded)")
    .action(async (o: { server: string; kind: string; out: string; public?: string; operator: string }) => {
      process.stdout.write(JSON.stringify(await rotateKey(o.server, o.kind, o.out, o.public, { operator: o.operator })) + "\n");
    });
  keys
    .command("hsm-generate")
    .description("the key ceremony: an Ed25519 signing key made inside a PKCS#11 token (never leaves it) and its public half")
    .requiredOption("--uri <pkcs11-uri>", "pkcs11:token=…;object=<label>?module-path=…&pin-source=file:… (PIN: the file or PRIVFACE_PKCS11_PIN)")
    .requiredOption("--public <file>", "where to write the public half (keys/public/gateway-signing.pub.json)")
    .action(async (o: { uri: string; public: string }) => {
      const { existsSync } = await import("node:fs");
      const { writePublicKeyFile } = await import("@privface/crypto/node");
      const { generatePkcs11KeyFromUri, parsePkcs11Uri } = await import("@privface/crypto/pkcs11");
      const u = parsePkcs11Uri(o.uri);
      if (existsSync(o.public)) throw new Error(`${o.public} exists: a new key never replaces a file`);
      const publicKey = await generatePkcs11KeyFromUri(o.uri);
      writePublicKeyFile(o.public, { suite: "INTL", kind: "sign", publicKey });
      process.stdout.write(JSON.stringify({ token: u.token, object: u.object, algorithm: "Ed25519", public: o.public }) + "\n");
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
