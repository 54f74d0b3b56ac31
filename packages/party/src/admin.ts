/**
 * The party operator's tools on the party's host, against the party's own database and audit chain:
 * `privface party rotate-data-key` (re-encrypt every stored share under the current data key, the
 * first of DATA_KEYS, so the old key file can be retired) and the device registry (decision 010 §2),
 * `privface party devices | approve-device | revoke-device`: with
 * `DEVICE_APPROVAL=operator` (the default) a device the gateway registers stays `pending` at this
 * party until its own operator approves it, so the gateway alone never decides which terminals this
 * institution answers. Opens the party's database with the party's own configuration (the server's
 * environment); every change is one record in the party's audit chain, naming the operator. A running party sees an approval at its next request from the device, a revocation within
 * 60 s (its per-device MAC key cache; a revocation through the gateway takes effect at once).
 */
import { createAuditLog } from "@privface/audit";
import { readDataKeyFile, readKeyPairFile } from "@privface/crypto/node";
import { closeDb, openDb } from "@privface/db";
import type { PartyConfig } from "./config.ts";
import { createPartyStore, openTemplateKeys, type DeviceRecord } from "./store/index.ts";

export interface PartyAdmin {
  /**
   * Re-encrypts every stored share and re-wraps every unused pool item's key under the current data
   * key (the first of DATA_KEYS) and audits it; run until it returns zeros (a running party may write a
   * last row under the old key while it runs), then the older key files can be removed from DATA_KEYS.
   */
  rotateDataKey(by: { operator: string }): Promise<{ keyId: string; templates: number; items: number }>;
  /** Discards every unused pool item (after a restore: see PartyStore.discardPool) and audits it. */
  discardPool(by: { operator: string }): Promise<{ items: number }>;
  /**
   * After a restore: templates erased after the backup was taken (their keys are gone from the
   * template-key register) become tombstones (`template.drop-erased` with the count in the chain).
   */
  dropDestroyed(by: { operator: string }): Promise<{ templates: number }>;
  list(status?: DeviceRecord["status"]): Promise<DeviceRecord[]>;
  /** pending → active. A revoked device stays revoked (the returned record says so). */
  approve(deviceId: string, by: { operator: string }): Promise<DeviceRecord>;
  revoke(deviceId: string, by: { operator: string }): Promise<DeviceRecord>;
  close(): Promise<void>;
}

const OPERATOR = /^[A-Za-z0-9._@-]{1,64}$/;

/** The party store's data keys from the configured files (the first is current). */
export function readStoreKeys(cfg: Pick<PartyConfig, "dataKeys">): { current: string; keys: Map<string, Uint8Array> } {
  const keys = new Map<string, Uint8Array>();
  let current = "";
  for (const f of cfg.dataKeys) {
    const dk = readDataKeyFile(f);
    // INTL: 32 bytes, AES-256-GCM at rest; GM: 16 bytes, SM4-GCM (./store/_aead.ts)
    keys.set(dk.id, dk.key);
    if (!current) current = dk.id;
  }
  return { current, keys };
}

export async function openPartyAdmin(cfg: PartyConfig): Promise<PartyAdmin> {
  const role = cfg.party.toLowerCase();
  const db = await openDb(cfg.db, { schema: cfg.dbSchema, synchronous: cfg.synchronous });
  let templateKeys: Awaited<ReturnType<typeof openTemplateKeys>> | undefined;
  try {
    const dataKeys = readStoreKeys(cfg);
    templateKeys = await openTemplateKeys(cfg.templateKeys);
    const store = await createPartyStore(db, { role: cfg.party, dataKeys, templateKeys });
    const audit = await createAuditLog(db, { role, signingKey: await readKeyPairFile(cfg.auditKey) });
    const operator = (by: { operator: string }) => {
      if (!OPERATOR.test(by.operator)) throw new Error("operator: 1–64 letters, digits, . _ @ -");
      return `operator:${by.operator}`;
    };
    const change = async (deviceId: string, status: "active" | "revoked", by: { operator: string }) => {
      const requester = operator(by);
      const d = await store.setDeviceStatus(deviceId, status);
      await audit.append({ requester, op: status === "active" ? "device.approve" : "device.revoke", templateId: null, session: null, outcome: d.status, code: null });
      return d;
    };
    return {
      async rotateDataKey(by) {
        const requester = operator(by);
        const r = await store.rotateDataKey(dataKeys.current);
        // the counts as the outcome: a short token ("t12-i3000"), never a key or a share
        await audit.append({ requester, op: "key.rotate", templateId: null, session: null, outcome: `t${r.templates}-i${r.items}`, code: null });
        return { keyId: dataKeys.current, ...r };
      },
      async discardPool(by) {
        const requester = operator(by);
        const items = await store.discardPool();
        await audit.append({ requester, op: "pool.discard", templateId: null, session: null, outcome: `i${items}`, code: null });
        return { items };
      },
      async dropDestroyed(by) {
        const requester = operator(by);
        const templates = await store.dropDestroyed();
        await audit.append({ requester, op: "template.drop-erased", templateId: null, session: null, outcome: `t${templates}`, code: null });
        return { templates };
      },
      list: (status) => store.listDevices(status),
      approve: (id, by) => change(id, "active", by),
      revoke: (id, by) => change(id, "revoked", by),
      async close() {
        await closeDb(db);
        await templateKeys?.close();
      },
    };
  } catch (e) {
    await closeDb(db);
    await templateKeys?.close();
    throw e;
  }
}
