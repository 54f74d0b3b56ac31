/**
 * `privface audit verify|reconcile|export` — check a server's audit chain (names the first broken
 * record), compare P0's and P1's chains (names sessions only one side recorded), export a chain as
 * JSON lines. Exit code 1 when a chain is broken or the parties disagree.
 */
import type { Command } from "commander";

interface DbOpts {
  schema?: string;
}

async function someAsync<T>(xs: readonly T[], f: (x: T) => Promise<boolean>): Promise<boolean> {
  for (const x of xs) if (await f(x)) return true;
  return false;
}

/**
 * `audit rotate-key`: on the server's host with its configuration and the server stopped, appends the
 * handover (KEY_HANDOVER_OP, signed by the current AUDIT_KEY, naming the new key) and a first record
 * signed by the new key; then the operator points AUDIT_KEY at the new file and starts the server.
 */
export async function rotateAuditKey(serverName: string, newKey: string, by: { operator: string }, env: NodeJS.ProcessEnv = process.env) {
  const { SERVERS, targetOf, listening, BackupError } = await import("./backup.ts");
  const server = serverName as (typeof SERVERS)[number];
  if (!SERVERS.includes(server)) throw new Error(`--server must be one of ${SERVERS.join(", ")}`);
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(by.operator)) throw new Error("--operator: 1–64 letters, digits, . _ @ -");
  const t = await targetOf(server, env);
  if (await listening(t.host, t.port)) throw new BackupError("SERVER_RUNNING", `something answers on ${server}'s port ${t.host}:${t.port}: stop the server first`);
  const { readKeyPairFile } = await import("@privface/crypto/node");
  const { auditKeyId, createAuditLog, KEY_HANDOVER_OP } = await import("@privface/audit");
  const { openDb, closeDb } = await import("@privface/db");
  const [old, next] = [await readKeyPairFile(t.auditKey), await readKeyPairFile(newKey)];
  if (next.kind !== "sign") throw new Error(`${newKey} is not a signing key`);
  const requester = `operator:${by.operator}`;
  const db = await openDb(t.db, t.dbSchema ? { schema: t.dbSchema } : {});
  try {
    const to = auditKeyId(next);
    await (await createAuditLog(db, { role: server, signingKey: old })).append({ requester, op: KEY_HANDOVER_OP, session: to, outcome: "ok" });
    const log = await createAuditLog(db, { role: server, signingKey: next });
    await log.append({ requester, op: "audit.key-accepted", session: to, outcome: "ok" });
    return { server, from: auditKeyId(old), to, head: await log.head() };
  } finally {
    await closeDb(db);
  }
}

async function open(url: string, opts: DbOpts) {
  const { openDb } = await import("@privface/db");
  return openDb(url, opts.schema ? { schema: opts.schema } : {});
}

export function register(program: Command): void {
  const audit = program.command("audit").description("tamper-evident audit logs: verify, reconcile, export");

  audit
    .command("verify")
    .description("verify a server's audit chain against its audit public key (and the heads its peers keep for it)")
    .requiredOption("--db <url>", "database URL (sqlite:PATH or postgres://…)")
    .requiredOption("--key <files...>", "audit key file(s) (key pair or public key JSON); after a rotation every key the chain was signed with, oldest first")
    .option("--schema <name>", "PostgreSQL schema")
    .option("--head <seq:hash>", "a head kept earlier; the chain must still contain it")
    .option("--anchors <url>", "a peer's database: the chain must still contain every head that peer keeps for it (audit anchors)")
    .option("--anchors-schema <name>", "PostgreSQL schema of the peer's database")
    .option("--role <role>", "the server whose chain this is (p0, p1, gateway, helper), for --anchors; default: the role its records name")
    .action(async (opts: DbOpts & { db: string; key: string[]; head?: string; anchors?: string; anchorsSchema?: string; role?: string }) => {
      const { readPublicKeyFile } = await import("@privface/crypto/node");
      const { anchorSigned, anchorsOf, readChain, verifyChain } = await import("@privface/audit");
      const { closeDb } = await import("@privface/db");
      const pubs = opts.key.map((f) => readPublicKeyFile(f));
      let expectHead: { seq: number; hash: string } | undefined;
      if (opts.head) {
        const m = /^(\d+):([A-Za-z0-9_-]{43})$/.exec(opts.head);
        if (!m) throw new Error("--head must be <seq>:<hash>");
        expectHead = { seq: Number(m[1]), hash: m[2] };
      }
      const db = await open(opts.db, opts);
      try {
        let anchors: { seq: number; hash: string }[] = [];
        if (opts.anchors) {
          let role = opts.role;
          if (!role) for await (const r of readChain(db, 1)) role ??= r.role;
          if (!role) throw new Error("the chain is empty: name its server with --role");
          const peer = await open(opts.anchors, { schema: opts.anchorsSchema });
          try {
            const kept = await anchorsOf(peer, role);
            for (const a of kept) {
              if (!(await someAsync(pubs, (pub) => anchorSigned(a, pub)))) {
                process.stdout.write(JSON.stringify({ ok: false, badAnchor: { seq: a.seq, reason: "the head kept by the peer is not signed by this key" } }) + "\n");
                process.exitCode = 1;
                return;
              }
            }
            anchors = kept.map((a) => ({ seq: a.seq, hash: a.hash }));
          } finally {
            await closeDb(peer);
          }
        }
        const r = await verifyChain(db, pubs, { ...(expectHead ? { expectHead } : {}), anchors });
        process.stdout.write(JSON.stringify(opts.anchors ? { ...r, anchors: anchors.length } : r) + "\n");
        if (!r.ok) {
          process.stderr.write(`audit chain BROKEN at seq ${r.firstBroken?.seq}: ${r.firstBroken?.reason}\n`);
          process.exitCode = 1;
        }
      } finally {
        await closeDb(db);
      }
    });

  audit
    .command("rotate-key")
    .description("hand the server's audit chain over to a new key (the server stopped): a handover signed by the current AUDIT_KEY, then a record signed by the new one; then set AUDIT_KEY to the new file")
    .requiredOption("--server <gateway|p0|p1|helper>", "which server")
    .requiredOption("--new-key <file>", "the new audit key pair (privface keys generate --kind sign)")
    .requiredOption("--operator <name>", "who rotates (recorded in the chain)")
    .action(async (o: { server: string; newKey: string; operator: string }) => {
      process.stdout.write(JSON.stringify(await rotateAuditKey(o.server, o.newKey, { operator: o.operator })) + "\n");
    });

  audit
    .command("reconcile")
    .description("compare P0's and P1's chains; list sessions that only one party recorded")
    .requiredOption("--p0 <url>", "P0 database URL")
    .requiredOption("--p1 <url>", "P1 database URL")
    .option("--p0-schema <name>", "PostgreSQL schema of P0")
    .option("--p1-schema <name>", "PostgreSQL schema of P1")
    .option("--p0-key <file>", "P0 audit key: verify P0's chain first")
    .option("--p1-key <file>", "P1 audit key: verify P1's chain first")
    .action(async (opts: { p0: string; p1: string; p0Schema?: string; p1Schema?: string; p0Key?: string; p1Key?: string }) => {
      const { exportChain, reconcile, verifyRecords } = await import("@privface/audit");
      const { readPublicKeyFile } = await import("@privface/crypto/node");
      const { closeDb } = await import("@privface/db");
      const db0 = await open(opts.p0, { schema: opts.p0Schema });
      const db1 = await open(opts.p1, { schema: opts.p1Schema });
      try {
        const [c0, c1] = [await exportChain(db0), await exportChain(db1)];
        const chains: Record<string, unknown> = {};
        let broken = false;
        for (const [name, chain, key] of [["p0", c0, opts.p0Key], ["p1", c1, opts.p1Key]] as const) {
          if (!key) continue;
          const v = await verifyRecords(chain, readPublicKeyFile(key));
          chains[name] = v;
          broken ||= !v.ok;
        }
        const r = reconcile(c0, c1);
        process.stdout.write(JSON.stringify({ ok: r.ok && !broken, common: r.common, onlyP0: r.onlyA, onlyP1: r.onlyB, ...(Object.keys(chains).length ? { chains } : {}) }) + "\n");
        for (const s of r.onlyA) process.stderr.write(`session ${s.session}: recorded at P0 only (seq ${s.seqs.join(",")}; ${s.ops.join(",")})\n`);
        for (const s of r.onlyB) process.stderr.write(`session ${s.session}: recorded at P1 only (seq ${s.seqs.join(",")}; ${s.ops.join(",")})\n`);
        if (!r.ok || broken) process.exitCode = 1;
      } finally {
        await closeDb(db0);
        await closeDb(db1);
      }
    });

  audit
    .command("export")
    .description("print a server's audit chain as JSON lines (one record per line)")
    .requiredOption("--db <url>", "database URL")
    .option("--schema <name>", "PostgreSQL schema")
    .action(async (opts: DbOpts & { db: string }) => {
      const { readChain, migrateAudit } = await import("@privface/audit");
      const { closeDb } = await import("@privface/db");
      const db = await open(opts.db, opts);
      try {
        await migrateAudit(db);
        for await (const r of readChain(db)) process.stdout.write(JSON.stringify(r) + "\n");
      } finally {
        await closeDb(db);
      }
    });
}
