/**
 * The gateway's static web mounts (`_web.ts`, issue 14): files of one directory under a prefix, the
 * security headers on every answer, 404 for anything outside the directory or hidden, 304 on a
 * matching ETag, and the configuration parser's refusals.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { parseWebMounts, registerWeb, WEB_HEADERS } from "../src/_web.ts";

let dir: string;
let app: FastifyInstance;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "privface-web-"));
  const site = join(dir, "site");
  mkdirSync(join(site, "sub"), { recursive: true });
  writeFileSync(join(site, "index.html"), "<!doctype html><title>pos</title>");
  writeFileSync(join(site, "app.js"), "export {};");
  writeFileSync(join(site, "sub", "m.wasm"), Buffer.from([0, 0x61, 0x73, 0x6d]));
  writeFileSync(join(site, ".secret"), "HIDDEN-CONTENT");
  writeFileSync(join(dir, "outside.txt"), "OUTSIDE-CONTENT");
  app = Fastify();
  registerWeb(app, [{ prefix: "/pos/", dir: site }]);
  await app.ready();
});

after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("static web mounts", () => {
  it("serves the index, scripts and wasm with their types and the security headers", async () => {
    for (const [url, type] of [["/pos/", "text/html"], ["/pos/app.js", "text/javascript"], ["/pos/sub/m.wasm", "application/wasm"]] as const) {
      const r = await app.inject({ method: "GET", url });
      assert.equal(r.statusCode, 200, url);
      assert.ok(String(r.headers["content-type"]).startsWith(type), `${url}: ${r.headers["content-type"]}`);
      for (const [h, v] of Object.entries(WEB_HEADERS)) assert.equal(r.headers[h], v, `${url} ${h}`);
    }
    const csp = WEB_HEADERS["content-security-policy"];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|https?:|\*/);
  });

  it("redirects the bare prefix and answers 304 to a matching ETag", async () => {
    const r = await app.inject({ method: "GET", url: "/pos" });
    assert.equal(r.statusCode, 308);
    assert.equal(r.headers.location, "/pos/");
    const first = await app.inject({ method: "GET", url: "/pos/app.js" });
    const again = await app.inject({ method: "GET", url: "/pos/app.js", headers: { "if-none-match": String(first.headers.etag) } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, "");
  });

  it("refuses traversal, encoded traversal, dot-files, directories and missing files (404; a malformed escape 400)", async () => {
    for (const url of ["/pos/../outside.txt", "/pos/%2e%2e/outside.txt", "/pos/sub/..%2f..%2foutside.txt", "/pos/.secret", "/pos/sub", "/pos/nope.js", "/pos/%00", "/pos/sub%5c..%5c..%5coutside.txt", "/pos/%E0%A4%A"]) {
      const r = await app.inject({ method: "GET", url });
      assert.ok(r.statusCode === 404 || r.statusCode === 400, `${url}: ${r.statusCode}`); // 400: Fastify refuses a malformed escape itself
      assert.doesNotMatch(r.body, /OUTSIDE-CONTENT|HIDDEN-CONTENT/);
    }
    assert.equal((await app.inject({ method: "POST", url: "/pos/app.js", payload: {} })).statusCode, 404);
  });

  it("parses PRIVFACE_GATEWAY_WEB and refuses bad mounts", () => {
    const problems: string[] = [];
    assert.deepEqual(parseWebMounts("/pos/=/srv/pos, /console/=/srv/c/", problems, "WEB"), [
      { prefix: "/pos/", dir: "/srv/pos" },
      { prefix: "/console/", dir: "/srv/c" },
    ]);
    assert.deepEqual(problems, []);
    for (const bad of ["pos=/srv", "/pos=/srv", "/v1/=/srv", "/pos/=relative", "/pos/=/a,/pos/=/b", "/../=/srv", "/Pos/=/srv"]) {
      const p: string[] = [];
      parseWebMounts(bad, p, "WEB");
      assert.equal(p.length, 1, bad);
    }
    assert.deepEqual(parseWebMounts(undefined, problems, "WEB"), []);
  });
});
