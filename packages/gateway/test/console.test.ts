/**
 * The operator console's server side (issue 14): sessions (idle and absolute expiry, HttpOnly Secure
 * SameSite=Strict cookie, CSRF header), roles enforced on the server (R27), dual control of a person's
 * unlock, masked person lists against the daily quota (R26: QUOTA_EXCEEDED, 100 rows per view), the
 * auditor's audit view and the dashboard from /metrics (the pages themselves are a web mount: web.test.ts).
 * Attacks first.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AUDIT_TABLE } from "@privface/audit";
import { enrol, giveConsent, PEOPLE, randomEmbedding, registerWorld, setup, TOKEN_EXPIRY, TOKENS, unlockPerson, verify, type Fixture, type World } from "./_setup.ts";
import { histogramQuantile, parsePrometheus } from "../src/_console.ts";

const IDS = { admin: "ada", operator: "oscar", operator2: "olga", auditor: "aud", monitor: "prom" } as const;
type Who = keyof typeof IDS;

describe("operator console: sessions, roles, dual control, quotas", () => {
  let f: Fixture;
  let w: World;
  let skew = 0;
  before(async () => {
    f = await setup("console", { now: () => Date.now() + skew, personLockAfter: 2, console: { sessions: { idleMs: 15 * 60_000, maxMs: 60 * 60_000 } } });
    w = await registerWorld(f, ["alice"]);
    assert.equal((await giveConsent(f, w, w.persons.alice.personId)).status, 201);
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
  });
  after(async () => {
    await f.close();
  });

  /** Signs in; answers the cookie header to send and the CSRF token. */
  async function signIn(who: Who): Promise<{ cookie: string; csrf: string; setCookie: string }> {
    const r = await f.inject("POST", "/v1/console/sessions", { operatorId: IDS[who], token: TOKENS[who] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const setCookie = String(r.headers["set-cookie"]);
    return { cookie: setCookie.split(";")[0], csrf: r.body.csrfToken, setCookie };
  }
  const as = (s: { cookie: string; csrf: string }, method: string, url: string, reason?: string, body?: unknown) =>
    f.inject(method, url, body, { cookie: s.cookie, "x-privface-csrf": s.csrf, ...(reason ? { "x-privface-reason": reason } : {}) });
  async function lock(): Promise<void> {
    for (let i = 0; i < 2; i++) await verify(f, w, "alice", randomEmbedding(512, 9000 + i + skew));
    assert.ok((await f.gw.service.store.getPerson(w.persons.alice.personId))!.locked_at !== null, "alice is locked");
  }

  test("attack: an auditor's session cannot perform operator or admin actions (FORBIDDEN_ROLE)", async () => {
    const aud = await signIn("auditor");
    const pid = w.persons.alice.personId;
    for (const [method, url] of [
      ["POST", `/v1/admin/persons/${pid}/unlock`],
      ["POST", "/v1/admin/approvals/apr_0123456789abcdef/approve"],
      ["GET", "/v1/admin/approvals"],
      ["POST", `/v1/admin/devices/${w.deviceId}/approve`],
      ["POST", "/v1/admin/merchants"],
    ] as const) {
      const r = await as(aud, method, url, "looking around", method === "POST" && url.endsWith("merchants") ? { name: "x" } : undefined);
      assert.equal(r.body?.error?.code, "FORBIDDEN_ROLE", `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    // and an operator cannot read the auditor's view
    const op = await signIn("operator");
    assert.equal((await as(op, "GET", "/v1/admin/audit")).body.error.code, "FORBIDDEN_ROLE");
    // a metrics scraper's credential cannot open a console session
    const r = await f.inject("POST", "/v1/console/sessions", { operatorId: IDS.monitor, token: TOKENS.monitor });
    assert.equal(r.body.error.code, "FORBIDDEN_ROLE");
  });

  test("attack: an operator cannot approve their own unlock (SAME_APPROVER); the person stays locked", async () => {
    await lock();
    const op = await signIn("operator");
    const req = await as(op, "POST", `/v1/admin/persons/${w.persons.alice.personId}/unlock`, "customer called");
    assert.equal(req.status, 202, JSON.stringify(req.body));
    assert.equal(req.body.status, "pending");
    // nothing happened yet
    assert.ok((await f.gw.service.store.getPerson(w.persons.alice.personId))!.locked_at !== null);
    assert.equal((await verify(f, w, "alice")).body?.error?.code, "PERSON_LOCKED");
    const self = await as(op, "POST", `/v1/admin/approvals/${req.body.approvalId}/approve`, "approving myself");
    assert.equal(self.body.error.code, "SAME_APPROVER");
    assert.ok((await f.gw.service.store.getPerson(w.persons.alice.personId))!.locked_at !== null, "still locked");
    // the same with a bearer token: dual control is the server's, not the console's
    const bearer = await f.admin("POST", `/v1/admin/approvals/${req.body.approvalId}/approve`, undefined, "operator", "approving myself");
    assert.equal(bearer.body.error.code, "SAME_APPROVER");
    // an admin cannot approve the device they registered either
    const adm = await signIn("admin");
    const key = (n: number) => Buffer.alloc(32, n).toString("base64url");
    const dev = await as(adm, "POST", `/v1/admin/merchants/${w.merchantId}/devices`, undefined, { suite: "INTL", publicKey: key(7), authKey: key(8) });
    assert.equal(dev.status, 201, JSON.stringify(dev.body));
    assert.equal((await as(adm, "POST", `/v1/admin/devices/${dev.body.deviceId}/approve`)).body.error.code, "SAME_APPROVER");

    // the second, different operator: approved, unlocked, once
    const pending = await as(op, "GET", "/v1/admin/approvals");
    assert.deepEqual(pending.body.approvals.map((a: { approvalId: string }) => a.approvalId), [req.body.approvalId]);
    assert.ok(pending.body.devices.some((d: { deviceId: string }) => d.deviceId === dev.body.deviceId));
    const olga = await signIn("operator2");
    const ok = await as(olga, "POST", `/v1/admin/approvals/${req.body.approvalId}/approve`, "customer identity checked");
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual([ok.body.status, ok.body.requestedBy, ok.body.approvedBy], ["approved", IDS.operator, IDS.operator2]);
    assert.equal((await f.gw.service.store.getPerson(w.persons.alice.personId))!.locked_at, null);
    assert.equal((await as(olga, "POST", `/v1/admin/approvals/${req.body.approvalId}/approve`, "again")).body.error.code, "NOT_PENDING");
    assert.equal((await as(op, "GET", "/v1/admin/approvals")).body.approvals.length, 0);
  });

  test("a device's still-image flag is a critical action: an admin requests it with a reason, only another operator makes it; an operator cannot request it; audited", async () => {
    const adm = await signIn("admin");
    const op = await signIn("operator");
    const flag = async () => (await f.gw.service.store.getDevice(w.deviceId))!.still_image === true;
    const before = await flag();
    assert.equal((await as(op, "POST", `/v1/admin/devices/${w.deviceId}/still-image`, "x", { stillImage: !before })).body.error.code, "FORBIDDEN_ROLE");
    assert.equal((await as(adm, "POST", `/v1/admin/devices/${w.deviceId}/still-image`, undefined, { stillImage: !before })).body.error.code, "REASON_REQUIRED");
    assert.equal((await as(adm, "POST", "/v1/admin/devices/dev_0123456789abcdef/still-image", "typo", { stillImage: true })).body.error.code, "DEVICE_UNKNOWN");
    const req = await as(adm, "POST", `/v1/admin/devices/${w.deviceId}/still-image`, "the demo till photographs", { stillImage: !before });
    assert.equal(req.status, 202, JSON.stringify(req.body));
    assert.equal(req.body.action, before ? "device.still-image.off" : "device.still-image.on");
    assert.equal(await flag(), before, "nothing changed yet");
    assert.equal((await as(adm, "POST", `/v1/admin/approvals/${req.body.approvalId}/approve`, "me")).body.error.code, "FORBIDDEN_ROLE", "the requester cannot approve");
    const ok = await as(op, "POST", `/v1/admin/approvals/${req.body.approvalId}/approve`, "checked with the shop");
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(await flag(), !before);
    assert.equal((await as(op, "POST", `/v1/admin/approvals/${req.body.approvalId}/approve`, "again")).body.error.code, "NOT_PENDING");
    const log = await f.gw.service.store.exec.read((tx) => tx.all<{ op: string; requester: string }>(`SELECT op, requester FROM ${AUDIT_TABLE} WHERE op LIKE 'device.still-image%' ORDER BY seq`, []));
    const kind = before ? "device.still-image.off" : "device.still-image.on";
    assert.deepEqual(log.map((r) => [r.op, r.requester]), [[`${kind}.request`, `operator:${IDS.admin}`], [`${kind}.approve`, `operator:${IDS.operator}`]]);
    // and back, the same way
    const back = await as(adm, "POST", `/v1/admin/devices/${w.deviceId}/still-image`, "demo over", { stillImage: before });
    assert.equal((await as(op, "POST", `/v1/admin/approvals/${back.body.approvalId}/approve`, "demo till returned")).status, 200);
    assert.equal(await flag(), before);
  });

  test("attack: a request with the session cookie but without the CSRF header, or another session's, is CSRF_FAILED", async () => {
    const op = await signIn("operator");
    const other = await signIn("operator2");
    for (const headers of [{ cookie: op.cookie } as Record<string, string>, { cookie: op.cookie, "x-privface-csrf": other.csrf }, { cookie: op.cookie, "x-privface-csrf": "" }]) {
      const r = await f.inject("POST", `/v1/admin/persons/${w.persons.alice.personId}/unlock`, undefined, { ...headers, "x-privface-reason": "forged" });
      assert.equal(r.body?.error?.code, "CSRF_FAILED", JSON.stringify(headers));
      const g = await f.inject("GET", "/v1/admin/persons", undefined, { ...headers, "x-privface-reason": "forged" });
      assert.equal(g.body?.error?.code, "CSRF_FAILED");
    }
    assert.equal((await f.gw.service.pending()).approvals.length, 0, "nothing was requested");
    // the cookie is HttpOnly, Secure, SameSite=Strict, for the whole origin
    assert.match(op.setCookie, /^privface_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict; Max-Age=\d+$/);
    // login CSRF: another site's form can post neither JSON nor (SameSite) the cookie; a form body is refused
    for (const type of ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]) {
      const r = await f.gw.app.inject({ method: "POST", url: "/v1/console/sessions", payload: `operatorId=${IDS.operator}&token=${TOKENS.operator}`, headers: { "content-type": type } });
      assert.equal(r.statusCode, 415, type);
    }
    // a wrong credential, or a right credential under another id: one answer
    assert.equal((await f.inject("POST", "/v1/console/sessions", { operatorId: IDS.operator, token: "wrong-token-0123456789" })).body.error.code, "UNAUTHENTICATED");
    assert.equal((await f.inject("POST", "/v1/console/sessions", { operatorId: IDS.operator2, token: TOKENS.operator })).body.error.code, "UNAUTHENTICATED");
  });

  test("attack: an expired session is refused (idle 15 min, absolute 1 h here), and a signed-out one", async () => {
    const idle = await signIn("operator");
    skew += 14 * 60_000;
    assert.equal((await as(idle, "GET", "/v1/console/session")).status, 200, "used within the idle time");
    skew += 14 * 60_000;
    assert.equal((await as(idle, "GET", "/v1/console/session")).status, 200, "the last use restarted the idle time");
    skew += 15 * 60_000 + 1;
    assert.equal((await as(idle, "GET", "/v1/console/session")).body.error.code, "SESSION_EXPIRED");
    assert.equal((await as(idle, "GET", "/v1/console/session")).body.error.code, "UNAUTHENTICATED", "and forgotten");

    const busy = await signIn("operator");
    for (let i = 0; i < 4; i++) {
      skew += 14 * 60_000;
      assert.equal((await as(busy, "GET", "/v1/admin/approvals")).status, 200);
    }
    // 70 min after sign-in, used every 14 min: the absolute expiry ends it
    skew += 14 * 60_000;
    assert.equal((await as(busy, "GET", "/v1/admin/approvals")).body.error.code, "SESSION_EXPIRED");

    const out = await signIn("auditor");
    assert.equal((await as(out, "DELETE", "/v1/console/session")).status, 200);
    assert.equal((await as(out, "GET", "/v1/admin/dashboard")).body.error.code, "UNAUTHENTICATED");
  });

  test("at most 5 live sessions per operator: a sixth sign-in closes the oldest", async () => {
    const s = [];
    for (let i = 0; i < 6; i++) s.push(await signIn("operator2"));
    assert.equal((await as(s[0], "GET", "/v1/console/session")).body.error.code, "UNAUTHENTICATED");
    for (const live of s.slice(1)) assert.equal((await as(live, "GET", "/v1/console/session")).status, 200);
  });

  test("a session never outlives the operator credential", async () => {
    skew = TOKEN_EXPIRY - Date.now() - 60_000;
    const s = await signIn("operator");
    const v = await as(s, "GET", "/v1/console/session");
    assert.ok(v.body.expiresAt <= TOKEN_EXPIRY);
    skew += 60_001;
    assert.equal((await as(s, "GET", "/v1/admin/approvals")).body.error.code, "SESSION_EXPIRED");
    assert.equal((await f.inject("POST", "/v1/console/sessions", { operatorId: IDS.operator, token: TOKENS.operator })).body.error.code, "TOKEN_EXPIRED");
    skew = 0;
  });

  test("persons: masked, with a reason recorded, at most 100 rows per view and 100 records a day (QUOTA_EXCEEDED)", async () => {
    // 101 persons in all (alice and 100 more)
    for (let i = 0; i < 100; i++) {
      const r = await f.admin("POST", `/v1/admin/merchants/${w.merchantId}/persons`, { role: "cashier", name: `测试${i}号`, idNumber: `11010119900307${String(1000 + i)}`, phone: `1380000${String(1000 + i)}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const aud = await signIn("auditor");
    assert.equal((await as(aud, "GET", "/v1/admin/persons")).body.error.code, "REASON_REQUIRED");
    assert.equal((await as(aud, "GET", "/v1/admin/persons?limit=101", "audit sample")).body.error.code, "INVALID_INPUT");
    // a reason in Chinese travels percent-encoded (headers are Latin-1) and is recorded decoded
    const page = await as(aud, "GET", `/v1/admin/persons?merchantId=${w.merchantId}`, encodeURIComponent("季度审计抽查"));
    assert.equal(page.status, 200, JSON.stringify(page.body));
    assert.equal(page.body.persons.length, 100, "100 rows per view, though 101 exist");
    const text = JSON.stringify(page.body);
    assert.ok(!text.includes(PEOPLE.alice.idNumber) && !text.includes(PEOPLE.alice.phone) && !text.includes("11010119900307"), "nothing unmasked");
    for (const p of page.body.persons) {
      assert.match(p.idNumber, /^\d{6}\*{8}[\dX]{4}$/);
      assert.match(p.phone, /^\d{3}\*{4}\d{4}$/);
      assert.ok(["none", "given", "withdrawn"].includes(p.consent) && typeof p.enrolled === "boolean");
    }
    // the 100 rows used the auditor's whole day: one more record, by list or by single view, is refused
    assert.equal((await as(aud, "GET", "/v1/admin/persons?limit=1", "one more")).body.error.code, "QUOTA_EXCEEDED");
    const one = await as(aud, "GET", `/v1/admin/persons/${w.persons.alice.personId}`, "one more");
    assert.equal(one.status, 429);
    assert.equal(one.body.error.code, "QUOTA_EXCEEDED");
    // another operator's quota is their own; a page larger than what is left is refused whole
    const op = await signIn("operator");
    const a = await as(op, "GET", "/v1/admin/persons?limit=60", "sample a");
    assert.equal(a.body.persons?.length, 60, JSON.stringify(a.body));
    assert.equal((await as(op, "GET", "/v1/admin/persons?limit=60", "sample b")).body.error.code, "QUOTA_EXCEEDED");
    assert.equal((await as(op, "GET", "/v1/admin/persons?limit=40", "sample c")).body.persons.length, 40);
    // each query is recorded with operator and reason
    const q = await f.gw.service.store.exec.read((tx) => tx.all<{ operator_id: string; reason: string }>("SELECT operator_id, reason FROM operator_queries WHERE action = 'person.list' ORDER BY at", []));
    assert.deepEqual(
      q.map((r) => [r.operator_id, r.reason]),
      [
        [IDS.auditor, "季度审计抽查"],
        [IDS.operator, "sample a"],
        [IDS.operator, "sample c"],
      ],
    );
    // the lists without personal data need no reason and take no quota; 100 rows at most
    assert.equal((await as(op, "GET", "/v1/admin/merchants")).body.merchants.length, 1);
    assert.ok((await as(op, "GET", `/v1/admin/devices?merchantId=${w.merchantId}`)).body.devices.length >= 1);
  });

  test("the auditor's view: the gateway chain verifies, newest records first, the parties' own checks", async () => {
    const aud = await signIn("auditor");
    const r = await as(aud, "GET", "/v1/admin/audit");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.gateway.ok, true);
    assert.ok(r.body.gateway.records > 10);
    assert.equal(r.body.gateway.recent.length, 50);
    assert.deepEqual([r.body.gateway.recent[0].actor, r.body.gateway.recent[0].op], [`operator:${IDS.auditor}`, "console.sign-in"]);
    assert.ok(r.body.gateway.recent[0].seq > r.body.gateway.recent[1].seq);
    // the fake parties' metrics are empty: reachable, nothing reported; a party down is unreachable
    assert.deepEqual(r.body.parties.P0, { reachable: true });
    f.fake.down.add("P1");
    try {
      assert.deepEqual((await as(aud, "GET", "/v1/admin/audit")).body.parties.P1, { reachable: false });
    } finally {
      f.fake.down.delete("P1");
    }
  });

  test("the dashboard: decisions, errors and verification latency from the gateway's metrics", async () => {
    assert.equal((await unlockPerson(f, w.persons.alice.personId)).status, 200);
    const before = (await as(await signIn("admin"), "GET", "/v1/admin/dashboard")).body;
    assert.equal((await verify(f, w, "alice")).body.decision, "accept");
    assert.equal((await verify(f, w, "alice", randomEmbedding(512, 4242))).body.decision, "reject");
    const adm = await signIn("admin");
    const d = (await as(adm, "GET", "/v1/admin/dashboard")).body;
    assert.equal(d.decisions.verify.accept - (before.decisions.verify?.accept ?? 0), 1);
    assert.equal(d.decisions.verify.reject - (before.decisions.verify?.reject ?? 0), 1);
    assert.equal(d.decisions.enrol.accept, 1);
    assert.ok(d.latencyMs.count >= before.latencyMs.count + 2);
    assert.ok(d.latencyMs.p50 > 0 && d.latencyMs.p99 >= d.latencyMs.p50);
    assert.ok(d.errors.FORBIDDEN_ROLE >= 1 && d.errors.QUOTA_EXCEEDED >= 1, JSON.stringify(d.errors));
  });
});

test("histogram quantiles and the Prometheus text parser", () => {
  const b = [
    { le: 0.01, count: 50 },
    { le: 0.1, count: 95 },
    { le: 1, count: 100 },
    { le: Infinity, count: 100 },
  ];
  assert.deepEqual([histogramQuantile(b, 0.5), histogramQuantile(b, 0.95), histogramQuantile(b, 0.99)], [0.01, 0.1, 1]);
  assert.equal(histogramQuantile([{ le: Infinity, count: 0 }], 0.5), null);
  assert.equal(histogramQuantile([{ le: 0.5, count: 1 }, { le: Infinity, count: 3 }], 0.9), 0.5);
  const s = parsePrometheus('# HELP x y\nx_total{code="A",route="/v1/x"} 3\nx_bucket{le="+Inf"} 7\nbad line\n');
  assert.deepEqual(s, [
    { name: "x_total", labels: { code: "A", route: "/v1/x" }, value: 3 },
    { name: "x_bucket", labels: { le: "+Inf" }, value: 7 },
  ]);
});

test("attack: a request in flight while its operator signs out touches the session's last use after the sign-out; the session stays signed out", async () => {
  const { Sessions } = await import("../src/_sessions.ts");
  const { memoryState } = await import("../src/shared-state.ts");
  const { createHash } = await import("node:crypto");
  let t = 1_000_000;
  const sessions = new Sessions(() => t, memoryState(() => t));
  const { sid, out } = await sessions.open({ id: "oscar", role: "operator" }, t + 86_400_000);
  t += 5000;
  assert.equal((await sessions.authenticate(sid, out.csrfToken)).id, "oscar");
  await sessions.close(sid);
  // the in-flight request's touch lands now (what authenticate does after its read)
  await (sessions as unknown as { seen(h: string, at: number): Promise<void> }).seen(createHash("sha256").update(sid).digest("base64url"), t);
  await assert.rejects(sessions.authenticate(sid, out.csrfToken), (e: { code?: string }) => e.code === "UNAUTHENTICATED");
});
