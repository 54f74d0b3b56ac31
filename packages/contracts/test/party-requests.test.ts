/** The Party API's shared body checks (`shareRequest`, `upgradeRequest`, `checkStatement`): used by the parties and by their fake twin. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkStatement, envelopeDigest, faceStatement, MAX_SEALED_SHARE, MODEL, PartyError, shareRequest, statementContext, upgradeRequest } from "../src/index.ts";

const T = "tpl_0123456789abcdef";
const KEY = "AAAAAAAAAAAAAAAA";
const env = new Uint8Array([1, 2, 3]);
const sealed = Buffer.from(env).toString("base64url");
const refused = (f: () => unknown, field: string) =>
  assert.throws(f, (e: unknown) => e instanceof PartyError && e.code === "INVALID_INPUT" && e.message.startsWith(`${field}:`), field);
const statement = (o: { purpose?: "enrol" | "verify"; modelVersion?: string; upgrade?: boolean; liveness?: Record<string, unknown> } = {}) =>
  faceStatement({
    purpose: o.purpose ?? "verify",
    deviceId: "dev1",
    challenge: "q2F6q2F6q2F6q2F6",
    templateId: T,
    modelVersion: o.modelVersion ?? "m.1",
    keys: { P0: KEY, P1: KEY },
    shares: { P0: env, P1: sealed },
    ...(o.upgrade ? { upgrade: { modelVersion: "m.2", shares: { P0: env, P1: env } } } : {}),
    liveness: o.liveness ?? { score: 0.97 },
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

test("checkStatement: the device's liveness evidence — a score at or above the model's threshold; actions well formed, one evidence step each, in order (issue 17)", async () => {
  const base = { party: "P1" as const, op: "verify" as const, templateId: T, modelVersion: "m.1", sealed: env, keyIds: [KEY] };
  const steps = [
    { action: "turn-left", from: 4, peak: 5, value: 0.41 },
    { action: "blink", from: 9, peak: 10, value: 0.52 },
  ];
  await checkStatement(await statement({ liveness: { score: 0.97, actions: ["turn-left", "blink"], steps } }), base);
  await checkStatement(await statement({ liveness: { score: MODEL.livenessThreshold } }), base);
  const no = async (liveness: Record<string, unknown> | undefined, re: RegExp) =>
    assert.rejects(checkStatement({ ...(await statement()), liveness }, base), (e: unknown) => e instanceof PartyError && e.code === "STATEMENT_INVALID" && re.test(e.message));
  // attack: a gateway that admits what the device itself reported as a spoof, or a statement without the evidence
  await no({ score: MODEL.livenessThreshold - 0.01 }, /liveness score below/);
  await no(undefined, /no liveness/);
  await no({ score: "0.9" }, /liveness score/);
  // attack: evidence that does not follow the actions it names
  await no({ score: 0.97, actions: ["turn-left", "blink"], steps: [steps[1], steps[0]] }, /evidence/);
  await no({ score: 0.97, actions: ["turn-left", "blink"], steps: [steps[0]] }, /evidence/);
  await no({ score: 0.97, actions: ["turn-left", "blink"] }, /evidence/);
  await no({ score: 0.97, steps }, /evidence without actions/);
  await no({ score: 0.97, actions: ["turn-left", "turn-left"], steps: [steps[0], { ...steps[0], from: 9, peak: 10 }] }, /actions/);
  await no({ score: 0.97, actions: ["turn-left", "blink"], steps: [steps[0], { ...steps[1], from: 3, peak: 3 }] }, /evidence/);
  await no({ score: 0.97, actions: ["wink"], steps: [{ ...steps[0], action: "wink" }] }, /actions/);
});
