import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, envReader } from "../src/index.ts";

test("envReader: defaults for unset and empty variables, typed values when set", () => {
  const r = envReader("X_", { X_PORT: "8080", X_URL: "https://h:1//", X_EMPTY: "", X_MODE: "FULL", PRIVFACE_HOME: "/tmp/h" });
  assert.equal(r.home, "/tmp/h");
  assert.equal(r.int("PORT", 1, 0, 65535), 8080);
  assert.equal(r.int("EMPTY", 7, 0, 10), 7);
  assert.equal(r.get("EMPTY", "d"), "d");
  assert.equal(r.optional("EMPTY"), undefined);
  assert.equal(r.url("URL", "https://x"), "https://h:1");
  assert.equal(r.oneOf("MODE", "NORMAL", ["NORMAL", "FULL"] as const), "FULL");
  assert.equal(r.dbUrl("DB", "sqlite:/tmp/a.sqlite"), "sqlite:/tmp/a.sqlite");
  r.done();
});

test("envReader: every problem is collected and named, then done() throws one ConfigError", () => {
  const r = envReader("X_", { X_PORT: "70000", X_URL: "http://h", X_DB: "mysql://h", X_MODE: "fast", X_HOME: "/tmp/x" });
  assert.equal(r.home, "/tmp/x");
  r.int("PORT", 1, 0, 65535);
  r.url("URL", "https://x");
  r.dbUrl("DB", "sqlite:a");
  r.oneOf("MODE", "NORMAL", ["NORMAL", "FULL"] as const);
  r.file("CA", "/no/such/file");
  assert.throws(
    () => r.done(),
    (e: unknown) => e instanceof ConfigError && ["X_PORT", "X_URL", "X_DB", "X_MODE", "X_CA"].every((k) => e.problems.some((p) => p.startsWith(k))),
  );
});
