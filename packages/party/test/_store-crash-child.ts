/**
 * Child process for the crash suite (_store-crash.ts): opens the party store (SQLite or PostgreSQL) and uses pool
 * items as fast as it can (alternating takeItem and beginVerify), printing "USED <id>" after each call
 * resolved — the moment a real server would first send something derived from the item. The parent
 * SIGKILLs it at an arbitrary point. With PRIVFACE_CRASH_RESERVE=1 it also reserves items for item
 * nonces (decision 012) between the uses, printing "RESERVED <id>" once the reservation returned.
 * argv: dbUrl keyHex templateId [schema] [templateKeysFile]
 */
import { randomBytes } from "node:crypto";
import { writeSync } from "node:fs";
import { openDb } from "@privface/db";
import { createPartyStore, openTemplateKeys } from "../src/store/index.ts";

const [url, keyHex, templateId, schema, templateKeys] = process.argv.slice(2);
const db = await openDb(url, schema ? { schema } : {});
const store = await createPartyStore(db, {
  role: "P0",
  dataKeys: { current: "k1", keys: new Map([["k1", new Uint8Array(Buffer.from(keyHex, "hex"))]]) },
  ...(templateKeys ? { templateKeys: await openTemplateKeys(templateKeys) } : {}),
});
writeSync(1, "READY\n");
const reserve = process.env.PRIVFACE_CRASH_RESERVE === "1";
for (let i = 0; ; i++) {
  if (reserve && i % 3 === 0) for (const id of await store.reserveItems(2, Date.now() + 60_000)) writeSync(1, `RESERVED ${id}\n`);
  const session = `c${i}-${randomBytes(6).toString("hex")}`;
  const item =
    i % 2 === 0
      ? await store.takeItem(session)
      : (await store.beginVerify({ session, templateId, modelVersion: "v1", nonce: randomBytes(16).toString("base64url"), expires: Date.now() + 60_000 })).item;
  writeSync(1, `USED ${item.id}\n`);
}
