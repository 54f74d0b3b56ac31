/**
 * The audit record and its chain, as pure functions (no database): field validation, the canonical
 * body, its SHA-256 hash, the signature, and `verifyRecords`, which walks a chain and names the
 * first broken record.
 *
 *   body_n = { v: 1, seq, time, role, requester, op, templateId, session, outcome, code, prev }
 *   hash_n = base64url(SHA-256(utf8(canonicalJson(body_n))))             (SM3 for a GM audit key)
 *   sig_n  = base64url(sign(auditKey, utf8(canonicalJson(body_n))))      (Ed25519, or SM2 for GM)
 * The chain's suite is its audit key's: a GM deployment (PRIVFACE_SUITE=gm) hashes with SM3 and signs
 * with SM2; across an audit-key handover the records follow the key that signs them.
 *            or "" (unsigned): only the last record of each write is signed
 *   prev_1 = GENESIS (43 × "A", i.e. 32 zero bytes), prev_n = hash_{n-1};  seq = 1, 2, 3, …
 *
 * Signing rule: the records stored by one write (a group commit, or one `append` in a caller's
 * transaction) are signed once, on the last of them; the earlier ones carry `sig = ""`. An unsigned
 * record is covered by the next signed record through the hash chain: changing it changes its hash,
 * which breaks `prev` of the record after it, and re-hashing every record up to the next signed one
 * would need a new signature there. So a chain verifies only if every signature present is valid
 * AND its last record (the head) is signed; a chain ending in unsigned records (e.g. cut right after
 * one) is broken with reason `unsigned-head`. `sig` is not part of the body, so a signature on a
 * middle record is checked when present but adds nothing the next one does not already cover. Chains
 * written when every record was signed still verify unchanged (body and hash are defined as before).
 *
 * Records never hold shares, features or keys (REQUIREMENTS R20): every field is a short token, and
 * anything that looks like an encoded blob is refused (see BLOB_RE).
 */
import { createHash } from "node:crypto";
import { canonicalJson, fromBase64url, suiteHash, toBase64url, utf8, verify, type PublicKey, type SuiteId } from "@privface/crypto";

export const GENESIS = toBase64url(new Uint8Array(32));

/** What a caller records. `time` defaults to the log's clock. */
export interface AuditEntry {
  /** Who asked: e.g. "gateway", "p1", "operator:alice". */
  requester: string;
  /** Purpose / operation: e.g. "enrol", "verify", "commit", "delete", "key.rotate". */
  op: string;
  templateId?: string | null;
  session?: string | null;
  /** Short outcome token: "ok", "refused", "error", … */
  outcome: string;
  /** Stable error code when not ok, e.g. "AUTH_EXPIRED". */
  code?: string | null;
  time?: number;
}

export interface AuditRecord {
  seq: number;
  time: number;
  role: string;
  requester: string;
  op: string;
  templateId: string | null;
  session: string | null;
  outcome: string;
  code: string | null;
  prev: string;
  hash: string;
  /** base64url signature over the body, or "" on a record that is not the last of its write. */
  sig: string;
}

export class AuditError extends Error {
  readonly code: "INVALID_ENTRY" | "APPEND_CONFLICT" | "BAD_ANCHOR";
  constructor(code: AuditError["code"], message: string) {
    super(`${code}: ${message}`);
    this.name = "AuditError";
    this.code = code;
  }
}

const FIELD_RULES: Record<string, { re: RegExp; optional: boolean }> = {
  role: { re: /^[a-z0-9][a-z0-9_-]{0,31}$/, optional: false },
  requester: { re: /^[A-Za-z0-9._:@\/-]{1,128}$/, optional: false },
  op: { re: /^[a-z][a-z0-9_.:-]{0,63}$/, optional: false },
  templateId: { re: /^[A-Za-z0-9._:-]{1,128}$/, optional: true },
  session: { re: /^[A-Za-z0-9._:-]{1,128}$/, optional: true },
  outcome: { re: /^[a-z][a-z0-9_-]{0,31}$/, optional: false },
  code: { re: /^[A-Z][A-Z0-9_]{0,63}$/, optional: true },
};
/**
 * A run this long of base64 / base64url / hex characters in a descriptive field (requester, op,
 * outcome, code) is treated as an encoded blob — a 32-byte key is 43 base64url characters. Identifier
 * fields (templateId, session) are random tokens by design; there the 128-character limit is the
 * guard: the smallest share or feature vector (128 bytes) is 171 characters encoded.
 */
const BLOB_RE = /[A-Za-z0-9+\/_=-]{40,}/;
const ID_FIELDS = new Set(["templateId", "session"]);

export function checkField(name: string, value: unknown): string | null {
  const rule = FIELD_RULES[name];
  if (value === undefined || value === null || value === "") {
    if (rule.optional) return null;
    throw new AuditError("INVALID_ENTRY", `${name} is required`);
  }
  if (typeof value !== "string") throw new AuditError("INVALID_ENTRY", `${name} must be a string, got ${typeof value}`);
  if (value.length > 128) throw new AuditError("INVALID_ENTRY", `${name} has ${value.length} characters (at most 128); audit records never hold data or keys`);
  if (!ID_FIELDS.has(name) && BLOB_RE.test(value)) throw new AuditError("INVALID_ENTRY", `${name} looks like an encoded blob (${value.length} characters); audit records never hold data or keys`);
  if (!rule.re.test(value)) throw new AuditError("INVALID_ENTRY", `${name} must match ${rule.re} (got ${value.length} characters)`);
  return value;
}

export function checkTime(t: unknown): number {
  if (typeof t !== "number" || !Number.isSafeInteger(t) || t < 0) throw new AuditError("INVALID_ENTRY", "time must be epoch milliseconds (a non-negative safe integer)");
  return t;
}

export type RecordBody = Omit<AuditRecord, "hash" | "sig"> & { v: 1 };

export function bodyOf(r: Omit<AuditRecord, "hash" | "sig">): RecordBody {
  return {
    v: 1, seq: r.seq, time: r.time, role: r.role, requester: r.requester, op: r.op,
    templateId: r.templateId, session: r.session, outcome: r.outcome, code: r.code, prev: r.prev,
  };
}

/** The canonical body serialised once: the bytes that are signed, and their hash (SHA-256, or SM3 for GM). */
export function digestBody(r: Omit<AuditRecord, "hash" | "sig">, suite: SuiteId = "INTL"): { bytes: Uint8Array; hash: string } {
  const bytes = utf8(canonicalJson(bodyOf(r)));
  return { bytes, hash: toBase64url(new Uint8Array(createHash(suiteHash(suite)).update(bytes).digest())) };
}

export function hashOf(r: Omit<AuditRecord, "hash" | "sig">, suite: SuiteId = "INTL"): string {
  return digestBody(r, suite).hash;
}

export type BrokenReason =
  | "malformed" // a field fails validation
  | "missing" // a sequence number is absent (a record was deleted)
  | "out-of-order" // sequence numbers repeat or go backwards
  | "hash-mismatch" // stored hash ≠ hash of the stored fields (a field was changed)
  | "bad-signature" // the signature does not verify under the audit key
  | "broken-link" // prev ≠ hash of the previous record
  | "role-changed" // a record claims another server role than the chain's first
  | "unsigned-head" // the chain ends in unsigned records: named at the first record no signature covers
  | "truncated"; // fewer records than the expected head

export interface VerifyResult {
  ok: boolean;
  /** Records checked (up to and including the first broken one). */
  records: number;
  firstBroken?: { seq: number; reason: BrokenReason; detail?: string };
  /**
   * Last record covered by a valid signature (itself signed, or followed by a signed record through
   * an intact chain): seq and hash, an anchor to keep elsewhere to detect tail truncation later.
   */
  head: { seq: number; hash: string };
}

export interface VerifyOptions {
  /** A head recorded earlier (e.g. by the peer or an auditor): the chain must contain it. */
  expectHead?: { seq: number; hash: string };
  /** Heads kept by peers (anchors.ts `anchorsOf`): the chain must contain every one, unchanged. */
  anchors?: readonly { seq: number; hash: string }[];
  /**
   * Verify only the records after this one, already verified (an incremental check): the first
   * record walked must have seq `after.seq + 1` and link to `after.hash`.
   */
  after?: { seq: number; hash: string };
  /**
   * Check the signature of the last signed record only. Enough to detect tampering since `after`:
   * every record is hashed into the next one, so changing, inserting or deleting a record means
   * re-hashing every later one and forging the last signature.
   */
  lastSignatureOnly?: boolean;
}

/** Every field of a stored record well formed (not its hash or signature): throws naming the first that is not. */
export function checkRecordShape(r: AuditRecord): void {
  for (const f of ["role", "requester", "op", "templateId", "session", "outcome", "code"] as const) checkField(f, r[f]);
  checkTime(r.time);
  if (!Number.isSafeInteger(r.seq) || typeof r.prev !== "string" || typeof r.hash !== "string" || typeof r.sig !== "string") throw new Error("seq/prev/hash/sig");
}

/**
 * Walk a chain in seq order and name the first broken record. Every signature present is checked;
 * an unsigned record counts as good only once a later signed record covers it, so the chain must
 * end in a signed record (else `unsigned-head`, named at the first record no signature covers).
 */
/**
 * Audit-key rotation: the last record signed by the old key is a handover (`op` KEY_HANDOVER_OP,
 * `session` = the new key's `auditKeyId`); every signature after it is the new key's. A verifier given
 * the keys in order switches at each handover that names the next key — so records signed with a
 * retired key after its handover (a stolen old key extending the chain) do not verify.
 */
export const KEY_HANDOVER_OP = "audit.key-handover";

/** The id a handover names a key by: "ak-" + hex of the first 12 bytes of SHA-256(suite ‖ 0x00 ‖ public key). */
export function auditKeyId(k: PublicKey): string {
  return `ak-${createHash("sha256").update(k.suite).update(Buffer.of(0)).update(k.publicKey).digest("hex").slice(0, 24)}`;
}

/** `publicKey`: the chain's key, or its keys in the order they signed (rotation, KEY_HANDOVER_OP). */
export async function verifyRecords(records: AsyncIterable<AuditRecord> | Iterable<AuditRecord>, publicKey: PublicKey | readonly PublicKey[], options: VerifyOptions = {}): Promise<VerifyResult> {
  const keys: readonly PublicKey[] = Array.isArray(publicKey) ? publicKey : [publicKey as PublicKey];
  const ids = keys.map(auditKeyId);
  let k = 0;
  let expected = (options.after?.seq ?? 0) + 1;
  let prevHash = options.after?.hash ?? GENESIS;
  let role: string | undefined;
  let count = 0;
  // head: the last record covered by a valid signature; prevHash / expected - 1: the last record walked
  const head = { seq: expected - 1, hash: prevHash };
  let lastSigned: { seq: number; bytes: Uint8Array; sig: Uint8Array } | null = null;
  const broken = (seq: number, reason: BrokenReason, detail?: string): VerifyResult => ({ ok: false, records: count, firstBroken: { seq, reason, ...(detail ? { detail } : {}) }, head: { ...head } });
  // every head the chain must contain: seq → hash
  const expect = new Map<number, string>();
  for (const h of [...(options.anchors ?? []), ...(options.expectHead ? [options.expectHead] : [])]) if (h.seq > 0) expect.set(h.seq, h.hash);
  const furthest = Math.max(0, ...expect.keys());
  for await (const r of records as AsyncIterable<AuditRecord>) {
    count++;
    const seq = typeof r?.seq === "number" ? r.seq : expected;
    try {
      checkRecordShape(r);
    } catch (e) {
      return broken(seq, "malformed", (e as Error).message);
    }
    if (r.seq > expected) return broken(expected, "missing", `next record has seq ${r.seq}`);
    if (r.seq < expected) return broken(r.seq, "out-of-order", `expected seq ${expected}`);
    const { bytes, hash } = digestBody(r, keys[k].suite);
    if (hash !== r.hash) return broken(r.seq, "hash-mismatch");
    if (r.sig !== "") {
      let sig: Uint8Array;
      try {
        sig = fromBase64url(r.sig);
      } catch {
        return broken(r.seq, "bad-signature", "not base64url");
      }
      if (options.lastSignatureOnly) lastSigned = { seq: r.seq, bytes, sig };
      else if (!(await verify(keys[k], bytes, sig))) return broken(r.seq, "bad-signature");
    }
    if (r.prev !== prevHash) return broken(r.seq, "broken-link");
    role ??= r.role;
    if (r.role !== role) return broken(r.seq, "role-changed", `chain role ${role}, record role ${r.role}`);
    const want = expect.get(r.seq);
    if (want !== undefined && r.hash !== want) return broken(r.seq, "hash-mismatch", "differs from the head kept for it");
    prevHash = r.hash;
    expected++;
    if (r.sig !== "") {
      // this signature covers the record and, through the chain, every unsigned one before it
      head.seq = r.seq;
      head.hash = r.hash;
      if (r.op === KEY_HANDOVER_OP && k + 1 < keys.length && r.session === ids[k + 1]) k++;
    }
  }
  if (lastSigned && !(await verify(keys[k], lastSigned.bytes, lastSigned.sig))) {
    head.seq = options.after?.seq ?? 0;
    head.hash = options.after?.hash ?? GENESIS;
    return broken(lastSigned.seq, "bad-signature", "the last signature (it covers every record before it)");
  }
  const last = expected - 1;
  if (head.seq < last) {
    const span = head.seq + 1 === last ? `seq ${last}` : `seq ${head.seq + 1}–${last}`;
    return broken(head.seq + 1, "unsigned-head", `chain ends at seq ${last} without a signature; none covers ${span}`);
  }
  if (furthest > last) {
    return broken(head.seq + 1, "truncated", `chain ends at seq ${head.seq}, expected at least ${furthest}`);
  }
  return { ok: true, records: count, head };
}

export interface ReconcileResult {
  ok: boolean;
  /** Sessions that appear only in chain A (with their seq numbers there). */
  onlyA: { session: string; seqs: number[]; ops: string[] }[];
  onlyB: { session: string; seqs: number[]; ops: string[] }[];
  common: number;
}

/** Sessions recorded on one side only (records without a session are ignored). */
export function reconcile(chainA: Iterable<AuditRecord>, chainB: Iterable<AuditRecord>): ReconcileResult {
  const index = (chain: Iterable<AuditRecord>) => {
    const m = new Map<string, { seqs: number[]; ops: string[] }>();
    for (const r of chain) {
      if (!r.session) continue;
      const e = m.get(r.session) ?? { seqs: [], ops: [] };
      e.seqs.push(r.seq);
      if (!e.ops.includes(r.op)) e.ops.push(r.op);
      m.set(r.session, e);
    }
    return m;
  };
  const a = index(chainA);
  const b = index(chainB);
  const only = (x: typeof a, y: typeof a) => [...x].filter(([s]) => !y.has(s)).map(([session, e]) => ({ session, ...e }));
  const onlyA = only(a, b);
  const onlyB = only(b, a);
  const common = [...a.keys()].filter((s) => b.has(s)).length;
  return { ok: onlyA.length === 0 && onlyB.length === 0, onlyA, onlyB, common };
}
