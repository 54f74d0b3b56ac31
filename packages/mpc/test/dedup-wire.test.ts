/** dedup-wire.ts: bundles and messages of the 1:N query round-trip; malformed bytes are refused with a stable code. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  dealDedup, decodeDedupBundle, decodeDedupMessage, dedupBundleIdOf, encodeDedupBundle, encodeDedupMessage, helperGalleryAdd, jsRowStore, makeParams, newHelperGallery, newItemId, ProtocolError,
} from "../src/index.ts";
import { testSeeds } from "./_helpers.ts";

test("a dealt dedup query's bundles round-trip (P0: header only; P1: header + corrections)", () => {
  const { rng, seeds } = testSeeds("dedup-wire");
  const params = makeParams({ d: 16, threshold: 100 });
  const h = newHelperGallery(params, 9, jsRowStore, 64);
  helperGalleryAdd(h, seeds, 0, 70);
  const id = newItemId(rng);
  const b = dealDedup(h, seeds, id, rng);
  const p0 = encodeDedupBundle(b.P0), p1 = encodeDedupBundle(b.P1);
  assert.equal(p0.length, 32);
  assert.deepEqual(decodeDedupBundle(p0), b.P0);
  assert.deepEqual(decodeDedupBundle(p1), b.P1);
  assert.equal(dedupBundleIdOf(p1), id);
  const bad = (bytes: Uint8Array, code: string) => assert.throws(() => decodeDedupBundle(bytes), (e: unknown) => e instanceof ProtocolError && e.code === code);
  bad(p1.subarray(0, 20), "BAD_BUNDLE");
  bad(Uint8Array.from(p1, (x, i) => (i === 3 ? 2 : x)), "BAD_VERSION");
  bad(p1.subarray(0, p1.length - 1), "LENGTH_MISMATCH");
  bad(new Uint8Array([...p0, 0, 0, 0, 0]), "LENGTH_MISMATCH");
});

test("dedup messages round-trip by step", () => {
  const eps = Uint32Array.from({ length: 16 }, (_, i) => 0xfffffff0 + i);
  const m1 = { step: 1 as const, from: "P0" as const, id: "00112233445566778899aabbccddeeff", eps };
  assert.deepEqual(decodeDedupMessage(encodeDedupMessage(m1), { step: 1, from: "P0" }), m1);
  const m2 = { step: 2 as const, from: "P1" as const, z: new Uint32Array([1, 2, 3]) };
  assert.deepEqual(decodeDedupMessage(encodeDedupMessage(m2), { step: 2, from: "P1" }), m2);
  const m7 = { step: 7, from: "P1" as const, de: new Uint32Array([0xdeadbeef, 0]) };
  assert.deepEqual(decodeDedupMessage(encodeDedupMessage(m7), { step: 7, from: "P1" }), m7);
  assert.throws(() => decodeDedupMessage(new Uint8Array(5), { step: 2, from: "P0" }), (e: unknown) => e instanceof ProtocolError && e.code === "LENGTH_MISMATCH");
});
