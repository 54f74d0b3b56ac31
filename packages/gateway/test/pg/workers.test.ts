/**
 * Several worker processes per party over each institution's own PostgreSQL (issue 16): two P0 and
 * two P1 processes (each party one schema), the helper and one gateway as real processes. The
 * gateway spreads enrolments and verifications over every pair of workers (party-workers.ts); the
 * workers of one session find each other over the peer link (party workers.ts).
 *
 *  1. requests spread over all workers give the right decisions (genuine → MATCH, impostor →
 *     NO_MATCH), and every worker of each party computed some;
 *  2. under load, P1 worker b and then P0 worker b are SIGKILLed: the others keep serving (requests
 *     after the kills decided), no genuine verification decided otherwise than MATCH;
 *  3. the ledger: no pool item serves two verifications at a party, every item a verification used is
 *     marked used for that session, and P1's verifications used the item P0 named for the same session;
 *  4. each institution's audit chain, appended by two processes (one killed), verifies.
 * Skipped, with the reason, without PostgreSQL at 127.0.0.1:5432.
 */
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyChain } from "@privface/audit";
import { runtimeLayout } from "@privface/config";
import { readPublicKeyFile } from "@privface/crypto/node";
import { closeDb, openDb, sql } from "@privface/db";
import { faceOp, simDevice, startStack, type Outcome, type SimDevice, type Stack } from "@privface/devstack";
import { benchMerchant, benchPerson, syntheticFace } from "@privface/devstack/bench";
import { dropPgSchemas, NO_PG, PG, pgUp } from "../_pg.ts";

const tag = randomBytes(5).toString("hex");
const schemas = { p0: `workers_p0_${tag}`, p1: `workers_p1_${tag}` };

const skip = !(await pgUp()) ? NO_PG : undefined;

const DEVICES = 4;
const PERSONS_PER_DEVICE = 3;

interface Sent {
  person: string;
  genuine: boolean;
  got: Outcome;
  /** when it was sent (epoch ms) */
  at: number;
}
const decided = (o: Outcome) => o.ok && (o.decision === "accept" || o.decision === "reject");
const wrong = (s: Sent) => decided(s.got) && s.got.reason !== (s.genuine ? "MATCH" : "NO_MATCH");

describe("two worker processes per party over PostgreSQL", { skip, timeout: 600_000 }, () => {
  let home: string;
  let stack: Stack;
  let devices: SimDevice[];
  const theirs: { id: string; again: Float32Array }[][] = [];

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "privface-workers-"));
    const env: Record<string, string> = {
      PRIVFACE_GATEWAY_LIMIT_PERSON_PER_MIN: "100000",
      PRIVFACE_GATEWAY_LIMIT_DEVICE_PER_MIN: "100000",
      PRIVFACE_GATEWAY_LIMIT_SOURCE_PER_MIN: "1000000",
      PRIVFACE_GATEWAY_LOG_LEVEL: "warn",
    };
    for (const p of ["P0", "P1"] as const) {
      Object.assign(env, {
        [`PRIVFACE_${p}_DB`]: PG,
        [`PRIVFACE_${p}_DB_SCHEMA`]: schemas[p === "P0" ? "p0" : "p1"],
        [`PRIVFACE_${p}_POOL_TARGET`]: "512",
        [`PRIVFACE_${p}_POOL_LOW`]: "128",
        [`PRIVFACE_${p}_VERIFY_PER_MIN`]: "100000",
        [`PRIVFACE_${p}_VERIFY_PER_DAY`]: "100000",
      });
    }
    stack = await startStack({ home, env, workers: 2, readyTimeoutMs: 120_000 });
    await stack.waitPool(256, 180_000);
    const admin = stack.client("admin");
    const m = await benchMerchant({ admin, approver: stack.client("operator"), client: stack.client("admin", 32), home }, DEVICES);
    devices = m.devices;
    let i = 0;
    for (let k = 0; k < DEVICES; k++) {
      theirs.push([]);
      for (let j = 0; j < PERSONS_PER_DEVICE; j++, i++) {
        const id = await benchPerson(admin, m.merchantId, devices[k], i);
        const face = syntheticFace(i);
        assert.equal((await faceOp(devices[k], id, "enrol", face.enrol)).reason, "ENROLLED");
        theirs[k].push({ id, again: face.again });
      }
    }
  });

  after(async () => {
    await stack?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
    await dropPgSchemas(Object.values(schemas));
  });

  const verifyRuns = async (party: "P0" | "P1", port: number): Promise<number> => {
    const text = await stack.partyClient(party, `https://127.0.0.1:${port}`).metrics();
    const m = /privface_party_mpc_runs_total\{kind="verify",outcome="ok"[^}]*\} (\d+)/.exec(text);
    return m ? Number(m[1]) : 0;
  };

  it("genuine and impostor verifications spread over every worker are decided right", async () => {
    const sent: Sent[] = [];
    await Promise.all(
      devices.map(async (d, k) => {
        for (const [j, p] of theirs[k].entries()) {
          for (let n = 0; n < 3; n++) sent.push({ person: p.id, genuine: true, got: await faceOp(d, p.id, "verify", p.again), at: Date.now() });
          // someone else's face for this person
          const other = theirs[(k + 1) % DEVICES][j];
          sent.push({ person: p.id, genuine: false, got: await faceOp(d, p.id, "verify", other.again), at: Date.now() });
        }
      }),
    );
    assert.deepEqual(sent.filter((s) => !decided(s.got)).map((s) => `${s.got.status} ${s.got.reason}`), [], "every request decided");
    assert.deepEqual(sent.filter(wrong).map((s) => s.got.reason), [], "no wrong decision");
    for (const s of ["p0", "p1"] as const) {
      for (const [name, h] of stack.workers[s]) {
        const n = await verifyRuns(s === "p0" ? "P0" : "P1", h.port);
        assert.ok(n > 0, `${s} worker ${name} computed no verification`);
      }
    }
  });

  it("one worker of each party SIGKILLed under load: the others keep serving, no wrong decision", async (t: TestContext) => {
    const sent: Sent[] = [];
    let stop = false;
    const loop = async (k: number) => {
      const d = simDevice(stack.client("admin", 8), devices[k].deviceId, devices[k].key, devices[k].authKey, devices[k].trust);
      for (let i = 0; !stop; i++) {
        const p = theirs[k][i % PERSONS_PER_DEVICE];
        const start = Date.now();
        const s = { person: p.id, genuine: true, got: await faceOp(d, p.id, "verify", p.again), at: start };
        sent.push(s);
        if (!decided(s.got)) sent.push({ person: p.id, genuine: true, at: Date.now(), got: await faceOp(d, p.id, "verify", p.again) });
      }
    };
    const load = Promise.all(devices.map((_, k) => loop(k)));
    let killed = 0;
    try {
      await new Promise((r) => setTimeout(r, 3_000));
      await stack.workers.p1.get("b")!.stop("SIGKILL");
      await new Promise((r) => setTimeout(r, 3_000));
      await stack.workers.p0.get("b")!.stop("SIGKILL");
      killed = Date.now();
      await new Promise((r) => setTimeout(r, 8_000));
    } finally {
      stop = true;
      await load;
    }
    const codes = new Map<string, number>();
    for (const s of sent) codes.set(`${s.got.decision}/${s.got.reason}`, (codes.get(`${s.got.decision}/${s.got.reason}`) ?? 0) + 1);
    t.diagnostic(JSON.stringify(Object.fromEntries(codes)));
    for (const s of sent.filter((x) => !decided(x.got))) t.diagnostic(`sent ${s.at - killed} ms after the second kill, failed in ${Math.round(s.got.ms)} ms: ${s.got.body?.error?.code}`);
    assert.deepEqual(sent.filter(wrong).map((s) => s.got.reason), [], "no wrong decision");
    const failed = sent.filter((s) => !decided(s.got));
    assert.ok(failed.every((s) => s.got.status === 503 || s.got.status === 0), `failures are typed and retryable: ${failed.map((s) => `${s.got.status} ${s.got.reason}`).join(", ")}`);
    // a request in flight at a killed worker may fail (MPC_UNAVAILABLE, the device retries); one sent a second after the kills does not
    const late = sent.filter((s) => s.at > killed + 1_000);
    assert.ok(late.length > 0 && late.every((s) => decided(s.got)), `after the kills the survivors decide every request (${late.filter((s) => !decided(s.got)).length} of ${late.length} failed)`);
  });

  it("no pool item used twice, P1 used the item P0 named, and both audit chains verify", async () => {
    await stack.stop();
    const L = runtimeLayout(home);
    for (const [s, schema] of Object.entries(schemas)) {
      const db = await openDb(PG, { schema });
      try {
        const twice = await sql<{ item_id: string; n: number }>`SELECT item_id, count(*)::int AS n FROM party_verifications GROUP BY item_id HAVING count(*) > 1`.execute(db.kysely);
        assert.deepEqual(twice.rows, [], `${s}: a pool item served two verifications`);
        const unmarked = await sql<{ session: string }>`SELECT v.session FROM party_verifications v LEFT JOIN party_pool p ON p.id = v.item_id WHERE p.used_at IS NULL OR p.session IS DISTINCT FROM v.session`.execute(db.kysely);
        assert.deepEqual(unmarked.rows, [], `${s}: a verification's item is not marked used for it`);
        const r = await verifyChain(db, readPublicKeyFile(L.auditPub(s as "p0" | "p1")));
        assert.ok(r.ok && r.records > 0, `${s} audit chain: ${JSON.stringify(r)}`);
      } finally {
        await closeDb(db);
      }
    }
    const db0 = await openDb(PG, { schema: schemas.p0 });
    const db1 = await openDb(PG, { schema: schemas.p1 });
    try {
      const rows = async (db: typeof db0) => new Map((await sql<{ session: string; item_id: string }>`SELECT session, item_id FROM party_verifications`.execute(db.kysely)).rows.map((r) => [r.session, r.item_id]));
      const v0 = await rows(db0);
      const v1 = await rows(db1);
      assert.ok(v1.size > 0);
      for (const [session, item] of v1) assert.equal(v0.get(session), item, `session ${session}: P1 used another item than P0`);
    } finally {
      await closeDb(db0);
      await closeDb(db1);
    }
  });
});
