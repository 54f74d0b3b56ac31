/**
 * Runs one MPC protocol run (verify: 4 rounds, enrol validation: 3 rounds) of @privface/mpc over a
 * Transport. Frames: step k (1..) carries the mpc wire message of round k (seq 0); step 0 is a
 * control frame `{"code": <PartyErrorCode>}` that tells the peer this party gave up (so the peer
 * answers with the same error instead of waiting). P0 leads: it owns the pool item, starts, and its
 * round-1 message names the bundle id; P1 obtains the material for that id only then.
 * `runBudget` runs the failure-budget run (3 rounds, @privface/mpc budget.ts) that follows a
 * verification on its own session; both parties start it (each already holds its material).
 * The step functions never see bytes or sockets; this file is the only glue between them.
 */
import {
  budgetStart,
  budgetStep,
  decodeBudgetMessage,
  encodeBudgetMessage,
  type BudgetMaterial,
  type BudgetOutput,
  type BudgetState,
  type CounterState,
  decodeMessage,
  encodeMessage,
  enrolStart,
  enrolStep,
  ProtocolError,
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
} from "@privface/mpc";
import { TransportError, type Frame, type Transport } from "@privface/transport";
import { isPartyErrorCode, PartyError, peerOf, serverRoleOf, type PartyName } from "@privface/contracts";

export type Kind = "verify" | "enrol";

interface Common {
  transport: Transport;
  role: "P0" | "P1";
  session: string;
  params: Params;
  timeoutMs: number;
  /** d bytes: this party's byte share of the probe / new template. */
  share: Uint8Array;
  /** P0: the material of the bundle it took; P1: obtains the material for the id P0 names. */
  material: Material | ((bundleId: string) => Promise<Material>);
}
export interface VerifyRun extends Common {
  kind: "verify";
  /** Evaluated after the material is known (P1 loads its template share with the pool item). */
  templateShare: () => Uint32Array;
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

export function runMpc(o: VerifyRun): Promise<VerifyOutput>;
export function runMpc(o: EnrolRun): Promise<EnrolOutput>;
export async function runMpc(o: VerifyRun | EnrolRun): Promise<VerifyOutput | EnrolOutput> {
  const t = o.transport;
  const peer = peerRole(o.role);
  const peerName = o.role === "P0" ? "P1" : "P0";
  const d = o.params.d;
  const send = (step: number, msg: Message) => t.send(peer, { session: o.session, step, seq: 0, payload: encodeMessage(msg) });
  const next = async (step: number): Promise<Message> => {
    const f = await t.receive(o.session, { from: peer, timeoutMs: o.timeoutMs });
    if (f.step === 0) throw peerAbort(f);
    return decodeMessage(f.payload, { protocol: o.kind, session: o.session, step, seq: step - 1, from: peerName, d });
  };
  let failed: string | null = null;
  try {
    let first: Message | null = null;
    let material: Material;
    if (typeof o.material === "function") {
      first = await next(1);
      material = await o.material((first as LiftMsg).bundleId);
    } else material = o.material;
    let state: VerifyState | EnrolState;
    let out: Message;
    if (o.kind === "verify") {
      const s = verifyStart({ role: o.role, session: o.session, params: o.params, probeShare: o.share, templateShare: o.templateShare(), material });
      state = s.state;
      out = s.send;
    } else {
      const s = enrolStart({ role: o.role, session: o.session, params: o.params, share: o.share, material });
      state = s.state;
      out = s.send;
    }
    await send(1, out);
    for (let step = 1; ; step++) {
      const msg = step === 1 && first ? first : await next(step);
      const r: { state: VerifyState | EnrolState; send?: Message; output?: VerifyOutput | EnrolOutput } =
        o.kind === "verify" ? verifyStep(state as VerifyState, msg) : enrolStep(state as EnrolState, msg);
      state = r.state;
      if (r.output) {
        t.closeSession(o.session);
        return r.output;
      }
      if (!r.send) throw new ProtocolError("WRONG_PHASE", "step returned neither a message nor an output");
      await send(step + 1, r.send);
    }
  } catch (e) {
    failed = e instanceof PartyError ? e.code : e instanceof TransportError ? (e.code === "SESSION_CLOSED" ? null : "PEER_UNAVAILABLE") : "INTERNAL";
    return transportToApi(e);
  } finally {
    if (failed) await sendAbort(t, o.role, o.session, failed);
  }
}

export interface BudgetRun {
  transport: Transport;
  role: "P0" | "P1";
  /** the budget run's session (budgetSessionOf(verification session)) */
  session: string;
  timeoutMs: number;
  budget: number;
  day: number;
  /** this party's XOR share of the verification's `match` */
  matchShare: 0 | 1;
  counter: CounterState;
  verifications: number;
  material: BudgetMaterial;
  /** stores the new counter; called after round 1, before this party sends round 2 */
  save(counter: CounterState): Promise<void>;
}

/**
 * One failure-budget run over the transport. Resolves with `{ exhausted, counter }`; rejects with the
 * step functions' ProtocolError (COUNTER_MISMATCH: the caller refuses the template for the day), a
 * TransportError, or the PartyError of a peer that gave up. On failure the peer is told (step 0 frame).
 */
export async function runBudget(o: BudgetRun): Promise<BudgetOutput> {
  const t = o.transport;
  const peer = peerRole(o.role);
  const peerName = o.role === "P0" ? "P1" : "P0";
  const send = (step: number, payload: Uint8Array) => t.send(peer, { session: o.session, step, seq: 0, payload });
  let failed: string | null = null;
  try {
    const s = budgetStart({ role: o.role, session: o.session, budget: o.budget, day: o.day, matchShare: o.matchShare, counter: o.counter, verifications: o.verifications, material: o.material });
    let state: BudgetState = s.state;
    await send(1, encodeBudgetMessage(s.send));
    for (let step = 1; ; step++) {
      const f = await t.receive(o.session, { from: peer, timeoutMs: o.timeoutMs });
      if (f.step === 0) throw peerAbort(f);
      const r = budgetStep(state, decodeBudgetMessage(f.payload, { session: o.session, step, from: peerName }));
      state = r.state;
      if (r.counter) await o.save(r.counter);
      if (r.output) {
        t.closeSession(o.session);
        return r.output;
      }
      if (!r.send) throw new ProtocolError("WRONG_PHASE", "step returned neither a message nor an output");
      await send(step + 1, encodeBudgetMessage(r.send));
    }
  } catch (e) {
    failed = e instanceof PartyError ? null : e instanceof ProtocolError ? "INTERNAL" : e instanceof TransportError ? (e.code === "SESSION_CLOSED" ? null : "PEER_UNAVAILABLE") : "INTERNAL";
    throw e;
  } finally {
    if (failed) await sendAbort(t, o.role, o.session, failed);
  }
}
