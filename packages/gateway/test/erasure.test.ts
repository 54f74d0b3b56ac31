/**
 * Identity erasure at the gateway (issue 13): a deregistered person's identity attributes (name, ID
 * number, phone, blind index) are erased once IDENTITY_RETENTION_DAYS have passed — by the re-check
 * job, audited, overwritten in the SQLite file (secure_delete) — and not before, and not for a person
 * who enrolled again meanwhile.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "@privface/db";
import { exportChain } from "@privface/audit";
import { deregister, enrol, giveConsent, PEOPLE, registerWorld, setup, verify } from "./_setup.ts";

const DAY = 86_400_000;

test("attack on retention: a deregistered person's identity stays at the gateway for good — now erased after IDENTITY_RETENTION_DAYS, in the file too", async () => {
  const dir = mkdtempSync(join(tmpdir(), "privface-erasure-"));
  const path = join(dir, "gateway.sqlite");
  let skew = 0;
  const f = await setup("erasure", { db: await openDb(`sqlite:${path}`), now: () => Date.now() + skew, identityRetentionMs: 2 * DAY });
  try {
    const w = await registerWorld(f, ["alice", "bob"]);
    for (const who of ["alice", "bob"]) {
      assert.equal((await giveConsent(f, w, w.persons[who].personId)).status, 201);
      assert.equal((await enrol(f, w, who)).body.decision, "accept");
      assert.equal((await verify(f, w, who)).body.decision, "accept");
      assert.equal((await deregister(f, w, who)).status, 200);
    }
    const row = async (id: string) => (await f.db.kysely.selectFrom("persons").selectAll().where("id", "=", id).executeTakeFirstOrThrow()) as Record<string, unknown>;
    const aliceId = w.persons.alice.personId;
    const sealed = String((await row(aliceId)).id_number_enc);
    assert.ok(sealed.length > 20);
    // bob enrols again the next day: his deregistration no longer counts
    skew = DAY;
    assert.equal((await giveConsent(f, w, w.persons.bob.personId)).status, 201);
    assert.equal((await enrol(f, w, "bob")).body.decision, "accept");
    // before the retention has passed: nothing erased
    await f.gw.service.runRechecks();
    assert.equal((await row(aliceId)).erased_at, null);
    skew = 3 * DAY;
    await f.gw.service.runRechecks();
    const a = await row(aliceId);
    assert.deepEqual([a.name_enc, a.id_number_enc, a.phone_enc], ["", "", ""]);
    assert.equal(a.id_index, `erased:${aliceId}`);
    assert.ok(Number(a.erased_at) > 0);
    const b = await row(w.persons.bob.personId);
    assert.equal(b.erased_at, null, "enrolled again: kept");
    assert.notEqual(b.name_enc, "");
    // the ciphertext is gone from the database file and its WAL (secure_delete, and the erasure truncates the WAL)
    const files = Buffer.concat([path, `${path}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
    assert.equal(files.indexOf(Buffer.from(sealed.slice(0, 40))), -1, "the sealed ID number is overwritten in the file");
    // an operator sees an erased record; the ID number may be registered again; the erasure is audited
    const v = await f.admin("GET", `/v1/admin/persons/${aliceId}`, undefined, "operator", "retention check");
    assert.equal(v.status, 200, JSON.stringify(v.body));
    assert.equal(v.body.erased, true);
    assert.equal(v.body.idNumber, "");
    const again = await f.admin("POST", `/v1/admin/merchants/${w.merchantId}/persons`, { ...PEOPLE.alice });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const chain = await exportChain(f.db);
    assert.ok(chain.some((r) => r.op === "person.erase" && r.session === aliceId && r.requester === "system:retention"));
  } finally {
    await f.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
