/**
 * The per-process CPU the benchmarks report (`cpuMs`, from /proc/<pid>/stat) is the named process's
 * own: a busy child is charged what it used by its own account (getrusage), an idle sibling nothing,
 * this process not the child's time.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { cpuMs } from "../src/bench/_stack.ts";

const linux = process.platform === "linux";

function child(code: string): ChildProcess {
  return spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
}

test("cpuMs: each process is charged its own CPU time", { skip: linux ? undefined : "reads /proc" }, async () => {
  // both print a line when started; then the busy one computes for a while and reports the CPU it
  // used meanwhile by its own account (getrusage), the idle one sleeps
  const busy = child(`process.stdout.write("up\\n"); setTimeout(() => { const t = process.cpuUsage(); let x = 0; for (let i = 0; i < 4e8; i++) x += i % 7; const u = process.cpuUsage(t); process.stdout.write(JSON.stringify({ ms: (u.user + u.system) / 1000, x }) + "\\n"); setTimeout(() => {}, 5000); }, 50);`);
  const idle = child(`process.stdout.write("up\\n"); setTimeout(() => {}, 5000);`);
  try {
    await Promise.all([once(busy.stdout!, "data"), once(idle.stdout!, "data")]);
    const before = { busy: cpuMs(busy.pid!)!, idle: cpuMs(idle.pid!)!, self: cpuMs(process.pid)! };
    const [line] = (await once(busy.stdout!, "data")) as [Buffer];
    const own = (JSON.parse(String(line)) as { ms: number }).ms;
    const spent = { busy: cpuMs(busy.pid!)! - before.busy, idle: cpuMs(idle.pid!)! - before.idle, self: cpuMs(process.pid)! - before.self };
    assert.ok(own > 100, `the busy child used ${own} ms`);
    assert.ok(Math.abs(spent.busy - own) <= 40 + 0.05 * own, `busy child charged ${spent.busy} ms, used ${own} ms by its own account`);
    assert.ok(spent.idle <= 30, `idle child charged ${spent.idle} ms`);
    assert.ok(spent.self <= 0.5 * own, `this process charged ${spent.self} ms`);
  } finally {
    busy.kill();
    idle.kill();
  }
  assert.equal(cpuMs(2 ** 22 + 12345), undefined, "no such process");
});
