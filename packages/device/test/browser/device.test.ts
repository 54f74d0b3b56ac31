/**
 * The SDK in Chromium with a fake camera (STACK.md (d)): a Y4M video is written in Node from a
 * package-shipped face photo, Chromium plays it as the camera, the page captures a frame, runs the
 * face engine (onnxruntime-web wasm, models served from node_modules by a loopback server on port 0)
 * and builds the sealed, signed verification body. The test checks that the browser embedding
 * matches the Node embedding of the same image (cosine > 0.9), that the sealed shares open with the
 * parties' keys and reconstruct the browser's int8 template, and that the signature verifies.
 */
import { testTrust } from "../_trust.ts";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createServer, type Server } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type Browser } from "playwright-core";
import { contextAad } from "@privface/contracts";
import { fromBase64url, generateSealKeyPair, open, toBase64url, verify } from "@privface/crypto";
import { expandSeedShare, quantise, reconstructBytes } from "@privface/mpc";
import { createFaceEngine, MODEL, signedMessage, type ChallengeResponse, type FaceRequestBody } from "../../src/index.ts";
import { nodeAssetDirs } from "../../src/_node.ts";
import { cosine, makeFrame, sample } from "../_fixtures.ts";
import { writeY4m } from "@privface/devstack";
import type { RgbaImage } from "../../src/decode.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
let dir: string;
let server: Server;
let port: number;
let browser: Browser;
let frame: RgbaImage;

const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".onnx": "application/octet-stream" };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "privface-device-browser-"));
  // The camera frame: the central face of sample1, ~220 px in a 640×480 frame.
  const img = await sample(1);
  const loose = await createFaceEngine({ livenessThreshold: 0, multipleFaces: "largest" });
  const r = await loose.processFrame(img.data, img.width, img.height);
  await loose.release();
  assert.ok(r.ok);
  const side = Math.max(r.box.x2 - r.box.x1, r.box.y2 - r.box.y1);
  frame = makeFrame(img, { cx: (r.box.x1 + r.box.x2) / 2, cy: (r.box.y1 + r.box.y2) / 2, scale: side / 220, width: 640, height: 480 });
  writeY4m(join(dir, "face.y4m"), frame);

  await build({
    entryPoints: [join(here, "_page.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outfile: join(dir, "bundle.js"),
    conditions: ["browser"],
    external: ["node:*"],
    logLevel: "error",
  });
  writeFileSync(join(dir, "index.html"), `<!doctype html><meta charset="utf-8"><title>device</title><script type="module" src="/bundle.js"></script>`);

  const { modelDir, ortDist } = nodeAssetDirs();
  const roots: [string, string][] = [["/models/", modelDir], ["/ort/", ortDist], ["/", dir]];
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname === "/" ? "/index.html" : url.pathname;
    for (const [prefix, root] of roots) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(root, path.slice(prefix.length)));
      if (!file.startsWith(root)) break;
      try {
        const body = readFileSync(file);
        res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
        res.end(body);
        return;
      } catch {
        break;
      }
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-video-capture=${join(dir, "face.y4m")}`,
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
});

after(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("device SDK in Chromium with a fake camera", () => {
  it("captures a frame, embeds it like Node does, and builds a sealed signed body", { timeout: 120_000 }, async (t) => {
    const p0 = await generateSealKeyPair("INTL");
    const p1 = await generateSealKeyPair("INTL");
    const tt = await testTrust("INTL", { P0: p0, P1: p1 });
    const challenge: ChallengeResponse = {
      challenge: "browser_challenge_0123456789",
      expiresAt: Date.now() + 60_000,
      templateId: "tpl_browser",
      modelVersion: MODEL.version,
      keyLists: tt.keyLists,
    };
    const roots = { P0: toBase64url(tt.roots.P0.publicKey), P1: toBase64url(tt.roots.P1.publicKey) };
    const page = await browser.newPage();
    const errors: string[] = [];
    const logs: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on("requestfailed", (r) => logs.push(`request failed: ${r.url()}`));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => typeof window.runDevice === "function", undefined, { timeout: 20_000 }).catch((e) => {
      throw new Error(`page did not load: ${String(e)}; errors: ${errors.join(" | ")}; console: ${logs.join(" | ")}`);
    });
    const out = (await page.evaluate((a) => window.runDevice(a), { challenge, roots })) as
      | { ok: false; error: string }
      | { ok: true; width: number; height: number; embedding: number[]; body: FaceRequestBody; devicePublicKey: string };
    assert.deepEqual(errors, []);
    assert.ok(out.ok, `browser pipeline failed: ${!out.ok ? out.error : ""}`);
    assert.equal(out.width, 640);
    assert.equal(out.height, 480);

    const node = await createFaceEngine({ livenessThreshold: 0 });
    const rn = await node.processFrame(frame.data, frame.width, frame.height);
    await node.release();
    assert.ok(rn.ok);
    const eb = Float32Array.from(out.embedding);
    const cos = cosine(eb, rn.embedding);
    assert.ok(cos > 0.9, `browser vs Node embedding cosine ${cos}`);
    t.diagnostic(`browser vs Node embedding cosine ${cos.toFixed(4)}`);

    const body = out.body;
    const ctx = { purpose: "verify", challenge: challenge.challenge, templateId: challenge.templateId!, modelVersion: MODEL.version };
    const seed0 = await open(p0, fromBase64url(body.shares.P0), contextAad({ ...ctx, party: "P0" }));
    const share1 = await open(p1, fromBase64url(body.shares.P1), contextAad({ ...ctx, party: "P1" }));
    assert.deepEqual(reconstructBytes(expandSeedShare(seed0, ctx, MODEL.dim), share1), quantise(eb));
    assert.equal(await verify({ suite: "INTL", publicKey: fromBase64url(out.devicePublicKey) }, signedMessage({ ...body }), fromBase64url(body.signature)), true);
    await page.close();
  });
});
