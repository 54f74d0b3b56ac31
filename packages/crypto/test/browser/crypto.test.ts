/**
 * Browser interop: the package bundled with esbuild (browser condition → WebCrypto + sm-crypto-v2
 * backend) runs in headless Chromium; we seal in the browser and open in Node, and the other way
 * round, for INTL and GM; signatures both ways; and the browser reproduces the reference vectors.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import * as c from "../../src/index.ts";
import { loadVectors, H, hex } from "../_util.ts";

let server: Server;
let browser: Browser;
let page: Page;

before(async () => {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("./_entry.ts", import.meta.url))],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "es2022",
    external: ["crypto"], // sm-crypto-v2's fallback import, never taken where globalThis.crypto exists
    logLevel: "silent",
  });
  const js = bundle.outputFiles[0].text;
  server = createServer((req, res) => {
    if (req.url === "/bundle.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(js);
    } else {
      res.writeHead(200, { "content-type": "text/html" });
      res.end('<!doctype html><meta charset="utf-8"><script src="/bundle.js"></script>');
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => "pf" in globalThis);
});

after(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
});

type Pf = typeof c & { sealWith: (...a: unknown[]) => Promise<Uint8Array> };
const inPage = <A, R>(fn: (pf: Pf, arg: A) => Promise<R> | R, arg: A): Promise<R> =>
  page.evaluate(
    // eslint-disable-next-line no-new-func
    ([src, a]) => new Function("pf", "arg", `return (${src})(pf, arg)`)((globalThis as unknown as { pf: unknown }).pf, a),
    [fn.toString(), arg] as const,
  ) as Promise<R>;

const aad = new TextEncoder().encode('{"aad":"test","challenge":"ch-1","party":"P1"}');

test("the browser bundle uses the browser backend", async () => {
  assert.equal(await inPage((pf) => pf.backendName, null), "browser");
});

for (const suite of c.SUITES) {
  test(`${suite}: sealed in Chromium, opened in Node`, async () => {
    const kp = await c.generateSealKeyPair(suite);
    const pt = c.randomBytes(300);
    const envHex = await inPage(
      async (pf, a: { suite: "INTL" | "GM"; pub: string; pt: string; aad: string }) =>
        pf.toHex(await pf.seal({ suite: a.suite, publicKey: pf.fromHex(a.pub) }, pf.fromHex(a.pt), pf.fromHex(a.aad))),
      { suite, pub: hex(kp.publicKey), pt: hex(pt), aad: hex(aad) },
    );
    assert.equal(c.envelopeSuite(H(envHex)), suite);
    assert.deepEqual(await c.open(kp, H(envHex), aad), pt);
    await assert.rejects(c.open(kp, H(envHex), c.utf8("other")), { code: "AUTH_FAILED" });
  });

  test(`${suite}: sealed in Node, opened in Chromium (and refused there with the wrong AAD)`, async () => {
    const keys = await inPage(async (pf, s: "INTL" | "GM") => {
      const kp = await pf.generateSealKeyPair(s);
      return { pub: pf.toHex(kp.publicKey), priv: pf.toHex(kp.privateKey) };
    }, suite);
    const pt = c.randomBytes(513);
    const env = await c.seal({ suite, publicKey: H(keys.pub) }, pt, aad);
    const out = await inPage(
      async (pf, a: { suite: "INTL" | "GM"; pub: string; priv: string; env: string; aad: string }) => {
        const kp = { suite: a.suite, publicKey: pf.fromHex(a.pub), privateKey: pf.fromHex(a.priv) };
        const pt = pf.toHex(await pf.open(kp, pf.fromHex(a.env), pf.fromHex(a.aad)));
        let wrong = "";
        try {
          await pf.open(kp, pf.fromHex(a.env), pf.utf8("nope"));
        } catch (e) {
          wrong = (e as { code: string }).code;
        }
        return { pt, wrong };
      },
      { suite, ...keys, env: hex(env), aad: hex(aad) },
    );
    assert.equal(out.pt, hex(pt));
    assert.equal(out.wrong, "AUTH_FAILED");
  });

  test(`${suite}: signatures made in Chromium verify in Node and vice versa`, async () => {
    const msg = c.utf8(c.canonicalJson({ deviceId: "d1", challenge: "x" }));
    const fromPage = await inPage(
      async (pf, a: { suite: "INTL" | "GM"; msg: string }) => {
        const kp = await pf.generateSigningKeyPair(a.suite);
        return { pub: pf.toHex(kp.publicKey), sig: pf.toHex(await pf.sign(kp, pf.fromHex(a.msg))) };
      },
      { suite, msg: hex(msg) },
    );
    assert.equal(await c.verify({ suite, publicKey: H(fromPage.pub) }, msg, H(fromPage.sig)), true);
    assert.equal(await c.verify({ suite, publicKey: H(fromPage.pub) }, c.utf8("other"), H(fromPage.sig)), false);
    const kp = await c.generateSigningKeyPair(suite);
    const sig = await c.sign(kp, msg);
    const ok = await inPage(
      async (pf, a: { suite: "INTL" | "GM"; pub: string; msg: string; sig: string }) => [
        await pf.verify({ suite: a.suite, publicKey: pf.fromHex(a.pub) }, pf.fromHex(a.msg), pf.fromHex(a.sig)),
        await pf.verify({ suite: a.suite, publicKey: pf.fromHex(a.pub) }, pf.utf8("other"), pf.fromHex(a.sig)),
      ],
      { suite, pub: hex(kp.publicKey), msg: hex(msg), sig: hex(sig) },
    );
    assert.deepEqual(ok, [true, false]);
  });
}

test("Chromium reproduces the reference envelopes byte for byte (INTL and GM)", async () => {
  interface SealV { suite: "INTL" | "GM"; recipientPublicKey: string; ephemeralPrivateKey: string; nonce: string; plaintext: string; aad: string; envelope: string }
  const vs = loadVectors<SealV>("seal.json");
  const got = await inPage(
    async (pf, list: SealV[]) => {
      const out: string[] = [];
      for (const v of list) {
        const env = await pf.sealWith(
          { suite: v.suite, publicKey: pf.fromHex(v.recipientPublicKey) },
          pf.fromHex(v.plaintext),
          pf.fromHex(v.aad),
          pf.fromHex(v.ephemeralPrivateKey),
          pf.fromHex(v.nonce),
        );
        out.push(pf.toHex(env));
      }
      return out;
    },
    vs,
  );
  assert.deepEqual(got, vs.map((v) => v.envelope));
});

test("data keys: encrypted in Chromium, decrypted in Node (INTL and GM)", async () => {
  for (const suite of c.SUITES) {
    const dk = c.generateDataKey(suite, "k1");
    const blobHex = await inPage(
      async (pf, a: { suite: "INTL" | "GM"; key: string }) =>
        pf.toHex(await pf.encryptWithDataKey({ suite: a.suite, id: "k1", key: pf.fromHex(a.key) }, pf.utf8("secret"), pf.utf8("ad"))),
      { suite, key: hex(dk.key) },
    );
    assert.equal(c.fromUtf8(await c.decryptWithDataKey(dk, H(blobHex), c.utf8("ad"))), "secret");
  }
});
