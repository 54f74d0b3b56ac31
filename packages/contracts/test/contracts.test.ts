/** The contracts: the share AAD (known answers, every field bound), the item codec, id formats, the error catalogue. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { classifyPartyError, contextAad, ID, MODEL, modelParams, packItems, PARTY_ERRORS, PartyError, partyOfRole, serverRoleOf, unpackItems } from "../src/index.ts";

const vectors = (name: string) => (JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), "utf8")) as { vectors: any[] }).vectors;

test("contextAad known answers", () => {
  for (const v of vectors("aad.json")) assert.equal(Buffer.from(contextAad(v.ctx)).toString("utf8"), v.utf8);
});

test("contextAad binds every field and refuses bad input", () => {
  const base = { purpose: "verify", challenge: "q2F6q2F6q2F6q2F6", templateId: "tpl-1", modelVersion: "fr512-v1", party: "P0" as const };
  const seen = new Set<string>([Buffer.from(contextAad(base)).toString("hex")]);
  for (const f of ["purpose", "challenge", "templateId", "modelVersion"] as const) seen.add(Buffer.from(contextAad({ ...base, [f]: base[f] + "x" })).toString("hex"));
  seen.add(Buffer.from(contextAad({ ...base, party: "P1" })).toString("hex"));
  assert.equal(seen.size, 6);
  assert.throws(() => contextAad({ ...base, party: "P2" as never }), TypeError);
  assert.throws(() => contextAad({ ...base, challenge: 5 as never }), TypeError);
  assert.throws(() => contextAad({ ...base, templateId: "x".repeat(513) }), RangeError);
});

test("packItems / unpackItems round-trip and refuse truncation or trailing bytes", () => {
  const items = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(300).fill(7)];
  const b = packItems(items);
  assert.deepEqual(unpackItems(b).map((x) => Array.from(x)), items.map((x) => Array.from(x)));
  assert.deepEqual(unpackItems(new Uint8Array(0)), []);
  assert.throws(() => unpackItems(b.subarray(0, b.length - 1)), RangeError);
  assert.throws(() => unpackItems(new Uint8Array([...b, 0])), RangeError);
  assert.throws(() => unpackItems(b, { maxItems: 2 }), /more than 2/);
  const copies = unpackItems(Buffer.from(b), { copy: true });
  assert.notEqual(copies[2].buffer, b.buffer);
  assert.equal(copies[2].byteOffset, 0);
});

test("id formats: template ids are never all digits (no ID-card or phone number can be one)", () => {
  assert.ok(ID.template.test("SntZgDp8_GXiJ4HNQ6j73w"));
  assert.ok(!ID.template.test("110101199003071234"));
  assert.ok(!ID.template.test("1380013800012345"));
  assert.ok(ID.session.test("a".repeat(120)) && !ID.session.test("a".repeat(121)));
  assert.ok(ID.bundle.test("0123456789abcdef0123456789abcdef") && !ID.bundle.test("0123456789ABCDEF0123456789abcdef"));
});

test("one name per party and per server role", () => {
  assert.equal(serverRoleOf("P0"), "p0");
  assert.equal(partyOfRole("p1"), "P1");
  assert.equal(partyOfRole("gateway"), null);
});

test("the party error catalogue decides refused versus unavailable", () => {
  assert.deepEqual(classifyPartyError(new PartyError("UNKNOWN_TEMPLATE")), { kind: "refused", code: "UNKNOWN_TEMPLATE" });
  assert.deepEqual(classifyPartyError(new PartyError("PEER_UNAVAILABLE")), { kind: "unavailable", code: "PEER_UNAVAILABLE" });
  assert.deepEqual(classifyPartyError(new Error("socket hang up")), { kind: "unavailable", code: "INTERNAL" });
  for (const [code, { status, kind }] of Object.entries(PARTY_ERRORS)) {
    if (kind === "refused") assert.ok(status >= 400 && status < 500, code);
  }
});

test("the model's protocol parameters come from MODEL", () => {
  const p = modelParams();
  assert.equal(p.d, MODEL.dim);
  assert.equal(p.threshold, MODEL.threshold);
});
