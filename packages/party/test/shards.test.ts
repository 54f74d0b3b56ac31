/**
 * Combining gallery shards (src/shards.ts, docs/protocol.md §14 "Gallery shards"): the coordinators'
 * sketches over P0's random subsets give the requester "some shard matched" exactly (up to 2^-64),
 * and the requester's view is the same whichever shards matched. The processes with NATS:
 * pg/shards.test.ts.
 */
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { describe, it } from "node:test";
import { dedupAnswer, type Bit } from "@privface/contracts";
import { shardSketch } from "../src/shards.ts";

/** one search's answers: P0's and P1's result shares for shard bits `d` */
function answers(d: Bit[]) {
  const a = d.map(() => randomInt(2) as Bit);
  const b = a.map((x, k) => (x ^ d[k]) as Bit);
  const subsets = randomBytes(8 * d.length);
  return { P0: { duplicate: 0 as Bit, sketch: shardSketch(a, subsets) }, P1: { duplicate: 0 as Bit, sketch: shardSketch(b, subsets) } };
}

describe("gallery shards: the sketch", () => {
  it("the answer is 'some shard matched', for every pattern of shard bits (S = 1..5)", () => {
    for (let S = 1; S <= 5; S++) {
      for (let pattern = 0; pattern < 2 ** S; pattern++) {
        const d = Array.from({ length: S }, (_, k) => ((pattern >> k) & 1) as Bit);
        for (let t = 0; t < 20; t++) {
          const r = answers(d);
          assert.equal(dedupAnswer(r.P0, r.P1), pattern === 0 ? 0 : 1, `S=${S} d=${d.join("")}`);
        }
      }
    }
  });

  it("privacy: the requester's view (both sketches) is distributed alike whichever and however many shards matched", () => {
    // what a view shows beyond the answer: a sketch that is zero, or the two equal
    const stats = (d: Bit[], n: number) => {
      let zero0 = 0, zero1 = 0, equal = 0;
      for (let i = 0; i < n; i++) {
        const r = answers(d);
        if (/^0+$/.test(r.P0.sketch)) zero0++;
        if (/^0+$/.test(r.P1.sketch)) zero1++;
        if (r.P0.sketch === r.P1.sketch) equal++;
      }
      return { zero0: zero0 / n, zero1: zero1 / n, equal: equal / n };
    };
    const n = 20_000;
    const one = stats([1, 0, 0], n), two = stats([0, 1, 1], n), all = stats([1, 1, 1], n);
    for (const s of [one, two, all]) {
      assert.equal(s.equal, 0);
      for (const v of [s.zero0, s.zero1]) assert.ok(Math.abs(v - 1 / 8) < 0.02, `P(sketch = 0) = ${v}, expected 1/8 = 2^-S whatever matched`);
    }
  });

  it("refuses subsets of the wrong size", () => {
    assert.throws(() => shardSketch([0, 1], randomBytes(8)), RangeError);
  });
});

describe("gallery shards: a coordinator refuses `matches` (who matched needs every slot's share in one place)", () => {
  it("a search with matches: true answers GALLERY_UNAVAILABLE at both coordinators and never reaches the shards; the one-bit search does", async () => {
    const { startInProcParties } = await import("@privface/devstack/inproc-parties");
    const { dedupBodies, enrolBodies, newId, randomFace } = await import("@privface/devstack/gateway-sim");
    const { MODEL, PARTIES } = await import("@privface/contracts");
    const asked: string[] = [];
    const h = await startInProcParties({
      dedupShards: (p) => async () => {
        asked.push(p);
        return { resultShare: { duplicate: 0, sketch: "0".repeat(16) }, gallery: 0 };
      },
    });
    try {
      const enrol = async () => {
        const e = { session: newId(), templateId: newId() };
        const r = await h.both("/v1/enrol", await enrolBodies(h.keys, { ...e, modelVersion: MODEL.version, x: randomFace(MODEL.dim) }));
        assert.equal(r.P0.status, 200, JSON.stringify(r.P0.body));
        return e;
      };
      const held = await h.both("/v1/dedup", await dedupBodies(h.keys, { ...(await enrol()), matches: true }));
      assert.deepEqual(PARTIES.map((p) => held[p].body?.error?.code), ["GALLERY_UNAVAILABLE", "GALLERY_UNAVAILABLE"], JSON.stringify(held.P0.body));
      assert.deepEqual(asked, [], "no shard was asked");
      const bit = await h.both("/v1/dedup", await dedupBodies(h.keys, await enrol()));
      assert.deepEqual([bit.P0.status, bit.P1.status], [200, 200], JSON.stringify(bit.P0.body));
      assert.deepEqual(asked.sort(), ["P0", "P1"], "the one-bit search goes to the shards");
    } finally {
      await h.close();
    }
  });
});
