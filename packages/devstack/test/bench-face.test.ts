/** The face benchmarks' pair formation and LFW pairs parsing. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { allPairScores, parseLfwPairs, type EmbeddedImage } from "../src/bench/face.ts";

describe("pairs", () => {
  it("allPairScores forms all genuine and impostor pairs, missing embeddings never match", () => {
    const q = (...v: number[]) => Int8Array.from(v);
    const items: EmbeddedImage[] = [
      { person: "a", path: "a1", q: q(1, 2) },
      { person: "a", path: "a2", q: q(3, 4) },
      { person: "b", path: "b1", q: q(-1, 1) },
      { person: "b", path: "b2", q: null },
    ];
    const { genuine, impostor } = allPairScores(items);
    assert.equal(genuine.length, 2);
    assert.equal(impostor.length, 4);
    assert.equal(genuine[0], 11);
    assert.ok(genuine[1] < -1e8);
    assert.deepEqual(Array.from(impostor.slice(0, 1)), [1]);
  });

  it("parses LFW pairs files", () => {
    const p = parseLfwPairs("10\t300\nAbel_Pacheco\t1\t4\nAbdel_Madi_Shabneh\t1\tDean_Barker\t1\n", "/d");
    assert.deepEqual(p, [
      { a: "/d/Abel_Pacheco/Abel_Pacheco_0001.jpg", b: "/d/Abel_Pacheco/Abel_Pacheco_0004.jpg", genuine: true },
      { a: "/d/Abdel_Madi_Shabneh/Abdel_Madi_Shabneh_0001.jpg", b: "/d/Dean_Barker/Dean_Barker_0001.jpg", genuine: false },
    ]);
  });
});

