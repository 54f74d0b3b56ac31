/**
 * The party's own device registry (`party_devices`, decision 010 §2): registrations forwarded by the
 * gateway, activated by the party's policy, revoked for good.
 */
import { toMs } from "@privface/db";
import type { StoreContext } from "./_context.ts";
import { StoreError } from "./_errors.ts";
import { DEVICE_ID_RE, PUBKEY_RE, str } from "./_input.ts";
import type { DeviceRecord, PartyStore } from "./index.ts";

type DeviceRow = { device_id: string; suite: "INTL" | "GM"; signing_key: string; auth_key: string; status: DeviceRecord["status"]; created_at: unknown; updated_at: unknown };
const toDevice = (r: DeviceRow): DeviceRecord => ({
  deviceId: r.device_id,
  suite: r.suite,
  signingKey: r.signing_key,
  authKey: r.auth_key,
  status: r.status,
  createdAt: toMs(r.created_at),
  updatedAt: toMs(r.updated_at),
});

export function deviceOps(ctx: StoreContext): Pick<PartyStore, "putDevice" | "getDevice" | "setDeviceStatus" | "listDevices"> {
  const { exec, now } = ctx;
  return {
    async putDevice(d) {
      if (typeof d !== "object" || d === null) throw new TypeError("device must be an object");
      const id = str(d.deviceId, "deviceId", DEVICE_ID_RE);
      if (d.suite !== "INTL" && d.suite !== "GM") throw new StoreError("INVALID_INPUT", "suite must be INTL or GM");
      const signing = str(d.signingKey, "signingKey", PUBKEY_RE);
      const auth = str(d.authKey, "authKey", PUBKEY_RE);
      if (d.status !== "pending" && d.status !== "active") throw new StoreError("INVALID_INPUT", "status must be pending or active");
      return exec.tx(async (tx) => {
        const t = now();
        const old = await tx.get<DeviceRow>("SELECT * FROM party_devices WHERE device_id = ?" + ctx.lock, [id]);
        if (old) {
          if (old.suite !== d.suite || old.signing_key !== signing || old.auth_key !== auth) throw new StoreError("DEVICE_EXISTS", "a device with this id is registered with other keys");
          return toDevice(old);
        }
        await tx.run("INSERT INTO party_devices (device_id, suite, signing_key, auth_key, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", [id, d.suite, signing, auth, d.status, t, t]);
        return { deviceId: id, suite: d.suite, signingKey: signing, authKey: auth, status: d.status, createdAt: t, updatedAt: t };
      });
    },

    async getDevice(deviceId) {
      const id = str(deviceId, "deviceId", DEVICE_ID_RE);
      const r = await exec.read((tx) => tx.get<DeviceRow>("SELECT * FROM party_devices WHERE device_id = ?", [id]));
      return r ? toDevice(r) : undefined;
    },

    async setDeviceStatus(deviceId, status) {
      const id = str(deviceId, "deviceId", DEVICE_ID_RE);
      if (status !== "active" && status !== "revoked") throw new StoreError("INVALID_INPUT", "status must be active or revoked");
      return exec.tx(async (tx) => {
        const old = await tx.get<DeviceRow>("SELECT * FROM party_devices WHERE device_id = ?" + ctx.lock, [id]);
        if (!old) throw new StoreError("DEVICE_UNKNOWN", "no registered device with this id");
        const next = old.status === "revoked" ? "revoked" : status;
        const t = now();
        await tx.run("UPDATE party_devices SET status = ?, updated_at = ? WHERE device_id = ?", [next, t, id]);
        return toDevice({ ...old, status: next, updated_at: t });
      });
    },

    async listDevices(status) {
      const rows = await exec.read((tx) =>
        status === undefined ? tx.all<DeviceRow>("SELECT * FROM party_devices ORDER BY device_id") : tx.all<DeviceRow>("SELECT * FROM party_devices WHERE status = ? ORDER BY device_id", [status]),
      );
      return rows.map(toDevice);
    },
  };
}
