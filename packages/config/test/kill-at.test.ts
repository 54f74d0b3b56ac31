/**
 * `killAt` (the kill points of `npm run test:wan`'s kill suite): a process dies by SIGKILL at a step
 * named in PRIVFACE_KILL_AT or in the file PRIVFACE_KILL_AT_FILE (plain, or for its own pid only), and
 * lives on at any other step or without either variable.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";

const module = fileURLToPath(new URL("../src/kill-at.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "privface-kill-at-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `killAt("enrol:x")` then `killAt("verify:y")` in a child; how it ended and what it printed. */
function run(env: Record<string, string>): { signal: string | null; out: string; err: string } {
  const code = `import { killAt } from ${JSON.stringify(module)}; killAt("enrol:x"); console.log("after enrol"); killAt("verify:y"); console.log("after verify");`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
  return { signal: r.signal, out: r.stdout, err: r.stderr };
}

describe("killAt", () => {
  it("without the variables: nothing happens", () => {
    assert.deepEqual(run({}), { signal: null, out: "after enrol\nafter verify\n", err: "" });
  });
  it("PRIVFACE_KILL_AT: killed at the named step, not before", () => {
    const r = run({ PRIVFACE_KILL_AT: "other,verify:y" });
    assert.equal(r.signal, "SIGKILL");
    assert.equal(r.out, "after enrol\n");
    assert.match(r.err, /\{"killed-at":"verify:y"\}/);
  });
  it("PRIVFACE_KILL_AT_FILE: a plain step kills; a step for another pid does not; no file arms nothing", () => {
    const file = join(dir, "kill-at");
    writeFileSync(file, "enrol:x\n");
    assert.equal(run({ PRIVFACE_KILL_AT_FILE: file }).signal, "SIGKILL");
    writeFileSync(file, "1 enrol:x\n1 verify:y\n");
    assert.equal(run({ PRIVFACE_KILL_AT_FILE: file }).signal, null);
    assert.equal(run({ PRIVFACE_KILL_AT_FILE: join(dir, "absent") }).signal, null);
  });
});
