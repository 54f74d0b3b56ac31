/**
 * `privface start` on ephemeral ports in a temporary home: first run creates PKI and keys, all
 * servers come up and are healthy, SIGINT stops everything with exit code 0; a child that dies is
 * reported and stops the rest with exit code 1.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { get } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createPartyClient } from "@privface/gateway";
import { readTlsMaterial } from "@privface/pki";
import { runtimeLayout, useDevKeySecret } from "@privface/config";
import { gatewayResultKey } from "@privface/devstack";

useDevKeySecret(); // this process reads the dev home `privface start` encrypts under the development secret
const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));
const homes: string[] = [];
const started: ChildProcess[] = [];
after(() => {
  // a run that timed out must not leave its servers behind: the CLI's process group goes with it
  for (const p of started) {
    try {
      process.kill(-p.pid!, "SIGKILL"); // its own process group: the CLI and the servers it started
    } catch {
      /* already gone */
    }
  }
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

async function free(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}
/** A base port with four consecutive free ports (never the fixed 7440–7443). */
async function freeBase(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await Promise.all([0, 1, 2, 3].map((k) => free(base + k)))).every(Boolean)) return base;
  }
  throw new Error("no free port range");
}

function startCli(home: string, base: number, env: Record<string, string> = {}, extra: string[] = []): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [bin, "start", "--ports", String(base), "--home", home, "--quiet", ...extra], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  started.push(proc);
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  return { proc, out: () => out, exited };
}

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on("error", reject);
  });
}

async function until(cond: () => boolean, ms: number, what: string, out: () => string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`${what} not reached in ${ms} ms; output:\n${out()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("privface start", { timeout: 300_000 }, () => {
  it("creates PKI and keys, starts every server, is healthy, and SIGINT stops all cleanly", async () => {
    const home = mkdtempSync(join(tmpdir(), "privface-start-"));
    homes.push(home);
    const base = await freeBase();
    const s = startCli(home, base);
    await until(() => /ready \(home/.test(s.out()) || s.proc.exitCode !== null, 120_000, "ready", s.out);
    assert.match(s.out(), /created \d+ files/);
    assert.ok(existsSync(join(home, "pki", "ca.crt")) && existsSync(join(home, "keys", "p0", "seal.json")));
    for (const name of ["helper", "p0", "p1", "gateway"]) assert.match(s.out(), new RegExp(`${name}\\s+listening on https://127\\.0\\.0\\.1:\\d+`));
    const client = createPartyClient({ url: `https://127.0.0.1:${base + 1}`, tls: readTlsMaterial(join(home, "pki"), "gateway-client"), party: "P0", resultKey: await gatewayResultKey(runtimeLayout(home), "P0") });
    try {
      let h = await client.health();
      for (let i = 0; i < 50 && (h.peer !== "up" || h.helper !== "up"); i++) {
        await new Promise((r) => setTimeout(r, 200));
        h = await client.health();
      }
      assert.deepEqual([h.role, h.peer, h.helper], ["p0", "up", "up"]);
    } finally {
      client.close();
    }
    // the POS web app is built and served on the gateway's origin, with its security headers
    assert.match(s.out(), new RegExp(`POS web app on https://127\\.0\\.0\\.1:${base + 3}/pos/`));
    const page = await httpsGet(`https://127.0.0.1:${base + 3}/pos/`, readFileSync(join(home, "pki", "ca.crt")));
    assert.equal(page.status, 200);
    assert.match(page.body, /<script type="module" src="app.js">/);
    assert.match(String(page.headers["content-security-policy"]), /^default-src 'none'/);
    s.proc.kill("SIGINT");
    assert.equal(await s.exited, 0, s.out());
    assert.match(s.out(), /stopped/);
    for (const k of [0, 1, 2, 3]) assert.equal(await free(base + k), true, `port ${base + k} released`);
  });

  it("a child that dies is reported and stops the rest (exit code 1)", async () => {
    const home = homes[0]; // second run: PKI and keys exist
    const base = await freeBase();
    const s = startCli(home, base, {}, ["--no-gateway"]);
    await until(() => /ready \(home/.test(s.out()) || s.proc.exitCode !== null, 120_000, "ready", s.out);
    const children = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(s.proc.pid)], { encoding: "utf8" });
    const p1 = children.split("\n").find((l) => /party[/\\]src[/\\]main\.ts P1/.test(l));
    assert.ok(p1, children);
    process.kill(Number(p1.trim().split(/\s+/)[0]), "SIGKILL");
    assert.equal(await s.exited, 1, s.out());
    assert.match(s.out(), /p1 exited \(SIGKILL\); stopping the others/);
    for (const k of [0, 1, 2, 3]) assert.equal(await free(base + k), true, `port ${base + k} released`);
  });

  it("a bad configuration stops start-up with a clear message", async () => {
    const s = startCli(homes[0], await freeBase(), { PRIVFACE_P0_POOL_LOW: "lots" }, ["--no-gateway"]);
    assert.equal(await s.exited, 1);
    assert.match(s.out(), /p0 failed to start/);
    assert.match(s.out(), /PRIVFACE_P0_POOL_LOW: expected an integer/);
  });
});
