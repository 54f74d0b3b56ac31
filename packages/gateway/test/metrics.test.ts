/**
 * The gateway's /metrics: only a "monitor" token reads it, that token reads nothing else, and the
 * figures count decisions and refusals without naming a person, device or template.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { enrol, giveConsent, randomEmbedding, registerWorld, setup, TOKENS, verify, type Fixture, type World } from "./_setup.ts";

const metric = (text: string, name: string, labels: string): number => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && labels.split(",").every((kv) => l.includes(kv)));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
};

describe("gateway metrics", () => {
  let f: Fixture;
  let w: World;
  before(async () => {
    f = await setup("metrics");
    w = await registerWorld(f, ["alice", "bob"]);
  });
  after(() => f.close());

  const scrape = async (token?: string) => f.inject("GET", "/metrics", undefined, token ? { authorization: `Bearer ${token}` } : {});

  test("only the monitor role reads /metrics: no token 401, admin/operator/auditor 403", async () => {
    assert.equal((await scrape()).status, 401);
    for (const role of ["admin", "operator", "auditor"] as const) {
      const r = await scrape(TOKENS[role]);
      assert.equal(r.status, 403, role);
      assert.equal(r.body.error.code, "FORBIDDEN_ROLE");
    }
    const r = await scrape(TOKENS.monitor);
    assert.equal(r.status, 200);
    assert.match(String(r.headers["content-type"]), /^text\/plain/);
  });

  test("a monitor token can do nothing else: every operator route refuses it", async () => {
    const routes = f.gw.app.routeList.filter((r) => r.includes("/v1/admin/"));
    assert.ok(routes.length > 5);
    for (const r of routes) {
      const [method, url] = r.split(" ");
      const res = await f.inject(method, url.replace(/:[A-Za-z]+/g, "x"), method === "GET" ? undefined : {}, { authorization: `Bearer ${TOKENS.monitor}`, "x-privface-reason": "monitoring" });
      assert.equal(res.status, 403, `${r}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  });

  test("decisions, refusals and latencies are counted, with no id in any label", async () => {
    const before = (await scrape(TOKENS.monitor)).body as string;
    for (const who of ["alice", "bob"]) assert.equal((await giveConsent(f, w, w.persons[who].personId)).status, 201);
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
    assert.equal((await verify(f, w, "alice")).body.decision, "accept");
    assert.equal((await verify(f, w, "alice", randomEmbedding(512, 99))).body.decision, "reject");
    const refused = await verify(f, w, "bob"); // not enrolled
    assert.equal(refused.status, 409);
    const text = (await scrape(TOKENS.monitor)).body as string;
    const delta = (name: string, labels: string) => metric(text, name, labels) - metric(before, name, labels);
    assert.equal(delta("privface_gateway_decisions_total", 'flow="enrol",decision="accept",reason="ENROLLED"'), 1);
    assert.equal(delta("privface_gateway_decisions_total", 'flow="verify",decision="accept",reason="MATCH"'), 1);
    assert.equal(delta("privface_gateway_decisions_total", 'flow="verify",decision="reject",reason="NO_MATCH"'), 1);
    assert.equal(delta("privface_gateway_errors_total", `code="${refused.body.error.code}"`), 1);
    assert.ok(delta("privface_gateway_request_duration_seconds_count", 'route="/v1/verifications",status="200"') >= 2);
    const ids = [w.merchantId, w.deviceId, ...Object.values(w.persons).flatMap((p) => [p.personId, p.idNumber, p.phone])];
    for (const id of ids) assert.ok(!text.includes(id), `metrics name ${id}`);
  });
});
