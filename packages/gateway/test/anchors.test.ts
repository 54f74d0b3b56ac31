/**
 * The gateway's audit log anchored at both parties (issue 13, @privface/audit anchors.ts): at start
 * and every `auditAnchorIntervalMs` the gateway hands its newest record to P0 and P1, which keep it;
 * a gateway whose log was cut is told so (and the parties alert).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PARTIES } from "@privface/contracts";
import { AUDIT_TABLE, createAuditLog } from "@privface/audit";
import { setup } from "./_setup.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("the gateway's newest audit record reaches both parties at start and at the interval; a cut log is refused there", async () => {
  const f = await setup("anchors", { auditAnchorIntervalMs: 100 });
  try {
    const source = f.options.audit!.anchorSource!;
    assert.equal((await f.admin("POST", "/v1/admin/merchants", { name: "Anchor Shop" })).status, 201);
    const head = (await source.headRecord())!;
    await sleep(400);
    for (const p of PARTIES) assert.deepEqual(await f.fake.clients[p].anchor({ record: head }), { outcome: "known", want: head.seq }, `${p} keeps the head`);
    // an insider cuts the gateway's newest records: the head it sends next goes back, the parties refuse it
    await f.db.kysely.deleteFrom(AUDIT_TABLE as never).where("seq" as never, "=", head.seq as never).execute();
    const cut = await createAuditLog(f.db, { role: "gateway", signingKey: f.auditKey });
    const older = (await cut.headRecord())!;
    assert.ok(older.seq < head.seq);
    for (const p of PARTIES) assert.equal((await f.fake.clients[p].anchor({ record: older })).outcome, "regressed");
    await sleep(300);
    assert.ok(f.log.lines.some((l) => l.includes('"audit_anchor_regressed"')), "the gateway logs that its log went back behind a party's anchor");
  } finally {
    await f.close();
  }
});

test("the auditor's view reconciles the gateway's chain with the head each party keeps: consistent, then, after an insider cuts the newest records, inconsistent at both", async () => {
  const f = await setup("anchors-view", { auditAnchorIntervalMs: 0, console: {} });
  try {
    // the console reaches the parties as server.ts wires it (their clients)
    (f.options.console as { parties?: unknown }).parties = f.fake.clients;
    const source = f.options.audit!.anchorSource!;
    assert.equal((await f.admin("POST", "/v1/admin/merchants", { name: "Anchor Shop" })).status, 201);
    const view = async () => (await f.admin("GET", "/v1/admin/audit", undefined, "auditor")).body;
    const first = await view();
    for (const p of PARTIES) assert.ok(["stored", "known"].includes(first.anchors[p].outcome), JSON.stringify(first.anchors));
    const kept = first.anchors.P0.seq as number;
    assert.ok(kept >= 1);
    for (const p of PARTIES) assert.deepEqual(await f.fake.clients[p].anchor({ record: (await source.recordAt(kept))! }), { outcome: "known", want: kept }, `${p} keeps the head the view sent`);
    assert.equal((await f.admin("POST", "/v1/admin/merchants", { name: "Anchor Shop 2" })).status, 201);
    const second = await view();
    for (const p of PARTIES) assert.equal(second.anchors[p].outcome, "stored", "a newer head, consistent with the kept one");
    // an insider cuts the gateway's newest records (the last head sent among them)
    await f.db.kysely.deleteFrom(AUDIT_TABLE as never).where("seq" as never, ">=", second.anchors.P0.seq as never).execute();
    const cut = await view();
    for (const p of PARTIES) assert.equal(cut.anchors[p].outcome, "regressed", `${p}: ${JSON.stringify(cut.anchors[p])}`);
  } finally {
    await f.close();
  }
});
