/**
 * Re-randomisation of stored template shares (issue 12 item 8, decision 010 §6) with both real
 * parties in one process: the helper's seeds plus P0's database rebuild a template when shares are
 * stored as the enrolment run leaves them (no pair seed: today's behaviour), and no longer do when
 * P0 and P1 store them re-randomised; the parties' epochs drift apart (one party's pass, a pass that
 * crashes half-way) and every verification still decides exactly as before.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { MODEL } from "@privface/contracts";
import { enrolBodies, finishBodies, newId, randomFace, reconstruct, sameFace, verifyBodies } from "@privface/devstack/gateway-sim";
import { type Params, type Seeds } from "@privface/mpc";
import { p1Own } from "../../mpc/src/bundle.ts";
import { epochOf, nextShare, unpackShare } from "../src/share-epoch.ts";
import { makeInProc, type InProc } from "./_inproc.ts";

const MV = MODEL.version;
const open: InProc[] = [];
after(async () => {
  for (const h of open) await h.close();
});

async function harness(pairSeed?: null): Promise<InProc> {
  const h = await makeInProc(pairSeed === null ? { pairSeed: null } : {});
  open.push(h);
  await h.fill(40);
  return h;
}

async function enrolled(h: InProc, x = randomFace(MODEL.dim)) {
  const templateId = newId();
  const session = newId();
  const e = await h.both("/v1/enrol", await enrolBodies(h.keys, { session, templateId, modelVersion: MV, x }));
  assert.equal(reconstruct(e.P0.body.resultShare, e.P1.body.resultShare).valid, 1, JSON.stringify(e.P0.body));
  await h.both("/v1/commit", await finishBodies(h.keys, "commit", { session, templateId, modelVersion: MV }));
  return { templateId, x };
}

async function decision(h: InProc, templateId: string, x: Int8Array) {
  const r = await h.both("/v1/verify", await verifyBodies(h.keys, { session: newId(), templateId, modelVersion: MV, x }));
  assert.equal(r.P0.status, 200, JSON.stringify(r.P0.body));
  return reconstruct(r.P0.body.resultShare, r.P1.body.resultShare);
}

/** The helper (its seeds and the ids it dealt) with P0's database (decrypted with P0's data key). */
function helperWithP0Database(params: Params, seeds: Seeds, dealt: readonly string[], stored: Uint8Array): Int8Array | null {
  const y0 = new Uint32Array(stored.buffer.slice(stored.byteOffset, stored.byteOffset + 4 * params.d));
  for (const id of dealt) {
    const own = p1Own(seeds.P1, "enrol", id, params);
    const x = new Int8Array(params.d);
    let ok = true;
    for (let k = 0; k < params.d && ok; k++) {
      const c = [(y0[k] + own.a0[k]) | 0, (y0[k] + own.a1[k]) | 0].filter((v) => v >= -128 && v <= 127);
      if (c.length === 1) x[k] = c[0];
      else ok = false;
    }
    if (ok) return x;
  }
  return null;
}

describe("re-randomised template shares", () => {
  it("without a pair seed (today) the helper's seeds + P0's database rebuild the template; with it they do not", async () => {
    const today = await harness(null);
    const a = await enrolled(today);
    const storedToday = (await today.stores.P0.loadActive(a.templateId)).share;
    assert.equal(epochOf(storedToday), 0);
    assert.deepEqual(helperWithP0Database(today.params, today.seeds, today.dealtEnrol, storedToday), a.x, "the attack works today");

    const h = await harness();
    const b = await enrolled(h);
    for (const p of ["P0", "P1"] as const) assert.equal(epochOf((await h.stores[p].loadActive(b.templateId)).share), 1, `${p} stores epoch 1 at once`);
    assert.equal(helperWithP0Database(h.params, h.seeds, h.dealtEnrol, (await h.stores.P0.loadActive(b.templateId)).share), null);
    await h.services.P0.rerandomise();
    assert.equal(helperWithP0Database(h.params, h.seeds, h.dealtEnrol, (await h.stores.P0.loadActive(b.templateId)).share), null, "nor after a scheduled pass");
    assert.deepEqual(await decision(h, b.templateId, sameFace(b.x)), { valid: 1, match: 1 });
  });

  it("epochs drift apart between the parties (one party's passes, a pass crashing half-way): decisions are unchanged", async () => {
    const h = await harness();
    const t = [await enrolled(h), await enrolled(h), await enrolled(h)];
    const impostor = randomFace(MODEL.dim);
    const check = async (label: string) => {
      for (const { templateId, x } of t) {
        assert.deepEqual(await decision(h, templateId, sameFace(x)), { valid: 1, match: 1 }, `${label}: genuine`);
        assert.deepEqual(await decision(h, templateId, impostor), { valid: 1, match: 0 }, `${label}: impostor`);
      }
    };
    const epochs = async (p: "P0" | "P1") => Promise.all(t.map(async ({ templateId }) => epochOf((await h.stores[p].loadActive(templateId)).share)));
    // P0 runs two passes, P1 none (P1 down, or crashed before its pass)
    assert.deepEqual(await h.services.P0.rerandomise(), { scanned: 3, updated: 3 });
    await h.services.P0.rerandomise();
    assert.deepEqual(await epochs("P0"), [3, 3, 3]);
    assert.deepEqual(await epochs("P1"), [1, 1, 1]);
    await check("P0 two epochs ahead");
    // a pass at P1 that crashes at its second share: the first share moved, the others did not
    let n = 0;
    await assert.rejects(
      h.stores.P1.updateShares((slot, bytes) => {
        if (n++ === 1) throw new Error("crash");
        return nextShare("P1", h.pairSeed, slot, bytes);
      }),
      /crash/,
    );
    assert.deepEqual((await epochs("P1")).sort(), [1, 1, 2]);
    await check("P1 half-way through a pass");
    const before = await epochs("P1");
    await h.services.P1.rerandomise(); // completes: every share one epoch on
    const afterPass = await epochs("P1");
    assert.deepEqual(afterPass, before.map((e) => e + 1));
    await check("P1 one pass, P0 two");
    // a share rewritten by a pass that threw at its own row is untouched (the row's transaction rolled back)
    const one = (await h.stores.P0.loadActive(t[0].templateId)).share;
    await assert.rejects(
      h.stores.P0.updateShares(() => {
        throw new Error("crash in the row's transaction");
      }),
      /crash/,
    );
    assert.deepEqual((await h.stores.P0.loadActive(t[0].templateId)).share, one);
    await check("after the failed pass");
  });

  it("shares stored before re-randomisation (epoch 0) are moved by the start-up pass only; the stored trailer round-trips", async () => {
    const h = await harness();
    const a = await enrolled(h);
    // a legacy row: as a party without a pair seed stored it
    const legacy = new Uint8Array(4 * h.params.d).fill(7);
    await h.stores.P0.prepare(newId(), "tpl-legacy-000001", MV, legacy);
    const r = await h.services.P0.rerandomise({ onlyUnrandomised: true });
    assert.deepEqual(r, { scanned: 2, updated: 1 });
    assert.equal(epochOf((await h.stores.P0.loadActive(a.templateId)).share), 1, "the re-randomised one stays");
    const versions = await h.stores.P0.templateVersions("tpl-legacy-000001");
    assert.equal(versions.length, 1);
    const stored = unpackShare(new Uint8Array([...new Uint8Array(new Uint32Array([1, 2, 3]).buffer), 0, 0, 0, 9, 0xe5]));
    assert.deepEqual([...stored.share], [1, 2, 3]);
    assert.equal(stored.epoch, 9);
    assert.ok(h.audit.P0.some((e) => e.op === "rerandomise"));
  });
});

describe("runShare (the share a run uses, with the epoch offset cached)", () => {
  it("equals reshare(…, epoch, 0) at both parties, on a miss and on a hit, for every epoch", async () => {
    const { reshare } = await import("@privface/mpc");
    const { packShare, runShare } = await import("../src/share-epoch.ts");
    const seed = new Uint8Array(32).fill(7);
    const slot = { templateId: newId(), modelVersion: MV };
    for (const party of ["P0", "P1"] as const) {
      for (const epoch of [0, 1, 2, 1, 0xffff_ffff]) {
        const share = new Uint32Array(MODEL.dim).map((_, k) => (k * 2654435761) >>> 0);
        const want = reshare(party, seed, slot, share, epoch, 0);
        for (let i = 0; i < 2; i++) assert.deepEqual(runShare(party, seed, slot, packShare(share, epoch)), want, `${party} epoch ${epoch} call ${i}`);
      }
    }
    // another pair seed, same slot: not the first seed's offset
    const other = new Uint8Array(32).fill(8);
    const share = new Uint32Array(MODEL.dim);
    assert.deepEqual(runShare("P0", other, slot, packShare(share, 2)), reshare("P0", other, slot, share, 2, 0));
    assert.notDeepEqual(runShare("P0", other, slot, packShare(share, 2)), runShare("P0", seed, slot, packShare(share, 2)));
  });
});
