import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));

test("privface --help lists every registered command", () => {
  const out = execFileSync(process.execPath, [bin, "--help"], { encoding: "utf8" });
  assert.match(out, /Usage: privface/);
  assert.match(out, /version/);
});

test("an unknown command exits non-zero with a message", () => {
  assert.throws(
    () => execFileSync(process.execPath, [bin, "no-such-command"], { encoding: "utf8", stdio: "pipe" }),
    (err: { status: number; stderr: string }) => err.status !== 0 && /unknown command/.test(err.stderr),
  );
});
