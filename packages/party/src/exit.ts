/**
 * An institution's orderly exit (R15; the declaration's 退出机制: 数据清理 and 资源回收), on the party's
 * own host with its server stopped, under dual control:
 *
 * 1. `requestExit` — one operator asks: `exit.request` in the party's audit chain, with a random
 *    request code.
 * 2. `approveExit` — a second, different operator approves with that code (SAME_APPROVER,
 *    EXIT_NOT_REQUESTED otherwise, nothing changed). Then: every template erased (tombstones) and every
 *    template key destroyed, the pool discarded and purged, `exit` appended to the chain (the counts as
 *    outcome); an exit record naming both operators, the counts, the key files destroyed and the
 *    chain's final head record (signed by the audit key) is signed with the institution root key;
 *    last, every private key file of the party and the template-key register are overwritten and
 *    removed — the root and audit keys after they signed.
 * 3. `verifyExit` — the other institution checks the record with the exiting party's root public key
 *    and its final head with its audit public key, and against the newest head of the exiting party's
 *    chain it keeps (audit anchors): a head older than that one (records the exit record does not
 *    cover) or another record at the same seq is EXIT_RECORD_STALE. That the chain runs unbroken from
 *    the kept head to the exit record is `privface audit verify --anchors` on the exiting party's
 *    remaining database.
 *
 * What stays at the exiting party: its database of tombstones and its audit chain (the record's
 * evidence), its certificates (revoke them: `privface certs revoke`), the public key files. The
 * operators are named, not authenticated (as for every `privface party` command): dual control is the
 * two invocations and their records.
 */
import { randomBytes } from "node:crypto";
import { existsSync, openSync, rmSync, statSync, writeSync, closeSync, fsyncSync } from "node:fs";
import { basename } from "node:path";
import { anchorSigned, createAuditLog, exportChain, latestAnchor, type AuditRecord } from "@privface/audit";
import { signJson, verifySignedJson, type PublicKey, type SignedJson } from "@privface/crypto";
import { readKeyPairFile } from "@privface/crypto/node";
import { closeDb, openDb, type Db } from "@privface/db";
import { readStoreKeys } from "./admin.ts";
import type { PartyConfig } from "./config.ts";
import { createPartyStore, openTemplateKeys } from "./store/index.ts";

export class ExitError extends Error {
  constructor(
    readonly code: "SAME_APPROVER" | "EXIT_NOT_REQUESTED" | "EXIT_RECORD_INVALID" | "EXIT_RECORD_STALE" | "INVALID_INPUT",
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = "ExitError";
  }
}

export const EXIT_FORMAT = "privface-exit-record";
/** How long a request stays approvable. */
export const EXIT_REQUEST_TTL_MS = 24 * 3_600_000;
const OPERATOR = /^[A-Za-z0-9._@-]{1,64}$/;

export interface ExitRecord {
  format: typeof EXIT_FORMAT;
  v: 1;
  party: "P0" | "P1";
  request: string;
  requestedBy: string;
  approvedBy: string;
  at: string;
  templatesErased: number;
  templateKeysDestroyed: number;
  poolItemsDiscarded: number;
  /** file names (not paths) of the key files overwritten and removed */
  keyFilesDestroyed: string[];
  /** the party's audit chain's last record (`exit`), signed by its audit key */
  auditHead: AuditRecord;
}

const operator = (name: string) => {
  if (typeof name !== "string" || !OPERATOR.test(name)) throw new ExitError("INVALID_INPUT", "operator: 1–64 letters, digits, . _ @ -");
  return `operator:${name}`;
};

async function withChain<T>(cfg: PartyConfig, fn: (db: Db, audit: Awaited<ReturnType<typeof createAuditLog>>) => Promise<T>): Promise<T> {
  const db = await openDb(cfg.db, { schema: cfg.dbSchema, synchronous: cfg.synchronous });
  try {
    return await fn(db, await createAuditLog(db, { role: cfg.party.toLowerCase(), signingKey: await readKeyPairFile(cfg.auditKey) }));
  } finally {
    await closeDb(db);
  }
}

/** Step 1: records `exit.request` (requester, request code as the session) and returns the code. */
export async function requestExit(cfg: PartyConfig, by: { operator: string }): Promise<{ party: string; request: string }> {
  const requester = operator(by.operator);
  const request = `exit_${randomBytes(12).toString("hex")}`;
  await withChain(cfg, (_db, audit) => audit.append({ requester, op: "exit.request", templateId: null, session: request, outcome: "requested", code: null }));
  return { party: cfg.party, request };
}

/** Overwrites a file with random bytes (fsync), then removes it. Best effort against the medium (SSD, snapshots). */
export function destroyFile(path: string): boolean {
  if (!existsSync(path)) return false;
  const size = statSync(path).size;
  const fd = openSync(path, "r+");
  try {
    for (let off = 0; off < size; off += 65_536) writeSync(fd, randomBytes(Math.min(65_536, size - off)), 0, Math.min(65_536, size - off), off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  rmSync(path);
  return true;
}

/** Step 2 (the server stopped): see the module comment. Returns the signed exit record. */
export async function approveExit(cfg: PartyConfig, by: { operator: string; request: string }, now: () => number = Date.now): Promise<{ record: ExitRecord; signed: SignedJson }> {
  const approver = operator(by.operator);
  const rootKey = await readKeyPairFile(cfg.rootKey);
  const result = await withChain(cfg, async (db, audit) => {
    const records = await exportChain(db);
    const req = [...records].reverse().find((r) => r.op === "exit.request");
    if (!req || req.session !== by.request || now() - req.time > EXIT_REQUEST_TTL_MS) {
      throw new ExitError("EXIT_NOT_REQUESTED", "no exit request with this code in the party's chain (or older than 24 h): run `privface exit request` first");
    }
    if (records.some((r) => r.op === "exit" && r.session === by.request)) throw new ExitError("EXIT_NOT_REQUESTED", "this request was already carried out");
    if (req.requester === approver) throw new ExitError("SAME_APPROVER", "the exit must be approved by another operator than the one who requested it");
    const templateKeys = await openTemplateKeys(cfg.templateKeys);
    let erased: { templates: number; keys: number };
    let items: number;
    try {
      const store = await createPartyStore(db, { role: cfg.party, dataKeys: readStoreKeys(cfg), templateKeys });
      erased = await store.eraseAll();
      items = await store.discardPool();
      await store.purge({ sessionsMs: 0, usedItemsMs: 0 });
    } finally {
      await templateKeys.close();
    }
    await audit.append({ requester: approver, op: "exit", templateId: null, session: by.request, outcome: `t${erased.templates}-k${erased.keys}-i${items}`, code: null });
    return { req, erased, items, register: templateKeys.path, head: (await audit.headRecord())! };
  });
  // every private key of the party, then the register (its keys are already gone: the file goes too)
  const keyFiles = [...cfg.dataKeys, cfg.sealKey, ...cfg.retiredSealKeys, cfg.nonceKey, cfg.resultKey, cfg.poolSeed, cfg.pairSeed, cfg.key, cfg.clientKey, cfg.auditKey, cfg.rootKey];
  const record: ExitRecord = {
    format: EXIT_FORMAT,
    v: 1,
    party: cfg.party,
    request: by.request,
    requestedBy: result.req.requester,
    approvedBy: approver,
    at: new Date(now()).toISOString(),
    templatesErased: result.erased.templates,
    templateKeysDestroyed: result.erased.keys,
    poolItemsDiscarded: result.items,
    keyFilesDestroyed: keyFiles.filter((f) => existsSync(f)).map((f) => basename(f)),
    auditHead: result.head,
  };
  const signed = await signJson(rootKey, record);
  for (const f of keyFiles) destroyFile(f);
  // the file the register was opened from (`TEMPLATE_KEYS` may carry a "sqlite:" prefix)
  for (const ext of ["", "-wal", "-shm", "-journal"]) destroyFile(result.register + ext);
  return { record, signed };
}

/**
 * Step 3, at the other institution: the record's signature (the exiting party's root public key), its
 * final head's signature (its audit public key), and — given the verifier's database — that head kept
 * as the last anchor of the exiting party (EXIT_RECORD_STALE if the verifier holds a newer one).
 */
export async function verifyExit(signed: unknown, keys: { root: PublicKey; audit: PublicKey }, peerDb?: Db): Promise<ExitRecord> {
  let record: ExitRecord;
  try {
    record = (await verifySignedJson(keys.root, signed)) as ExitRecord;
  } catch (e) {
    throw new ExitError("EXIT_RECORD_INVALID", `the exit record does not verify under the party's root key (${(e as Error).message})`);
  }
  if (record?.format !== EXIT_FORMAT || record.v !== 1 || (record.party !== "P0" && record.party !== "P1")) throw new ExitError("EXIT_RECORD_INVALID", "not a privface exit record");
  const head = record.auditHead;
  if (head?.op !== "exit" || head.session !== record.request || !(await anchorSigned(head, keys.audit))) {
    throw new ExitError("EXIT_RECORD_INVALID", "the record's final audit head is not the party's signed `exit` record");
  }
  if (peerDb) {
    const kept = await latestAnchor(peerDb, record.party.toLowerCase());
    if (kept && (kept.seq > head.seq || (kept.seq === head.seq && kept.hash !== head.hash))) {
      throw new ExitError("EXIT_RECORD_STALE", `this institution holds head ${kept.seq} of the exiting party's chain, which the exit record's (${head.seq}) does not follow`);
    }
  }
  return record;
}
