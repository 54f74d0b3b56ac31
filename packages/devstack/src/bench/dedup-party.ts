/**
 * One party of `bench dedup --parties threads` in its own thread (worker_threads; started by dedup.ts
 * through dedup-party.mjs): its gallery rows, its half of each query — the probe's enrolment
 * validation, then the dedup query's rounds and the "any" tree — with the peer party's thread over a
 * MessagePort (messages are copied, as over a network; their bytes are counted as in `simulateDedup`:
 * the validation's wire encoding, the dedup messages' bodies). Commands from the main thread, one at a
 * time: `add` (the parties' stored shares of the next slots: each opens its δ shares with the peer),
 * `prepare` (the dealt query and validation bundles: offline work before the probe exists), `go` (the
 * probe's byte share is there: the online rounds), `scan` (kernel speed on this party's online rows).
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import type { PartyName } from "@privface/contracts";
import {
  decodeBundle, decodeDedupBundle, decodeMessage, dedupAnyOnAnd, dedupAnyStart, dedupOnAnd, dedupOnEps, dedupOnZ, dedupPrepare, dedupStart, encodeMessage, enrolStart,
  enrolStep, galleryAdd, galleryOpenShare, jsRowStore, maskShares, matvecJs, newPartyGallery, openBundle, openDedup,
  type DedupAndMsg, type DedupAnying, type DedupComparing, type DedupEpsMsg, type DedupMsg, type DedupPrepared, type DedupState, type DedupZMsg, type EnrolOutput,
  type EnrolState, type Material, type Message, type Params,
} from "@privface/mpc";
import { wasmRowStore } from "@privface/scan";

export interface PartyThreadInit {
  role: PartyName;
  params: Params;
  seed: Uint8Array;
  epoch: number;
  kernel: "wasm" | "js";
  shardRows: number;
  /** to the other party's thread */
  port: MessagePort;
}

export type PartyCommand =
  | { op: "add"; first: number; shares: Uint32Array }
  | { op: "prepare"; session: string; dedup: Uint8Array; enrol: Uint8Array; probe: Uint8Array }
  | { op: "go" }
  | { op: "scan"; rows: number };

export type PartyReply =
  | { op: "added" }
  | { op: "prepared"; ms: number }
  | { op: "done"; match: Uint32Array; duplicate: 0 | 1; valid: 0 | 1; sent: number; rounds: number; ms: number }
  | { op: "scanned"; kernel: number; js: number }
  | { op: "error"; message: string };

/** Messages of a port, in order, one `next()` at a time. */
function inbox<T>(p: { on(e: "message", f: (m: T) => void): unknown }): () => Promise<T> {
  const queue: T[] = [], waiting: ((m: T) => void)[] = [];
  p.on("message", (m) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return () => new Promise<T>((res) => (queue.length ? res(queue.shift()!) : waiting.push(res)));
}

async function main(init: PartyThreadInit): Promise<void> {
  const { role, params, seed, epoch, port } = init;
  const d = params.d, peer: PartyName = role === "P0" ? "P1" : "P0";
  const make = init.kernel === "wasm" ? await wasmRowStore() : jsRowStore;
  const g = newPartyGallery(role, params, epoch, make, init.shardRows);
  const fromPeer = inbox<unknown>(port);
  const commands = inbox<PartyCommand>(parentPort!);
  const reply = (r: PartyReply) => parentPort!.postMessage(r);
  let query: { session: string; prepared: DedupPrepared; enrol: Material; probe: Uint8Array } | null = null;
  for (;;) {
    const c = await commands();
    try {
      if (c.op === "add") {
        const n = c.shares.length / d;
        const masks = maskShares(seed, role, epoch, c.first, n, d);
        const open = galleryOpenShare(c.shares, masks);
        port.postMessage(open);
        const theirs = (await fromPeer()) as Uint32Array;
        for (let j = 0; j < n; j++) galleryAdd(g, c.first + j, masks.subarray(j * d, (j + 1) * d), open.subarray(j * d, (j + 1) * d), theirs.subarray(j * d, (j + 1) * d));
        masks.fill(0);
        reply({ op: "added" });
      } else if (c.op === "prepare") {
        const t = performance.now();
        const prepared = dedupPrepare({ role, gallery: g, material: openDedup(role, seed, params, decodeDedupBundle(c.dedup)) });
        query = { session: c.session, prepared, enrol: openBundle(role, seed, decodeBundle(c.enrol)), probe: c.probe };
        reply({ op: "prepared", ms: performance.now() - t });
      } else if (c.op === "go") {
        if (!query) throw new Error("go before prepare");
        const q = query;
        query = null;
        const t = performance.now();
        let sent = 0, rounds = 0;
        // the probe's enrolment validation (section 5), messages in their wire encoding
        let v = enrolStart({ role, session: q.session, params, share: q.probe, material: q.enrol }) as { state: EnrolState; send?: Message; output?: EnrolOutput };
        while (!v.output) {
          const bytes = encodeMessage(v.send!);
          sent += bytes.length;
          rounds++;
          port.postMessage(bytes);
          const m = decodeMessage((await fromPeer()) as Uint8Array, { protocol: "enrol", session: q.session, step: v.send!.step, seq: v.send!.seq, from: peer, d });
          v = enrolStep(v.state, m);
          if (v.send && v.output) throw new Error("enrol: a message after the output");
        }
        // the dedup query (section 13), then the "any" tree (section 14)
        let r = dedupStart(q.prepared, v.output.templateShare, v.output.valid) as { state: DedupState; send?: DedupMsg; match?: Uint32Array };
        while (r.send) {
          sent += bodyBytes(r.send);
          rounds++;
          port.postMessage(r.send);
          const m = (await fromPeer()) as DedupMsg, s = r.state;
          r = s.phase === "dedup:opened" ? dedupOnEps(s, m as DedupEpsMsg) : s.phase === "dedup:masked" ? dedupOnZ(s, m as DedupZMsg) : dedupOnAnd(s as DedupComparing, m as DedupAndMsg);
        }
        const match = r.match!;
        let a: { state: DedupAnying; send: DedupAndMsg } | { duplicate: 0 | 1 } = dedupAnyStart(role, q.prepared.mat, match);
        while (!("duplicate" in a)) {
          sent += a.send.de.byteLength;
          rounds++;
          port.postMessage(a.send);
          a = dedupAnyOnAnd(a.state, (await fromPeer()) as DedupAndMsg);
        }
        reply({ op: "done", match, duplicate: a.duplicate, valid: v.output.valid, sent, rounds, ms: performance.now() - t });
      } else if (c.op === "scan") {
        const rows = g.online, vec = new Int32Array(rows.width).fill(0x01010101), out = new Int32Array(c.rows);
        const best = (f: () => void) => {
          let b = Infinity;
          for (let i = 0; i < 3; i++) {
            const t = performance.now();
            f();
            b = Math.min(b, performance.now() - t);
          }
          return Math.round(((c.rows * rows.width) / b / 1e6) * 100) / 100;
        };
        const kernel = best(() => rows.matvec(vec, c.rows, out));
        const js = best(() => rows.shards.forEach((s, i) => matvecJs(s.matrix, s.width, vec, Math.min(s.capacity, c.rows - i * rows.shardRows), out)));
        reply({ op: "scanned", kernel, js });
      }
    } catch (e) {
      reply({ op: "error", message: (e as Error).stack ?? String(e) });
    }
  }
}

function bodyBytes(m: DedupMsg): number {
  return "eps" in m ? m.eps.byteLength : "z" in m ? m.z.byteLength : m.de.byteLength;
}

if (parentPort) void main(workerData as PartyThreadInit);
