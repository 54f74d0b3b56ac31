/**
 * runServer, the one bootstrap of every server process: the ready line on stdout, pino JSON lines on
 * stderr, SIGTERM/SIGINT → close → exit 0, exit 2 with every problem of a ConfigError, exit 1 for any
 * other failure to start or to close. Run as real child processes (fixtures/server.ts).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const fixture = fileURLToPath(new URL("./fixtures/server.ts", import.meta.url));
const env = (mode: string) => ({ ...process.env, FIXTURE_MODE: mode });

/** Starts the fixture, waits for the ready line, sends `signal`, and collects everything until exit. */
function runUntilSignal(mode: string, signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", fixture], { env: env(mode), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`no exit within 30 s:\n${stderr}`));
    }, 30_000);
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (stdout.includes("\n")) p.kill(signal);
    });
    p.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const jsonLines = (text: string) => text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);

describe("runServer", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`prints the ready line, logs JSON on stderr, and on ${signal} closes and exits 0`, async () => {
      const r = await runUntilSignal("ok", signal);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '{"ready":"demo","port":4321}\n', "stdout holds the ready line only");
      const lines = jsonLines(r.stderr);
      // the asynchronous destination may write lines out of order when it flushes at exit: order by time
      const byEvent = new Map(lines.map((l) => [l.event, l]));
      assert.deepEqual([...byEvent.keys()].sort(), ["closed", "listening", "started", "stopping"]);
      const at = (e: string) => byEvent.get(e)!.time as number;
      assert.ok(at("started") <= at("listening") && at("listening") <= at("stopping") && at("stopping") <= at("closed"));
      assert.ok(lines.every((l) => l.role === "demo" && typeof l.level === "number" && typeof l.time === "number"));
      assert.equal(byEvent.get("listening")!.url, "https://127.0.0.1:4321");
      assert.equal(byEvent.get("stopping")!.signal, signal);
      const started = byEvent.get("started")!;
      assert.ok(!r.stderr.includes("c2VhbGVkLXNoYXJlLXNlY3JldA") && !("sealedShare" in started), "redacted");
      assert.deepEqual(started.peer, {}, "nested authorisation removed");
    });
  }

  it("a ConfigError exits 2 and lists every problem; nothing on stdout", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", fixture], { env: env("config"), encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^privface demo: invalid configuration \(DEMO_\*\):/);
    assert.match(r.stderr, /DEMO_PORT: expected an integer/);
    assert.match(r.stderr, /DEMO_CA: file \/nowhere\/ca\.crt does not exist/);
  });

  it("any other failure to start exits 1 with the reason; nothing on stdout", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", fixture], { env: env("fail"), encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /privface demo: failed to start: address already in use/);
  });

  it("a close that fails exits 1 and says why", async () => {
    const r = await runUntilSignal("close-fails", "SIGTERM");
    assert.equal(r.code, 1, r.stderr);
    const failed = jsonLines(r.stderr).find((l) => l.event === "close_failed");
    assert.equal(failed?.reason, "database busy");
  });
});
