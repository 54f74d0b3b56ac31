/**
 * The served OpenAPI document (/openapi.json): valid against the OpenAPI 3.1 schema (validated with
 * @seriousme/openapi-schema-validator), lists every route the app serves, and every request/response
 * schema in it compiles with Ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020Module from "ajv/dist/2020.js";
import { setup, type Fixture } from "./_setup.ts";

let f: Fixture;
let doc: any;
before(async () => {
  f = await setup("openapi");
  const r = await f.inject("GET", "/openapi.json");
  assert.equal(r.status, 200);
  doc = r.body;
});
after(() => f.close());

test("the document is valid OpenAPI 3.1", async () => {
  assert.match(doc.openapi, /^3\.1\./);
  const v = new Validator();
  const res = await v.validate(structuredClone(doc));
  assert.equal(res.valid, true, JSON.stringify(res.errors, null, 1)?.slice(0, 2000));
});

test("every served route is documented, with responses", () => {
  const served = new Set(f.gw.app.routeList.filter((r) => r.includes(" /v1/")));
  assert.ok(served.size >= 15, `only ${served.size} routes parsed`);
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses?: object }>>)) {
    for (const [method, op] of Object.entries(ops)) {
      documented.add(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`);
      assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${path} has no responses`);
    }
  }
  for (const r of served) assert.ok(documented.has(r), `${r} is served but not in the OpenAPI document`);
  for (const must of ["POST /v1/challenges", "POST /v1/enrolments", "POST /v1/verifications", "POST /v1/deregistrations", "POST /v1/consents", "POST /v1/consents/withdrawals"]) {
    assert.ok(documented.has(must), must);
  }
});

test("every schema compiles, request bodies refuse unknown fields, nothing accepts an image", () => {
  const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as new (o: object) => { compile(s: object): unknown };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  let n = 0;
  const walk = (o: any) => {
    if (!o || typeof o !== "object") return;
    if (o.schema && typeof o.schema === "object") {
      ajv.compile(o.schema);
      n++;
    }
    for (const v of Object.values(o)) walk(v);
  };
  walk(doc.paths);
  assert.ok(n > 20, `only ${n} schemas`);
  const text = JSON.stringify(doc);
  assert.ok(!/image\/|"format":"binary"|multipart/.test(text));
  for (const [path, ops] of Object.entries(doc.paths as Record<string, any>)) {
    for (const [method, op] of Object.entries(ops as Record<string, any>)) {
      const s = op.requestBody?.content?.["application/json"]?.schema;
      if (s) assert.equal(s.additionalProperties, false, `${method} ${path} request body allows unknown fields`);
    }
  }
  // the decision response has no score
  const verify = doc.paths["/v1/verifications"].post.responses["200"].content["application/json"].schema;
  assert.deepEqual(Object.keys(verify.properties).sort(), ["decision", "reason", "requestId", "upgraded"]);
});

test("docs/api.md lists exactly the error catalogue, with the same statuses", async () => {
  const { readFileSync } = await import("node:fs");
  const { ERROR_CATALOGUE } = await import("../src/errors.ts");
  const md = readFileSync(new URL("../../../docs/api.md", import.meta.url), "utf8");
  const section = md.slice(md.indexOf("## Error catalogue"));
  const rows = new Map([...section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_CATALOGUE).sort());
  for (const [code, [status]] of Object.entries(ERROR_CATALOGUE)) assert.equal(rows.get(code), status, code);
});
