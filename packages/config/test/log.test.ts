/**
 * The servers' logger: JSON lines with the server's role, and redaction by explicit paths (top level
 * and two levels down: pino's `*.x` reaches one level only) with the values removed, not masked.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger, REDACT_PATHS, silentLog } from "../src/index.ts";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { destination, lines: () => lines.join("").trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>) };
}

test("createLogger: one JSON line per call, with the server's role and the level", () => {
  const c = capture();
  const log = createLogger({ name: "p1", destination: c.destination, level: "warn" });
  log.info({ event: "dropped" });
  log.warn({ event: "refill_failed", reason: "helper answered HTTP 503" });
  const [l] = c.lines();
  assert.equal(c.lines().length, 1, "below the level nothing is written");
  assert.equal(l.role, "p1");
  assert.equal(l.level, 40);
  assert.equal(l.event, "refill_failed");
  assert.equal(l.reason, "helper answered HTTP 503");
  assert.throws(() => createLogger({ name: "p1", destination: c.destination, level: "chatty" }));
});

test("redaction removes shares, signatures, keys and identity attributes at every listed depth", () => {
  const c = capture();
  const log = createLogger({ name: "gateway", destination: c.destination });
  const secret = "U0VDUkVULVNIQVJFLUJZVEVT";
  log.info({
    event: "e",
    sealedShare: secret,
    body: { anything: secret },
    req: { headers: { authorization: `Bearer ${secret}`, host: "h" }, body: secret },
    upgrade: { sealedShare: secret },
    a: { key: secret, privateKey: secret, idNumber: secret, kept: 1 },
    b: { c: { phone: secret, signature: secret, token: secret, kept: 2 } },
  });
  const [l] = c.lines();
  assert.ok(!JSON.stringify(l).includes(secret), JSON.stringify(l));
  assert.deepEqual(l.a, { kept: 1 });
  assert.deepEqual(l.b, { c: { kept: 2 } });
  assert.deepEqual(l.req, { headers: { host: "h" } });
  assert.equal("body" in l || "sealedShare" in l || "upgrade" in l, false);
  for (const p of ["sealedShare", "*.authorisation", "*.*.publicKey", "req.headers.cookie"]) assert.ok(REDACT_PATHS.includes(p), p);
});

test("silentLog accepts every call and writes nothing", () => {
  silentLog.info({ event: "x" });
  silentLog.warn({ event: "x" }, "m");
  silentLog.error({ event: "x" });
  assert.ok(Object.isFrozen(silentLog));
});
