/**
 * @privface/audit — a tamper-evident audit log per server (REQUIREMENTS R20), stored in the
 * server's own database through @privface/db (SQLite or PostgreSQL, same migrations).
 *
 *   const db = await openDb(url);
 *   const log = await createAuditLog(db, { role: "p0", signingKey });   // runs the audit migrations
 *   await log.append({ requester: "gateway", op: "verify", templateId, session, outcome: "ok" });
 *   const r = await verifyChain(db, { suite: "INTL", publicKey });      // { ok, records, firstBroken?, head }
 *   reconcile(await exportChain(dbP0), await exportChain(dbP1));        // sessions one side only recorded
 *
 * Appends are serialised in-process and atomic, chained and hashed one by one and stored together,
 * through @privface/db's executor (`createExec`, decision 008: one SQL text per query, the same on
 * both dialects). Appends that arrive while a write is being prepared join it: on SQLite a write is a
 * savepoint of the connection's group commit (`Db.groupWrite`), so the appends of one event-loop turn
 * share its COMMIT with the server's other writes of that turn; on PostgreSQL it is one transaction,
 * and the appends made until its transaction has begun join it. Each write carries exactly one
 * signature, on its last record; the earlier records of the batch have `sig = ""` and are covered by
 * that signature through the hash chain (see _record.ts). So the stored chain always ends in a signed
 * record, and a verifier refuses one that does not (`unsigned-head`).
 * The head is kept in memory; the primary key on `seq` refuses an insert when another writer got
 * there first (the head is then re-read and the batch rebuilt), so a chain can never fork.
 * `append(entry, { tx })` joins a caller's transaction (an `Exec` `Tx` on the same database) so that
 * an operation and its audit record commit together (it reads the head inside the transaction; on
 * PostgreSQL under a table lock); its one record is a write of its own, so it is signed.
 */
import { createExec, type Db, type Tx } from "@privface/db";
import { sign, softwareSigner, toBase64url, type KeyPair, type PublicKey, type Signer } from "@privface/crypto";
import { AUDIT_TABLE, migrateAudit } from "./_migrations.ts";
import { AuditError, GENESIS, checkField, checkTime, digestBody, hashOf, reconcile, verifyRecords, type AuditEntry, type AuditRecord, type VerifyOptions, type VerifyResult } from "./_record.ts";

export { AuditError, GENESIS, reconcile, verifyRecords, hashOf, auditKeyId, KEY_HANDOVER_OP } from "./_record.ts";
export { DECISION_OPS, reconcileDecisions, type DecisionRecord, type Mismatch, type ReconciledRow, type Reconciliation } from "./decisions.ts";
export { anchorSigned, anchorsOf, keepAnchor, latestAnchor, sendAuditHead, type AnchorOutcome, type AnchorReceipt } from "./anchors.ts";
export type { AuditEntry, AuditRecord, VerifyResult, VerifyOptions, BrokenReason, ReconcileResult } from "./_record.ts";

export { AUDIT_TABLE, ANCHOR_TABLE, KEYS_TABLE, auditMigrations, migrateAudit } from "./_migrations.ts";
export { recordKeysInUse, keyFingerprint, type KeyInUse } from "./keys.ts";

export interface AuditLogOptions {
  /** This server's role, written into every record (helper, p0, p1, gateway). */
  role: string;
  /** The server's audit signing key (keys/<role>-audit.json) or a Signer (HSM seam). */
  signingKey: KeyPair | Signer;
  /** Clock, epoch ms (tests inject one). */
  now?: () => number;
}

export interface AuditLog {
  readonly role: string;
  /** Append one record; resolves to the stored record. With `tx`, joins the caller's transaction. */
  append(entry: AuditEntry, opts?: { tx?: Tx }): Promise<AuditRecord>;
  /** seq and hash of the last record (seq 0 and GENESIS for an empty log). */
  head(): Promise<{ seq: number; hash: string }>;
  /** The last record (always signed), to send to a peer as an anchor (anchors.ts); null for an empty log. */
  headRecord(): Promise<AuditRecord | null>;
  /** The record at `seq`, or null (anchors.ts: sent as `at` beside the head). */
  recordAt(seq: number): Promise<AuditRecord | null>;
  /**
   * The chain as this process watches it: verifies the records appended since the last check
   * (links, and the newest signature, which covers them: `lastSignatureOnly`) and that the head
   * verified last time is still there unchanged (its fields re-hashed), so a deleted or rewritten
   * tail is caught too. Records older than that head are not re-read: `verifyChain` (`privface audit
   * verify`) walks the whole chain. Once broken it stays broken (until restart: an operator looks).
   * For a metric scraped every few seconds; the first check after a start walks the whole chain.
   */
  check(): Promise<ChainStatus>;
}

export interface ChainStatus {
  ok: boolean;
  /** records verified so far (the seq of the verified head) */
  records: number;
  firstBroken?: VerifyResult["firstBroken"];
}

type Row = {
  seq: number | string | bigint; time: number | string | bigint; role: string; requester: string; op: string;
  template_id: string | null; session: string | null; outcome: string; code: string | null; prev: string; hash: string; sig: string;
};

const num = (v: number | string | bigint): number => (typeof v === "number" ? v : Number(v));

function fromRow(r: Row): AuditRecord {
  return {
    seq: num(r.seq), time: num(r.time), role: r.role, requester: r.requester, op: r.op, templateId: r.template_id,
    session: r.session, outcome: r.outcome, code: r.code, prev: r.prev, hash: r.hash, sig: r.sig,
  };
}

type Head = { seq: number; hash: string };
/** The head named by the last row (seq 0 and GENESIS for an empty log) … */
const headFromRow = (row: { seq: number | string | bigint; hash: string } | undefined): Head => (row ? { seq: num(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS });
/** … and by the last record of a write. */
const headOfRecords = (records: readonly AuditRecord[]): Head => ({ seq: records[records.length - 1].seq, hash: records[records.length - 1].hash });

const HEAD = `SELECT seq, hash FROM ${AUDIT_TABLE} ORDER BY seq DESC LIMIT 1`;
const INSERT = `INSERT INTO ${AUDIT_TABLE} (seq, time, role, requester, op, template_id, session, outcome, code, prev, hash, sig) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
/** PostgreSQL: a caller's transaction takes the table's lock before it reads the head (SQLite: its write lock is the database's). */
const LOCK = `LOCK TABLE ${AUDIT_TABLE} IN EXCLUSIVE MODE`;
const PAGE = `SELECT * FROM ${AUDIT_TABLE} WHERE seq > ? ORDER BY seq ASC LIMIT ?`;
const AT = `SELECT * FROM ${AUDIT_TABLE} WHERE seq = ?`;
const LAST = `SELECT * FROM ${AUDIT_TABLE} ORDER BY seq DESC LIMIT 1`;

const headOf = async (tx: Tx): Promise<Head> => headFromRow(await tx.get<{ seq: number; hash: string }>(HEAD));
const insert = (tx: Tx, r: AuditRecord) =>
  tx.run(INSERT, [r.seq, r.time, r.role, r.requester, r.op, r.templateId, r.session, r.outcome, r.code, r.prev, r.hash, r.sig]);

/** Open the audit log of one server (runs the audit migrations first). */
export async function createAuditLog(db: Db, options: AuditLogOptions): Promise<AuditLog> {
  const role = checkField("role", options.role) as string;
  const key = options.signingKey;
  if (!key || typeof key !== "object") throw new TypeError("options.signingKey must be a KeyPair or a Signer");
  const signer: Signer = "sign" in key && typeof key.sign === "function" ? key : softwareSigner(key as KeyPair);
  if ("privateKey" in key) {
    // fail at start-up, not at the first append, when the key is of the wrong kind
    await sign(key as KeyPair, new Uint8Array(0));
  }
  const now = options.now ?? Date.now;
  await migrateAudit(db);
  // check(): the head verified so far and the last answer
  let verified: Head = { seq: 0, hash: GENESIS };
  let status: ChainStatus = { ok: true, records: 0 };
  let checking: Promise<ChainStatus> | null = null;

  type Fields = Omit<AuditRecord, "seq" | "prev" | "hash" | "sig">;
  const fieldsOf = (entry: AuditEntry): Fields => {
    if (typeof entry !== "object" || entry === null) throw new TypeError("entry must be an object");
    return {
      time: checkTime(entry.time ?? now()),
      role,
      requester: checkField("requester", entry.requester) as string,
      op: checkField("op", entry.op) as string,
      templateId: checkField("templateId", entry.templateId),
      session: checkField("session", entry.session),
      outcome: checkField("outcome", entry.outcome) as string,
      code: checkField("code", entry.code),
    };
  };
  // Chain and hash the records of one write; sign only the last (it covers the others through the
  // chain). The body is serialised once per record, for both the hash and the signature.
  const build = async (batch: Fields[], head: Head): Promise<AuditRecord[]> => {
    const out: AuditRecord[] = [];
    for (const [i, fields] of batch.entries()) {
      const partial = { ...fields, seq: head.seq + 1, prev: head.hash };
      const { bytes, hash } = digestBody(partial, signer.suite);
      const sig = i === batch.length - 1 ? toBase64url(await signer.sign(bytes)) : "";
      out.push({ ...partial, hash, sig });
      head = { seq: partial.seq, hash };
    }
    return out;
  };
  const exec = createExec(db);

  // The head as this process last wrote it. Appends build on it without reading the table; the
  // primary key on seq refuses the insert if another writer got there first, and we re-read.
  let cachedHead: Head | null = null;
  type Pending = { fields: Fields; resolve: (r: AuditRecord) => void; reject: (e: unknown) => void; tries: number };
  const MAX_BATCH = 256;
  const ATTEMPTS = 20;
  const backoff = (tries: number) => new Promise((r) => setTimeout(r, 1 + Math.floor(Math.random() * 5 * tries)));
  const giveUp = (e: unknown) => (isRetryable(e) ? new AuditError("APPEND_CONFLICT", `gave up after ${ATTEMPTS} attempts: ${(e as Error).message}`) : e);

  // One write: a transaction that takes the appends waiting when it starts running (SQLite: at the
  // end of the event-loop turn, as one savepoint of the connection's group commit, so they share its
  // COMMIT with the server's other writes of that turn and settle with them; PostgreSQL: once its
  // BEGIN has run), chains, hashes and signs them once, and inserts them. While a write is in flight
  // new appends wait for the next one. A conflict with another writer rolls back this write alone;
  // its appends wait a little and join a later write (at most ATTEMPTS tries each).
  // The signature is made inside the transaction: a Signer other than the software one (an HSM)
  // adds its latency to every write of the SQLite group.
  const queue: Pending[] = [];
  let writing = false;
  const write = async (): Promise<void> => {
    let batch: Pending[] = [];
    try {
      const records = await exec.tx(async (tx) => {
        batch = queue.splice(0, MAX_BATCH);
        if (batch.length === 0) return [];
        // the table is read only when the cached head is gone (at start, after a conflict)
        const out = await build(batch.map((p) => p.fields), cachedHead ?? (await headOf(tx)));
        await Promise.all(out.map((r) => insert(tx, r))); // one round trip for the batch (pipelined on PostgreSQL)
        cachedHead = headOfRecords(out);
        return out;
      });
      batch.forEach((p, i) => p.resolve(records[i]));
    } catch (e) {
      cachedHead = null; // the write rolled back (SQLite: its savepoint or the whole group)
      const retry = batch.filter((p) => isRetryable(e) && ++p.tries < ATTEMPTS);
      for (const p of batch) if (!retry.includes(p)) p.reject(giveUp(e));
      if (retry.length > 0) void backoff(retry[0].tries).then(() => retry.forEach(enqueue));
    }
  };
  const writeAll = async (): Promise<void> => {
    writing = true;
    try {
      while (queue.length > 0) await write();
    } finally {
      writing = false;
    }
  };
  const enqueue = (p: Pending) => {
    queue.push(p);
    if (!writing) void writeAll();
  };

  const appendIn = async (tx: Tx, entry: AuditEntry): Promise<AuditRecord> => {
    const fields = fieldsOf(entry);
    cachedHead = null; // the caller's transaction may commit or roll back: read the head afresh next time
    if (db.dialect === "postgres") await tx.run(LOCK);
    const [record] = await build([fields], await headOf(tx));
    await insert(tx, record);
    return record;
  };

  return {
    role,
    append(entry, opts) {
      if (opts?.tx) return appendIn(opts.tx, entry);
      let fields: Fields;
      try {
        fields = fieldsOf(entry);
      } catch (e) {
        return Promise.reject(e);
      }
      return new Promise<AuditRecord>((resolve, reject) => enqueue({ fields, resolve, reject, tries: 0 }));
    },
    head: () => exec.read(headOf),
    headRecord: () => exec.read(async (tx) => {
      const row = await tx.get<Row>(LAST);
      return row ? fromRow(row) : null;
    }),
    recordAt: (seq) => exec.read(async (tx) => {
      const row = await tx.get<Row>(AT, [seq]);
      return row ? fromRow(row) : null;
    }),
    check: () => (checking ??= checkChain().finally(() => (checking = null))),
  };

  async function checkChain(): Promise<ChainStatus> {
    if (status.firstBroken) return status;
    if (verified.seq > 0) {
      const row = await exec.read((tx) => tx.get<Row>(AT, [verified.seq]));
      if (!row || row.hash !== verified.hash || hashOf(fromRow(row), signer.suite) !== verified.hash) {
        status = { ok: false, records: verified.seq, firstBroken: { seq: verified.seq, reason: row ? "hash-mismatch" : "truncated", detail: "the head verified earlier is gone or changed" } };
        return status;
      }
    }
    const r = await verifyRecords(readChain(db, 1000, verified.seq), { suite: signer.suite, publicKey: signer.publicKey }, { after: verified, lastSignatureOnly: true });
    verified = r.head;
    status = r.ok ? { ok: true, records: r.head.seq } : { ok: false, records: r.head.seq, firstBroken: r.firstBroken };
    return status;
  }
}

/**
 * Another process appended between our read of the head and our insert (SQLite: the WAL snapshot
 * went stale or the write lock was busy; either: the primary key on seq refused a duplicate).
 * The transaction was rolled back, so trying again is safe.
 */
function isRetryable(e: unknown): boolean {
  const code = String((e as { code?: unknown })?.code ?? "");
  return code.startsWith("SQLITE_BUSY") || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "23505" || code === "40P01";
}

/** All records (after seq `after`) in seq order, read page by page. */
export async function* readChain(db: Db, pageSize = 1000, after = 0): AsyncGenerator<AuditRecord> {
  const exec = createExec(db);
  for (;;) {
    const rows = await exec.read((tx) => tx.all<Row>(PAGE, [after, pageSize]));
    for (const r of rows) yield fromRow(r);
    if (rows.length < pageSize) return;
    after = num(rows[rows.length - 1].seq);
  }
}

/**
 * The records whose time falls in [from, to] and that `keep` accepts, in seq order, at most `limit`
 * (`truncated`: more were there). Times follow seq (each record is stamped as it is appended): the first
 * seq at or after `from` is found by a binary search over point reads, then pages are read until a
 * record is later than `to`, so a long chain costs log n reads plus the range.
 */
export async function recordsBetween(db: Db, range: { from: number; to: number; limit: number }, keep: (r: AuditRecord) => boolean = () => true): Promise<{ records: AuditRecord[]; truncated: boolean }> {
  await migrateAudit(db);
  const exec = createExec(db);
  const head = headFromRow(await exec.read((tx) => tx.get<{ seq: number; hash: string }>(HEAD)));
  let lo = 1;
  let hi = head.seq + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const row = await exec.read((tx) => tx.get<{ time: number | string | bigint }>(`SELECT time FROM ${AUDIT_TABLE} WHERE seq = ?`, [mid]));
    if (row && num(row.time) >= range.from) hi = mid;
    else lo = mid + 1;
  }
  const records: AuditRecord[] = [];
  for await (const r of readChain(db, 500, lo - 1)) {
    if (r.time > range.to) break;
    if (r.time < range.from || !keep(r)) continue;
    if (records.length === range.limit) return { records, truncated: true };
    records.push(r);
  }
  return { records, truncated: false };
}

/** Every record, in seq order (for export and reconciliation). */
export async function exportChain(db: Db): Promise<AuditRecord[]> {
  await migrateAudit(db);
  const out: AuditRecord[] = [];
  for await (const r of readChain(db)) out.push(r);
  return out;
}

/** Verify the chain stored in `db` against the server's audit public key. */
export async function verifyChain(db: Db, publicKey: PublicKey | readonly PublicKey[], options: VerifyOptions = {}): Promise<VerifyResult> {
  await migrateAudit(db);
  return verifyRecords(readChain(db), publicKey, options);
}
