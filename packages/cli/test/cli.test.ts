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

test("secrets on argv are refused before anything runs: --token, --id-number, --phone (also with =); the value is not echoed", () => {
  const cases = [
    ["gateway", "person-add", "--merchant", "mer_x", "--role", "cashier", "--name", "x", "--id-number", "110101199003071234", "--phone-file", "/nonexistent"],
    ["gateway", "person-add", "--merchant", "mer_x", "--role", "cashier", "--name", "x", "--id-number-file", "/nonexistent", "--phone=13800138000"],
    ["gateway", "merchant-add", "--name", "x", "--token", "admin-secret-token-123"],
    ["verify", "--image", "x.jpg", "--merchant", "m", "--person", "p", "--token=admin-secret-token-123"],
  ];
  for (const args of cases) {
    assert.throws(
      () => execFileSync(process.execPath, [bin, ...args], { encoding: "utf8", stdio: "pipe", env: { ...process.env, PRIVFACE_GATEWAY_URL: "https://127.0.0.1:1" } }),
      (err: { status: number; stderr: string }) =>
        err.status === 2 &&
        /secrets are never taken from the command line/.test(err.stderr) &&
        !/110101199003071234|13800138000|admin-secret-token-123/.test(err.stderr),
      args.join(" "),
    );
  }
});

test("person-add reads the ID and phone numbers from files (or the environment), not argv", () => {
  const out = execFileSync(process.execPath, [bin, "gateway", "person-add", "--help"], { encoding: "utf8" });
  assert.match(out, /--id-number-file/);
  assert.match(out, /--phone-file/);
  assert.match(out, /--token-file/);
  assert.doesNotMatch(out, /--id-number </);
  assert.doesNotMatch(out, /--token </);
});
