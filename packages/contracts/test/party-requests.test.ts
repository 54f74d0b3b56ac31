/** The Party API's shared body checks (`shareRequest`, `upgradeRequest`): used by the parties and by their fake twin. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_SEALED_SHARE, PartyError, shareRequest, upgradeRequest } from "../src/index.ts";

const T = "tpl_0123456789abcdef";
const ctx = (modelVersion: string, templateId = T) => ({ purpose: "verify", challenge: "q2F6q2F6q2F6q2F6", templateId, modelVersion });
const sealed = Buffer.from([1, 2, 3]).toString("base64url");
const refused = (f: () => unknown, field: string) =>
  assert.throws(f, (e: unknown) => e instanceof PartyError && e.code === "INVALID_INPUT" && e.message.startsWith(`${field}:`), field);

test("shareRequest: template, model, sealed share and a context naming the same template and model", () => {
  const r = shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: sealed, context: ctx("m.1") });
  assert.deepEqual({ ...r, sealed: [...r.sealed] }, { templateId: T, modelVersion: "m.1", sealed: [1, 2, 3], ctx: ctx("m.1") });
  refused(() => shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: sealed, context: ctx("m.2") }), "context");
  refused(() => shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: sealed, context: ctx("m.1", "tpl_fedcba9876543210") }), "context");
  refused(() => shareRequest({ templateId: "12345678901234567", modelVersion: "m.1", sealedShare: sealed, context: ctx("m.1") }), "templateId");
  refused(() => shareRequest({ templateId: T, modelVersion: "m 1", sealedShare: sealed, context: ctx("m 1") }), "modelVersion");
  refused(() => shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: Buffer.alloc(MAX_SEALED_SHARE + 1).toString("base64url"), context: ctx("m.1") }), "sealedShare");
  refused(() => shareRequest({ templateId: T, modelVersion: "m.1", sealedShare: "", context: ctx("m.1") }), "sealedShare");
});

test("upgradeRequest: another model version, its share, and a context naming the same template and the new version", () => {
  const u = upgradeRequest({ modelVersion: "m.2", sealedShare: sealed, context: ctx("m.2") }, T, "m.1");
  assert.deepEqual({ ...u, sealed: [...u.sealed] }, { modelVersion: "m.2", sealed: [1, 2, 3], ctx: ctx("m.2") });
  refused(() => upgradeRequest({ modelVersion: "m.1", sealedShare: sealed, context: ctx("m.1") }, T, "m.1"), "upgrade.modelVersion");
  refused(() => upgradeRequest({ modelVersion: "m.2", sealedShare: sealed, context: ctx("m.1") }, T, "m.1"), "upgrade.context");
  refused(() => upgradeRequest({ modelVersion: "m.2", sealedShare: sealed, context: ctx("m.2", "tpl_fedcba9876543210") }, T, "m.1"), "upgrade.context");
  refused(() => upgradeRequest({ modelVersion: "m.2", sealedShare: sealed, context: ctx("m.2"), extra: 1 }, T, "m.1"), "upgrade.extra");
  refused(() => upgradeRequest("m.2", T, "m.1"), "upgrade");
});
