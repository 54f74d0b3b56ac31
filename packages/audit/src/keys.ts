/**
 * Keys in use, in the chain (issue 13: "every key event in the audit chain"). Many rotations are a
 * configuration change and a restart (a new sealing key with the old one retired, a data key put
 * first, the gateway's new signing key at the parties, a retired key removed). So each server, when
 * it starts, hands `recordKeysInUse` the keys its configuration names — a slot (what the key is for)
 * and an id (a public key's or data key's id, or `keyFingerprint` of the key) each — and the audit
 * table `audit_keys` holds the set recorded last. Every pair that is new is appended as
 * `key.activate`, every pair gone as `key.retire` (session `<slot>:<id>`, requester `config`), in one
 * transaction with the table's change: the chain and the table never disagree. The first start
 * records the whole set. Ids name keys, never reveal them: a fingerprint is a truncated SHA-256 under
 * a fixed label.
 */
import { digest, toBase64url, utf8 } from "@privface/crypto";
import { createExec, type Db } from "@privface/db";
import { migrateAudit, KEYS_TABLE } from "./_migrations.ts";
import type { AuditLog } from "./index.ts";

export interface KeyInUse {
  /** what the key is for: letters, digits, `.` and `-` (e.g. `seal`, `seal.retired`, `data`) */
  slot: string;
  /** its id: 8–64 base64url characters, `.` or `-` */
  id: string;
}

const SLOT = /^[a-z0-9.-]{1,40}$/;
const ID = /^[A-Za-z0-9_.-]{8,64}$/;

/** A key's name in the chain: base64url of the first 12 bytes of SHA-256("privface.key-id" ‖ 0 ‖ bytes). */
export async function keyFingerprint(bytes: Uint8Array): Promise<string> {
  const tag = utf8("privface.key-id");
  const m = new Uint8Array(tag.length + 1 + bytes.length);
  m.set(tag);
  m.set(bytes, tag.length + 1);
  return toBase64url((await digest("sha256", m)).subarray(0, 12));
}

/**
 * Compares `keys` with the set recorded last and appends `key.activate` / `key.retire` for each
 * difference (see the module comment). Returns what changed.
 */
export async function recordKeysInUse(db: Db, log: Pick<AuditLog, "append">, keys: readonly KeyInUse[]): Promise<{ activated: KeyInUse[]; retired: KeyInUse[] }> {
  for (const k of keys) if (!SLOT.test(k?.slot) || !ID.test(k?.id)) throw new TypeError(`key in use: bad slot or id ${JSON.stringify(k)}`);
  const name = (k: KeyInUse) => `${k.slot}:${k.id}`;
  const want = new Map(keys.map((k) => [name(k), k]));
  await migrateAudit(db);
  const exec = createExec(db);
  return exec.tx(async (tx) => {
    if (exec.dialect === "postgres") await tx.run(`LOCK TABLE ${KEYS_TABLE} IN EXCLUSIVE MODE`);
    const had = new Map((await tx.all<{ slot: string; id: string }>(`SELECT slot, id FROM ${KEYS_TABLE}`)).map((r) => [name(r), { slot: r.slot, id: r.id }]));
    const activated = [...want.values()].filter((k) => !had.has(name(k)));
    const retired = [...had.values()].filter((k) => !want.has(name(k)));
    for (const k of retired) {
      await tx.run(`DELETE FROM ${KEYS_TABLE} WHERE slot = ? AND id = ?`, [k.slot, k.id]);
      await log.append({ requester: "config", op: "key.retire", session: name(k), outcome: "ok" }, { tx });
    }
    for (const k of activated) {
      await tx.run(`INSERT INTO ${KEYS_TABLE} (slot, id, since) VALUES (?, ?, ?)`, [k.slot, k.id, Date.now()]);
      await log.append({ requester: "config", op: "key.activate", session: name(k), outcome: "ok" }, { tx });
    }
    return { activated, retired };
  });
}
