/**
 * The package bundled for the browser (esbuild, "browser" condition → @noble/ciphers AES backend) runs a
 * fixed-seed enrolment, three verifications and a 1:N deduplication query (JS scan) in headless Chromium;
 * the result must equal Node's (node:crypto backend) bit for bit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { run } from "./_entry.ts";

test("browser bundle (noble AES) gives the same shares, bundles and decisions as Node (node:crypto), dedup included", async () => {
  const out = await build({
    entryPoints: [fileURLToPath(new URL("./_entry.ts", import.meta.url))],
    bundle: true, write: false, platform: "browser", format: "iife", globalName: "mpcTest", target: "es2022", logLevel: "silent",
  });
  const code = out.outputFiles[0].text;
  assert.ok(!code.includes("node:crypto"), "the browser bundle must not reference node:crypto");
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    await page.addScriptTag({ content: code });
    const inBrowser = await page.evaluate(() => (globalThis as unknown as { mpcTest: { run(): unknown } }).mpcTest.run());
    const inNode = run();
    assert.equal((inBrowser as { backend: string }).backend, "@noble/ciphers");
    assert.equal(inNode.backend, "node:crypto");
    const strip = (r: Record<string, unknown>) => ({ ...r, backend: undefined });
    assert.deepEqual(strip(JSON.parse(JSON.stringify(inBrowser))), strip(JSON.parse(JSON.stringify(inNode))));
    const results = inNode.results as { valid: number; match: number; plain: number[] }[];
    for (const r of results) assert.deepEqual([r.valid, r.match], r.plain);
    assert.deepEqual(results.map((r) => r.match), [1, 0, 0]);
    const dedup = inNode.dedup as { matches: number[]; plain: number[] };
    assert.deepEqual(dedup.matches, dedup.plain);
    assert.ok(dedup.matches.includes(0));
  } finally {
    await browser.close();
  }
});
