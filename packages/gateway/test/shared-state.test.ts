/**
 * Several gateway replicas (issue 16). (a) One contract suite for `memoryState` and `redisState` (a
 * real Redis at 127.0.0.1:6379, a fresh key prefix per run, removed afterwards): TTLs, atomic
 * put-if-absent under concurrent calls from two clients, consume-once, all-or-nothing counters.
 * (b) Two real gateways over one database and one Redis: a challenge, a signed request, a rate-limit
 * budget, a revocation and a busy person are each seen by both. (c) A gateway whose Redis cannot be
 * reached, or goes away (a redis-server of the test's own, killed and restarted empty), refuses with
 * SERVICE_UNAVAILABLE and lets nothing through. Without a Redis the cases that need one are skipped,
 * never failed.
 */
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import type { PartyClient } from "@privface/contracts";
import { verifyChain } from "@privface/audit";
import { buildChallengeRequest } from "@privface/device";
import { generateSigningKeyPair, toBase64url } from "@privface/crypto";
import { memoryState, redisState, type SharedState } from "../src/index.ts";
import { NO_REDIS, REDIS, redisUp } from "./_redis.ts";
import { challenge, enrol, faceBody, giveConsent, PEOPLE, registerWorld, replica, sameFace, setup, TOKENS, verify, type Fixture, type World } from "./_setup.ts";

const RUN = `privface:test:${randomBytes(6).toString("hex")}:`;

const haveRedis = await redisUp();

after(async () => {
  if (!haveRedis) return;
  const r = new Redis(REDIS);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${RUN}*`, "COUNT", 1000);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    r.disconnect();
  }
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A store under test: `open()` gives another client of the same state (another replica's view),
 * `pass(ms)` lets time pass for its TTLs.
 */
interface Backend {
  open(): SharedState;
  pass(ms: number): Promise<void>;
}

function stateContract(name: string, make: () => Backend | undefined) {
  describe(`SharedState contract: ${name}`, () => {
    let b: Backend;
    let a: SharedState;
    let z: SharedState;
    let n = 0;
    const key = (k: string) => `${k}:${++n}`;
    before(() => {
      const made = make();
      if (!made) return;
      b = made;
      a = b.open();
      z = b.open();
    });
    after(async () => {
      await a?.close();
      await z?.close();
    });
    const it = (title: string, fn: () => Promise<void>) =>
      test(title, async (t: TestContext) => {
        if (!b) return t.skip(NO_REDIS);
        await fn();
      });

    it("putIfAbsent stores once; get reads it from another client; del removes it", async () => {
      const k = key("put");
      assert.equal(await a.get(k), undefined);
      assert.equal(await a.putIfAbsent(k, "one", 10_000), true);
      assert.equal(await z.putIfAbsent(k, "two", 10_000), false);
      assert.equal(await z.get(k), "one");
      assert.equal(await z.del(k), true);
      assert.equal(await a.del(k), false);
      assert.equal(await a.get(k), undefined);
    });

    it("a value expires after its TTL, and the key is free again", async () => {
      const k = key("ttl");
      assert.equal(await a.putIfAbsent(k, "v", 200), true);
      await b.pass(50);
      assert.equal(await z.get(k), "v");
      await b.pass(300);
      assert.equal(await z.get(k), undefined);
      assert.equal(await z.del(k), false);
      assert.equal(await z.putIfAbsent(k, "w", 200), true);
    });

    it("of many concurrent putIfAbsent calls from two clients, exactly one stores", async () => {
      const k = key("race");
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : z).putIfAbsent(k, `v${i}`, 10_000)));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await a.get(k), `v${results.indexOf(true)}`);
    });

    it("consume once: of many concurrent del calls from two clients, exactly one sees the key", async () => {
      const k = key("once");
      await a.putIfAbsent(k, "challenge", 10_000);
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : z).del(k)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    it("take counts all counters or none, names the full one, and forgets them after the TTL", async () => {
      const [p, d] = [key("p"), key("d")];
      const both = [
        { key: p, limit: 2 },
        { key: d, limit: 3 },
      ];
      assert.equal(await a.take(both, 300), -1);
      assert.equal(await z.take(both, 300), -1);
      assert.equal(await a.take(both, 300), 0, "p is full");
      assert.equal(await z.take([{ key: d, limit: 3 }], 300), -1, "the refused take did not count d");
      assert.equal(await z.take([{ key: d, limit: 3 }], 300), 0, "d is full");
      await b.pass(450);
      assert.equal(await a.take(both, 300), -1, "a new window");
    });

    it("of many concurrent takes from two clients, exactly `limit` are counted", async () => {
      const c = [{ key: key("burst"), limit: 7 }];
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : z).take(c, 10_000)));
      assert.equal(results.filter((r) => r === -1).length, 7);
    });
  });
}

let memClock = 0;
const mem = memoryState(() => memClock);
stateContract("memoryState", () => ({
  open: () => ({ ...mem, close: async () => {} }),
  pass: async (ms) => {
    memClock += ms;
  },
}));
stateContract("redisState", () => (haveRedis ? { open: () => redisState(REDIS, { prefix: `${RUN}contract:` }), pass: sleep } : undefined));

// ---- two replicas ------------------------------------------------------------------------------

/** Party clients whose `verify` waits while `hold.gate` is set (a request in flight). */
function held(clients: Record<"P0" | "P1", PartyClient>, hold: { gate?: Promise<void> }) {
  const wrap = (c: PartyClient): PartyClient =>
    new Proxy(c, {
      get: (t, k) =>
        k === "verify"
          ? async (...args: Parameters<PartyClient["verify"]>) => {
              await hold.gate;
              return t.verify(...args);
            }
          : (t as unknown as Record<string | symbol, unknown>)[k],
    });
  return { P0: wrap(clients.P0), P1: wrap(clients.P1) };
}

describe("two gateway replicas on one database and one Redis", { skip: haveRedis ? false : NO_REDIS }, () => {
  const prefix = `${RUN}replicas:`;
  const PERSON_LIMIT = 10;
  // both replicas' clock, started at a minute boundary: every case runs inside one rate-limit window
  const start = Date.now();
  const t0 = Math.floor(start / 60_000) * 60_000;
  const now = () => t0 + (Date.now() - start);
  const hold: { gate?: Promise<void> } = {};
  let A: Fixture;
  let B: Fixture;
  let w: World;
  before(async () => {
    const opts = { now, limits: { perPersonPerMinute: PERSON_LIMIT } };
    A = await setup("replica-a", { ...opts, shared: redisState(REDIS, { prefix }) });
    B = await replica(A, { ...opts, shared: redisState(REDIS, { prefix }), parties: held(A.fake.clients, hold) });
    w = await registerWorld(A, ["alice", "bob", "carol"]);
    assert.equal((await giveConsent(A, w, w.persons.alice.personId)).status, 201);
    assert.equal((await enrol(A, w, "alice")).body.decision, "accept");
  });
  after(async () => {
    await B?.close();
    await A?.close();
  });

  async function verifyBody(at: Fixture, seed: number) {
    const p = w.persons.alice;
    const ch = await challenge(at, w, p.personId, "verify");
    assert.equal(ch.status, 201, JSON.stringify(ch.body));
    return { ch: ch.body, body: await faceBody(w, p.personId, ch.body, "verify", sameFace(p.face, 0.15, seed)) };
  }

  test("a console session signed in at A is known at B (its CSRF checked there too); signed out at B, it is refused at A", async () => {
    const r = await A.inject("POST", "/v1/console/sessions", { operatorId: "aud", token: TOKENS.auditor });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const cookie = String(r.headers["set-cookie"]).split(";")[0];
    const at = (f: Fixture, csrf = r.body.csrfToken as string) => f.inject("GET", "/v1/console/session", undefined, { cookie, "x-privface-csrf": csrf });
    assert.equal((await at(B)).body.operatorId, "aud", "B knows A's session");
    assert.equal((await at(B, "x".repeat(32))).body.error?.code, "CSRF_FAILED");
    assert.equal((await B.inject("DELETE", "/v1/console/session", undefined, { cookie, "x-privface-csrf": r.body.csrfToken })).status, 200);
    assert.equal((await at(A)).body.error?.code, "UNAUTHENTICATED", "signed out everywhere");
  });

  test("a challenge issued by A is consumed at B, and cannot be used again at A", async () => {
    const { ch, body } = await verifyBody(A, 11);
    assert.equal((await B.inject("POST", "/v1/verifications", body)).body.decision, "accept");
    const again = await faceBody(w, w.persons.alice.personId, ch, "verify", sameFace(w.persons.alice.face, 0.15, 12));
    assert.equal((await A.inject("POST", "/v1/verifications", again)).body.error?.code, "CHALLENGE_USED");
  });

  test("one challenge sent to both replicas at once (two different signed requests): exactly one is admitted", async () => {
    const { ch, body } = await verifyBody(A, 14);
    const other = await faceBody(w, w.persons.alice.personId, ch, "verify", sameFace(w.persons.alice.face, 0.15, 15));
    const calls = A.fake.calls.length;
    const rs = await Promise.all([A.inject("POST", "/v1/verifications", body), B.inject("POST", "/v1/verifications", other)]);
    assert.equal(rs.filter((r) => r.body.decision === "accept").length, 1, JSON.stringify(rs.map((r) => r.body)));
    assert.ok(rs.some((r) => ["CHALLENGE_USED", "PERSON_BUSY"].includes(r.body.error?.code)));
    assert.equal(A.fake.calls.length - calls, 2, "one verification reached the parties (one call each)");
  });

  test("a replayed signed request is refused across replicas (face request and challenge request)", async () => {
    const { body } = await verifyBody(B, 13);
    assert.equal((await A.inject("POST", "/v1/verifications", body)).body.decision, "accept");
    assert.equal((await B.inject("POST", "/v1/verifications", body)).body.error?.code, "REPLAYED_REQUEST");
    const req = await buildChallengeRequest({ deviceId: w.deviceId, personId: w.persons.bob.personId, purpose: "consent", signingKey: w.deviceKey, at: now() });
    assert.equal((await A.inject("POST", "/v1/challenges", req)).status, 201);
    assert.equal((await B.inject("POST", "/v1/challenges", req)).body.error?.code, "DEVICE_UNAUTHENTICATED");
  });

  test("rate limits are shared: the person's budget is not doubled by a second replica", async () => {
    const carol = w.persons.carol.personId;
    const codes: (number | string)[] = [];
    for (let i = 0; i < PERSON_LIMIT + 4; i++) {
      const r = await challenge(i % 2 ? B : A, w, carol, "consent");
      codes.push(r.status === 201 ? 201 : `${r.body.error.code}:${r.body.error.details?.scope}`);
    }
    assert.deepEqual(codes, [...Array(PERSON_LIMIT).fill(201), ...Array(4).fill("RATE_LIMITED:person")]);
  });

  /** Registers and approves a second device at A, uses it at `at`, revokes it at A, and returns `at`'s answer to it. */
  async function revokedAnswer(at: Fixture): Promise<{ status: number; code?: string }> {
    const key = await generateSigningKeyPair("INTL");
    const d = await A.admin("POST", `/v1/admin/merchants/${w.merchantId}/devices`, { suite: "INTL", publicKey: toBase64url(key.publicKey), authKey: toBase64url(w.authKey.publicKey) });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    assert.equal((await A.admin("POST", `/v1/admin/devices/${d.body.deviceId}/approve`, undefined, "operator")).status, 200);
    assert.equal((await challenge(at, w, w.persons.bob.personId, "consent", d.body.deviceId, key)).status, 201, "the device works at the replica");
    assert.equal((await A.admin("POST", `/v1/admin/devices/${d.body.deviceId}/revoke`, undefined, "admin", "stolen till")).status, 200);
    const r = await challenge(at, w, w.persons.bob.personId, "consent", d.body.deviceId, key);
    return { status: r.status, code: r.body?.error?.code };
  }

  test("a device revoked at A is refused at B at once", async () => {
    assert.deepEqual(await revokedAnswer(B), { status: 403, code: "DEVICE_REVOKED" });
  });

  test("control: a replica that caches devices would still accept it (what the device cache being off prevents)", async () => {
    const C = await replica(A, { now, shared: redisState(REDIS, { prefix }), cacheDevices: true });
    try {
      assert.equal((await revokedAnswer(C)).status, 201);
    } finally {
      await C.gw.service.shared.close();
      await C.gw.app.close();
    }
  });

  test("a person busy on B (a verification in flight) is busy on A; free again when it ends", async () => {
    let open!: () => void;
    hold.gate = new Promise((r) => (open = r));
    const first = await verifyBody(A, 21);
    const second = await verifyBody(A, 22);
    const inFlight = B.inject("POST", "/v1/verifications", first.body);
    try {
      // B holds alice's busy mark while its parties answer
      for (let i = 0; i < 100 && !(await B.gw.service.shared.get(`busy:${w.persons.alice.personId}`)); i++) await sleep(20);
      assert.equal((await A.inject("POST", "/v1/verifications", second.body)).body.error?.code, "PERSON_BUSY");
    } finally {
      hold.gate = undefined;
      open();
    }
    assert.equal((await inFlight).body.decision, "accept");
    assert.equal((await A.inject("POST", "/v1/verifications", (await verifyBody(A, 23)).body)).body.decision, "accept");
  });

  test("Redis holds opaque ids, digests and counters only: no name, ID-card number or phone", async () => {
    const r = new Redis(REDIS);
    try {
      const keys = await r.keys(`${prefix}*`);
      assert.ok(keys.length > 5, "the replicas wrote their state to Redis");
      const text = keys.join("\n") + (await Promise.all(keys.map((k) => r.type(k).then((t) => (t === "string" ? r.get(k) : ""))))).join("\n");
      for (const p of Object.values(PEOPLE)) for (const v of [p.name, p.idNumber, p.phone]) assert.ok(!text.includes(v), "identity data in Redis");
    } finally {
      r.disconnect();
    }
  });

  test("both replicas wrote one audit chain, unbroken", async () => {
    const r = await verifyChain(A.db, { suite: A.auditKey.suite, publicKey: A.auditKey.publicKey });
    assert.equal(r.ok, true);
    assert.ok(r.records > 10);
  });

  test("a replica whose Redis is unreachable answers SERVICE_UNAVAILABLE and lets nothing through", async () => {
    const D = await replica(A, { now, shared: redisState("redis://127.0.0.1:1", { prefix, timeoutMs: 300 }) });
    try {
      const { body } = await verifyBody(A, 31);
      const decisions = await A.gw.service.store.countDecisions();
      const calls = A.fake.calls.length;
      for (const r of [await challenge(D, w, w.persons.alice.personId, "verify"), await D.inject("POST", "/v1/verifications", body)]) {
        assert.equal(r.status, 503);
        assert.equal(r.body.error.code, "SERVICE_UNAVAILABLE");
      }
      assert.equal(await A.gw.service.store.countDecisions(), decisions, "no decision recorded");
      assert.equal(A.fake.calls.length, calls, "no party called");
      // the challenge was not consumed: the request still passes at a replica that can check it
      assert.equal((await A.inject("POST", "/v1/verifications", body)).body.decision, "accept");
    } finally {
      await D.gw.service.shared.close();
      await D.gw.app.close();
    }
  });
});

test("without Redis too: a gateway whose Redis is unreachable refuses device requests with SERVICE_UNAVAILABLE within its 1 s timeout", async () => {
  const f = await setup("redis-down", { shared: redisState("redis://127.0.0.1:1") });
  try {
    const t = performance.now();
    const r = await f.inject("POST", "/v1/challenges", { deviceId: "dev_x", personId: "per_x", purpose: "verify", at: Date.now(), nonce: "n", signature: "s" });
    assert.ok(performance.now() - t < 2500, `answered after ${Math.round(performance.now() - t)} ms`);
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, "SERVICE_UNAVAILABLE");
    assert.equal(r.headers["retry-after"], "1");
  } finally {
    await f.close();
  }
});

// ---- Redis going away --------------------------------------------------------------------------

/** A redis-server of our own (no persistence) on a free port; undefined when the binary is missing. */
async function ownRedis(): Promise<{ url: string; stop(): Promise<void>; start(): Promise<void> } | undefined> {
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    child.on("error", () => {}); // no binary: pid stays undefined
    for (let i = 0; i < 50 && child.pid !== undefined && child.exitCode === null; i++) {
      await sleep(50);
      if (await redisUp(url)) return;
    }
    throw new Error("redis-server did not start");
  };
  const stop = async () => {
    const c = child!;
    if (c.pid === undefined || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
  };
  try {
    await start();
  } catch {
    await stop().catch(() => {});
    return undefined;
  }
  return { url, stop, start };
}

test("Redis going away mid-run: SERVICE_UNAVAILABLE while it is gone; restarted empty, an outstanding challenge is refused, not accepted", async (t) => {
  const own = await ownRedis();
  if (!own) return t.skip("no redis-server binary");
  const f = await setup("redis-away", { shared: redisState(own.url, { timeoutMs: 300 }) });
  try {
    const w = await registerWorld(f, ["alice"]);
    const alice = w.persons.alice;
    assert.equal((await giveConsent(f, w, alice.personId)).status, 201);
    assert.equal((await enrol(f, w, "alice")).body.decision, "accept");
    const ch = await challenge(f, w, alice.personId, "verify");
    assert.equal(ch.status, 201);
    const body = await faceBody(w, alice.personId, ch.body, "verify", sameFace(alice.face));
    await own.stop();
    const calls = f.fake.calls.length;
    for (const r of [await challenge(f, w, alice.personId, "verify"), await f.inject("POST", "/v1/verifications", body)]) {
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, "SERVICE_UNAVAILABLE");
    }
    assert.equal((await f.admin("POST", "/v1/admin/merchants", { name: "Shop 2" })).status, 201, "operator routes do not need Redis");
    await own.start();
    // the client reconnects by itself; the restarted Redis has forgotten the challenge
    let r = await f.inject("POST", "/v1/verifications", body);
    for (let i = 0; i < 40 && r.body.error?.code === "SERVICE_UNAVAILABLE"; i++) {
      await sleep(100);
      r = await f.inject("POST", "/v1/verifications", body);
    }
    assert.equal(r.body.error?.code, "CHALLENGE_UNKNOWN");
    assert.equal(f.fake.calls.length, calls, "no party called");
    assert.equal((await verify(f, w, "alice")).body.decision, "accept", "a new challenge works again");
  } finally {
    await f.close();
    await own.stop();
  }
});
