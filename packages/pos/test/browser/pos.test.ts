/**
 * The POS web app in headless Chromium (/usr/bin/chromium, playwright-core) against a real stack
 * (helper, P0, P1 as processes; the gateway in this process serving the built app under /pos/ over
 * HTTPS with the dev CA), on a phone-sized viewport, with Chromium's fake camera playing a face cut
 * from a photo of @vladmandic/face-api's npm package (face A: sample1; face B: sample5). The fake
 * camera plays a still picture, so this stack runs without active liveness
 * (PRIVFACE_GATEWAY_LIVENESS_ACTIONS=0): the guided passive capture; the prompts and actions of the
 * default configuration are `pos-live.test.ts`.
 *
 * One terminal (browser A, face A) pairs itself (its WebCrypto keys registered by an admin and
 * approved by an operator), then: refuse the notice (no camera), consent → enrol, verify (accepted),
 * verify again with the keyboard only, a person never enrolled (NOT_ENROLLED text), the network
 * down (GATEWAY_UNREACHABLE text), withdraw; a second terminal (browser B, face B) verifies
 * a person terminal A enrolled: rejected, which locks that person out (PERSON_LOCK_AFTER=1; the
 * PERSON_LOCKED text on A); a third terminal shown a photo of face A: spoof suspected
 * (LIVENESS_FAILED text), nothing sent; terminal A then deregisters its first person (verify, then delete); last,
 * with P1 stopped, an enrolment ends in degraded mode (MPC_UNAVAILABLE text). Throughout:
 * getUserMedia is never called before the consent was recorded (each opening after a consent of its
 * own), every request of the page is recorded and none carries image data or an unsealed vector
 * (only two sealed envelopes of the sizes of a seed and a 512-byte share, which — opened with the
 * parties' keys — rebuild face A's template and nothing else), and afterwards localStorage,
 * IndexedDB and Cache Storage hold nothing but the device's ids and non-extractable keys. Every
 * screen visited is written to docs/screenshots/pos-*.png.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { runtimeLayout } from "@privface/config";
import { contextAad, MODEL } from "@privface/contracts";
import { open } from "@privface/crypto";
import { readKeyPairFile } from "@privface/crypto/node";
import { createFaceEngine } from "@privface/device/engine";
import { dotPlain, expandSeedShare, quantise, reconstructBytes } from "@privface/mpc";
import { startStack, writeY4m, type GatewayClient, type Stack } from "@privface/devstack";
import { cameraFrame } from "../_faces.ts";

const shots = fileURLToPath(new URL("../../../../docs/screenshots/", import.meta.url));
const PHONE = { width: 390, height: 844 };
/** the `privface` command of this repository */
const privface = fileURLToPath(new URL("../../../cli/bin/privface.js", import.meta.url));

let dir: string;
let stack: Stack;
let admin: GatewayClient;
let operator: GatewayClient;
let merchantId: string;
const persons: Record<"x" | "y" | "z", string> = { x: "", y: "", z: "" };
const browsers: Browser[] = [];

interface Recorded {
  method: string;
  url: string;
  body: string | null;
  type: string;
}

/** The fake camera's Y4M of one of the test faces. */
async function cameraFile(name: "A" | "B" | "A photo"): Promise<string> {
  const file = join(dir, `face-${name.replace(" ", "-")}.y4m`);
  writeY4m(file, await cameraFrame(name));
  return file;
}

async function launch(y4m: string): Promise<Browser> {
  const b = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${y4m}`, "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  browsers.push(b);
  return b;
}

/** A phone-sized page that records its requests and its getUserMedia calls (in order with its fetches). */
async function terminal(b: Browser): Promise<{ ctx: BrowserContext; page: Page; requests: Recorded[]; errors: string[] }> {
  const ctx = await b.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, ignoreHTTPSErrors: true, locale: "zh-CN" });
  await ctx.addInitScript(() => {
    const w = window as unknown as { __events: string[] };
    w.__events = [];
    document.addEventListener("securitypolicyviolation", (e) => w.__events.push(`csp-violation ${e.violatedDirective} ${e.blockedURI}`));
    const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = (c) => {
      w.__events.push("getUserMedia");
      return gum(c);
    };
    const f = window.fetch.bind(window);
    window.fetch = (input, init) => {
      w.__events.push(`${init?.method ?? "GET"} ${new URL(String(input instanceof Request ? input.url : input), location.href).pathname}`);
      return f(input, init);
    };
  });
  const page = await ctx.newPage();
  const requests: Recorded[] = [];
  const errors: string[] = [];
  page.on("request", (r) => requests.push({ method: r.method(), url: r.url(), body: r.postData(), type: r.resourceType() }));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  return { ctx, page, requests, errors };
}

/** Waits for `selector`; on a timeout says which screen the page shows instead, and its errors. */
async function until(page: Page, selector: string, ms: number): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout: ms });
  } catch (e) {
    const now = await page.evaluate(() => `${document.querySelector("main")?.dataset.screen}: ${document.querySelector("main")?.textContent}`).catch(() => "?");
    throw new Error(`${selector} not shown within ${ms} ms; the page shows ${now}; page errors: ${A.errors.join(" | ")}`, { cause: e });
  }
}
const screen = (page: Page, name: string, ms = 90_000) => until(page, `main[data-screen="${name}"]`, ms);
const shot = (page: Page, name: string) => page.screenshot({ path: join(shots, `pos-${name}.png`) });
const events = (page: Page) => page.evaluate(() => (window as unknown as { __events: string[] }).__events.slice());

/**
 * Pairs the page: reads its pairing code, has it registered by an admin and approved by an operator
 * — through the admin API, or (`cli`) with `privface gateway device-add` / `device-approve` as an
 * operator would — and enters the device id.
 */
async function pair(page: Page, label: string, via: "api" | "cli"): Promise<string> {
  await page.goto(`${stack.url}/pos/`);
  await screen(page, "pair", 30_000);
  const code = await page.inputValue("#pairing-code");
  const m = /^pf1\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/.exec(code);
  assert.ok(m, `pairing code ${code}`);
  let deviceId: string;
  if (via === "api") {
    const r = await admin.admin("POST", `/v1/admin/merchants/${merchantId}/devices`, { suite: "INTL", publicKey: m[1], authKey: m[2], label });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    deviceId = r.body.deviceId;
    const a = await operator.admin("POST", `/v1/admin/devices/${deviceId}/approve`);
    assert.equal(a.status, 200, JSON.stringify(a.body));
  } else {
    // (asynchronously: the gateway runs in this process)
    let stderr = "";
    const cli = async (...args: string[]) => {
      const out = await promisify(execFile)(process.execPath, [privface, "gateway", ...args, "--gateway", stack.url, "--home", stack.home], { encoding: "utf8" });
      stderr += out.stderr;
      return JSON.parse(out.stdout);
    };
    const r = await cli("device-add", "--merchant", merchantId, "--pairing-code", code, "--label", label);
    // the operator compares the fingerprint the command prints with the one the terminal shows
    assert.ok(stderr.includes(`terminal fingerprint ${await page.textContent("#fingerprint")}`), stderr);
    assert.equal(r.status, "pending", JSON.stringify(r));
    deviceId = r.deviceId;
    assert.equal((await cli("device-approve", "--device", deviceId)).status, "active");
  }
  await page.fill("#device-id", deviceId);
  await page.click("form button[type=submit]");
  await screen(page, "home");
  return deviceId;
}

/** home → notice → agree → capture → the screen the flow ends on. */
async function faceFlow(page: Page, person: string, action: "enrol" | "verify" | "deregister", capture?: string): Promise<string> {
  if ((await page.getAttribute("main", "data-screen")) !== "home") await page.click("#home");
  await screen(page, "home");
  await page.fill("#person-id", person);
  await page.click(`#${action}`);
  await screen(page, "notice");
  if (capture) {
    // three frames a second for this capture, so that its screen can be photographed before it ends
    await page.evaluate(() => {
      const orig = HTMLVideoElement.prototype.requestVideoFrameCallback;
      HTMLVideoElement.prototype.requestVideoFrameCallback = function (this: HTMLVideoElement, cb: VideoFrameRequestCallback) {
        return orig.call(this, (now, meta) => setTimeout(() => cb(now, meta), 300));
      };
    });
  }
  await page.click("#agree");
  if (capture) {
    await until(page, '#guidance[data-guidance="good"]', 60_000);
    await shot(page, capture);
  }
  await until(page, 'main:not([data-screen="notice"]):not([data-screen="working"]):not([data-screen="capture"])', 120_000);
  return (await page.getAttribute("main", "data-screen"))!;
}

/** Everything the page's storage holds, CryptoKeys described (a string: evaluated as written, in the page). */
const STORAGE_DUMP = `(async () => {
  const local = Object.fromEntries(Object.entries(localStorage));
  const session = sessionStorage.length;
  const cacheKeys = await caches.keys();
  const describe = (v) => v instanceof CryptoKey ? { CryptoKey: v.algorithm.name, type: v.type, extractable: v.extractable }
    : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, describe(x)])) : typeof v;
  const dbs = [];
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((res, rej) => { const o = indexedDB.open(info.name); o.onsuccess = () => res(o.result); o.onerror = () => rej(o.error); });
    const stores = {};
    for (const name of Array.from(db.objectStoreNames))
      stores[name] = await new Promise((res) => { const q = db.transaction(name).objectStore(name).getAll(); q.onsuccess = () => res(q.result.map(describe)); });
    db.close();
    dbs.push({ name: info.name, stores });
  }
  return { local, session, cacheKeys, dbs };
})()`;

/** the bodies of terminal A's enrolment and verifications (the test of the requests fills it) */
const faceShares: { purpose: "enrol" | "verify"; challenge: string; templateId: string; modelVersion: string; shares: { P0: string; P1: string } }[] = [];

const A: { page?: Page; requests: Recorded[]; errors: string[]; ctx?: BrowserContext } = { requests: [], errors: [] };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "privface-pos-browser-"));
  mkdirSync(shots, { recursive: true });
  stack = await startStack({ home: join(dir, "home"), gateway: "in-process", web: true, env: { PRIVFACE_GATEWAY_RECHECK_INTERVAL_S: "0", PRIVFACE_GATEWAY_PERSON_LOCK_AFTER: "1", PRIVFACE_GATEWAY_LIVENESS_ACTIONS: "0" } });
  admin = stack.client("admin");
  operator = stack.client("operator");
  const m = await admin.admin("POST", "/v1/admin/merchants", { name: "测试便利店" });
  merchantId = m.body.merchantId;
  const add = async (name: string, idNumber: string, phone: string) => (await admin.admin("POST", `/v1/admin/merchants/${merchantId}/persons`, { role: "cashier", name, idNumber, phone })).body.personId as string;
  persons.x = await add("王小明", "110101199003071234", "13800138000");
  persons.y = await add("李四", "310104198805052345", "13912345678");
  persons.z = await add("张三", "440303199212123456", "13698765432");
});

after(async () => {
  for (const b of browsers) await b.close().catch(() => {});
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("POS web app in Chromium against a real stack", { timeout: 600_000 }, () => {
  it("terminal A: pairs with its own non-extractable keys; refusing the notice opens no camera; consent → enrol → verify accepted", async (t) => {
    const b = await launch(await cameraFile("A"));
    const term = await terminal(b);
    Object.assign(A, term);
    const { page } = term;
    const res = await page.goto(`${stack.url}/pos/`);
    assert.match(res!.headers()["content-security-policy"], /^default-src 'none'; script-src 'self' 'wasm-unsafe-eval';/);
    await screen(page, "pair", 30_000);
    await shot(page, "pair");
    await pair(page, "till A", "api");
    await shot(page, "home");
    // phone-sized: nothing wider than the screen
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= PHONE.width);

    // refuse: the non-face path, and no camera
    await page.fill("#person-id", persons.x);
    await page.click("#enrol");
    await screen(page, "notice");
    await shot(page, "notice");
    for (const s of ["目的", "方式", "范围", "保存期限", "持有方"]) assert.ok((await page.textContent("dl.notice"))!.includes(s), s);
    await page.click("#lang");
    await shot(page, "notice-en");
    assert.ok((await page.textContent("dl.notice"))!.includes("Retention"));
    await page.click("#lang");
    await page.click("#refuse");
    await screen(page, "refused");
    await shot(page, "refused");
    assert.deepEqual((await events(page)).filter((e) => e === "getUserMedia"), []);
    await page.click("#home");

    // consent → enrol: the camera opens only after the consent was recorded
    assert.equal(await faceFlow(page, persons.x, "enrol", "capture"), "enrolled", (await page.textContent("main")) ?? "");
    await shot(page, "enrolled");
    const ev = await events(page);
    const gum = ev.indexOf("getUserMedia");
    assert.ok(gum > ev.indexOf("POST /v1/consents") && ev.indexOf("POST /v1/consents") >= 0, ev.join(", "));
    const t0 = Date.now();
    assert.equal(await faceFlow(page, persons.x, "verify"), "accepted");
    t.diagnostic(`verify on a warm page, home → notice → agree → accepted: ${Date.now() - t0} ms (notice, consent, camera, 3 good frames, embedding, sealing, MPC)`);
    await shot(page, "accepted");
    await page.click("#home");
    // the page ran under its Content-Security-Policy (wasm included) without a single violation
    assert.deepEqual((await events(page)).filter((e) => e.startsWith("csp-violation")), []);
  });

  it("terminal A, keyboard only: Tab and Enter through home → notice → agree → verified", async () => {
    const page = A.page!;
    await page.reload();
    await screen(page, "home");
    const tabTo = async (id: string) => {
      for (let i = 0; i < 25; i++) {
        if ((await page.evaluate(() => document.activeElement?.id)) === id) return;
        await page.keyboard.press("Tab");
      }
      assert.fail(`#${id} is not reachable with Tab`);
    };
    await tabTo("person-id");
    await page.keyboard.type(persons.x);
    await tabTo("verify");
    await page.keyboard.press("Enter");
    await screen(page, "notice");
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), "H1"); // focus moved to the new screen
    await tabTo("agree");
    await page.keyboard.press("Enter");
    await screen(page, "accepted", 120_000);
    await tabTo("home");
    await page.keyboard.press("Enter");
    await screen(page, "home");
  });

  it("terminal A: clear messages for a person never enrolled and for a network failure", async () => {
    const page = A.page!;
    assert.equal(await faceFlow(page, persons.y, "verify"), "error");
    assert.equal(await page.textContent("#error-code"), "NOT_ENROLLED");
    assert.match((await page.textContent("#error-text"))!, /尚未录入/);
    await shot(page, "error-not-enrolled");
    await page.click("#home");
    await page.route("**/v1/challenges", (r) => r.abort("internetdisconnected"));
    await page.fill("#person-id", persons.y);
    await page.click("#verify");
    await screen(page, "notice");
    await page.click("#agree");
    await screen(page, "error");
    assert.equal(await page.textContent("#error-code"), "GATEWAY_UNREACHABLE");
    assert.match((await page.textContent("#error-text"))!, /网络不可用/);
    await shot(page, "error-network");
    await page.unroute("**/v1/challenges");
    await page.click("#home");
  });

  it("terminal A: withdraw consent (the gateway records it withdrawn)", async () => {
    const page = A.page!;
    await page.fill("#person-id", persons.y);
    await page.click("#withdraw");
    await screen(page, "withdraw");
    await shot(page, "withdraw");
    await page.click("#withdraw-confirm");
    await screen(page, "withdrawn");
    await shot(page, "withdrawn");
    const r = await operator.admin("GET", `/v1/admin/persons/${persons.y}`, undefined, "pos browser test: withdrawal");
    assert.equal(r.body.consent, "withdrawn", JSON.stringify(r.body));
    await page.click("#home");
  });

  it("terminal B with another face: a person enrolled on terminal A is rejected", async () => {
    assert.equal(await faceFlow(A.page!, persons.z, "enrol"), "enrolled");
    const b = await launch(await cameraFile("B"));
    const { page, ctx } = await terminal(b);
    await pair(page, "till B", "cli");
    assert.equal(await faceFlow(page, persons.z, "verify"), "rejected");
    await shot(page, "rejected");
    await ctx.close();
  });

  it("terminal C, a photo of the enrolled face held up to the camera: spoof suspected, nothing sent", async () => {
    const b = await launch(await cameraFile("A photo"));
    const { page, ctx, requests } = await terminal(b);
    await pair(page, "till C", "api");
    assert.equal(await faceFlow(page, persons.x, "verify"), "error");
    assert.equal(await page.textContent("#error-code"), "LIVENESS_FAILED");
    assert.match((await page.textContent("#error-text"))!, /疑似非真人/);
    await shot(page, "error-spoof");
    assert.deepEqual(requests.filter((r) => /\/v1\/(verifications|enrolments)$/.test(r.url)), []);
    await ctx.close();
  });

  it("terminal A: the person that failure locked out (PERSON_LOCK_AFTER=1) is told so", async () => {
    const page = A.page!;
    assert.equal(await faceFlow(page, persons.z, "verify"), "error");
    assert.equal(await page.textContent("#error-code"), "PERSON_LOCKED");
    assert.match((await page.textContent("#error-text"))!, /锁定/);
    await shot(page, "error-locked");
    await page.click("#home");
  });

  it("terminal A: deregister (a fresh verification, then the template is deleted)", async () => {
    const page = A.page!;
    assert.equal(await faceFlow(page, persons.x, "deregister"), "deregistered");
    await shot(page, "deregistered");
    await page.click("#home");
    assert.equal(await faceFlow(page, persons.x, "verify"), "error");
    assert.equal(await page.textContent("#error-code"), "NOT_ENROLLED");
    await page.click("#home");
    // every camera opening since the page was reloaded followed a consent recorded after the one before
    let consents = 0;
    let opened = 0;
    for (const e of await events(page)) {
      if (e === "POST /v1/consents") consents++;
      if (e === "getUserMedia") {
        assert.ok(consents > 0, "getUserMedia without a consent before it");
        consents = 0;
        opened++;
      }
    }
    // the challenge comes first: a flow the gateway refuses there (not enrolled, locked out, network
    // down) never opens the camera; opened: the keyboard verification, Z's enrolment, the verification
    // before deregistering
    assert.equal(opened, 3, `camera opened ${opened} times`);
  });

  it("terminal A sent nothing but ids, sealed shares and signatures, all to its own origin", () => {
    const origin = new URL(stack.url).origin;
    assert.ok(A.requests.length > 20);
    const posts = A.requests.filter((r) => r.method !== "GET");
    const paths = new Set(posts.map((r) => new URL(r.url).pathname));
    for (const p of paths) assert.ok(["/v1/challenges", "/v1/consents", "/v1/enrolments", "/v1/verifications", "/v1/consents/withdrawals", "/v1/deregistrations"].includes(p), p);
    for (const r of A.requests) {
      assert.equal(new URL(r.url).origin, origin, `third-party request ${r.url}`);
      assert.ok(!r.url.includes("data:image") && r.type !== "websocket", r.url);
    }
    const numbersIn = (v: unknown, out: number[][]): number[][] => {
      if (Array.isArray(v)) {
        if (v.every((x) => typeof x === "number")) out.push(v);
        for (const x of v) numbersIn(x, out);
      } else if (v && typeof v === "object") for (const x of Object.values(v)) numbersIn(x, out);
      return out;
    };
    let faceBodies = 0;
    for (const r of posts) {
      assert.ok(r.body && r.body.length < 4096, `${r.url}: body of ${r.body?.length} bytes`); // an image or a float vector would not fit
      assert.doesNotMatch(r.body, /data:image|;base64,/); // ":" and "," are not base64url: no accident
      const j = JSON.parse(r.body);
      assert.deepEqual(numbersIn(j, []).filter((a) => a.length > 8), [], `${r.url}: a numeric array`);
      const strings = JSON.stringify(j).match(/"[^"]*"/g) ?? [];
      for (const s of strings) {
        assert.ok(s.length < 1200, `${r.url}: a string of ${s.length} characters`);
        // no encoded image file: no PNG, JPEG, GIF or WebP signature at the start of any decoded string
        const b = Buffer.from(s.slice(1, -1), "base64url");
        assert.ok(!/^(\x89PNG|\xff\xd8\xff|GIF8|RIFF....WEBP)/s.test(b.toString("latin1")), `${r.url}: an image file in ${s.slice(0, 40)}…`);
      }
      if (/\/v1\/(enrolments|verifications)$/.test(r.url)) {
        faceBodies++;
        assert.deepEqual(Object.keys(j).sort(), ["challenge", "deviceId", "liveness", "macs", "modelVersion", "personId", "sealKeys", "shares", "signature", "templateId"]);
        // the only face-derived fields: two sealed envelopes (P0: a 16-byte seed, P1: 512 bytes, each + 62 bytes of envelope) and a score
        assert.equal(Buffer.from(j.shares.P0, "base64url").length, 16 + 62);
        assert.equal(Buffer.from(j.shares.P1, "base64url").length, 512 + 62);
        assert.deepEqual(Object.keys(j.liveness), ["score"]);
        faceShares.push({ ...j, purpose: r.url.endsWith("/v1/enrolments") ? "enrol" : "verify" });
      }
    }
    assert.equal(faceBodies, 5, "enrol X, verify, verify by keyboard, enrol Z, verify before deregistering");
  });

  it("what the sealed shares hold: opened with the parties' keys, each pair rebuilds face A's template (as Node embeds it)", async () => {
    const L = runtimeLayout(stack.home);
    const keys = { P0: await readKeyPairFile(L.sealKey("p0")), P1: await readKeyPairFile(L.sealKey("p1")) };
    const engine = await createFaceEngine({});
    const f = await cameraFrame("A");
    const node = await engine.processFrame(f.data, f.width, f.height);
    await engine.release();
    assert.ok(node.ok);
    const qn = quantise(node.embedding);
    assert.equal(faceShares.length, 5);
    for (const j of faceShares) {
      const purpose = j.purpose;
      const ctx = { purpose, challenge: j.challenge, templateId: j.templateId, modelVersion: j.modelVersion };
      const seed0 = await open(keys.P0, Buffer.from(j.shares.P0, "base64url"), contextAad({ ...ctx, party: "P0" }));
      const share1 = await open(keys.P1, Buffer.from(j.shares.P1, "base64url"), contextAad({ ...ctx, party: "P1" }));
      const q = reconstructBytes(expandSeedShare(seed0, ctx, MODEL.dim), share1);
      const cos = dotPlain(q, qn) / Math.sqrt(dotPlain(q, q) * dotPlain(qn, qn));
      assert.ok(cos > 0.9, `${purpose}: the browser's template vs Node's, cosine ${cos}`);
    }
  });

  it("after the flows the page's storage holds no image and no feature: ids and non-extractable keys only", async () => {
    const page = A.page!;
    const s = (await page.evaluate(STORAGE_DUMP)) as { local: Record<string, string>; session: number; cacheKeys: string[]; dbs: unknown[] };
    assert.deepEqual(Object.keys(s.local).sort(), ["privface.pos.deviceId", "privface.pos.keyListsSeen", "privface.pos.lang", "privface.pos.roots"].sort().filter((k) => k in s.local));
    const { "privface.pos.roots": roots, ...rest } = s.local;
    for (const v of Object.values(rest)) assert.ok(v.length < 100, v);
    // the institution roots the terminal trusts (kept across reloads for root handovers): two 32-byte public keys
    const held = JSON.parse(roots ?? "{}") as Record<string, string>;
    assert.deepEqual(Object.keys(held).sort(), ["P0", "P1"]);
    for (const k of Object.values(held)) assert.equal(Buffer.from(k, "base64url").length, 32);
    assert.ok("privface.pos.deviceId" in s.local);
    assert.equal(s.session, 0);
    assert.deepEqual(s.cacheKeys, []);
    const pair = (alg: string) => ({ privateKey: { CryptoKey: alg, type: "private", extractable: false }, publicKey: { CryptoKey: alg, type: "public", extractable: true } });
    assert.deepEqual(s.dbs, [{ name: "privface-pos", stores: { device: [{ sign: pair("Ed25519"), auth: pair("X25519") }] } }]);
    // no script error; HTTP refusals (409 NOT_ENROLLED) and the network failure the test made are expected
    assert.deepEqual(A.errors.filter((e) => !/^\d{3} https:|net::ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(e)), []);
  });

  it("terminal A with P1 down: degraded mode, the person is told to use another way (R35)", async () => {
    const page = A.page!;
    await stack.servers.p1!.stop();
    assert.equal(await faceFlow(page, persons.y, "enrol"), "error");
    assert.equal(await page.textContent("#error-code"), "MPC_UNAVAILABLE");
    assert.match((await page.textContent("#error-text"))!, /降级模式/);
    await shot(page, "error-degraded");
  });
});
