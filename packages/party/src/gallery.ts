/**
 * The party's dedup gallery (issue 15, docs/protocol.md section 13): this party's rows of the 1:N scan
 * of @privface/mpc dedup.ts — per slot j the opened δ_j = y_j − b_j and G_j^(i) — for the active
 * templates of one model version, **in memory only** (δ rows and the helper's seeds reveal the
 * templates: they are never written anywhere; the database keeps only the sealed shares).
 *
 * - `build()` at start: the store's active templates of the model version, a page of `batch` at a time
 *   in template-id order (the same order at both parties), each page's δ shares opened with the peer
 *   in one exchange over the P0↔P1 transport (session `dedup-gallery-<epoch>-<first slot>`, step 1:
 *   header {epoch, first, ids} and the 4d-byte δ share of each template). The build ends with an
 *   exchange of an empty page (session `dedup-gallery-<epoch>-end`), so each party knows the other
 *   reached the end at the same slot. Progress through `onProgress`.
 * - kept in step: the service calls `committed` after an enrolment commit or an upgrade promotion and
 *   `erased` after a deletion (`GalleryHooks`); they run one at a time in call order. A commit of the
 *   gallery's model version appends the template at the next slot (one exchange with the peer, which
 *   makes the same call when the gateway commits there); a promotion to another version retires the
 *   template's slot, like a deletion: its rows are zeroed and its match bit is 0 from then on.
 *   Calls before `build` starts are ignored (the build reads the store after them); calls during the
 *   build run after it (a template the build already read is not added twice).
 * - Slots are never reused within an epoch (a mask b_j serves one template); a rebuild — a restart —
 *   is a new `PartyGallery` at a new epoch.
 * - The two parties must hold the same list. Every exchange checks the peer's epoch, slot and template
 *   ids; any mismatch, a peer that does not answer, or a template the peer lacks leaves the gallery
 *   `stale` (it refuses further additions with GALLERY_STALE): the remedy is a rebuild at a new epoch.
 *   Commits that reach the two parties in different orders make it stale too (no P0-led slot naming yet).
 */
import { createHash } from "node:crypto";
import { peerOf, serverRoleOf, type PartyName } from "@privface/contracts";
import {
  galleryAdd,
  galleryOpenShare,
  galleryRemove,
  jsRowStore,
  MASK_BLOCK,
  maskShares,
  newPartyGallery,
  type Params,
  type PartyGallery as GalleryRows,
  type RowStoreFactory,
} from "@privface/mpc";
import type { Transport } from "@privface/transport";
import { silentLog, type Log } from "@privface/config";
import { runShare } from "./share-epoch.ts";
import type { PartyStore } from "./store/index.ts";

export type GalleryErrorCode = "GALLERY_MISMATCH" | "GALLERY_STALE" | "GALLERY_BUILT";

export class GalleryError extends Error {
  constructor(readonly code: GalleryErrorCode, message: string) {
    super(message);
    this.name = "GalleryError";
  }
}

/** What the party service tells the gallery (service.ts `deps.gallery`); neither call throws. */
export interface GalleryHooks {
  /** an enrolment was committed or an upgrade promoted: `modelVersion` is now the template's active version */
  committed(templateId: string, modelVersion: string): void;
  /** every version of the template was erased */
  erased(templateId: string): void;
}

/**
 * The gallery shard of a template (docs/protocol.md §14, "Gallery shards"): the first 4 bytes of
 * SHA-256(template id), big-endian, modulo `shards`. Both institutions compute the same.
 */
export function shardOf(templateId: string, shards: number): number {
  return createHash("sha256").update(templateId).digest().readUInt32BE(0) % shards;
}

export interface PartyGalleryOptions {
  /** a gallery shard worker's shard (shards.ts): only the templates with shardOf(id, count) = index */
  shard?: { index: number; count: number };
  party: PartyName;
  params: Params;
  /** the model version whose active templates the gallery holds */
  modelVersion: string;
  /** this party's seed with the helper (the service's `poolSeed`): the masks B_j^(i) come from it */
  seed: Uint8Array;
  /** the re-randomisation seed (share-epoch.ts), when configured */
  pairSeed?: Uint8Array;
  /** the gallery epoch (u32): both parties use the same one, a fresh one per build */
  epoch: number;
  store: PartyStore;
  transport: Transport;
  /** how long to wait for the peer's part of an exchange */
  timeoutMs: number;
  /** row storage (default plain JS; @privface/scan's `wasmRowStore` for the WebAssembly kernel) */
  rows?: RowStoreFactory;
  shardRows?: number;
  /** templates per build exchange (default 256 = one mask stream) */
  batch?: number;
  /** after each build page: slots filled, active templates in the store (all versions) */
  onProgress?: (done: number, total: number) => void;
  log?: Log;
}

export class PartyGallery implements GalleryHooks {
  /** the engine's rows (what dedupPrepare / dedupOnEps scan) */
  readonly rows: GalleryRows;
  readonly epoch: number;
  readonly modelVersion: string;
  private readonly o: PartyGalleryOptions;
  private readonly slots = new Map<string, number>();
  private readonly ids: (string | null)[] = [];
  private queue: Promise<void> = Promise.resolve();
  private built = false;
  private complete = false;
  private staleReason: string | null = null;
  /** queries running over the rows (dedup-query.ts): removals wait until none is */
  private queries = 0;
  private readonly pendingDrops: string[] = [];
  /** `slotList`'s last answer: the slot list of the first `count` slots, good until a slot below `count` changes */
  private listCache: { count: number; list: readonly (string | null)[] } | null = null;

  constructor(o: PartyGalleryOptions) {
    if (typeof o.modelVersion !== "string" || o.modelVersion.length === 0) throw new TypeError("modelVersion must be a non-empty string");
    if (!(o.seed instanceof Uint8Array) || o.seed.length < 16) throw new TypeError("seed must be the party's helper seed");
    const batch = o.batch ?? MASK_BLOCK;
    if (!Number.isInteger(batch) || batch < 1 || batch > 1000) throw new RangeError("batch: expected an integer in 1..1000");
    this.o = { ...o, batch };
    this.rows = newPartyGallery(o.party, o.params, o.epoch, o.rows ?? jsRowStore, o.shardRows);
    this.epoch = o.epoch;
    this.modelVersion = o.modelVersion;
  }

  /** slots used so far (live and removed) */
  get count(): number {
    return this.rows.count;
  }
  /** live templates */
  get size(): number {
    return this.slots.size;
  }
  /** why the gallery no longer matches the peer's (null while it does) */
  get stale(): string | null {
    return this.staleReason;
  }
  slotOf(templateId: string): number | undefined {
    return this.slots.get(templateId);
  }
  /** the live template in `slot`, or null (removed, or never filled) */
  templateAt(slot: number): string | null {
    return this.ids[slot] ?? null;
  }
  /**
   * Slots 0 … count − 1 → their live template id or null (as `templateAt`), for a search's `matches`
   * answer: one frozen array shared by the answers of this gallery (so of this epoch — a new epoch is a
   * new gallery) until it changes: an append rebuilds it once for the new count, a removal once.
   */
  slotList(count: number): readonly (string | null)[] {
    if (!Number.isInteger(count) || count < 0 || count > this.rows.count) throw new RangeError(`count: expected an integer in [0, ${this.rows.count}], got ${count}`);
    if (this.listCache?.count === count) return this.listCache.list;
    const list = Object.freeze(Array.from({ length: count }, (_, j) => this.ids[j] ?? null));
    this.listCache = { count, list };
    return list;
  }
  /** A digest of (epoch, slot → live template id): equal at both parties when their galleries agree. */
  digest(): string {
    const h = createHash("sha256").update(`${this.epoch}\n`);
    for (let j = 0; j < this.ids.length; j++) h.update(`${this.ids[j] ?? ""}\n`);
    return h.digest("hex");
  }
  /** Resolves when the calls made so far are done. */
  idle(): Promise<void> {
    return this.queue;
  }

  /**
   * Builds the gallery from the store (once; both parties at the same time). Resolves with the slots
   * filled and the wall time; rejects (and leaves the gallery stale) if the parties' lists differ or
   * the peer does not answer.
   */
  build(): Promise<{ count: number; ms: number }> {
    return this.serial(async () => {
      if (this.built || this.rows.count > 0) throw new GalleryError("GALLERY_BUILT", "a gallery is built once: a rebuild is a new gallery at a new epoch");
      this.built = true;
      const t0 = performance.now();
      const { store, modelVersion, batch, onProgress } = this.o;
      try {
        const total = (await store.templateCounts()).active;
        let after = "";
        for (;;) {
          const page = await store.activePage(modelVersion, after, batch!);
          if (page.length > 0) after = page[page.length - 1].templateId;
          // a shard worker's gallery: the other shards' templates are wiped unread (the same pages at both parties)
          const mine = page.filter((t) => this.inShard(t.templateId));
          for (const t of page) if (!mine.includes(t)) t.share.fill(0);
          if (page.length > 0 && mine.length === 0) continue;
          await this.append(mine, page.length === 0);
          if (page.length === 0) break;
          onProgress?.(this.rows.count, total);
        }
      } catch (e) {
        this.markStale(`build: ${(e as Error).message}`); // a half-built gallery is never used
        throw e;
      }
      this.complete = true;
      const ms = performance.now() - t0;
      (this.o.log ?? silentLog).info({ event: "gallery_built", epoch: this.epoch, templates: this.rows.count, ms: Math.round(ms) });
      return { count: this.rows.count, ms };
    });
  }

  committed(templateId: string, modelVersion: string): void {
    void this.serial(async () => {
      if (!this.built || !this.inShard(templateId)) return; // the build reads it from the store
      if (modelVersion !== this.modelVersion) {
        this.drop(templateId);
        return;
      }
      if (this.slots.has(templateId) || this.staleReason) return;
      let active;
      try {
        active = await this.o.store.loadActive(templateId);
      } catch {
        active = null;
      }
      // gone or changed again since: the peer answers for the same template or the gallery goes stale
      if (!active || active.modelVersion !== this.modelVersion) {
        active?.share.fill(0);
        this.markStale(`template ${templateId} is no longer active at ${this.o.party}`);
        return;
      }
      await this.append([{ templateId, share: active.share }]);
    }).catch((e) => this.markStale((e as Error).message));
  }

  erased(templateId: string): void {
    void this.serial(async () => this.drop(templateId));
  }

  /**
   * A query (dedup-query.ts) reads the rows from `beginQuery` to `endQuery`: appends go on (they write
   * slots past the query's), removals wait until no query runs, so a query sees this party's rows whole.
   */
  beginQuery(): void {
    this.queries++;
  }
  endQuery(): void {
    if (this.queries > 0) this.queries--;
    if (this.queries === 0) for (const id of this.pendingDrops.splice(0)) this.drop(id);
  }
  private inShard(templateId: string): boolean {
    const s = this.o.shard;
    return !s || shardOf(templateId, s.count) === s.index;
  }
  /** ready for a query: its build finished and it is not stale */
  get ready(): boolean {
    return this.complete && this.staleReason === null;
  }
  private drop(templateId: string): void {
    if (this.queries > 0) {
      this.pendingDrops.push(templateId);
      return;
    }
    const slot = this.slots.get(templateId);
    if (slot === undefined) return;
    galleryRemove(this.rows, slot);
    this.slots.delete(templateId);
    this.ids[slot] = null;
    this.listCache = null;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** The first reason is kept and logged once. */
  private markStale(reason: string): void {
    if (this.staleReason !== null) return;
    this.staleReason = reason;
    (this.o.log ?? silentLog).warn({ event: "gallery_stale", epoch: this.epoch, reason });
  }

  /** Opens δ for `page` (stored shares; wiped here) at the next slots with the peer and writes the rows. */
  private async append(page: { templateId: string; share: Uint8Array }[], last = false): Promise<void> {
    if (this.staleReason) {
      for (const t of page) t.share.fill(0);
      throw new GalleryError("GALLERY_STALE", `the gallery is stale (${this.staleReason}): rebuild at a new epoch`);
    }
    const { party, params, seed, pairSeed, epoch, modelVersion } = this.o;
    const d = params.d, first = this.rows.count, n = page.length;
    const masks = n > 0 ? maskShares(seed, party, epoch, first, n, d) : new Int32Array(0);
    const own = new Uint32Array(n * d);
    page.forEach((t, j) => {
      const y = runShare(party, pairSeed, { templateId: t.templateId, modelVersion }, t.share);
      t.share.fill(0);
      const s = galleryOpenShare(y, masks.subarray(j * d, (j + 1) * d));
      own.set(s, j * d);
      y.fill(0);
      s.fill(0);
    });
    const ids = page.map((t) => t.templateId);
    let peer: Uint32Array;
    try {
      peer = await this.exchange(last ? "end" : String(first), first, ids, own);
    } catch (e) {
      own.fill(0);
      masks.fill(0);
      this.markStale((e as Error).message);
      throw e instanceof GalleryError ? e : new GalleryError("GALLERY_MISMATCH", `gallery exchange: ${(e as Error).message}`);
    }
    for (let j = 0; j < n; j++) {
      const r = (a: Uint32Array | Int32Array) => a.subarray(j * d, (j + 1) * d);
      galleryAdd(this.rows, first + j, r(masks) as Int32Array, r(own) as Uint32Array, r(peer) as Uint32Array);
      this.slots.set(ids[j], first + j);
      this.ids[first + j] = ids[j];
    }
    own.fill(0);
    peer.fill(0);
    masks.fill(0);
  }

  /** One exchange with the peer: our header and δ shares out, theirs in; the headers must agree. */
  private async exchange(label: string, first: number, ids: string[], own: Uint32Array): Promise<Uint32Array> {
    const { transport: t, party, timeoutMs, params } = this.o;
    const peer = serverRoleOf(peerOf(party));
    const session = `dedup-gallery-${this.epoch}-${label}`;
    const head = Buffer.from(JSON.stringify({ epoch: this.epoch, first, ids }));
    const payload = new Uint8Array(4 + head.length + own.byteLength);
    new DataView(payload.buffer).setUint32(0, head.length);
    payload.set(head, 4);
    payload.set(new Uint8Array(own.buffer, own.byteOffset, own.byteLength), 4 + head.length);
    try {
      await t.send(peer, { session, step: 1, seq: 0, payload });
      payload.fill(0);
      const f = await t.receive(session, { from: peer, timeoutMs });
      const b = f.payload;
      const hl = b.length >= 4 ? new DataView(b.buffer, b.byteOffset, b.length).getUint32(0) : -1;
      let theirs: { epoch?: unknown; first?: unknown; ids?: unknown } = {};
      try {
        if (hl >= 0 && 4 + hl <= b.length) theirs = JSON.parse(Buffer.from(b.subarray(4, 4 + hl)).toString("utf8"));
      } catch {
        /* refused below */
      }
      const same = theirs.epoch === this.epoch && theirs.first === first && Array.isArray(theirs.ids) && theirs.ids.length === ids.length && ids.every((id, j) => (theirs.ids as unknown[])[j] === id);
      if (!same) throw new GalleryError("GALLERY_MISMATCH", `the peer's gallery differs at slot ${first}`);
      if (b.length - 4 - hl !== 4 * ids.length * params.d) throw new GalleryError("GALLERY_MISMATCH", "the peer's δ shares have the wrong length");
      const out = new Uint32Array(ids.length * params.d);
      new Uint8Array(out.buffer).set(b.subarray(4 + hl));
      b.fill(0);
      return out;
    } finally {
      t.closeSession(session);
    }
  }
}

// ---------------------------------------------------------------- (re)building at a fresh epoch

const EPOCH_SESSION = "dedup-gallery-epoch";
const EPOCH_OK_SESSION = "dedup-gallery-epoch-ok";

export interface GalleryKeeperOptions extends Omit<PartyGalleryOptions, "epoch"> {
  /** clock (epoch ms) for P0's epoch proposals; default Date.now */
  now?: () => number;
  /**
   * P0: claims an epoch for the whole institution (`storeEpochClaim`: durable, shared by all its
   * processes); false when another process — another gallery shard worker pair — named it already.
   */
  claimEpoch?: (epoch: number) => Promise<boolean>;
}

/**
 * Epoch claims in the party's single-use ledger (store `consumeAuthorisation`, key `dedup-epoch-<e>`):
 * every process of an institution that names gallery epochs (P0's coordinator or its shard workers,
 * over one database) names a different one, so no two galleries — other shards, or two worker pairs
 * of one shard built at different times — share a mask (epoch, slot). A claim is kept a day past its
 * second (P0 only ever names epochs ≥ its clock's second).
 */
export function storeEpochClaim(store: Pick<PartyStore, "consumeAuthorisation">): (epoch: number) => Promise<boolean> {
  return (epoch) =>
    store.consumeAuthorisation(`dedup-epoch-${epoch}`, (epoch + 86_400) * 1000).then(
      () => true,
      (e: { code?: string }) => (e.code === "AUTH_REUSED" ? false : Promise.reject(e)),
    );
}

/**
 * Keeps a party's current gallery: `rebuild()` agrees a fresh epoch with the peer — P0 names it
 * (seconds since 1970, and always above the last it named), P1 takes only one above the last it took —
 * then builds a new `PartyGallery` at that epoch from the store. The service's calls go to the
 * gallery being built or in use (a call during a build runs after it). Both parties call `rebuild`
 * together (at start, and when either restarted or the gallery went stale).
 * Epochs are not persisted: an epoch is fresh as long as P0's clock does not go back by more than the
 * time between two builds.
 */
export class GalleryKeeper implements GalleryHooks {
  private gallery: PartyGallery | null = null;
  private lastEpoch = 0;
  constructor(private readonly o: GalleryKeeperOptions) {}

  /** the gallery in use (null before the first build; stale ones stay until the next rebuild) */
  get current(): PartyGallery | null {
    return this.gallery;
  }
  committed(templateId: string, modelVersion: string): void {
    this.gallery?.committed(templateId, modelVersion);
  }
  erased(templateId: string): void {
    this.gallery?.erased(templateId);
  }

  async rebuild(): Promise<{ epoch: number; count: number; ms: number }> {
    const epoch = await this.agreeEpoch();
    const g = new PartyGallery({ ...this.o, epoch });
    this.gallery = g;
    const { count, ms } = await g.build();
    return { epoch, count, ms };
  }

  private async agreeEpoch(): Promise<number> {
    const { transport: t, party, timeoutMs } = this.o;
    const peer = serverRoleOf(peerOf(party));
    const u32le = (v: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v, true);
      return b;
    };
    const frame = (session: string, epoch: number) => ({ session, step: 1, seq: 0, payload: u32le(epoch) });
    const epochOf = (p: Uint8Array) => (p.length === 4 ? new DataView(p.buffer, p.byteOffset, 4).getUint32(0, true) : -1);
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    if (party === "P0") {
      let epoch = Math.max(Math.floor((this.o.now ?? Date.now)() / 1000), this.lastEpoch + 1);
      while (this.o.claimEpoch && !(await this.o.claimEpoch(epoch))) epoch++;
      if (epoch >= 2 ** 32) throw new RangeError("gallery epoch: out of u32");
      this.lastEpoch = epoch;
      await t.send(peer, frame(EPOCH_SESSION, epoch));
      // acknowledgements of earlier proposals (a peer that answered late) are skipped
      for (;;) if (epochOf((await t.receive(EPOCH_OK_SESSION, { from: peer, timeoutMs: left() })).payload) === epoch) return epoch;
    }
    let epoch = -1;
    while (epoch <= this.lastEpoch) epoch = epochOf((await t.receive(EPOCH_SESSION, { from: peer, timeoutMs: left() })).payload);
    // proposals queued behind it (P0 gave up on earlier ones and named another): the latest counts
    for (;;) {
      const next = await t.receive(EPOCH_SESSION, { from: peer, timeoutMs: 20 }).then((f) => epochOf(f.payload), () => null);
      if (next === null) break;
      if (next > epoch) epoch = next;
    }
    this.lastEpoch = epoch;
    await t.send(peer, frame(EPOCH_OK_SESSION, epoch));
    return epoch;
  }
}

/**
 * The server's background loop around a `GalleryKeeper` (server.ts, `DEDUP_GALLERY=on`).
 * P0 rebuilds at start, after the link to P1 comes (back) up (`linkUp()`: P1 may have restarted) and
 * whenever the gallery is stale, retrying every `retryMs` after a failure. P1 always waits for P0's
 * next epoch and builds (P0 may have restarted). `stop()` ends the loop (close the transport first, so
 * that a pending wait ends).
 */
export function runGalleryKeeper(keeper: GalleryKeeper, o: { party: PartyName; log?: Log; retryMs: number }): { linkUp(): void; stop(): Promise<void> } {
  const log = o.log ?? silentLog;
  let stopped = false;
  let wanted = true;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });
  const once = async () => {
    try {
      const r = await keeper.rebuild();
      if (keeper.current?.stale) throw new Error(keeper.current.stale);
      log.info({ event: "gallery_ready", epoch: r.epoch, templates: r.count, ms: Math.round(r.ms) });
      return true;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (!stopped && !(o.party === "P1" && code === "TIMEOUT")) log.warn({ event: "gallery_build_failed", reason: (e as Error).message });
      return false;
    }
  };
  const loop = (async () => {
    while (!stopped) {
      if (o.party === "P1") {
        if (!(await once()) && !stopped) await sleep(100);
        continue;
      }
      if (wanted || keeper.current?.stale) wanted = !(await once());
      if (!stopped) await sleep(o.retryMs);
    }
  })();
  return {
    linkUp() {
      wanted = true;
      wake?.();
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
