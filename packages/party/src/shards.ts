/**
 * Gallery shards served by worker processes through NATS JetStream (issue 15; docs/protocol.md §14,
 * "Gallery shards"). Inside each institution:
 * - the **coordinator** (the party server the gateway calls, `DEDUP_SHARDS=S`) publishes one query per
 *   shard — its ring share of the probe and its `valid` share — to its JetStream stream, subject
 *   `<prefix>.q.<k>.<query token>`, and collects its workers' answers on `<prefix>.r.<query token>`;
 * - a **worker** (`DEDUP_SHARD=k/S`: a party process whose gallery holds only shard k, built from the
 *   institution's database) serves shard k. P0's workers of shard k share one durable pull consumer
 *   (`shard-<k>`: a queue group — each query goes to one of them; explicit acknowledgement; not
 *   acknowledged within the ack wait ⇒ redelivered, to another worker of the group if one pulls). The
 *   P0 worker that took a query names the attempt (`<session>-s<k>-<delivery count>`), tells its paired
 *   P1 worker over their mutual-TLS link (frame on session `dedup-shard`), and both run the existing
 *   dedup search (service `searchGallery`: fresh dealt queries per attempt, single use) on their shard;
 *   the P1 worker reads P1's half of the query from P1's stream by subject. Each answers its XOR share
 *   of the shard's "any" bit and the attempt to its coordinator; P0's worker acknowledges afterwards.
 * - the coordinators combine the shards without revealing a shard's bit: P0 draws 64 random subsets
 *   of the shards and sends them, with the attempt it took for every shard, to P1 (session
 *   `<session>-s`); each answers the parities of its shares over the subsets (`sketch`). The requester
 *   XORs the two sketches: all zero when no shard matched, 64 uniform bits otherwise (`dedupAnswer`).
 * A shard with no answer by the deadline: GALLERY_UNAVAILABLE, never a partial answer.
 */
import { createHash, randomBytes } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { PartyError, type Bit, type PartyName } from "@privface/contracts";
import { killAt, silentLog, type Log } from "@privface/config";
import type { Transport } from "@privface/transport";
import type { GalleryHooks } from "./gallery.ts";

/** MPC frames of the pairing: P0's worker → P1's worker, one JSON frame per attempt */
export const SHARD_SESSION = "dedup-shard";
/** 64 parity bits in the sketch */
const SKETCH_BITS = 64;

const nanos = (ms: number) => ms * 1_000_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const streamOf = (prefix: string) => prefix.replace(/[^A-Za-z0-9]/g, "_").toUpperCase();
/** a subject token for a session id (ids may hold characters a NATS subject does not allow) */
const tokenOf = (session: string) => createHash("sha256").update(session).digest("hex").slice(0, 32);
/** the MPC session of attempt `attempt` of shard `shard`'s search in the search `session` (both workers of a pair name it alike) */
export const shardSessionOf = (session: string, shard: number, attempt: number) => `${session}-s${shard}-${attempt}`;

interface QueryMsg {
  session: string;
  shard: number;
  share: string;
  valid: 0 | 1;
  modelVersion: string;
  reply: string;
  deadline: number;
}
interface AnswerMsg {
  shard: number;
  attempt: number;
  duplicate: Bit;
  count: number;
}
interface PairFrame {
  session: string;
  shard: number;
  attempt: number;
}

export interface ShardNatsOptions {
  url: string;
  /** subject prefix of this institution's dedup traffic, e.g. `privface.p0.dedup` */
  prefix: string;
}

/** Connects and makes sure the stream exists (memory storage: a query lives at most `maxAgeMs`). */
export async function openShardNats(o: ShardNatsOptions, maxAgeMs = 120_000): Promise<{ nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager; stream: string }> {
  const nc = await connect({ servers: o.url, maxReconnectAttempts: -1 });
  const jsm = await jetstreamManager(nc);
  const stream = streamOf(o.prefix);
  try {
    await jsm.streams.info(stream);
  } catch {
    await jsm.streams.add({ name: stream, subjects: [`${o.prefix}.q.>`, `${o.prefix}.g`], storage: StorageType.Memory, retention: RetentionPolicy.Limits, max_age: nanos(maxAgeMs) }).catch(async (e) => {
      await jsm.streams.info(stream).catch(() => Promise.reject(e)); // another process made it meanwhile
    });
  }
  return { nc, js: jetstream(nc), jsm, stream };
}

/** Parities of `bits` (one per shard) over the subsets in `subsets` (8 bytes per shard): 16 hex digits. */
export function shardSketch(bits: Bit[], subsets: Uint8Array): string {
  if (subsets.length !== 8 * bits.length) throw new RangeError("subsets: 8 bytes per shard");
  const out = new Uint8Array(8);
  bits.forEach((b, k) => {
    if (b) for (let i = 0; i < 8; i++) out[i] ^= subsets[8 * k + i];
  });
  return Buffer.from(out).toString("hex");
}

// ---------------------------------------------------------------- coordinator

export interface ShardCoordinatorOptions extends ShardNatsOptions {
  party: PartyName;
  shards: number;
  transport: Transport;
  /** how long a search waits for every shard (then GALLERY_UNAVAILABLE) */
  timeoutMs: number;
  log?: Log;
}

export async function createShardCoordinator(o: ShardCoordinatorOptions) {
  const { nc, js, jsm, stream } = await openShardNats(o);
  const log = o.log ?? silentLog;
  const peer = o.party === "P0" ? "p1" : "p0";

  /** The search of one probe over all shards; resolves with this party's sketch share. */
  async function search(q: { session: string; share: Uint32Array; valid: 0 | 1; modelVersion: string }): Promise<{ resultShare: { duplicate: Bit; sketch: string }; gallery: number }> {
    const tok = tokenOf(q.session);
    const reply = `${o.prefix}.r.${tok}`;
    const deadline = Date.now() + o.timeoutMs;
    const answers = new Map<string, AnswerMsg>(); // "<shard>/<attempt>" → answer
    const sub = nc.subscribe(reply);
    let wake: () => void = () => undefined;
    void (async () => {
      for await (const m of sub) {
        try {
          const a = m.json<AnswerMsg>();
          if (Number.isInteger(a.shard) && Number.isInteger(a.attempt) && (a.duplicate === 0 || a.duplicate === 1)) answers.set(`${a.shard}/${a.attempt}`, a);
        } catch {
          /* not an answer */
        }
        wake();
      }
    })();
    /** resolves true as soon as `done()`, or with `done()` at the deadline */
    const until = (done: () => boolean) =>
      new Promise<boolean>((res) => {
        if (done()) return res(true);
        const timer = setTimeout(() => res(done()), Math.max(0, deadline - Date.now()));
        wake = () => {
          if (!done()) return;
          clearTimeout(timer);
          res(true);
        };
      });
    const pairSession = `${q.session}-s`;
    try {
      const share = Buffer.from(q.share.buffer, q.share.byteOffset, q.share.byteLength).toString("base64");
      for (let k = 0; k < o.shards; k++) {
        const msg: QueryMsg = { session: q.session, shard: k, share, valid: q.valid, modelVersion: q.modelVersion, reply, deadline };
        await js.publish(`${o.prefix}.q.${k}.${tok}`, JSON.stringify(msg)).catch((e: Error) => {
          throw new PartyError("GALLERY_UNAVAILABLE", `NATS did not take the query of shard ${k}: ${e.message}`);
        });
      }
      let chosen: number[]; // the attempt whose answer counts, per shard
      let subsets: Uint8Array;
      if (o.party === "P0") {
        const first = (k: number) => [...answers.values()].find((a) => a.shard === k);
        const ok = await until(() => Array.from({ length: o.shards }, (_, k) => first(k)).every(Boolean));
        if (!ok) {
          const missing = Array.from({ length: o.shards }, (_, k) => k).filter((k) => !first(k));
          const err = new PartyError("GALLERY_UNAVAILABLE", `gallery shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${o.shards} answered no search within ${o.timeoutMs} ms (no worker?)`);
          await o.transport.send(peer, { session: pairSession, step: 1, seq: 0, payload: Buffer.from(JSON.stringify({ error: err.message })) }).catch(() => undefined);
          throw err;
        }
        chosen = Array.from({ length: o.shards }, (_, k) => first(k)!.attempt);
        subsets = randomBytes(8 * o.shards);
        await o.transport.send(peer, { session: pairSession, step: 1, seq: 0, payload: Buffer.from(JSON.stringify({ attempts: chosen, subsets: Buffer.from(subsets).toString("hex") })) });
      } else {
        const f = await o.transport.receive(pairSession, { from: peer, timeoutMs: Math.max(1, deadline - Date.now()) + 2_000 }).catch(() => {
          throw new PartyError("GALLERY_UNAVAILABLE", "P0 named no shard answers in time");
        });
        let m: { attempts?: unknown[]; subsets?: unknown; error?: unknown } = {};
        try {
          m = JSON.parse(Buffer.from(f.payload).toString("utf8"));
        } catch {
          /* refused below */
        }
        if (typeof m.error === "string") throw new PartyError("GALLERY_UNAVAILABLE", `P0: ${m.error}`);
        const fits = Array.isArray(m.attempts) && m.attempts.length === o.shards && m.attempts.every((a) => Number.isInteger(a)) && typeof m.subsets === "string" && new RegExp(`^[0-9a-f]{${16 * o.shards}}$`).test(m.subsets);
        if (!fits) throw new PartyError("GALLERY_UNAVAILABLE", "P0's shard answer list does not fit this party's shards");
        chosen = m.attempts as number[];
        subsets = Buffer.from(m.subsets as string, "hex");
        const ok = await until(() => chosen.every((a, k) => answers.has(`${k}/${a}`)));
        if (!ok) throw new PartyError("GALLERY_UNAVAILABLE", "this party's workers did not answer the attempts P0 took in time");
      }
      const got = chosen.map((a, k) => answers.get(`${k}/${a}`)!);
      return { resultShare: { duplicate: 0, sketch: shardSketch(got.map((a) => a.duplicate), subsets) }, gallery: got.reduce((n, a) => n + a.count, 0) };
    } finally {
      sub.unsubscribe();
      o.transport.closeSession(pairSession);
      await jsm.streams.purge(stream, { filter: `${o.prefix}.q.*.${tok}` }).catch((e: Error) => log.warn({ event: "shard_purge_failed", reason: e.message }));
    }
  }
  /** the service's commits and erasures, to the workers (subject `<prefix>.g`, in the stream) */
  const event = (e: GalleryEvent) =>
    void js.publish(`${o.prefix}.g`, JSON.stringify(e)).catch((err: Error) => log.warn({ event: "shard_gallery_event_failed", op: e.op, reason: err.message }));
  const hooks: GalleryHooks = {
    committed: (templateId, modelVersion) => event({ op: "committed", templateId, modelVersion }),
    erased: (templateId) => event({ op: "erased", templateId }),
  };
  return {
    search,
    hooks,
    async close() {
      await nc.drain().catch(() => undefined);
    },
  };
}

interface GalleryEvent {
  op: "committed" | "erased";
  templateId: string;
  modelVersion?: string;
}

// ---------------------------------------------------------------- worker

export interface ShardWorkerOptions extends ShardNatsOptions {
  party: PartyName;
  shard: { index: number; count: number };
  transport: Transport;
  /** the service's gallery search (service.ts `searchGallery`) */
  search: (dsession: string, probe: { share: Uint32Array; valid: 0 | 1; modelVersion: string }, p1Url?: string) => Promise<{ duplicate: Bit; count: number }>;
  /** P0: the URL of the paired P1 worker (where the helper delivers P1's dealt halves) */
  peerUrl: string;
  /** the worker's gallery is built and not stale (a query taken before is given back) */
  ready: () => boolean;
  /** the worker's gallery: the coordinator's commits and erasures go to it (templates of other shards are ignored there) */
  gallery: GalleryHooks;
  /** P0: how long a taken query may go unacknowledged before JetStream hands it to another worker; P1: how long to wait for its half of a query P0's worker named */
  ackWaitMs: number;
  log?: Log;
}

const decodeShare = (b64: string): Uint32Array => {
  const b = Buffer.from(b64, "base64");
  const out = new Uint32Array(b.length >> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  b.fill(0);
  return out;
};

export async function runShardWorker(o: ShardWorkerOptions): Promise<{ stop(): Promise<void> }> {
  const { nc, js, jsm, stream } = await openShardNats(o);
  const log = o.log ?? silentLog;
  const k = o.shard.index;
  let stopped = false;
  const answer = (reply: string, a: AnswerMsg) => nc.publish(reply, JSON.stringify(a));
  // the coordinator's commits and erasures from now on, in order (an ordered consumer: a gap restarts it where it was)
  const events = await (await js.consumers.get(stream, { filter_subjects: `${o.prefix}.g`, deliver_policy: DeliverPolicy.New })).consume();
  const followed = (async () => {
    for await (const m of events) {
      try {
        const e = m.json<GalleryEvent>();
        if (e.op === "committed" && typeof e.templateId === "string" && typeof e.modelVersion === "string") o.gallery.committed(e.templateId, e.modelVersion);
        else if (e.op === "erased" && typeof e.templateId === "string") o.gallery.erased(e.templateId);
      } catch {
        /* not an event */
      }
    }
  })();
  const stopEvents = async () => {
    events.stop();
    await followed.catch(() => undefined);
  };

  if (o.party === "P1") {
    // P1: serve the attempts P0's worker of this pair names; P1's half of the query from the stream
    const loop = (async () => {
      while (!stopped) {
        let f;
        try {
          f = await o.transport.receive(SHARD_SESSION, { from: "p0", timeoutMs: 1_000 });
        } catch (e) {
          if ((e as { code?: string }).code !== "TIMEOUT") await sleep(200); // no link to the paired P0 worker: wait for it
          continue;
        }
        void (async () => {
          let c: PairFrame;
          try {
            c = JSON.parse(Buffer.from(f.payload).toString("utf8")) as PairFrame;
          } catch {
            return;
          }
          if (typeof c.session !== "string" || c.shard !== k || !Number.isInteger(c.attempt)) return log.warn({ event: "shard_pair_refused", shard: c.shard });
          const dsession = shardSessionOf(c.session, k, c.attempt);
          try {
            // P1's coordinator may publish its half a little after P0's worker took P0's: wait for it (at most the ack wait)
            const subject = `${o.prefix}.q.${k}.${tokenOf(c.session)}`, until = Date.now() + o.ackWaitMs;
            let m = await jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null);
            while (!m && Date.now() < until) {
              await sleep(25);
              m = await jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null);
            }
            if (!m) throw new Error("no such query in this party's stream");
            const q = m.json<QueryMsg>();
            if (q.session !== c.session || Date.now() > q.deadline) throw new Error("the query is not the one P0 named, or its coordinator has given up");
            log.info({ event: "shard_query_started", shard: k, attempt: c.attempt });
            const r = await o.search(dsession, { share: decodeShare(q.share), valid: q.valid, modelVersion: q.modelVersion });
            answer(q.reply, { shard: k, attempt: c.attempt, duplicate: r.duplicate, count: r.count });
          } catch (e) {
            log.warn({ event: "shard_query_failed", shard: k, attempt: c.attempt, reason: (e as Error).message });
          }
        })();
      }
    })();
    return {
      async stop() {
        stopped = true;
        await loop;
        await stopEvents();
        await nc.drain().catch(() => undefined);
      },
    };
  }

  // P0: one durable pull consumer per shard, shared by the shard's workers (the queue group)
  const durable = `shard-${k}`;
  try {
    await jsm.consumers.info(stream, durable);
  } catch {
    await jsm.consumers
      .add(stream, { durable_name: durable, filter_subject: `${o.prefix}.q.${k}.*`, ack_policy: AckPolicy.Explicit, ack_wait: nanos(o.ackWaitMs), deliver_policy: DeliverPolicy.All, max_deliver: -1 })
      .catch(async (e) => void (await jsm.consumers.info(stream, durable).catch(() => Promise.reject(e))));
  }
  const consumer = await js.consumers.get(stream, durable);
  // one query at a time: the next is pulled only when this worker is free (the others of the group take the rest)
  const loop = (async () => {
    while (!stopped) {
      const m = await consumer.next({ expires: 1_000 }).catch(async (e: Error) => {
        log.warn({ event: "shard_pull_failed", shard: k, reason: e.message });
        await sleep(500);
        return null;
      });
      if (!m) continue;
      let q: QueryMsg;
      try {
        q = m.json<QueryMsg>();
      } catch {
        m.term();
        continue;
      }
      if (q.shard !== k || Date.now() > q.deadline) {
        m.term(); // not ours, or its coordinator has given up: never served late
        continue;
      }
      if (!o.transport.isUp("p1") || !o.ready()) {
        m.nak(200); // no paired P1 worker, or no gallery yet: leave it to another worker of the group
        continue;
      }
      const attempt = m.info.deliveryCount;
      const dsession = shardSessionOf(q.session, k, attempt);
      const keepAlive = setInterval(() => m.working(), Math.max(100, o.ackWaitMs / 3));
      try {
        await o.transport.send("p1", { session: SHARD_SESSION, step: 1, seq: 0, payload: Buffer.from(JSON.stringify({ session: q.session, shard: k, attempt } satisfies PairFrame)) });
        log.info({ event: "shard_query_started", shard: k, attempt });
        killAt("party:shard:paired"); // the crash test: a worker dead mid-query, its P1 partner waiting
        const r = await o.search(dsession, { share: decodeShare(q.share), valid: q.valid, modelVersion: q.modelVersion }, o.peerUrl);
        answer(q.reply, { shard: k, attempt, duplicate: r.duplicate, count: r.count });
        await nc.flush();
        m.ack();
      } catch (e) {
        log.warn({ event: "shard_query_failed", shard: k, attempt, reason: (e as Error).message });
        m.nak(200);
      } finally {
        clearInterval(keepAlive);
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop.catch(() => undefined);
      await stopEvents();
      await nc.drain().catch(() => undefined);
    },
  };
}
