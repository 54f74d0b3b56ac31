/**
 * transportContract(makePair): the behaviour every Transport must show, as one node:test suite.
 * `makePair` returns two connected endpoints `a` (role p0) and `b` (role p1) and a `close`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TransportError, type Transport } from "./_types.ts";

export interface TransportPair {
  a: Transport;
  b: Transport;
  close(): Promise<void>;
}

const bytes = (...v: number[]) => new Uint8Array(v);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof TransportError && e.code === code);
}

export function transportContract(name: string, makePair: () => Promise<TransportPair>): void {
  describe(`transport contract: ${name}`, () => {
    it("delivers a frame with session, step, seq, payload and the sender's role", async () => {
      const { a, b, close } = await makePair();
      try {
        await a.send("p1", { session: "s-1", step: 3, seq: 7, payload: bytes(1, 2, 3, 255) });
        const f = await b.receive("s-1", { from: "p0" });
        assert.deepEqual({ ...f, payload: [...f.payload] }, { session: "s-1", step: 3, seq: 7, from: "p0", payload: [1, 2, 3, 255] });
      } finally {
        await close();
      }
    });

    it("buffers frames that arrive before anyone waits, per session, in order", async () => {
      const { a, b, close } = await makePair();
      try {
        for (let i = 0; i < 5; i++) {
          await a.send("p1", { session: "x", step: 1, seq: i, payload: bytes(i) });
          await a.send("p1", { session: "y", step: 1, seq: i, payload: bytes(100 + i) });
        }
        for (let i = 0; i < 5; i++) assert.equal((await b.receive("y", { from: "p0" })).payload[0], 100 + i);
        for (let i = 0; i < 5; i++) assert.equal((await b.receive("x", { from: "p0" })).seq, i);
      } finally {
        await close();
      }
    });

    it("runs many interleaved bidirectional sessions without mixing them up", async () => {
      const { a, b, close } = await makePair();
      try {
        const run = async (k: number) => {
          const s = `sess-${k}`;
          let v = k;
          for (let r = 0; r < 10; r++) {
            await a.send("p1", { session: s, step: r, seq: 0, payload: bytes(v & 255) });
            const fb = await b.receive(s, { from: "p0", step: r });
            await b.send("p0", { session: s, step: r, seq: 1, payload: bytes((fb.payload[0] + 1) & 255) });
            const fa = await a.receive(s, { from: "p1", step: r, seq: 1 });
            v = fa.payload[0];
          }
          return v;
        };
        const results = await Promise.all(Array.from({ length: 40 }, (_, k) => run(k)));
        assert.deepEqual(results, Array.from({ length: 40 }, (_, k) => (k + 10) & 255));
      } finally {
        await close();
      }
    });

    it("carries a 1 MiB payload byte-exactly", async () => {
      const { a, b, close } = await makePair();
      try {
        const big = new Uint8Array(1 << 20);
        for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 255;
        await a.send("p1", { session: "big", step: 0, seq: 0, payload: big });
        const f = await b.receive("big", { from: "p0" });
        assert.equal(Buffer.compare(Buffer.from(f.payload), Buffer.from(big)), 0);
      } finally {
        await close();
      }
    });

    it("times out with TIMEOUT when no frame comes", async () => {
      const { b, close } = await makePair();
      try {
        await rejectsWith(b.receive("nothing", { from: "p0", timeoutMs: 50 }), "TIMEOUT");
      } finally {
        await close();
      }
    });

    it("refuses a frame of the wrong step or sender with UNEXPECTED_FRAME", async () => {
      const { a, b, close } = await makePair();
      try {
        await a.send("p1", { session: "st", step: 2, seq: 0, payload: bytes(0) });
        await rejectsWith(b.receive("st", { from: "p0", step: 1 }), "UNEXPECTED_FRAME");
        await a.send("p1", { session: "st2", step: 2, seq: 0, payload: bytes(0) });
        await rejectsWith(b.receive("st2", { from: "helper" }), "UNEXPECTED_FRAME");
      } finally {
        await close();
      }
    });

    it("drops frames of a closed session", async () => {
      const { a, b, close } = await makePair();
      try {
        await a.send("p1", { session: "gone", step: 0, seq: 0, payload: bytes(1) });
        await new Promise((r) => setTimeout(r, 30));
        b.closeSession("gone");
        await a.send("p1", { session: "gone", step: 0, seq: 1, payload: bytes(2) });
        await rejectsWith(b.receive("gone", { from: "p0", timeoutMs: 80 }), "SESSION_CLOSED");
      } finally {
        await close();
      }
    });

    it("validates outgoing frames", async () => {
      const { a, close } = await makePair();
      try {
        await assert.rejects(a.send("p1", { session: "", step: 0, seq: 0, payload: bytes() }), TypeError);
        await assert.rejects(a.send("p1", { session: "s", step: 70_000, seq: 0, payload: bytes() }), RangeError);
        await assert.rejects(a.send("p1", { session: "s\n", step: 0, seq: 0, payload: bytes() }), TypeError);
      } finally {
        await close();
      }
    });

    it("fails pending receives with PEER_UNAVAILABLE when the peer goes away, and sends after close with CLOSED", async () => {
      const { a, b, close } = await makePair();
      try {
        assert.equal(a.isUp("p1"), true);
        const pending = b.receive("waiting", { from: "p0", timeoutMs: 5_000 });
        await a.close();
        await rejectsWith(pending, "PEER_UNAVAILABLE");
        await rejectsWith(a.send("p1", { session: "s", step: 0, seq: 0, payload: bytes() }), "CLOSED");
        await rejectsWith(b.send("p0", { session: "s", step: 0, seq: 0, payload: bytes() }), "PEER_UNAVAILABLE");
      } finally {
        await close();
      }
    });
  });
}
