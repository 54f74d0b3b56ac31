/**
 * The party store (API and semantics: ./index.ts and ./README.md), composed of one module per
 * concern over a shared context (./_context.ts: database, executor, clock, role, data keys):
 *
 * | module | tables | operations |
 * |---|---|---|
 * | ./templates.ts | party_templates | templateVersions, loadActive, erase, dropDestroyed, eraseAll, updateShares, templateCounts |
 * | ./sessions.ts | party_sessions (+ template rows) | prepare, commit, abort, stageUpgrade, promoteUpgrade, discardUpgrade, pendingOlderThan, getSession |
 * | ./pool.ts | party_pool, party_pool_items, party_verifications | addItems, takeItem, markUsed, reserveItems, poolLevel, beginVerify, purge |
 * | ./nonces.ts | party_authorisations | consumeAuthorisation (and every operation's `auth`) |
 * | ./devices.ts | party_devices | putDevice, getDevice, setDeviceStatus, listDevices |
 * | ./budgets.ts | party_budgets | budget, finishVerify, markBudgetExhausted |
 * | ./keys.ts | (all encrypted columns) | rotateDataKey, backup |
 *
 * Each public operation is exactly one write transaction (or one read) of cached prepared statements
 * (`@privface/db` createExec). Shares and pool items are encrypted before the transaction starts and
 * decrypted inside it (so a missing key rolls the operation back). An optional authorisation is
 * consumed in the same transaction as the operation it authorises: both happen, or neither.
 */
import type { Db } from "@privface/db";
import { openContext } from "./_context.ts";
import { budgetOps } from "./budgets.ts";
import { deviceOps } from "./devices.ts";
import type { PartyStore, PartyStoreOptions } from "./index.ts";
import { keyOps } from "./keys.ts";
import { nonceOps } from "./nonces.ts";
import { poolOps } from "./pool.ts";
import { sessionOps } from "./sessions.ts";
import { templateOps } from "./templates.ts";

export async function createPartyStore(db: Db, options: PartyStoreOptions): Promise<PartyStore> {
  const ctx = await openContext(db, options);
  return {
    role: ctx.role,
    dialect: db.dialect,
    ...sessionOps(ctx),
    ...templateOps(ctx),
    ...poolOps(ctx),
    ...nonceOps(ctx),
    ...deviceOps(ctx),
    ...budgetOps(ctx),
    ...keyOps(ctx),
    pendingCheckpoint: () => ctx.owed,
    retryCheckpoint: async () => !ctx.owed || ctx.checkpoint(),
  };
}
