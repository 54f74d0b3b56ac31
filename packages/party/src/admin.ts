/**
 * The party operator's hand on the party's own device registry (decision 010 §2), for
 * `privface party devices | approve-device | revoke-device` on the party's host: with
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
import { createPartyStore, type DeviceRecord } from "./store/index.ts";

export interface DeviceAdmin {
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
    if (dk.key.length !== 32) throw new Error(`data key ${f}: the party store needs a 32-byte (INTL) data key`);
    keys.set(dk.id, dk.key);
    if (!current) current = dk.id;
  }
  return { current, keys };
}

export async function openDeviceAdmin(cfg: PartyConfig): Promise<DeviceAdmin> {
  const role = cfg.party.toLowerCase();
  const db = await openDb(cfg.db, { schema: cfg.dbSchema, synchronous: cfg.synchronous });
  try {
    const store = await createPartyStore(db, { role: cfg.party, dataKeys: readStoreKeys(cfg) });
    const audit = await createAuditLog(db, { role, signingKey: await readKeyPairFile(cfg.auditKey) });
    const change = async (deviceId: string, status: "active" | "revoked", by: { operator: string }) => {
      if (!OPERATOR.test(by.operator)) throw new Error("operator: 1–64 letters, digits, . _ @ -");
      const d = await store.setDeviceStatus(deviceId, status);
      await audit.append({ requester: `operator:${by.operator}`, op: status === "active" ? "device.approve" : "device.revoke", templateId: null, session: null, outcome: d.status, code: null });
      return d;
    };
    return {
      list: (status) => store.listDevices(status),
      approve: (id, by) => change(id, "active", by),
      revoke: (id, by) => change(id, "revoked", by),
      close: () => closeDb(db),
    };
  } catch (e) {
    await closeDb(db);
    throw e;
  }
}
