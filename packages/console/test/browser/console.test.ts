/**
 * The operator console in headless Chromium (Debian's /usr/bin/chromium, playwright-core) against a
 * real gateway on an ephemeral loopback port (in-memory SQLite, the devstack's fake parties, which
 * the party API contract suite pins), serving the console built by `buildConsole`. Each operator has
 * a browser context of their own (their own cookie jar). What the page shows is what the server
 * decided: role separation, dual control, the daily quota's refusal and masking are asserted in the
 * page's text. A screenshot of each page goes to docs/screenshots/console-*.png.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { createAuditLog } from "@privface/audit";
import { createLogger } from "@privface/config";
import { generateDataKey, generateSealKeyPair, generateSigningKeyPair, softwareSigner, toBase64url } from "@privface/crypto";
import { openDb } from "@privface/db";
import { createFakeParties, scenarioWorld, type FakeParties, type ScenarioGateway, type ScenarioPerson, type ScenarioWorld } from "@privface/devstack";
import { auditSink, createGateway, type Gateway } from "@privface/gateway";
import { buildConsole } from "../../src/build.ts";

const shots = fileURLToPath(new URL("../../../../docs/screenshots/", import.meta.url));
const EXPIRY = Date.now() + 86_400_000;
const OPS = {
  ada: { role: "admin", token: "ada-console-token-0123456789" },
  oscar: { role: "operator", token: "oscar-console-token-0123456789" },
  olga: { role: "operator", token: "olga-console-token-0123456789" },
  aud: { role: "auditor", token: "aud-console-token-0123456789" },
} as const;
type Who = keyof typeof OPS;
const ALICE = { role: "principal", name: "王小明", idNumber: "110101199003071234", phone: "13800138000" } as const;

let dir: string;
/** the gateway's clock runs `skew` ms ahead (the session expiry test moves it) */
let skew = 0;
let gw: Gateway;
let url: string;
let browser: Browser;
let merchantId: string;
let aliceId: string;
const contexts: BrowserContext[] = [];
/** two enrolled persons of a scenario world: real device traffic (sealed shares, signatures) for the dashboard */
let tills: ScenarioPerson[] = [];
let world: ScenarioWorld;
let fake: FakeParties;

async function inject(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await gw.app.inject({ method: method as "POST", url: path, headers, ...(body !== undefined ? { payload: body as object } : {}) });
  return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
}
/** `n` verifications, every third one an impostor's (rejected) */
async function traffic(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const o = await tills[i % 2].step({ do: "verify", face: i % 3 === 2 ? "impostor" : "genuine" });
    assert.equal(o.status, 200, JSON.stringify(o.body));
  }
}

async function bearer(method: string, path: string, who: Who, body?: unknown): Promise<any> {
  const r = await gw.app.inject({ method: method as "POST", url: path, headers: { authorization: `Bearer ${OPS[who].token}` }, ...(body ? { payload: body as object } : {}) });
  assert.ok(r.statusCode < 300, `${method} ${path}: ${r.statusCode} ${r.body}`);
  return JSON.parse(r.body);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "privface-console-browser-"));
  mkdirSync(shots, { recursive: true });
  const site = await buildConsole(join(dir, "site"));
  const keys = { P0: await generateSealKeyPair("INTL"), P1: await generateSealKeyPair("INTL") };
  const gatewayKey = await generateSigningKeyPair("INTL");
  // the fake parties' dedup gallery holds the gateway's model: ENROL_DEDUP=hold below
  fake = createFakeParties({ keys, gatewayKey: { suite: gatewayKey.suite, publicKey: gatewayKey.publicKey }, gallery: "test-model.1" });
  const db = await openDb("sqlite::memory:");
  gw = await createGateway({
    db,
    audit: auditSink(await createAuditLog(db, { role: "gateway", signingKey: await generateSigningKeyPair("INTL") })),
    parties: fake.clients,
    partyKeys: { P0: { suite: "INTL", publicKey: toBase64url(keys.P0.publicKey) }, P1: { suite: "INTL", publicKey: toBase64url(keys.P1.publicKey) } },
    signer: softwareSigner(gatewayKey),
    dataKeys: [generateDataKey("INTL", "console-test")],
    indexKey: generateDataKey("INTL", "console-test-index").key,
    modelVersion: "test-model.1",
    operators: Object.entries(OPS).map(([id, o]) => ({ id, role: o.role, token: o.token, expiresAt: EXPIRY })),
    logger: createLogger({ name: "gateway", level: "warn", destination: { write: () => {} } }),
    recheckIntervalMs: 0,
    enrolDedup: "hold",
    now: () => Date.now() + skew,
    web: [{ prefix: "/console/", dir: site }],
  });
  await gw.app.listen({ host: "127.0.0.1", port: 0 });
  // "localhost": a secure context, where Chromium keeps a Secure cookie over plain HTTP
  url = `http://localhost:${(gw.app.server.address() as { port: number }).port}`;

  // the registry: one merchant with a device (registered, approved) and 101 persons; alice (the newest) locked, enrolled
  merchantId = (await bearer("POST", "/v1/admin/merchants", "ada", { name: "示例便利店" })).merchantId;
  const dev = await bearer("POST", `/v1/admin/merchants/${merchantId}/devices`, "ada", { suite: "INTL", publicKey: Buffer.alloc(32, 1).toString("base64url"), authKey: Buffer.alloc(32, 2).toString("base64url"), label: "收银台 1" });
  await bearer("POST", `/v1/admin/devices/${dev.deviceId}/approve`, "oscar");
  for (let i = 0; i < 100; i++) {
    await bearer("POST", `/v1/admin/merchants/${merchantId}/persons`, "ada", { role: "cashier", name: `收银员${i}`, idNumber: `44030319921212${String(1000 + i)}`, phone: `1390000${String(1000 + i)}` });
  }
  // the newest: the lists show the newest 100 of the 101
  aliceId = (await bearer("POST", `/v1/admin/merchants/${merchantId}/persons`, "ada", ALICE)).personId;
  const store = gw.service.store;
  await store.setTemplate(aliceId, "tpl_console_alice", "test-model.1");
  await store.recordFailure(aliceId, dev.deviceId, Date.now(), { personLockAfter: 1, deviceLockAfter: 100, personDailyFailures: 10, deviceDailyFailures: 100 });

  const sg: ScenarioGateway = {
    call: (m, p, b) => inject(m, p, b),
    admin: (m, p, b) => inject(m, p, b, { authorization: `Bearer ${OPS.ada.token}` }),
    approver: (m, p, b) => inject(m, p, b, { authorization: `Bearer ${OPS.oscar.token}` }),
    operator: (p, reason) => inject("GET", p, undefined, { authorization: `Bearer ${OPS.oscar.token}`, "x-privface-reason": reason }),
    modelVersion: () => gw.service.modelVersion,
    deployModel: () => {
      throw new Error("not used here");
    },
    roots: await fake.roots(),
  };
  world = await scenarioWorld(sg);
  tills = [await world.person(), await world.person()];
  for (const p of tills) {
    assert.equal((await p.step({ do: "consent" })).status, 201);
    assert.equal((await p.step({ do: "enrol", face: "genuine" })).decision, "accept");
  }
  await traffic(6);

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await gw?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fresh browser profile for one operator, signed in through the form. */
async function signedIn(who: Who, hash = ""): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "zh-CN" });
  contexts.push(ctx);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${url}/console/${hash}`);
  await page.fill("#op-id", who);
  await page.fill("#op-token", OPS[who].token);
  await page.click("#sign-in button[type=submit]");
  await page.waitForSelector("#me");
  assert.deepEqual(errors, []);
  return page;
}
const shot = (page: Page, name: string) => page.screenshot({ path: join(shots, `console-${name}.png`), fullPage: true });
const alertText = async (page: Page) => (await page.waitForSelector("#alert:not(:empty)")).textContent();
async function go(page: Page, view: string): Promise<void> {
  await page.click(`nav a[href="#${view}"]`);
  await page.waitForSelector(`#view-${view}`);
}

describe("operator console in Chromium", { timeout: 120_000 }, () => {
  it("signs in with the keyboard only; the session is an HttpOnly SameSite=Strict cookie, not a token in the page", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(ctx);
    const page = await ctx.newPage();
    await page.goto(`${url}/console/`);
    await page.waitForSelector("#sign-in");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "op-id", "the operator id field has the focus");
    assert.equal(await page.textContent("h1"), "privface 运营控制台", "Simplified Chinese first");
    await shot(page, "sign-in");
    await page.keyboard.type("ada");
    await page.keyboard.press("Tab");
    await page.keyboard.type(OPS.ada.token);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#view-dashboard .cards");
    assert.match((await page.textContent("#me"))!, /ada · 管理员/);
    const [cookie] = await ctx.cookies();
    assert.deepEqual([cookie.name, cookie.httpOnly, cookie.secure, cookie.sameSite], ["privface_console", true, true, "Strict"]);
    assert.equal(await page.evaluate(() => document.cookie), "", "no script can read the session");
    // the menu by keyboard: Tab to a link, Enter follows it
    await page.focus('nav a[href="#merchants"]');
    await page.keyboard.press("Enter");
    await page.waitForSelector("#view-merchants table");
    assert.match((await page.textContent("#view-merchants"))!, /示例便利店/);
    await shot(page, "merchants");
  });

  it("dashboard: verifications per minute, accept/reject rates and latency, from the gateway's metrics", async () => {
    const page = await signedIn("ada");
    await page.waitForSelector("#view-dashboard .cards");
    // verifications while the page watches: the next sample shows a rate above zero
    await traffic(9);
    await page.waitForFunction(() => Number(document.querySelector(".card .value")?.textContent) > 0, undefined, { timeout: 10_000 });
    const text = (await page.textContent("#view-dashboard"))!;
    for (const s of ["每分钟验证次数", "通过率", "拒绝率", "被拒请求", "验证延迟", "P0", "P1"]) assert.ok(text.includes(s), s);
    // 15 verifications: 10 accepted, 5 rejected (every third an impostor)
    assert.match(text, /通过率66\.7%启动以来：通过 10，拒绝 5/);
    assert.match(text, /拒绝率33\.3%/);
    assert.match(text, /p50 \d+(\.\d)? · p95 \d+(\.\d)? · p99 \d+(\.\d)?n = 15/);
    await shot(page, "dashboard");
    await page.click("#lang");
    await page.waitForSelector("#view-dashboard .cards");
    assert.match((await page.textContent("#view-dashboard"))!, /Verifications per minute/);
    assert.equal(await page.textContent("h1"), "privface operator console");
    await shot(page, "dashboard-en");
    await page.click("#lang");
  });

  it("role separation: an auditor has no approvals and is refused them by the server; an admin sees no persons", async () => {
    const aud = await signedIn("aud");
    const menu = await aud.$$eval("nav a", (as) => as.map((a) => a.getAttribute("href")));
    assert.deepEqual(menu, ["#dashboard", "#merchants", "#persons", "#devices", "#holds", "#audit"]);
    await aud.goto(`${url}/console/#approvals`);
    assert.match((await alertText(aud))!, /您的角色无权执行此操作。 \(FORBIDDEN_ROLE\)/);
    const ada = await signedIn("ada");
    assert.ok(!(await ada.$('nav a[href="#persons"]')));
    await ada.goto(`${url}/console/#persons`);
    await ada.waitForSelector("#persons-query");
    await ada.fill("#reason", "看看人员");
    await ada.click("#persons-query button[type=submit]");
    assert.match((await alertText(ada))!, /FORBIDDEN_ROLE/);
  });

  it("dual control: a device the admin registers waits; the admin cannot approve it, another operator does", async () => {
    const ada = await signedIn("ada", "#devices");
    await ada.waitForSelector("#device-register");
    await ada.fill("#dev-merchant", merchantId);
    await ada.fill("#dev-public", Buffer.alloc(32, 5).toString("base64url"));
    await ada.fill("#dev-auth", Buffer.alloc(32, 6).toString("base64url"));
    await ada.fill("#dev-label", "收银台 2");
    await ada.click("#device-register button[type=submit]");
    assert.match((await alertText(ada))!, /设备已注册，状态：待批准。/);
    assert.match((await ada.textContent("#view-devices table"))!, /收银台 2.*待批准.*ada/);
    await go(ada, "approvals");
    await ada.click("#view-approvals button[data-approve]");
    assert.match((await alertText(ada))!, /须由另一位操作员批准.*\(SAME_APPROVER\)/);
    const oscar = await signedIn("oscar", "#approvals");
    await oscar.waitForSelector("#view-approvals button[data-approve]");
    await oscar.click("#view-approvals button[data-approve]");
    assert.match((await alertText(oscar))!, /已批准/);
    const devices = await bearer("GET", "/v1/admin/devices", "ada");
    const d = devices.devices.find((x: { label?: string }) => x.label === "收银台 2");
    assert.deepEqual([d.status, d.requestedBy, d.approvedBy], ["active", "ada", "oscar"]);
  });

  it("persons: a reason first, masked rows, an unlock that waits for a second operator", async () => {
    const oscar = await signedIn("oscar", "#persons");
    await oscar.waitForSelector("#persons-query");
    await oscar.click("#persons-query button[type=submit]");
    assert.match((await alertText(oscar))!, /请先填写查询事由/);
    await oscar.fill("#reason", "客户来电要求解锁");
    await oscar.fill("#merchant-filter", merchantId);
    await oscar.click("#persons-query button[type=submit]");
    await oscar.waitForSelector("#persons-result table");
    assert.equal(await oscar.textContent("#rows-shown"), "显示 100 行", "100 rows per view, though 101 exist");
    const page = (await oscar.textContent("body"))!;
    assert.ok(!page.includes(ALICE.idNumber) && !page.includes(ALICE.phone) && !page.includes("王小明") && !/4403031992121\d{4}/.test(page), "nothing unmasked in the page");
    assert.match(page, /\d{6}\*{8}\d{4}/);
    assert.match(page, /\d{3}\*{4}\d{4}/);
    assert.match(page, /王\*\*/);
    await shot(oscar, "persons");
    // the browser keeps nothing personal: this tab's CSRF token and the language choice at most
    const stored = await oscar.evaluate(() => ({ local: Object.keys(localStorage), session: Object.keys(sessionStorage) }));
    assert.deepEqual(stored, { local: [], session: ["privface-console-csrf"] });
    // the locked, enrolled person: request the unlock; it waits
    await oscar.click(`button[data-unlock="${aliceId}"]`);
    assert.match((await alertText(oscar))!, /等待另一位操作员批准/);
    assert.notEqual((await gw.service.store.getPerson(aliceId))!.locked_at, null);
    // the requester cannot approve it
    await go(oscar, "approvals");
    await oscar.fill("#approve-reason", "我自己批准");
    await oscar.click(`#view-approvals button[data-approve^="apr_"]`);
    assert.match((await alertText(oscar))!, /\(SAME_APPROVER\)/);
    assert.notEqual((await gw.service.store.getPerson(aliceId))!.locked_at, null, "still locked");
    // another operator can
    const olga = await signedIn("olga", "#approvals");
    await olga.waitForSelector(`#view-approvals button[data-approve^="apr_"]`);
    assert.match((await olga.textContent("#view-approvals"))!, /客户来电要求解锁/);
    await shot(olga, "approvals");
    await olga.fill("#approve-reason", "已核实客户身份");
    await olga.click(`#view-approvals button[data-approve^="apr_"]`);
    assert.match((await alertText(olga))!, /已批准/);
    assert.equal((await gw.service.store.getPerson(aliceId))!.locked_at, null, "unlocked by the second operator");
    // the reason typed in Chinese is recorded with the operator
    const q = await gw.service.store.exec.read((tx) => tx.all<{ operator_id: string; action: string; reason: string }>("SELECT operator_id, action, reason FROM operator_queries ORDER BY at", []));
    assert.deepEqual(
      q.map((r) => [r.operator_id, r.action, r.reason]),
      [
        ["oscar", "person.list", "客户来电要求解锁"],
        ["oscar", "person.unlock.request", "客户来电要求解锁"],
        ["olga", "person.unlock.approve", "已核实客户身份"],
      ],
    );
  });

  it("the daily quota: 100 sensitive records, then QUOTA_EXCEEDED in the page", async () => {
    const aud = await signedIn("aud", "#persons");
    await aud.waitForSelector("#persons-query");
    await aud.fill("#reason", "季度审计抽查");
    await aud.click("#persons-query button[type=submit]");
    await aud.waitForSelector("#persons-result table");
    assert.equal(await aud.textContent("#rows-shown"), "显示 100 行");
    assert.ok(!(await aud.$("button[data-unlock]")), "an auditor is offered no unlock");
    await aud.fill("#reason", "再查一次");
    await aud.click("#persons-query button[type=submit]");
    assert.match((await alertText(aud))!, /今日敏感记录查询配额（100 条）已用完。 \(QUOTA_EXCEEDED\)/);
    await shot(aud, "quota");
  });

  it("the auditor's view: the gateway's chain verified and rendered; the parties as their metrics report; the chains reconciled across parties", async () => {
    const aud = await signedIn("aud", "#audit");
    await aud.waitForSelector("#gateway-chain");
    assert.match((await aud.textContent("#gateway-chain"))!, /✓ 校验通过/);
    const text = (await aud.textContent("#view-audit"))!;
    assert.match(text, /operator:aud.*console\.sign-in/);
    assert.match(text, /operator:olga.*person\.unlock\.approve/);
    // cross-party reconciliation: the gateway's signed head checked at each party, rendered
    const rows = await aud.$$eval("#view-audit table", (ts) => ts.find((x) => x.querySelector("caption")?.textContent?.startsWith("跨方审计链核对"))?.querySelectorAll("tbody tr").length);
    assert.equal(rows, 2);
    assert.match(text, /P0✓ 一致\d+未报告P1✓ 一致\d+未报告/, "the fake parties report no metrics");
    await shot(aud, "audit");
  });

  it("the auditor's reconciliation record by record: every decision beside both parties' records; a broken record shows as a mismatch; admins and operators are refused by the server", async () => {
    const aud = await signedIn("aud", "#audit");
    await aud.waitForSelector("#decisions-summary");
    const summary = async () => (await aud.textContent("#decisions-summary"))!;
    const clean = /本页 (\d+) 条：\1 条一致，0 条不一致/;
    assert.match(await summary(), clean, "the fake parties recorded what the gateway decided");
    const sessions = await aud.$$eval("#decisions tbody tr[data-session]", (rs) => rs.map((r) => [r.getAttribute("data-session"), r.getAttribute("data-mismatches")]));
    assert.ok(sessions.length >= 8 && sessions.length <= 100, `${sessions.length} rows`);
    assert.ok(sessions.every(([, m]) => m === ""));
    assert.match((await aud.textContent("#decisions"))!, /verify · accept · MATCH.*verify:computed/);
    await shot(aud, "reconciliation");

    // a deliberately broken record: P1's record of one verification gone, P0's of another says something else, a session P0 alone recorded
    const [missing, changed] = fake.audit.P1.filter((r) => r.op === "verify").slice(-2);
    const kept = { P0: [...fake.audit.P0], P1: [...fake.audit.P1] };
    fake.audit.P1.splice(fake.audit.P1.indexOf(missing), 1);
    const p0Changed = fake.audit.P0.find((r) => r.session === changed.session)!;
    fake.audit.P0[fake.audit.P0.indexOf(p0Changed)] = { ...p0Changed, outcome: "computed-staged" };
    fake.audit.P0.push({ seq: 9999, time: Date.now(), op: "verify", session: "req_forgedAtP0only", outcome: "computed", code: null });
    try {
      await aud.reload();
      await aud.waitForSelector("#decisions-summary");
      assert.match(await summary(), /本页 \d+ 条：\d+ 条一致，3 条不一致/);
      const row = async (s: string) => aud.$eval(`#decisions tr[data-session="${s}"]`, (r) => [r.getAttribute("data-mismatches"), r.querySelector("td:last-child")!.textContent]);
      assert.deepEqual(await row(missing.session), ["MISSING_AT_P1", "✗ P1 缺少记录"]);
      assert.deepEqual(await row(changed.session), ["PARTIES_DISAGREE", "✗ 两方记录不一致"]);
      assert.deepEqual(await row("req_forgedAtP0only"), ["AT_P0_ONLY", "✗ 仅 P0 有记录"]);
      await shot(aud, "reconciliation-mismatch");
    } finally {
      fake.audit.P0.splice(0, Infinity, ...kept.P0);
      fake.audit.P1.splice(0, Infinity, ...kept.P1);
    }

    // server-enforced: an admin's and an operator's session (and their bearer tokens) are refused
    for (const who of ["ada", "oscar"] as const) {
      const page = await signedIn(who);
      const r = await page.evaluate(async () => {
        const res = await fetch("/v1/admin/audit/reconciliation", { headers: { "x-privface-csrf": sessionStorage.getItem("privface-console-csrf") ?? "" } });
        return [res.status, (await res.json()).error?.code];
      });
      assert.deepEqual(r, [403, "FORBIDDEN_ROLE"], who);
      const b = await inject("GET", "/v1/admin/audit/reconciliation", undefined, { authorization: `Bearer ${OPS[who].token}` });
      assert.deepEqual([b.status, b.body.error.code], [403, "FORBIDDEN_ROLE"], who);
    }
  });

  it("held enrolments (ENROL_DEDUP=hold): a reason first, the held and the matching person masked, a decision that waits for a second operator", async () => {
    const dup = await world.person();
    dup.lookLike(tills[0]);
    assert.equal((await dup.step({ do: "consent" })).status, 201);
    assert.equal((await dup.step({ do: "enrol", face: "genuine" })).reason, "HELD_FOR_REVIEW");
    assert.equal((await dup.step({ do: "verify", face: "genuine" })).reason, "ENROLMENT_HELD");
    const olga = await signedIn("olga", "#holds");
    assert.deepEqual(await olga.$$eval("nav a", (as) => as.map((a) => a.getAttribute("href"))), ["#dashboard", "#merchants", "#persons", "#devices", "#approvals", "#holds"]);
    await olga.waitForSelector("#holds-query");
    await olga.click("#holds-query button[type=submit]");
    assert.match((await alertText(olga))!, /请先填写查询事由/);
    await olga.fill("#reason", "复核重复录入");
    await olga.click("#holds-query button[type=submit]");
    await olga.waitForSelector("article.hold");
    const text = (await olga.textContent("#holds-result"))!;
    assert.ok(text.includes(dup.personId) && text.includes(tills[0].personId), "the held person and the one it matched");
    assert.ok(!text.includes(tills[1].personId), "not a person it did not match");
    for (const id of world.identities) for (const clear of [id.name, id.idNumber, id.phone]) assert.ok(!text.includes(clear), `masked: ${clear}`);
    assert.match(text, /\d{6}\*{8}\d{4}/);
    await shot(olga, "holds");
    await olga.click("article.hold button[data-decide=approve]");
    assert.match((await alertText(olga))!, /等待另一位操作员批准/);
    assert.notEqual((await gw.service.store.getPerson(dup.personId))!.held_at, null, "still held while the decision waits");
    const oscar = await signedIn("oscar", "#approvals");
    await oscar.waitForSelector(`#view-approvals button[data-approve^="apr_"]`);
    assert.match((await oscar.textContent("#view-approvals"))!, /录入复核：通过.*复核重复录入/);
    await oscar.fill("#approve-reason", "双胞胎，已核实证件");
    await oscar.click(`#view-approvals button[data-approve^="apr_"]`);
    assert.match((await alertText(oscar))!, /已批准/);
    assert.equal((await gw.service.store.getPerson(dup.personId))!.held_at, null, "active after the second operator");
    assert.equal((await dup.step({ do: "verify", face: "genuine" })).reason, "MATCH");
    // the auditor sees the same list (read-only: no decision buttons); nothing is held any more
    const aud = await signedIn("aud", "#holds");
    await aud.waitForSelector("#holds-query");
    await aud.fill("#reason", "审计复核");
    await aud.click("#holds-query button[type=submit]");
    await aud.waitForSelector("#holds-result p");
    assert.equal(await aud.textContent("#holds-result"), "没有待复核的录入。");
  });

  it("a device's still-image flag: the admin requests it with a reason, another operator approves it, the device list shows it", async () => {
    const d = (await bearer("GET", "/v1/admin/devices", "ada")).devices.find((x: { label?: string }) => x.label === "收银台 2");
    assert.equal(d.stillImage, false);
    const ada = await signedIn("ada", "#devices");
    await ada.waitForSelector(`button[data-still-image="${d.deviceId}"]`);
    await ada.click(`button[data-still-image="${d.deviceId}"]`);
    assert.match((await alertText(ada))!, /\(REASON_REQUIRED\)/);
    await ada.fill("#still-reason", "演示终端只拍静态照片");
    await ada.click(`button[data-still-image="${d.deviceId}"]`);
    assert.match((await alertText(ada))!, /已提交变更申请/);
    await shot(ada, "devices");
    assert.equal((await gw.service.store.getDevice(d.deviceId))!.still_image, false, "nothing changed yet");
    const oscar = await signedIn("oscar", "#approvals");
    await oscar.waitForSelector(`#view-approvals button[data-approve^="apr_"]`);
    assert.match((await oscar.textContent("#view-approvals"))!, /设备：开启静态图像模式.*演示终端只拍静态照片/);
    await oscar.fill("#approve-reason", "已与商户确认");
    await oscar.click(`#view-approvals button[data-approve^="apr_"]`);
    assert.match((await alertText(oscar))!, /已批准/);
    assert.equal((await gw.service.store.getDevice(d.deviceId))!.still_image, true, "set by the second operator");
    await go(oscar, "devices");
    assert.match((await oscar.textContent("#view-devices table"))!, /收银台 2.*已启用.*是/);
  });

  it("signing out, or a session the gateway no longer knows, sends the page back to sign-in", async () => {
    const oscar = await signedIn("oscar");
    await oscar.click("#sign-out");
    await oscar.waitForSelector("#sign-in");
    assert.deepEqual(await oscar.evaluate(() => Object.keys(sessionStorage)), []);
    const olga = await signedIn("olga");
    await olga.context().clearCookies();
    await olga.goto(`${url}/console/#approvals`);
    await olga.waitForSelector("#sign-in");
    assert.match((await alertText(olga))!, /\(UNAUTHENTICATED\)/);
  });

  it("a session idle for more than 15 minutes is refused by the gateway: the page asks to sign in again", async () => {
    const aud = await signedIn("aud", "#merchants");
    await aud.waitForSelector("#view-merchants table");
    skew += 15 * 60_000 + 1000;
    try {
      await aud.click('nav a[href="#devices"]');
      await aud.waitForSelector("#sign-in");
      assert.match((await alertText(aud))!, /会话已过期，请重新登录。 \(SESSION_EXPIRED\)/);
      await shot(aud, "session-expired");
    } finally {
      skew = 0;
    }
  });
});
