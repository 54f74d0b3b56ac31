/**
 * Runs one MPC protocol run (verify: 4 rounds, enrol validation: 3 rounds) of @privface/mpc over a
 * Transport. Frames: step k (1..) carries the mpc wire message of round k (seq 0); step 0 is a
 * control frame `{"code": <PartyErrorCode>}` that tells the peer this party gave up (so the peer
 * answers with the same error instead of waiting). P0 leads: it owns the pool item, starts, and its
 * round-1 message names the bundle id; P1 obtains the material for that id only then — unless the
 * verification's challenge named the item already (P0's item nonce, decision 012): then P1 is given
 * its material up front and both send round 1 at once (one one-way hop less).
 * A verification carries the failure-budget run (3 rounds, @privface/mpc budget.ts) that counts the
 * template's previous verification: its message of round k follows the verify message in the frame
 * of step k (k = 1..3), so it costs no frame and no round of its own; when the run finds the budget
 * exhausted, neither party sends round 4 and the verification is never answered.
 * The step functions never see bytes or sockets; this file is the only glue between them.
 */
import {
  budgetStart,
  budgetStep,
  decodeBudgetMessage,
  encodeBudgetMessage,
  type BudgetInput,
  type BudgetMessage,
  type BudgetOutput,
  type BudgetState,
  decodeMessage,
  encodeMessage,
  messageBytes,
  enrolStart,
  enrolStep,
  ProtocolError,
  verifyDiscard,
  verifyStart,
  verifyStep,
  type EnrolOutput,
  type EnrolState,
  type LiftMsg,
  type Material,
  type Message,
  type Params,
  type VerifyOutput,
  type VerifyState,
  decodeDedupBundle,
  decodeDedupMessage,
  decodeWords,
  dedupAnyOnAnd,
  dedupAnyStart,
  dedupOnAnd,
  dedupOnEps,
  dedupOnZ,
  dedupPrepare,
  dedupSpotCheck,
  dedupSpotOpening,
  dedupStart,
  encodeDedupMessage,
  encodeWords,
  openDedup,
  type DedupAndMsg,
  type DedupBundle,
  type DedupComparing,
  type DedupEpsMsg,
  type DedupMsg,
  type DedupState,
  type DedupZMsg,
} from "@privface/mpc";
import { killAt } from "@privface/config";
import type { PartyGallery } from "./gallery.ts";
import { TransportError, type Frame, type Transport } from "@privface/transport";
import { isPartyErrorCode, packMatchShare, PartyError, peerOf, serverRoleOf, type DedupMatches, type PartyName } from "@privface/contracts";

export type Kind = "verify" | "enrol";

interface Common {
  transport: Transport;
  role: "P0" | "P1";
  session: string;
  params: Params;
  timeoutMs: number;
  /** d bytes: this party's byte share of the probe / new template. */
  share: Uint8Array;
  /** P0 (and P1 when the challenge named the item): the material; P1 otherwise: obtains the material for the id P0 names. */
  material: Material | ((bundleId: string) => Promise<Material>);
}
export interface VerifyRun extends Common {
  kind: "verify";
  /** Evaluated after the material is known (P1 loads its template share with the pool item). */
  templateShare: () => Uint32Array;
  /**
   * The failure-budget run riding in rounds 1–3 (evaluated after the material is known, like
   * `templateShare`): this verification's budget material, the stored counter and the previous
   * verification's match share. Both parties must give one, or neither.
   */
  budget?: () => Omit<BudgetInput, "role" | "session">;
}

/** A verification's end: its output, or null when the budget run found the budget exhausted (not answered). */
export interface VerifyRunResult {
  output: VerifyOutput | null;
  /** the budget run's result (its counter is to be stored with the answer); null without one */
  budget: BudgetOutput | null;
}
export interface EnrolRun extends Common {
  kind: "enrol";
}

const peerRole = (r: PartyName) => serverRoleOf(peerOf(r));

function transportToApi(e: unknown): never {
  if (e instanceof PartyError) throw e;
  if (e instanceof TransportError && e.code === "SESSION_CLOSED") throw new PartyError("AUTH_REUSED", "this session id was already used");
  if (e instanceof TransportError) throw new PartyError("PEER_UNAVAILABLE", `peer: ${e.code}`);
  if (e instanceof ProtocolError) throw new PartyError("INTERNAL", `protocol: ${e.code}`);
  throw e;
}

/** Tells the peer this party gave up on `session` (best effort), then forgets the session. */
export async function sendAbort(t: Transport, role: "P0" | "P1", session: string, code: string): Promise<void> {
  try {
    await t.send(peerRole(role), { session, step: 0, seq: 0, payload: Buffer.from(JSON.stringify({ code })) });
  } catch {
    /* the peer is gone: it will time out */
  }
  t.closeSession(session);
}

function peerAbort(f: Frame): PartyError {
  let code = "INTERNAL";
  try {
    const c = JSON.parse(Buffer.from(f.payload).toString("utf8")).code;
    if (isPartyErrorCode(c)) code = c;
  } catch {
    /* keep INTERNAL */
  }
  return new PartyError(code as never, `the peer party refused the session (${code})`);
}

/** One frame's payload: the protocol message, then (verify rounds 1–3) the budget run's. */
function pack(a: Uint8Array, b: Uint8Array | null): Uint8Array {
  if (!b) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export function runMpc(o: VerifyRun): Promise<VerifyRunResult>;
export function runMpc(o: EnrolRun): Promise<EnrolOutput>;
export async function runMpc(o: VerifyRun | EnrolRun): Promise<VerifyRunResult | EnrolOutput> {
  const t = o.transport;
  const peer = peerRole(o.role);
  const peerName = o.role === "P0" ? "P1" : "P0";
  const d = o.params.d;
  const withBudget = o.kind === "verify" && o.budget !== undefined;
  const send = (step: number, msg: Message, b: BudgetMessage | null) =>
    t.send(peer, { session: o.session, step, seq: 0, payload: pack(encodeMessage(msg), b ? encodeBudgetMessage(b) : null) });
  const next = async (step: number): Promise<{ msg: Message; b: BudgetMessage | null }> => {
    const f = await t.receive(o.session, { from: peer, timeoutMs: o.timeoutMs });
    if (f.step === 0) throw peerAbort(f);
    const hasB = withBudget && step <= 3;
    const n = hasB ? messageBytes(o.kind, step, d, o.session) : f.payload.length;
    const msg = decodeMessage(hasB ? f.payload.subarray(0, n) : f.payload, { protocol: o.kind, session: o.session, step, seq: step - 1, from: peerName, d });
    return { msg, b: hasB ? decodeBudgetMessage(f.payload.subarray(n), { session: o.session, step, from: peerName }) : null };
  };
  let failed: string | null = null;
  try {
    let first: { msg: Message; b: BudgetMessage | null } | null = null;
    let material: Material;
    if (typeof o.material === "function") {
      first = await next(1);
      material = await o.material((first.msg as LiftMsg).bundleId);
    } else material = o.material;
    let state: VerifyState | EnrolState;
    let out: Message;
    let bstate: BudgetState | null = null;
    let bout: BudgetMessage | null = null;
    let budget: BudgetOutput | null = null;
    if (o.kind === "verify") {
      const s = verifyStart({ role: o.role, session: o.session, params: o.params, probeShare: o.share, templateShare: o.templateShare(), material });
      state = s.state;
      out = s.send;
      if (o.budget) {
        const b = budgetStart({ ...o.budget(), role: o.role, session: o.session });
        bstate = b.state;
        bout = b.send;
      }
    } else {
      const s = enrolStart({ role: o.role, session: o.session, params: o.params, share: o.share, material });
      state = s.state;
      out = s.send;
    }
    await send(1, out, bout);
    // kill-test points between the rounds (issue 16): this party sent round k and waits for the peer's
    killAt(`party:${o.kind}:round1`);
    for (let step = 1; ; step++) {
      const got = step === 1 && first ? first : await next(step);
      bout = null;
      if (bstate && got.b) {
        const br = budgetStep(bstate, got.b);
        bstate = br.state;
        bout = br.send ?? null;
        if (br.output) budget = br.output;
      }
      if (budget?.exhausted) {
        // round 3 revealed it to both parties: neither sends round 4, the verification is not answered
        verifyDiscard(state as VerifyState);
        t.closeSession(o.session);
        return { output: null, budget };
      }
      const r: { state: VerifyState | EnrolState; send?: Message; output?: VerifyOutput | EnrolOutput } =
        o.kind === "verify" ? verifyStep(state as VerifyState, got.msg) : enrolStep(state as EnrolState, got.msg);
      state = r.state;
      if (r.output) {
        t.closeSession(o.session);
        return o.kind === "verify" ? { output: r.output as VerifyOutput, budget } : (r.output as EnrolOutput);
      }
      if (!r.send) throw new ProtocolError("WRONG_PHASE", "step returned neither a message nor an output");
      await send(step + 1, r.send, bout);
      killAt(`party:${o.kind}:round${step + 1}`);
    }
  } catch (e) {
    if (e instanceof ProtocolError && e.code === "COUNTER_MISMATCH") {
      // both parties see the same bookkeeping, so both stop here; the caller refuses the template for the day
      t.closeSession(o.session);
      throw e;
    }
    failed = e instanceof PartyError ? e.code : e instanceof TransportError ? (e.code === "SESSION_CLOSED" ? null : "PEER_UNAVAILABLE") : "INTERNAL";
    return transportToApi(e);
  } finally {
    if (failed) await sendAbort(t, o.role, o.session, failed);
  }
}

// ---------------------------------------------------------------- the 1:N duplicate search (issue 15)

/** P1: the dealt halves of dedup queries the helper delivered, in memory until used (bounded: the oldest go first). */
export class DedupStock {
  private readonly items = new Map<string, DedupBundle>();
  constructor(private readonly max = 8) {}
  get size(): number {
    return this.items.size;
  }
  /** Adds encoded P1 halves; PartyError INVALID_INPUT if one is not a P1 dedup bundle. */
  add(items: readonly Uint8Array[]): number {
    const decoded = items.map((bytes) => {
      let b: DedupBundle;
      try {
        b = decodeDedupBundle(bytes);
      } catch {
        throw new PartyError("INVALID_INPUT", "batch: an item is not a dedup bundle");
      }
      if (b.role !== "P1") throw new PartyError("INVALID_INPUT", `batch: an item is for ${b.role}`);
      return b;
    });
    for (const b of decoded) {
      this.items.set(b.id, b);
      while (this.items.size > this.max) this.items.delete(this.items.keys().next().value as string);
    }
    return decoded.length;
  }
  take(id: string): DedupBundle | undefined {
    const b = this.items.get(id);
    this.items.delete(id);
    return b;
  }
}

export interface DedupRun {
  transport: Transport;
  role: "P0" | "P1";
  /** the search's own session: dedupSessionOf(enrolment session) */
  session: string;
  params: Params;
  timeoutMs: number;
  /** this party's helper seed (its part of every dealt query) */
  seed: Uint8Array;
  gallery: PartyGallery;
  /** this party's ring share of the probe (the prepared enrolment's template) and its XOR share of valid */
  probe: Uint32Array;
  valid: 0 | 1;
  /** P0: the dealt queries (its halves): the first is used, the others are sacrificed to the spot-check */
  bundles?: DedupBundle[];
  /** P1: where the helper's deliveries wait */
  stock?: DedupStock;
  /** a sacrificed query's material was wrong (the helper cheated): called at both parties before they refuse */
  onCheat(failures: string[]): Promise<void>;
  /** also resolve with this party's share of the per-slot match bits and the slots' template ids (DedupRequest.matches) */
  matches?: boolean;
}

const GALLERY_UNAVAILABLE = (why: string) => new PartyError("GALLERY_UNAVAILABLE", why);

/**
 * One 1:N duplicate search over the transport. Frames of session `o.session`: 1 P0 → P1 the query's
 * header `{ epoch, count, use, check }` (JSON); 2 P1 → P0 P1's live-slot bits and a^(1) of each
 * sacrificed query; 3 P0 → P1 P0's live-slot bits and its openings of them (`dedupSpotOpening`);
 * 4 P1 → P0 `{ ok, failures }` (with sacrificed queries); from 5 on the query's steps (mpc dedup.ts:
 * step k in frame 4 + k, dedup-wire.ts), then the "any" tree over the slots live at both. Resolves with this
 * party's XOR share of duplicate and the slots covered; rejects with a PartyError (the peer is told).
 */
export async function runDedup(o: DedupRun): Promise<{ duplicate: 0 | 1; count: number; matches?: DedupMatches }> {
  const t = o.transport;
  const peer = peerRole(o.role);
  const peerName = o.role === "P0" ? "P1" : "P0";
  const send = (step: number, payload: Uint8Array) => t.send(peer, { session: o.session, step, seq: 0, payload });
  const next = async (step: number): Promise<Uint8Array> => {
    const f = await t.receive(o.session, { from: peer, timeoutMs: o.timeoutMs });
    if (f.step === 0) throw peerAbort(f);
    if (f.step !== step) throw new ProtocolError("WRONG_STEP", `expected frame ${step}, got ${f.step}`);
    return f.payload;
  };
  const g = o.gallery;
  let failed: string | null = null;
  g.beginQuery();
  try {
    // 1: which queries (P0 names them), over which gallery
    let use: DedupBundle, check: DedupBundle[];
    if (o.role === "P0") {
      [use, ...check] = o.bundles!;
      await send(1, Buffer.from(JSON.stringify({ epoch: use.epoch, count: use.count, use: use.id, check: check.map((b) => b.id) })));
    } else {
      let head: { epoch?: unknown; count?: unknown; use?: unknown; check?: unknown };
      try {
        head = JSON.parse(Buffer.from(await next(1)).toString("utf8"));
      } catch (e) {
        if (e instanceof PartyError || e instanceof TransportError) throw e;
        throw new ProtocolError("BUNDLE_MISMATCH", "dedup header");
      }
      if (head.epoch !== g.epoch) throw GALLERY_UNAVAILABLE(`P0's gallery is at epoch ${String(head.epoch)}, this party's at ${g.epoch}`);
      if (typeof head.count !== "number") throw new ProtocolError("BUNDLE_MISMATCH", "dedup header");
      if (g.count < head.count) await g.idle(); // an enrolment P0 already added may still be on its way here
      if (g.count < head.count) throw GALLERY_UNAVAILABLE(`P0's gallery has ${head.count} slots, this party's ${g.count}`);
      const ids = [head.use, ...(Array.isArray(head.check) ? head.check : [])];
      const got = ids.map((id) => (typeof id === "string" ? o.stock!.take(id) : undefined));
      if (got.some((b) => !b || b.epoch !== g.epoch || b.count !== head.count)) throw new PartyError("HELPER_UNAVAILABLE", "the helper's half of the query is missing here");
      [use, ...check] = got as DedupBundle[];
    }
    if (!g.ready) throw GALLERY_UNAVAILABLE(`the gallery is not ready${g.stale ? ` (${g.stale})` : ""}`);
    const open = (b: DedupBundle) => openDedup(o.role, o.seed, o.params, b);
    // 2–4: the live slots of each party (a deletion may have reached one party only: such a slot is
    // searched at neither) and the spot-check of the sacrificed queries
    const d = o.params.d, W = Math.ceil(use.count / 32);
    const ownLive = new Uint32Array(W);
    for (let j = 0; j < use.count; j++) if (g.rows.live[j]) ownLive[j >>> 5] |= 1 << (j & 31);
    const mats = check.map(open);
    let peerLive: Uint32Array;
    if (o.role === "P1") {
      const a1 = new Uint32Array(W + d * mats.length);
      a1.set(ownLive);
      mats.forEach((m, i) => a1.set(new Uint32Array(m.a.buffer, m.a.byteOffset, d), W + i * d));
      await send(2, encodeWords(a1));
      const got = decodeWords(await next(3));
      if (got.length < W) throw new ProtocolError("LENGTH_MISMATCH", "live slots");
      peerLive = got.slice(0, W);
      if (mats.length > 0) {
        const all = got.subarray(W), per = all.length / mats.length;
        const failures = Number.isInteger(per) ? mats.flatMap((m, i) => dedupSpotCheck(g.rows, m, all.subarray(i * per, (i + 1) * per))) : ["length"];
        await send(4, Buffer.from(JSON.stringify({ ok: failures.length === 0, failures })));
        if (failures.length > 0) {
          await o.onCheat(failures);
          throw new PartyError("HELPER_UNAVAILABLE", "a dealt dedup query failed the spot-check");
        }
      }
    } else {
      const got = decodeWords(await next(2));
      if (got.length !== W + d * mats.length) throw new ProtocolError("LENGTH_MISMATCH", "live slots and a1");
      peerLive = got.slice(0, W);
      const openings = mats.map((m, i) => dedupSpotOpening(g.rows, m, got.subarray(W + i * d, W + (i + 1) * d)));
      const all = new Uint32Array(W + openings.reduce((s, x) => s + x.length, 0));
      all.set(ownLive);
      let at = W;
      for (const x of openings) all.set(x, (at += x.length) - x.length);
      await send(3, encodeWords(all));
      if (mats.length > 0) {
        const verdict = JSON.parse(Buffer.from(await next(4)).toString("utf8")) as { ok?: unknown; failures?: unknown };
        if (verdict.ok !== true) {
          await o.onCheat(Array.isArray(verdict.failures) ? verdict.failures.map(String) : ["unknown"]);
          throw new PartyError("HELPER_UNAVAILABLE", "a dealt dedup query failed the spot-check");
        }
      }
    }
    // 5…: the query
    const base = 4;
    const recv = async (step: number): Promise<DedupMsg> => decodeDedupMessage(await next(base + step), { step, from: peerName });
    const started = dedupStart(dedupPrepare({ role: o.role, gallery: g.rows, material: open(use) }), o.probe, o.valid);
    let st: DedupState = started.state;
    let out: DedupMsg = started.send;
    let match: Uint32Array | null = null;
    while (!match) {
      await send(base + out.step, encodeDedupMessage(out));
      const m = await recv(out.step);
      const r: { state: DedupState; send: DedupMsg } | { state: DedupState; match: Uint32Array } = st.phase === "dedup:opened" ? dedupOnEps(st, m as DedupEpsMsg) : st.phase === "dedup:masked" ? dedupOnZ(st, m as DedupZMsg) : dedupOnAnd(st as DedupComparing, m as DedupAndMsg);
      st = r.state;
      if ("match" in r) match = r.match;
      else out = r.send;
    }
    for (let w = 0; w < W; w++) match[w] &= peerLive[w]; // this party's dead slots are 0 already (dedupOnAnd)
    // the per-slot shares, for the gateway only (the "any" tree below runs on them, so they are the same
    // shares whichever way): the slot ids are read while the query holds the rows (no removal yet)
    const matches = o.matches ? { share: packMatchShare(match, use.count), templates: g.slotList(use.count) as (string | null)[] } : undefined;
    let any = dedupAnyStart(o.role, started.state.mat, match);
    for (;;) {
      await send(base + any.send.step, encodeDedupMessage(any.send));
      const r = dedupAnyOnAnd(any.state, (await recv(any.send.step)) as DedupAndMsg);
      if ("duplicate" in r) {
        t.closeSession(o.session);
        return { duplicate: r.duplicate, count: use.count, ...(matches ? { matches } : {}) };
      }
      any = r;
    }
  } catch (e) {
    failed = e instanceof PartyError ? e.code : e instanceof TransportError ? (e.code === "SESSION_CLOSED" ? null : "PEER_UNAVAILABLE") : "INTERNAL";
    return transportToApi(e);
  } finally {
    g.endQuery();
    if (failed) await sendAbort(t, o.role, o.session, failed);
  }
}
