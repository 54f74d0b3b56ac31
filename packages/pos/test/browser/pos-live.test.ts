/**
 * Active liveness in the POS web app (issue 17), in headless Chromium against a real stack whose
 * gateway runs with its default configuration: two actions per enrol / verify challenge.
 *
 * The camera: the page's `getUserMedia` is replaced (init script) by a stream from a canvas that
 * this test drives, because the actions are drawn per challenge and Chromium's fake camera can only
 * loop one file fixed at launch. The canvas shows frames rendered in Node from face L (a photo from
 * @vladmandic/face-api's npm package) by `@privface/device`'s `actionFrame` — neutral, and each action
 * at half and full strength — and plays them in one of three ways:
 * - cooperative: the "person" reads the prompt the page shows (`#prompt[data-prompt]`, what a person
 *   reads on screen) and performs that action once per step (half, full for 0.9 s, half, neutral);
 * - still: neutral frames only (a photo held up: nothing moves);
 * - replay: a recording of an earlier session, started when the prompts appear, that performs
 *   another action sequence than the one asked for, whatever the page says.
 *
 * Cooperative enrol and verify pass (the signed request carries exactly the challenge's actions and
 * one evidence step each); a still photo times out (LIVENESS_TIMEOUT) and the retry button starts a
 * new attempt that passes; the replay is refused (LIVENESS_ACTIONS_MISMATCH, its text) and nothing is
 * sent; the camera is opened only after the consent was recorded.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import type { LivenessAction } from "@privface/contracts";
import { actionFrame } from "@privface/device";
import { createFaceEngine } from "@privface/device/engine";
import { startStack, type GatewayClient, type Stack } from "@privface/devstack";
import { cameraFrame } from "../_faces.ts";

const shots = fileURLToPath(new URL("../../../../docs/screenshots/", import.meta.url));
const PHONE = { width: 390, height: 844 };
const ACTIONS: LivenessAction[] = ["blink", "turn-left", "turn-right", "open-mouth"];

let dir: string;
let stack: Stack;
let admin: GatewayClient;
let browser: Browser;
let page: Page;
let personId: string;
/** base64 RGBA frames by name: "neutral", "<action>:0.5", "<action>:1" */
const frames: Record<string, string> = {};
const posts: { url: string; body: string | null }[] = [];
const errors: string[] = [];

/** The page side of the fake camera (runs in the page before its scripts). */
function cameraInit(): void {
  type Plan = [string, number][];
  const w = window as unknown as {
    __events: string[];
    __cam: { mode: "cooperative" | "still" | "replay"; recording?: Plan; faces?: Record<string, ImageData> };
  };
  w.__events = [];
  w.__cam = { mode: "cooperative" };
  const f = window.fetch.bind(window);
  window.fetch = (input, init) => {
    w.__events.push(`${init?.method ?? "GET"} ${new URL(String(input instanceof Request ? input.url : input), location.href).pathname}`);
    return f(input, init);
  };
  navigator.mediaDevices.getUserMedia = async () => {
    w.__events.push("getUserMedia");
    const canvas = document.createElement("canvas");
    canvas.width = 640;
    canvas.height = 480;
    const ctx = canvas.getContext("2d")!;
    let plan: Plan = [];
    let planStart = 0;
    let step = "";
    let replayStart = 0;
    const at = (p: Plan, ms: number) => {
      for (const [name, d] of p) {
        if (ms < d) return name;
        ms -= d;
      }
      return "neutral";
    };
    const tick = () => {
      const faces = w.__cam.faces!;
      const now = performance.now();
      let name = "neutral";
      if (w.__cam.mode === "replay" && w.__cam.recording) {
        replayStart ||= now;
        name = at(w.__cam.recording, now - replayStart);
      } else if (w.__cam.mode === "cooperative") {
        const el = document.getElementById("prompt");
        const p = el?.dataset.prompt ?? "";
        const key = `${p}@${el?.dataset.step}`;
        if (faces[`${p}:1`] && key !== step) {
          // a new step asked for: do it once (ramp in, hold, ramp out), then face the camera again
          step = key;
          plan = [[`${p}:0.5`, 200], [`${p}:1`, 900], [`${p}:0.5`, 200]];
          planStart = now;
        }
        name = at(plan, now - planStart);
      }
      ctx.putImageData(faces[name], 0, 0);
    };
    tick();
    const timer = setInterval(tick, 66);
    const stream = canvas.captureStream(15);
    for (const t of stream.getTracks()) t.addEventListener("ended", () => clearInterval(timer));
    const stop = MediaStreamTrack.prototype.stop;
    for (const t of stream.getTracks())
      t.stop = function (this: MediaStreamTrack) {
        clearInterval(timer);
        stop.call(this);
      };
    return stream;
  };
}

async function setCamera(mode: "cooperative" | "still" | "replay", recording?: [string, number][]): Promise<void> {
  await page.evaluate(([m, r]) => Object.assign((window as unknown as { __cam: object }).__cam, { mode: m, recording: r }), [mode, recording] as const);
}

const events = () => page.evaluate(() => (window as unknown as { __events: string[] }).__events.slice());
const screenName = () => page.getAttribute("main", "data-screen");
const screen = (name: string, ms = 120_000) => until(`main[data-screen="${name}"]`, ms);
/** Waits for `selector`; on a timeout says which screen the page shows instead, and its errors. */
async function until(selector: string, ms: number): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout: ms });
  } catch (e) {
    const now = await page.evaluate(() => `${document.querySelector("main")?.dataset.screen}: ${document.querySelector("main")?.textContent}`).catch(() => "?");
    throw new Error(`${selector} not shown within ${ms} ms; the page shows ${now}; page errors: ${errors.join(" | ")}`, { cause: e });
  }
}
const shot = (name: string) => page.screenshot({ path: join(shots, `pos-${name}.png`) });

/** home → notice → agree; resolves with the actions the capture screen lists. */
async function startFlow(action: "enrol" | "verify"): Promise<LivenessAction[]> {
  if ((await screenName()) !== "home") await page.click("#home");
  await screen("home");
  await page.fill("#person-id", personId);
  await page.click(`#${action}`);
  await screen("notice");
  await page.click("#agree");
  return listedActions();
}

async function listedActions(): Promise<LivenessAction[]> {
  await until("#steps li", 60_000);
  return (await page.$$eval("#steps li", (lis) => lis.map((li) => li.getAttribute("data-action")))) as LivenessAction[];
}

/** waits for the flow's last screen */
async function end(): Promise<string> {
  await page.waitForSelector('main:not([data-screen="notice"]):not([data-screen="working"]):not([data-screen="capture"])', { timeout: 120_000 });
  return (await screenName())!;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "privface-pos-live-"));
  mkdirSync(shots, { recursive: true });
  stack = await startStack({ home: join(dir, "home"), gateway: "in-process", web: true, env: { PRIVFACE_GATEWAY_RECHECK_INTERVAL_S: "0" } });
  admin = stack.client("admin");
  const m = await admin.admin("POST", "/v1/admin/merchants", { name: "活体测试店" });
  personId = (await admin.admin("POST", `/v1/admin/merchants/${m.body.merchantId}/persons`, { role: "cashier", name: "赵六", idNumber: "110101199501011238", phone: "13700137000" })).body.personId;

  // face L and its actions, rendered once in Node
  const base = await cameraFrame("L");
  const engine = await createFaceEngine({});
  const mf = await engine.measureFrame!(base.data, base.width, base.height);
  await engine.release();
  assert.ok(mf.ok);
  const p = mf.points as [number, number][];
  const g = { eyes: [p[0], p[1]] as [[number, number], [number, number]], nose: p[2], mouth: [p[3], p[4]] as [[number, number], [number, number]] };
  frames.neutral = Buffer.from(base.data).toString("base64");
  for (const a of ACTIONS) for (const k of [0.5, 1]) frames[`${a}:${k}`] = Buffer.from(actionFrame(base, g, a, k).data).toString("base64");

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--use-fake-ui-for-media-stream", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const ctx = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, ignoreHTTPSErrors: true, locale: "zh-CN" });
  // (as source text: tsx names this file's functions with a helper `__name` the page lacks)
  await ctx.addInitScript({ content: `var __name = (f) => f; (${cameraInit.toString()})();` });
  page = await ctx.newPage();
  page.on("request", (r) => r.method() === "POST" && posts.push({ url: r.url(), body: r.postData() }));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));

  // pair the terminal as an operator would (registered without the still-image exemption: a POS terminal)
  await page.goto(`${stack.url}/pos/`);
  await screen("pair", 30_000);
  const code = /^pf1\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/.exec(await page.inputValue("#pairing-code"))!;
  const d = await admin.admin("POST", `/v1/admin/merchants/${m.body.merchantId}/devices`, { suite: "INTL", publicKey: code[1], authKey: code[2], label: "live till" });
  assert.equal(d.body.stillImage, false);
  assert.equal((await stack.client("operator").admin("POST", `/v1/admin/devices/${d.body.deviceId}/approve`)).status, 200);
  await page.fill("#device-id", d.body.deviceId);
  await page.click("form button[type=submit]");
  await screen("home");
  // the frames into the page (ImageData), for the fake camera
  await page.evaluate((fr) => {
    const faces: Record<string, ImageData> = {};
    for (const [k, b64] of Object.entries(fr)) {
      const bin = atob(b64);
      const px = new Uint8ClampedArray(bin.length);
      for (let i = 0; i < bin.length; i++) px[i] = bin.charCodeAt(i);
      faces[k] = new ImageData(px, 640, 480);
    }
    (window as unknown as { __cam: { faces: object } }).__cam.faces = faces;
  }, frames);
});

after(async () => {
  await browser?.close().catch(() => {});
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** the signed liveness of the last enrolment / verification the page sent */
function lastLiveness(): { score: number; actions?: string[]; steps?: { action: string }[] } {
  const r = posts.filter((x) => /\/v1\/(enrolments|verifications)$/.test(x.url)).at(-1)!;
  return JSON.parse(r.body!).liveness;
}

describe("POS web app: active liveness prompts (the gateway's default: 2 actions)", { timeout: 600_000 }, () => {
  it("a cooperative person follows the prompts: enrolled, then verified; the signed request names the challenge's actions; the camera opens after the consent", async () => {
    await setCamera("cooperative");
    const actions = await startFlow("enrol");
    assert.equal(actions.length, 2);
    await until('#prompt[data-prompt]:not([data-prompt="look-at-camera"])', 60_000);
    await shot("live-prompt");
    assert.equal(await page.getAttribute("#prompt", "role"), "status");
    assert.equal(await page.getAttribute("#prompt", "aria-live"), "polite");
    assert.equal(await end(), "enrolled", `${await page.textContent("main")} ${errors.join(" | ")}`);
    assert.deepEqual(lastLiveness().actions, actions);
    assert.deepEqual(lastLiveness().steps!.map((s) => s.action), actions);

    const again = await startFlow("verify");
    assert.equal(await end(), "accepted", `${await page.textContent("main")} ${errors.join(" | ")}`);
    assert.deepEqual(lastLiveness().actions, again);
    const ev = await events();
    assert.ok(ev.indexOf("POST /v1/consents") >= 0 && ev.indexOf("getUserMedia") > ev.indexOf("POST /v1/consents"), ev.join(", "));
    await page.click("#home");
  });

  it("a photo held still: the step times out (LIVENESS_TIMEOUT, its text); Try again starts a new challenge and the person passes", async () => {
    await setCamera("still");
    await startFlow("verify");
    assert.equal(await end(), "error");
    assert.equal(await page.textContent("#error-code"), "LIVENESS_TIMEOUT");
    assert.match((await page.textContent("#error-text"))!, /未在规定时间内完成动作/);
    await shot("error-live-timeout");
    await setCamera("cooperative");
    const n = posts.filter((x) => x.url.endsWith("/v1/challenges")).length;
    await page.click("#retry");
    await listedActions();
    assert.equal(await end(), "accepted", `${await page.textContent("main")} ${errors.join(" | ")}`);
    assert.ok(posts.filter((x) => x.url.endsWith("/v1/challenges")).length > n, "the retry fetched a new challenge");
    await page.click("#home");
  });

  it("attack: a recording of an earlier session performing another action sequence is refused (LIVENESS_ACTIONS_MISMATCH), nothing sent", async () => {
    await setCamera("replay");
    const sent = posts.filter((x) => /\/v1\/verifications$/.test(x.url)).length;
    const asked = await startFlow("verify");
    // an earlier session's recording: a turn the challenge does not ask for first, then another action
    const first: LivenessAction = asked[0] === "turn-left" ? "turn-right" : "turn-left";
    const second = ACTIONS.find((a) => a !== first && a !== "blink")!;
    const rec: [string, number][] = [["neutral", 800]];
    for (const a of [first, second]) rec.push([`${a}:0.5`, 200], [`${a}:1`, 900], [`${a}:0.5`, 200], ["neutral", 800]);
    await setCamera("replay", rec);
    assert.equal(await end(), "error");
    assert.equal(await page.textContent("#error-code"), "LIVENESS_ACTIONS_MISMATCH");
    assert.match((await page.textContent("#error-text"))!, /动作与提示不符/);
    await shot("error-live-replay");
    assert.equal(posts.filter((x) => /\/v1\/verifications$/.test(x.url)).length, sent, "a verification was sent");
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});
