/**
 * `privface demo` end to end: starts helper, P0, P1 and the gateway in a temporary home, runs the
 * scenario and prints the table. The test reads the JSON form and checks each outcome.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../bin/privface.js", import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 120_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test("privface demo: genuine accepted, impostors rejected, replay refused, deregistration deletes", { timeout: 150_000 }, async () => {
  const r = await run(["demo", "--json"]);
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const out = JSON.parse(r.stdout) as { ok: boolean; faces: string; notes: string[]; rows: { person: string; role: string; action: string; decision: string; reason: string; ms: number }[] };
  const got = out.rows.map((x) => `${x.person.split(" ")[0]}|${x.action}|${x.decision}|${x.reason}`);
  assert.deepEqual(got, [
    "Wang|consent|accept|CONSENT_GIVEN",
    "Li|consent|accept|CONSENT_GIVEN",
    "Zhang|consent|accept|CONSENT_GIVEN",
    "Wang|enrol|accept|ENROLLED",
    "Li|enrol|accept|ENROLLED",
    "Zhang|enrol|accept|ENROLLED",
    "Wang|verify (genuine)|accept|MATCH",
    "Li|verify (genuine)|accept|MATCH",
    "Zhang|verify (genuine)|accept|MATCH",
    "Li|verify (impostor: another face)|reject|NO_MATCH",
    "Zhang|verify (impostor: Wang's face)|reject|NO_MATCH",
    "Wang|replay of the genuine request|refused|REPLAYED_REQUEST",
    "Zhang|verify (genuine, before deregistering)|accept|MATCH",
    "Zhang|deregister|accept|DELETED",
    "Zhang|verify after deregistration|refused|NOT_ENROLLED",
  ]);
  assert.equal(out.ok, true);
  assert.deepEqual([...new Set(out.rows.map((x) => x.role))].sort(), ["cashier", "principal"]);
  assert.ok(out.rows.every((x) => Number.isFinite(x.ms) && x.ms >= 0));
  assert.ok(out.notes.length > 0, "the demo says where its faces came from");
});

test("privface demo prints a readable table", { timeout: 150_000 }, async () => {
  const r = await run(["demo", "--no-engine"]);
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const lines = r.stdout.split("\n");
  const head = lines.find((l) => l.startsWith("person"));
  assert.ok(head && /person\s+role\s+action\s+decision\s+reason\s+ms/.test(head), r.stdout);
  assert.match(r.stdout, /precomputed embeddings/);
  assert.match(r.stdout, /REPLAYED_REQUEST/);
  assert.match(r.stdout, /every outcome as expected/);
});
