/**
 * The POS web app (issue 14): pair the terminal, then per person enrol, verify, withdraw consent or
 * deregister. Every face flow starts with the privacy notice (`GET /v1/notices/current`); the camera
 * is opened only after the person agreed and the consent was recorded; refusing shows the non-face
 * path. The challenge is fetched first (`FaceDevice.captureAndSubmit`): when it names actions (active
 * liveness, issue 17) the person is prompted through them step by step and the SDK's `liveCapture`
 * checks them on the camera frames; otherwise the capture guides the person live (`quality.ts`) and
 * embeds the sharpest of several good frames. Everything runs in the page (onnxruntime-web wasm); only
 * the embedding, liveness score and per-step evidence reach the SDK, which seals the shares to the
 * party keys its pinned roots certify and signs the evidence with them.
 * Frames and embeddings are wiped after use; nothing about the face is stored (the device keys and
 * id, the key-list versions seen, the roots a root handover moved it to and the language are the only things kept).
 */
import { captureFrame, nextVideoFrame, openCamera } from "@privface/device/browser";
import { createFaceEngine, type FaceEngine } from "@privface/device/engine";
import { DeviceError, FaceDevice, liveCapture, type ChallengeCapture, type GatewayAnswer, type Notice } from "@privface/device";
import { fromBase64url, toBase64url } from "@privface/crypto";
import type { LivenessAction, PartyName } from "@privface/contracts";
import { actionName, errorText, guide, prompt, t, type Lang, type TextKey } from "./i18n.ts";
import { loadIdentity, type DeviceIdentity } from "./identity.ts";
import type { Assessment } from "./quality.ts";
import { guidedCapture } from "./capture.ts";

declare const __PRIVFACE_ROOTS__: Record<PartyName, string>;

type Purpose = "enrol" | "verify" | "withdraw" | "deregister";

const LS = { lang: "privface.pos.lang", device: "privface.pos.deviceId", seen: "privface.pos.keyListsSeen", roots: "privface.pos.roots" };
const CAPTURE_MS = 20_000;

const base = new URL(".", location.href);
let lang: Lang = localStorage.getItem(LS.lang) === "en" ? "en" : "zh";
let identity: DeviceIdentity;
let sdk: FaceDevice | undefined;
let engine: Promise<FaceEngine> | undefined;
let personId = "";
let rerender: () => void = () => {};

const main = document.getElementById("app") as HTMLElement;

// ---- tiny DOM helpers (text only: nothing is ever parsed as HTML) ------------------------------

type Child = Node | string | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | ((e: Event) => void)> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k, v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const c of children) if (c) el.append(c);
  return el;
}
const tx = (k: TextKey, vars?: Record<string, string>) => t(lang, k, vars);
const button = (label: string, onclick: () => void, cls = "primary", id?: string) => h("button", { type: "button", class: cls, click: onclick, ...(id ? { id } : {}) }, label);

/** Replaces the screen, moves focus to its heading (keyboard and screen-reader users land there). */
function show(name: string, render: () => Child[]): void {
  rerender = () => show(name, render);
  main.dataset.screen = name;
  main.replaceChildren(
    h("header", {}, h("span", { class: "brand" }, tx("title")), button(tx("lang"), switchLang, "link", "lang")),
    ...render().filter((c): c is Node | string => !!c),
  );
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  (main.querySelector("h1") as HTMLElement | null)?.focus();
}

function switchLang(): void {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem(LS.lang, lang);
  rerender();
}

// ---- SDK and engine -------------------------------------------------------------------------------

function makeSdk(deviceId: string): FaceDevice {
  const seen = JSON.parse(localStorage.getItem(LS.seen) ?? "{}") as Partial<Record<PartyName, number>>;
  // the roots compiled in, or the ones a root handover moved this terminal to (the SDK replaces them in place)
  const held = { ...__PRIVFACE_ROOTS__, ...(JSON.parse(localStorage.getItem(LS.roots) ?? "{}") as Partial<Record<PartyName, string>>) };
  const root = (p: PartyName) => ({ suite: "INTL" as const, kind: "sign" as const, publicKey: fromBase64url(held[p]) });
  const trust = { roots: { P0: root("P0"), P1: root("P1") }, seen };
  return new FaceDevice({
    deviceId,
    signingKey: identity.signer,
    authKey: identity.agreer,
    trust,
    gatewayUrl: location.origin,
    fetch: async (url, init) => {
      const r = await fetch(url, { ...init, cache: "no-store", credentials: "omit" });
      localStorage.setItem(LS.seen, JSON.stringify(trust.seen)); // refuse key-list rollbacks across reloads
      localStorage.setItem(LS.roots, JSON.stringify({ P0: toBase64url(trust.roots.P0.publicKey), P1: toBase64url(trust.roots.P1.publicKey) })); // and a retired root's lists
      return r;
    },
  });
}

function loadEngine(): Promise<FaceEngine> {
  engine ??= createFaceEngine({ modelBaseUrl: new URL("models/", base).href, wasmPaths: new URL("ort/", base).href });
  return engine;
}

function codeOf(e: unknown): string {
  if (e instanceof DeviceError) return e.code;
  console.error(e); // unexpected: the class and message only reach the page's console
  return (e as { code?: string })?.code ?? "INTERNAL";
}

// ---- screens --------------------------------------------------------------------------------------

function pairScreen(): void {
  const input = h("input", { id: "device-id", name: "device-id", autocomplete: "off", spellcheck: "false", required: true, pattern: "[A-Za-z0-9_\\-]{3,64}" });
  show("pair", () => [
    h("h1", { tabindex: "-1" }, tx("pairTitle")),
    h("p", {}, tx("pairIntro")),
    h("label", { for: "pairing-code" }, tx("pairCode")),
    h("textarea", { id: "pairing-code", readonly: true, rows: "3" }, identity.pairingCode),
    h("p", {}, tx("fingerprint"), ": ", h("strong", { id: "fingerprint" }, identity.fingerprint)),
    h(
      "form",
      { submit: (e: Event) => (e.preventDefault(), pair(input.value.trim())) },
      h("label", { for: "device-id" }, tx("deviceId")),
      input,
      h("button", { type: "submit", class: "primary" }, tx("pairDone")),
    ),
  ]);
}

function pair(deviceId: string): void {
  if (!/^[A-Za-z0-9_-]{3,64}$/.test(deviceId)) return;
  localStorage.setItem(LS.device, deviceId);
  sdk = makeSdk(deviceId);
  homeScreen();
}

function homeScreen(): void {
  const input = h("input", { id: "person-id", name: "person-id", autocomplete: "off", spellcheck: "false", required: true, value: personId, "aria-describedby": "person-hint" });
  const go = (p: Purpose) => () => {
    personId = input.value.trim();
    if (!personId) return input.focus();
    if (p === "withdraw") withdrawScreen();
    else void noticeScreen(p);
  };
  show("home", () => [
    h("h1", { tabindex: "-1" }, tx("homeTitle")),
    h("label", { for: "person-id" }, tx("personId")),
    input,
    h("p", { id: "person-hint", class: "hint" }, tx("personHint")),
    h("div", { class: "actions" }, button(tx("verify"), go("verify"), "primary", "verify"), button(tx("enrol"), go("enrol"), "secondary", "enrol")),
    h("div", { class: "actions" }, button(tx("withdraw"), go("withdraw"), "secondary", "withdraw"), button(tx("deregister"), go("deregister"), "secondary", "deregister")),
    h("p", { class: "hint" }, `${tx("device")}: ${localStorage.getItem(LS.device) ?? ""}`),
  ]);
  void loadEngine().catch(() => undefined); // warm the engine while the person reads; the camera stays closed
}

async function noticeScreen(p: "enrol" | "verify" | "deregister"): Promise<void> {
  working();
  let notice: Notice;
  try {
    notice = await sdk!.notice();
  } catch (e) {
    return errorScreen(codeOf(e));
  }
  const item = (k: TextKey, v: TextKey) => h("div", { class: "item" }, h("dt", {}, tx(k)), h("dd", {}, tx(v)));
  show("notice", () => [
    h("h1", { tabindex: "-1" }, tx("noticeTitle")),
    h(
      "dl",
      { class: "notice" },
      item("noticePurpose", "noticePurposeText"),
      item("noticeMethod", "noticeMethodText"),
      item("noticeScope", "noticeScopeText"),
      item("noticeRetention", "noticeRetentionText"),
      item("noticeHolders", "noticeHoldersText"),
    ),
    h("details", {}, h("summary", {}, tx("noticeFull", { v: notice.version })), ...notice.text.split("\n").map((l) => h("p", { class: "notice-text" }, l))),
    h("div", { class: "actions" }, button(tx("agree"), () => void agree(p, notice), "primary", "agree"), button(tx("refuse"), refusedScreen, "secondary", "refuse")),
  ]);
}

function refusedScreen(): void {
  show("refused", () => [h("h1", { tabindex: "-1" }, tx("refusedTitle")), h("p", {}, tx("refusedText")), button(tx("home"), homeScreen, "primary", "home")]);
}

async function agree(p: "enrol" | "verify" | "deregister", notice: Notice): Promise<void> {
  working();
  try {
    await sdk!.consent(personId, notice);
  } catch (e) {
    return errorScreen(codeOf(e));
  }
  await faceFlow(p);
}

function working(): void {
  show("working", () => [h("h1", { tabindex: "-1" }, tx("working")), h("div", { class: "spinner", "aria-hidden": "true" })]);
}

/**
 * Opens the camera (only here: after the consent, and once the challenge is known) and runs the
 * capture on its frames: without actions the guided capture (`capture.ts`); with the challenge's
 * actions (issue 17) the prompts, step by step, checked by the SDK's `liveCapture` (the tracker on the
 * landmarks, then passive liveness and the embedding of a frame facing the camera), whose per-step
 * evidence `captureAndSubmit` signs.
 */
async function capture(actions: LivenessAction[]): Promise<ChallengeCapture> {
  const live = actions.length > 0;
  const status = h("p", { id: live ? "prompt" : "guidance", class: "guidance", role: "status", "aria-live": "polite" }, tx("loading"));
  const frameBox = h("div", { class: "camera" }, h("div", { class: "oval", "aria-hidden": "true" }));
  const steps = actions.map((a) => h("li", { "data-action": a }, actionName(lang, a)));
  const progress = h("p", { id: "step", class: "hint" });
  let cancelled = false;
  show("capture", () => [
    h("h1", { tabindex: "-1" }, tx(live ? "liveTitle" : "captureTitle")),
    live && h("p", { class: "hint" }, tx("liveIntro")),
    live && h("ol", { class: "steps", id: "steps" }, ...steps),
    frameBox,
    live && progress,
    status,
    button(tx("cancel"), () => (cancelled = true), "secondary", "cancel"),
  ]);
  const eng = await loadEngine();
  let cam: Awaited<ReturnType<typeof openCamera>>;
  try {
    cam = await openCamera({ width: 640, height: 480, facingMode: "user" });
  } catch {
    throw new DeviceError("CAMERA_UNAVAILABLE", "camera");
  }
  cam.video.setAttribute("aria-hidden", "true");
  frameBox.prepend(cam.video);
  const canvas = document.createElement("canvas");
  let last: ImageData | undefined;
  const next = async () => {
    if (cancelled) throw new DeviceError("CANCELLED", "cancelled");
    await nextVideoFrame(cam.video);
    return captureFrame(cam.video, canvas);
  };
  try {
    if (!live) {
      const onGuidance = (a: Assessment) => {
        status.textContent = guide(lang, a.guidance);
        status.dataset.guidance = a.guidance;
      };
      const r = await guidedCapture(eng, next, { maxMs: CAPTURE_MS, onGuidance, cancelled: () => cancelled });
      return { embedding: r.embedding, liveness: r.liveness, modelVersion: eng.model.version };
    }
    const onPrompt = (p: string, step: number) => {
      status.textContent = prompt(lang, p);
      status.dataset.prompt = p;
      status.dataset.step = String(step);
      progress.textContent = p === "look-at-camera" || p === "hold-still" ? "" : tx("liveStep", { n: String(step + 1), m: String(actions.length) });
      steps.forEach((li, i) => {
        li.className = i < step || p === "hold-still" ? "done" : i === step && p !== "look-at-camera" ? "current" : "";
        if (li.className === "current") li.setAttribute("aria-current", "step");
        else li.removeAttribute("aria-current");
      });
    };
    const source = async () => {
      last?.data.fill(0); // used: liveCapture keeps copies of the frames it needs (and wipes them)
      const f = (last = await next()); // ImageData: its fields are accessors, not own properties
      return { data: f.data, width: f.width, height: f.height, t: performance.now() };
    };
    const r = await liveCapture(eng, actions, source, { onPrompt });
    return { embedding: r.embedding, liveness: r.liveness, steps: r.steps, frame: r.frame, modelVersion: eng.model.version };
  } finally {
    last?.data.fill(0);
    cam.stop();
    cam.video.srcObject = null;
    canvas.width = canvas.height = 0;
  }
}

/** Errors after which the same person simply tries again (a new challenge, new actions). */
const RETRY = new Set(["LIVENESS_TIMEOUT", "LIVENESS_FACE_LOST", "LIVENESS_ACTIONS_MISMATCH", "CAPTURE_TIMEOUT", "NO_FACE", "FACE_TOO_SMALL"]);

async function faceFlow(p: "enrol" | "verify" | "deregister"): Promise<void> {
  working();
  try {
    await loadEngine(); // before the challenge: its short lifetime is for the capture
    // the challenge first (its actions, if any, are what the person is asked to do), then the capture
    const ans: GatewayAnswer = await sdk!.captureAndSubmit(p === "enrol" ? "enrol" : "verify", personId, ({ actions }) => capture(actions).finally(working));
    if (p === "enrol") return ans.decision === "accept" ? resultScreen("enrolled", "enrolledTitle", "enrolledText") : errorScreen(String(ans.reason));
    if (ans.decision !== "accept") return resultScreen("rejected", "rejectTitle", "rejectText");
    if (p === "verify") return resultScreen("accepted", "acceptTitle", "acceptText");
    const del = await sdk!.deregister(personId);
    return resultScreen("deregistered", "deregisteredTitle", del.status === "pending" ? "pendingText" : "deletedText");
  } catch (e) {
    const code = codeOf(e);
    return code === "CANCELLED" ? homeScreen() : errorScreen(code, RETRY.has(code) ? () => void faceFlow(p) : undefined);
  }
}

function withdrawScreen(): void {
  show("withdraw", () => [
    h("h1", { tabindex: "-1" }, tx("withdrawTitle")),
    h("p", {}, tx("withdrawText")),
    h("div", { class: "actions" }, button(tx("withdrawConfirm"), () => void doWithdraw(), "danger", "withdraw-confirm"), button(tx("back"), homeScreen, "secondary", "back")),
  ]);
}

async function doWithdraw(): Promise<void> {
  working();
  try {
    const r = await sdk!.withdraw(personId);
    resultScreen("withdrawn", "withdrawnTitle", r.status === "deleted" ? "deletedText" : r.status === "pending" ? "pendingText" : "disabledText");
  } catch (e) {
    errorScreen(codeOf(e));
  }
}

function resultScreen(name: string, title: TextKey, text: TextKey): void {
  show(name, () => [h("h1", { tabindex: "-1", class: name }, tx(title)), h("p", { id: "result-text" }, tx(text)), button(tx("home"), homeScreen, "primary", "home")]);
}

/** An error; with `retry`, a button to try the same flow again (the consent just given still holds). */
function errorScreen(code: string, retry?: () => void): void {
  show("error", () => [
    h("h1", { tabindex: "-1" }, tx("errorTitle")),
    h("p", { id: "error-text", role: "alert" }, errorText(lang, code)),
    h("p", { class: "hint" }, `${tx("code")}: `, h("code", { id: "error-code" }, code)),
    retry && button(tx("again"), retry, "primary", "retry"),
    button(tx("home"), homeScreen, retry ? "secondary" : "primary", "home"),
  ]);
}

// ---- start ----------------------------------------------------------------------------------------

async function start(): Promise<void> {
  show("loading", () => [h("h1", { tabindex: "-1" }, tx("loading"))]);
  identity = await loadIdentity();
  const deviceId = localStorage.getItem(LS.device);
  if (!deviceId) return pairScreen();
  sdk = makeSdk(deviceId);
  homeScreen();
}

void start().catch((e) => errorScreen(codeOf(e)));
