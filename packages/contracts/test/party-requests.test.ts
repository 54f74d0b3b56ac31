/** The Party API's shared body checks (`shareRequest`, `upgradeRequest`, `checkStatement`): used by the parties and by their fake twin. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkStatement, envelopeDigest, faceStatement, MAX_SEALED_SHARE, PartyError, shareRequest, statementContext, upgradeRequest } from "../src/index.ts";

const T = "tpl_0123456789abcdef";
const KEY = "AAAAAAAAAAAAAAAA";
const env = new Uint8Array([1, 2, 3]);
const sealed = Buffer.from(env).toString("base64url");
const refused = (f: () => unknown, field: string) =>
  assert.throws(f, (e: unknown) => e instanceof PartyError && e.code === "INVALID_INPUT" && e.message.startsWith(`${field}:`), field);
const statement = (o: { purpose?: "enrol" | "verify"; modelVersion?: string; upgrade?: boolean } = {}) =>
  faceStatement({
    purpose: o.purpose ?? "verify",
    deviceId: "dev1",
    challenge: "q2F6q2F6q2F6q2F6",
    templateId: T,
    modelVersion: o.modelVersion ?? "m.1",
    keys: { P0: KEY, P1: KEY },
    shares: { P0: env, P1: sealed },
    ...(o.upgrade ? { upgrade: { modelVersion: "m.2", shares: { P0: env, P1: env } } } : {}),
  });
const mac = "A".repeat(43);

test("shareRequest: template, model, sealed share, a device statement and a MAC", async () => {
  const s = await statement();
  const r = shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: sealed, statement: s, mac });
  assert.deepEqual({ ...r, sealed: [...r.sealed] }, { templateId: T, modelVersion: "m.1", sealed: [1, 2, 3], statement: s, mac });
  refused(() => shareRequest({ templateId: "12345678901234567", modelVersion: "m.1", sealedShare: sealed, statement: s, mac }), "templateId");
  refused(() => shareRequest({ templateId: T, modelVersion: "m 1", sealedShare: sealed, statement: s, mac }), "modelVersion");
  refused(() => shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: Buffer.alloc(MAX_SEALED_SHARE + 1).toString("base64url"), statement: s, mac }), "sealedShare");
  refused(() => shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: "", statement: s, mac }), "sealedShare");
  refused(() => shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: sealed, statement: { ...s, purpose: "pay" }, mac }), "statement.purpose");
  refused(() => shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: sealed, statement: { ...s, extra: 1 }, mac }), "statement.extra");
  refused(() => shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: sealed, statement: s, mac: "x" }), "mac");
});

test("upgradeRequest: another model version and its share", () => {
  const u = upgradeRequest({ modelVersion: "m.2", sealedShare: sealed }, "m.1");
  assert.deepEqual({ ...u, sealed: [...u.sealed] }, { modelVersion: "m.2", sealed: [1, 2, 3] });
  refused(() => upgradeRequest({ modelVersion: "m.1", sealedShare: sealed }, "m.1"), "upgrade.modelVersion");
  refused(() => upgradeRequest({ modelVersion: "m.2", sealedShare: sealed, context: {} }, "m.1"), "upgrade.context");
  refused(() => upgradeRequest("m.2", "m.1"), "upgrade");
});

test("checkStatement: purpose = operation, template, model, key, envelope digest; contexts built from the statement", async () => {
  const s = await statement();
  const base = { party: "P0" as const, op: "verify" as const, templateId: T, modelVersion: "m.1", sealed: env, keyIds: [KEY] };
  const ok = await checkStatement(s, base);
  assert.deepEqual(ok.ctx, { purpose: "verify", challenge: s.challenge, templateId: T, modelVersion: "m.1" });
  assert.deepEqual(ok.ctx, statementContext(s));
  const no = async (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: unknown) => e instanceof PartyError && e.code === "STATEMENT_INVALID" && re.test(e.message));
  await no(checkStatement(s, { ...base, op: "enrol" }), /made for verify, presented to enrol/);
  await no(checkStatement(await statement({ purpose: "enrol" }), base), /made for enrol/);
  await no(checkStatement(s, { ...base, templateId: "tpl_fedcba9876543210" }), /another template/);
  await no(checkStatement(s, { ...base, modelVersion: "m.2" }), /another model version/);
  await no(checkStatement(s, { ...base, keyIds: ["BBBBBBBBBBBBBBBB"] }), /key this party does not hold/);
  await no(checkStatement(s, { ...base, sealed: new Uint8Array([1, 2, 4]) }), /not the one the device made/);
  await no(checkStatement(s, { ...base, upgrade: { modelVersion: "m.2", sealed: env } }), /upgrade present/);
  const su = await statement({ upgrade: true });
  const up = await checkStatement(su, { ...base, upgrade: { modelVersion: "m.2", sealed: env } });
  assert.equal(up.upCtx?.modelVersion, "m.2");
  await no(checkStatement(su, { ...base, upgrade: { modelVersion: "m.3", sealed: env } }), /upgrade for another model/);
  await no(checkStatement(su, { ...base, upgrade: { modelVersion: "m.2", sealed: new Uint8Array([9]) } }), /upgrade envelope/);
  assert.equal(s.shares!.P1.digest, await envelopeDigest(env), "base64url and bytes give one digest");
});
