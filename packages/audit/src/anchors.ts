/**
 * Audit anchors: the newest signed record of another server's chain, kept in this server's database
 * (`audit_anchors`). P0 and P1 send each other their head record at an interval, and the gateway
 * sends its head to both (party jobs / gateway server). A chain that no longer contains the head a
 * peer keeps for it was cut or rewritten: `privface audit verify --anchors <peer db>` says so, even
 * after a restart (a running server's own check, `AuditLog.check`, sees only what happens while it
 * runs). The record carries its own signature, so a kept anchor proves what the sender's log held.
 *
 * A peer also refuses, on receipt, a head that goes back (a lower seq than one it keeps, or the same
 * seq with another hash): `keepAnchor` answers "regressed" and the receiver alerts at once.
 */
import { createExec, type Db } from "@privface/db";
import { ANCHOR_TABLE, migrateAudit } from "./_migrations.ts";
import { fromBase64url, verify, type PublicKey } from "@privface/crypto";
import { AuditError, checkRecordShape, digestBody, type AuditRecord } from "./_record.ts";

/** "want": the head is newer than the one kept; send it again with `at`, the record at seq `want`. */
export type AnchorOutcome = "stored" | "known" | "regressed" | "want";

const LATEST = `SELECT seq, hash, record FROM ${ANCHOR_TABLE} WHERE role = ? ORDER BY seq DESC LIMIT 1`;
const ALL = `SELECT record FROM ${ANCHOR_TABLE} WHERE role = ? ORDER BY seq ASC`;
const INSERT = `INSERT INTO ${ANCHOR_TABLE} (role, seq, hash, record, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (role, seq) DO NOTHING`;

/** A record as it travels: every field of an AuditRecord, its hash right, and (a head) a signature present. */
export function checkAnchorRecord(from: string, r: unknown, head = true): AuditRecord {
  const x = r as AuditRecord;
  if (typeof r !== "object" || r === null) throw new AuditError("BAD_ANCHOR", "anchor: expected an audit record");
  if (!Number.isSafeInteger(x.seq) || x.seq < 1) throw new AuditError("BAD_ANCHOR", "anchor.seq: expected a positive integer");
  if (x.role !== from) throw new AuditError("BAD_ANCHOR", `anchor.role: a record of ${String(x.role)} sent by ${from}`);
  if (typeof x.sig !== "string" || (head && x.sig === "")) throw new AuditError("BAD_ANCHOR", "anchor.sig: a head record is signed");
  let hash: string;
  try {
    checkRecordShape(x);
    // the sender's suite is its audit key's (SHA-256 or SM3); which key signed is checked by `anchorSigned`
    hash = digestBody(x, "INTL").hash;
    if (hash !== x.hash) hash = digestBody(x, "GM").hash;
  } catch (e) {
    throw new AuditError("BAD_ANCHOR", `anchor: ${(e as Error).message}`);
  }
  if (hash !== x.hash) throw new AuditError("BAD_ANCHOR", "anchor.hash: does not match the record");
  const { seq, time, role, requester, op, templateId, session, outcome, code, prev, sig } = x;
  return { seq, time, role, requester, op, templateId, session, outcome, code, prev, hash, sig };
}

export interface AnchorReceipt {
  outcome: AnchorOutcome;
  /** the seq of the newest head kept for the sender (null: none) */
  want: number | null;
}

/**
 * Keeps the head record `record` that server `from` sent (its role from the caller's certificate, not
 * from the body). A head newer than the one kept is kept only beside `at`, the sender's record at the
 * kept head's seq, unchanged ("want" asks for it): so a log cut and grown again past the kept head is
 * caught too. "regressed": the head goes back behind the kept one, or `at` differs from it. "known":
 * already kept. Kept anchors never change.
 */
export async function keepAnchor(db: Db, from: string, record: unknown, opts: { at?: unknown; now?: number } = {}): Promise<AnchorReceipt> {
  const r = checkAnchorRecord(from, record);
  const at = opts.at === undefined || opts.at === null ? null : checkAnchorRecord(from, opts.at, false);
  await migrateAudit(db);
  return createExec(db).tx(async (tx) => {
    const latest = await tx.get<{ seq: number | string; hash: string }>(LATEST, [from]);
    if (latest) {
      const kept = { seq: Number(latest.seq), hash: latest.hash };
      const answer = (outcome: AnchorOutcome): AnchorReceipt => ({ outcome, want: kept.seq });
      if (r.seq < kept.seq || (r.seq === kept.seq && r.hash !== kept.hash)) return answer("regressed");
      if (r.seq === kept.seq) return answer("known");
      if (!at || at.seq !== kept.seq) return answer("want");
      if (at.hash !== kept.hash) return answer("regressed");
    }
    await tx.run(INSERT, [from, r.seq, r.hash, JSON.stringify(r), opts.now ?? Date.now()]);
    return { outcome: "stored", want: r.seq };
  });
}

/** Every head record kept for server `role`, oldest first: `verifyChain(…, { anchors })`. */
export async function anchorsOf(db: Db, role: string): Promise<AuditRecord[]> {
  await migrateAudit(db);
  const rows = await createExec(db).read((tx) => tx.all<{ record: string }>(ALL, [role]));
  return rows.map((r) => JSON.parse(r.record) as AuditRecord);
}

/** The newest head record kept for server `role`, or null. */
export async function latestAnchor(db: Db, role: string): Promise<AuditRecord | null> {
  await migrateAudit(db);
  const row = await createExec(db).read((tx) => tx.get<{ record: string }>(LATEST, [role]));
  return row ? (JSON.parse(row.record) as AuditRecord) : null;
}

/** True when the anchor's signature verifies under the sender's audit public key. */
export async function anchorSigned(r: AuditRecord, publicKey: PublicKey): Promise<boolean> {
  try {
    const { bytes, hash } = digestBody(r, publicKey.suite);
    return hash === r.hash && (await verify(publicKey, bytes, fromBase64url(r.sig)));
  } catch {
    return false;
  }
}

/**
 * The sender's side: posts this server's head record to a peer (`post` returns the peer's answer); when
 * the peer asks for it, posts again with this log's record at the seq of the head the peer keeps.
 * Resolves to the peer's receipt (null for an empty log); throws when the peer does not answer 200.
 */
export async function sendAuditHead(log: { headRecord(): Promise<AuditRecord | null>; recordAt(seq: number): Promise<AuditRecord | null> }, post: (body: { record: AuditRecord; at?: AuditRecord }) => Promise<{ status: number; body: unknown }>): Promise<AnchorReceipt | null> {
  const record = await log.headRecord();
  if (!record) return null;
  const send = async (body: { record: AuditRecord; at?: AuditRecord }): Promise<AnchorReceipt> => {
    const r = await post(body);
    if (r.status !== 200) throw new Error(`the peer answered the audit head with HTTP ${r.status}`);
    return r.body as AnchorReceipt;
  };
  const first = await send({ record });
  if (first.outcome !== "want" || first.want === null) return first;
  const at = await log.recordAt(first.want);
  if (!at) throw new Error(`this log holds no record at seq ${first.want}, the head the peer keeps`);
  return send({ record, at });
}
