/** The contracts: the share AAD (known answers, every field bound), the item codec, id formats, the error catalogue, key lists, statements, nonces. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { generateSealKeyPair, generateSigningKeyPair, toBase64url } from "@privface/crypto";
import {
  challengeNonce, checkKeyList, checkStatementMac, classifyPartyError, composeChallenge, contextAad, deviceMacKey, envelopeDigest, ID, MODEL, modelParams,
  packItems, parseStatement, PARTY_ERRORS, PartyError, partyMacKey, partyOfRole, sealingKeyId, serverRoleOf, signKeyList, statementMac, unpackItems,
  type DeviceStatement,
} from "../src/index.ts";
import { checkNonce, issueNonce, nonceItem } from "../src/nonce.ts";

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

// ---- decision 010: key lists, statements, nonces --------------------------------------------------

test("key lists: accepted under the party's root only, unexpired, never older than the newest seen", async () => {
  const root = await generateSigningKeyPair("INTL");
  const other = await generateSigningKeyPair("INTL");
  const seal = await generateSealKeyPair("INTL");
  const key = { id: await sealingKeyId(seal), suite: seal.suite, publicKey: toBase64url(seal.publicKey) };
  const now = Date.now();
  const list = (version: number, o: Partial<{ party: "P0" | "P1"; expiresAt: number; id: string }> = {}) =>
    signKeyList(root, { party: o.party ?? "P0", version, issuedAt: now, expiresAt: o.expiresAt ?? now + 86_400_000, keys: [{ ...key, id: o.id ?? key.id }] });
  const ok = await checkKeyList(root, "P0", await list(3), { now, minVersion: 3 });
  assert.deepEqual(ok.current.publicKey, seal.publicKey);
  assert.equal(ok.current.id, key.id);
  const code = (p: Promise<unknown>) => p.then(() => "accepted", (e) => e.code);
  assert.equal(await code(checkKeyList(other, "P0", await list(3))), "KEY_LIST_UNTRUSTED");
  assert.equal(await code(checkKeyList(root, "P1", await list(3))), "KEY_LIST_UNTRUSTED");
  assert.equal(await code(checkKeyList(root, "P0", await list(3, { party: "P1" }))), "KEY_LIST_UNTRUSTED");
  assert.equal(await code(checkKeyList(root, "P0", await list(3, { expiresAt: now - 1 }), { now })), "KEY_LIST_EXPIRED");
  assert.equal(await code(checkKeyList(root, "P0", await list(2), { minVersion: 3 })), "KEY_LIST_ROLLBACK");
  assert.equal(await code(checkKeyList(root, "P0", await list(3, { id: "AAAAAAAAAAAAAAAA" }))), "KEY_LIST_MALFORMED");
  const signed = await list(3);
  const tampered = { ...signed, payload: signed.payload.slice(0, -2) + (signed.payload.endsWith("A") ? "BB" : "AA") };
  assert.equal(await code(checkKeyList(root, "P0", tampered)), "KEY_LIST_UNTRUSTED");
});

test("statement MACs: the device and the party derive the same key; another device, party or statement fails", async () => {
  for (const suite of ["INTL", "GM"] as const) {
    const partySeal = await generateSealKeyPair(suite);
    const deviceAuth = await generateSealKeyPair(suite);
    const id = await sealingKeyId(partySeal);
    const s: DeviceStatement = {
      v: 1,
      kind: "privface.device-request",
      purpose: "verify",
      deviceId: "dev-1",
      challenge: "c".repeat(32),
      templateId: "tpl_0123456789abcdef",
      modelVersion: "m.1",
      shares: { P0: { key: id, digest: await envelopeDigest(new Uint8Array([1])) }, P1: { key: id, digest: await envelopeDigest(new Uint8Array([2])) } },
    };
    const kd = await deviceMacKey(deviceAuth, { ...partySeal, id }, "dev-1", "P0");
    const kp = await partyMacKey(partySeal, id, deviceAuth, "dev-1", "P0");
    assert.deepEqual(kd, kp);
    const tag = await statementMac(suite, kd, s);
    assert.equal(await checkStatementMac(suite, kp, parseStatement(JSON.parse(JSON.stringify(s))), tag), true);
    assert.equal(await checkStatementMac(suite, kp, { ...s, purpose: "enrol" }, tag), false);
    assert.equal(await checkStatementMac(suite, await partyMacKey(partySeal, id, deviceAuth, "dev-1", "P1"), s, tag), false);
    assert.equal(await checkStatementMac(suite, await partyMacKey(partySeal, id, deviceAuth, "dev-2", "P0"), s, tag), false);
    assert.throws(() => parseStatement({ ...s, extra: 1 }), /unknown fields/);
    assert.throws(() => parseStatement({ ...s, kind: "other" }), /kind/);
  }
});

test("party nonces: only the issuing party's key makes one; expired, altered or another party's are refused", () => {
  const k = new Uint8Array(32).fill(7);
  const now = 1_800_000_000_000;
  const n = issueNonce(k, "P0", now + 60_000);
  assert.deepEqual(checkNonce(k, "P0", n, now), { ok: true, expiresAt: now + 60_000 });
  assert.deepEqual(checkNonce(k, "P1", n, now), { ok: false, reason: "NONCE_INVALID" });
  assert.deepEqual(checkNonce(new Uint8Array(32).fill(8), "P0", n, now), { ok: false, reason: "NONCE_INVALID" });
  assert.deepEqual(checkNonce(k, "P0", n, now + 60_000), { ok: false, reason: "NONCE_EXPIRED" });
  const flipped = (n[5] === "A" ? "B" : "A");
  assert.deepEqual(checkNonce(k, "P0", n.slice(0, 5) + flipped + n.slice(6), now), { ok: false, reason: "NONCE_INVALID" });
  const ch = composeChallenge("g".repeat(32), { P0: n, P1: issueNonce(k, "P1", now + 60_000) });
  assert.ok(ID.challenge.test(ch), ch);
  assert.equal(challengeNonce(ch, "P0"), n);
  assert.equal(challengeNonce("g".repeat(32), "P0"), null);
});

test("item nonces (decision 012): the tag binds the pool item; anyone reads the id, only the issuer checks it", () => {
  const k = new Uint8Array(32).fill(7);
  const now = 1_800_000_000_000;
  const item = "0123456789abcdef0123456789abcdef";
  const n = issueNonce(k, "P0", now + 60_000, undefined, item);
  assert.equal(n.length, 67);
  assert.deepEqual(checkNonce(k, "P0", n, now), { ok: true, expiresAt: now + 60_000, itemId: item });
  assert.equal(nonceItem(n), item);
  assert.equal(nonceItem(issueNonce(k, "P0", now + 60_000)), null, "a plain nonce names no item");
  // the item moved to another id under the same tag, or the tag of a plain nonce with an item appended
  const raw = Buffer.from(n, "base64url");
  raw[20] ^= 1;
  assert.deepEqual(checkNonce(k, "P0", raw.toString("base64url"), now), { ok: false, reason: "NONCE_INVALID" });
  const plain = Buffer.from(issueNonce(k, "P0", now + 60_000), "base64url");
  const grafted = Buffer.concat([plain.subarray(0, 18), Buffer.from(item, "hex"), plain.subarray(18)]).toString("base64url");
  assert.deepEqual(checkNonce(k, "P0", grafted, now), { ok: false, reason: "NONCE_INVALID" });
  assert.deepEqual(checkNonce(k, "P0", n, now + 60_000), { ok: false, reason: "NONCE_EXPIRED" });
  assert.throws(() => issueNonce(k, "P0", now + 60_000, undefined, "not-an-item"), RangeError);
  const ch = composeChallenge("g".repeat(32), { P0: n, P1: issueNonce(k, "P1", now + 60_000) });
  assert.ok(ID.challenge.test(ch), ch);
  assert.equal(nonceItem(challengeNonce(ch, "P0")), item);
  // the item nonce fits P0's place only
  assert.ok(!ID.challenge.test(composeChallenge("g".repeat(32), { P0: issueNonce(k, "P0", now + 60_000), P1: n })));
});
