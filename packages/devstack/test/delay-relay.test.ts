/**
 * The WAN benchmark's delay relay (delay-relay.ts) and the WAN run of `bench verify`: bytes arrive
 * whole and in order, never before the configured delay (a lower bound a loaded machine cannot
 * break), a "lost" chunk is late by the retransmission timeout; the driver's WAN line names its shape.
 */
import assert from "node:assert/strict";
import { createServer, connect, type AddressInfo, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { runVerifyBench } from "../src/bench/verify.ts";
import { startDelayRelay, type LinkShape } from "../src/delay-relay.ts";

let echo: Server;
let port: number;
before(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
  port = (echo.address() as AddressInfo).port;
});
after(() => new Promise<void>((r) => echo.close(() => r())));

/** Sends `chunks` through the relay to the echo server; resolves with the bytes back and the time. */
async function roundTrip(relayPort: number, chunks: Buffer[]): Promise<{ back: Buffer; ms: number }> {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const s = connect(relayPort, "127.0.0.1");
  await new Promise<void>((r) => s.once("connect", () => r()));
  const t0 = performance.now();
  const got: Buffer[] = [];
  const done = new Promise<Buffer>((res) => {
    let n = 0;
    s.on("data", (d: Buffer) => {
      got.push(d);
      n += d.length;
      if (n >= total) res(Buffer.concat(got));
    });
  });
  for (const c of chunks) s.write(c);
  const back = await done;
  const ms = performance.now() - t0;
  s.destroy();
  return { back, ms };
}

describe("delay relay", () => {
  it("delays each way by at least the one-way delay and keeps the bytes whole and in order, jitter or not", async () => {
    const r = await startDelayRelay(port, { delayMs: 30, jitterMs: 20 });
    try {
      const chunks = Array.from({ length: 200 }, (_, i) => Buffer.from(`chunk-${i};`));
      const { back, ms } = await roundTrip(r.port, chunks);
      assert.equal(back.toString(), Buffer.concat(chunks).toString());
      assert.ok(ms >= 60, `a round trip took ${ms.toFixed(1)} ms, less than 2 × 30 ms`);
    } finally {
      await r.close();
    }
  });

  it("a lost chunk arrives late by the retransmission timeout, and nothing overtakes it", async () => {
    let calls = 0;
    // every second draw is the loss draw: "lose" the first chunk only
    const random = () => (calls++ === 1 ? 0 : 0.99);
    const r = await startDelayRelay(port, { delayMs: 5, loss: 0.01, rtoMs: 150, random });
    try {
      const { back, ms } = await roundTrip(r.port, [Buffer.from("first;"), Buffer.from("second;")]);
      assert.equal(back.toString(), "first;second;");
      assert.ok(ms >= 160, `${ms.toFixed(1)} ms: the lost chunk was not held back by the 150 ms timeout`);
    } finally {
      await r.close();
    }
  });

  it("refuses a shape that is not a delay", async () => {
    await assert.rejects(startDelayRelay(port, { delayMs: -1 }), RangeError);
    await assert.rejects(startDelayRelay(port, { delayMs: 1, loss: 1 }), RangeError);
    await assert.rejects(startDelayRelay(port, { delayMs: 1, corrupt: 1 }), RangeError);
    const r = await startDelayRelay(port, { delayMs: 1 });
    try {
      assert.throws(() => r.setShape({ delayMs: 1, reorder: 2 }), RangeError);
    } finally {
      await r.close();
    }
  });
});

/** Writes `chunks` through a relay of `shape` one by one (20 ms apart, so each is a chunk of its own) to a sink; the bytes it got. */
async function oneWay(shape: LinkShape, chunks: string[]): Promise<string> {
  const got: Buffer[] = [];
  let ended!: () => void;
  const done = new Promise<void>((r) => (ended = r));
  const sink = createServer((s) => {
    s.on("data", (d: Buffer) => got.push(d));
    s.on("end", () => ended());
  });
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", () => r()));
  const r = await startDelayRelay((sink.address() as AddressInfo).port, shape);
  try {
    const s = connect(r.port, "127.0.0.1");
    await new Promise<void>((res) => s.once("connect", () => res()));
    for (const c of chunks) {
      s.write(c);
      await new Promise((res) => setTimeout(res, 20));
    }
    s.end();
    await done;
    return Buffer.concat(got).toString("latin1");
  } finally {
    await r.close();
    await new Promise<void>((res) => sink.close(() => res()));
  }
}

describe("delay relay faults (test:wan)", () => {
  const always = { delayMs: 1, random: () => 0 };
  it("corrupt: a byte of the chunk is flipped, the length kept", async () => {
    const got = await oneWay({ ...always, corrupt: 0.5 }, ["hello"]);
    assert.equal(got.length, 5);
    assert.notEqual(got, "hello");
    assert.equal(got.slice(1), "ello");
  });
  it("duplicate: the chunk is written twice", async () => {
    assert.equal(await oneWay({ ...always, duplicate: 0.5 }, ["a;", "b;"]), "a;a;b;b;");
  });
  it("reorder: a chunk is written after the next one; one with no next one within twice the delay is written alone", async () => {
    assert.equal(await oneWay({ delayMs: 500, random: () => 0, reorder: 0.5 }, ["1;", "2;", "3;", "4;", "5;"]), "2;1;4;3;5;");
    assert.equal(await oneWay({ delayMs: 1, random: () => 0, reorder: 0.5 }, ["1;", "2;", "3;"]), "1;2;3;");
  });
  it("setShape applies to the open connection; cut resets it", async () => {
    const r = await startDelayRelay(port, { delayMs: 1 });
    try {
      const s = connect(r.port, "127.0.0.1");
      await new Promise<void>((res) => s.once("connect", () => res()));
      r.setShape({ delayMs: 1, random: () => 0, duplicate: 0.5 });
      const back = new Promise<string>((res) => s.once("data", (d: Buffer) => res(d.toString())));
      s.write("x");
      assert.match(await back, /^xx/); // doubled on the way there (and on the way back)
      const closed = new Promise<void>((res) => s.once("close", () => res()));
      s.on("error", () => {});
      r.cut();
      await closed;
    } finally {
      await r.close();
    }
  });
});

describe("bench verify --wan", () => {
  it("runs a real stack through the relays and names the link's shape and the rounds; never faster than one round trip", async () => {
    const r = await runVerifyBench({ requests: 12, concurrency: 2, templates: 2, warmup: 0, wan: { rttMs: 10, jitterMs: 0, loss: 0 } });
    assert.equal(r.suite, "verify-wan");
    assert.deepEqual([r.rtt_ms, r.jitter_ms, r.loss, r.rounds, r.requests, r.errors], [10, 0, 0, 4, 12, 0]);
    // the caller's round trip to a party, then the parties' rounds: a lower bound, not a timing target
    assert.ok(r.p50_ms >= 10 + 4 * 5, `p50 ${r.p50_ms} ms below one caller RTT plus 4 one-way rounds`);
  });
});
