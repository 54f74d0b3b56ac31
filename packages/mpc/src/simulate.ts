/**
 * All parties in one process: `simulateVerify` and `simulateEnrol` deal a bundle (unless given), run
 * P0's and P1's step functions, pass every message through the wire encoding (unless `wire: false`),
 * count the bytes each party sends, check that both parties ran the same number of rounds, and
 * reconstruct the XOR-shared result (which in production only the requester does).
 */
import { deal, newItemId, openBundle, UsedIds, type Bundle, type Seeds, type UsedIdsLike } from "./deal.ts";
import type { Message, PartyName, Protocol } from "./messages.ts";
import type { Params } from "./params.ts";
import {
  enrolStart, enrolStep, verifyOnCompareMany, verifyStart, verifyStep,
  type EnrolOutput, type EnrolState, type VerifyCompared, type VerifyOutput, type VerifyState,
} from "./protocol.ts";
import type { CompareMsg } from "./messages.ts";
import { secureRng, type Rng } from "./rng.ts";
import { decodeMessage, encodeMessage } from "./wire.ts";

export interface SimulateCommon {
  readonly params: Params;
  readonly seeds: Seeds;
  /** dealt with `rng` when absent */
  readonly bundles?: { readonly P0: Bundle; readonly P1: Bundle };
  readonly rng?: Rng;
  readonly session?: string;
  /** pass messages through encodeMessage/decodeMessage (default true) */
  readonly wire?: boolean;
  readonly used?: { readonly P0: UsedIdsLike; readonly P1: UsedIdsLike };
  /** sees every message (as received, after the wire) — for privacy tests */
  readonly observe?: (msg: Message) => void;
}

export interface SimulateVerifyOptions extends SimulateCommon {
  /** byte shares of the probe (P0's usually from expandSeedShare) */
  readonly probe: { readonly P0: Uint8Array; readonly P1: Uint8Array };
  /** Z_2^32 shares of the enrolled template */
  readonly template: { readonly P0: Uint32Array; readonly P1: Uint32Array };
}

export interface SimulateEnrolOptions extends SimulateCommon {
  readonly share: { readonly P0: Uint8Array; readonly P1: Uint8Array };
}

export interface Traffic {
  readonly rounds: number;
  /** bytes each party sent (wire encoding) */
  readonly sent: { P0: number; P1: number };
}

function transfer(msg: Message, protocol: Protocol, d: number, wire: boolean, sent: { P0: number; P1: number }, observe?: (m: Message) => void): Message {
  let out = msg;
  if (wire) {
    const bytes = encodeMessage(msg);
    sent[msg.from] += bytes.length;
    out = decodeMessage(bytes, { protocol, session: msg.session, step: msg.step, seq: msg.seq, from: msg.from, d });
  }
  observe?.(out);
  return out;
}

/** Bundle, session and material of one simulated run (dealt with `o.rng` when not given). */
function setup(o: SimulateCommon, kind: Protocol) {
  const rng = o.rng ?? secureRng;
  const bundles = o.bundles ?? deal(o.params, newItemId(rng), o.seeds, rng, kind);
  const used = o.used ?? { P0: new UsedIds(), P1: new UsedIds() };
  return {
    session: o.session ?? `sim-${newItemId(rng)}`,
    material: (role: PartyName) => openBundle(role, o.seeds[role], bundles[role]),
    used: (role: PartyName) => used[role],
  };
}

type Step<S, Out> = (state: S, msg: Message) => { state: S; send?: Message; output?: Out };

/** Runs both parties round by round until both give an output; every message passes `transfer`. */
function exchange<S, Out>(
  o: SimulateCommon,
  kind: Protocol,
  start: (role: PartyName) => { state: S; send: Message },
  step: Step<S, Out>,
): { P0: Out; P1: Out; traffic: Traffic } {
  const wire = o.wire ?? true;
  const sent = { P0: 0, P1: 0 };
  const roles = ["P0", "P1"] as const;
  const st = {} as Record<PartyName, S>;
  let out: Record<PartyName, Message | undefined> = { P0: undefined, P1: undefined };
  for (const role of roles) {
    const r = start(role);
    st[role] = r.state;
    out[role] = r.send;
  }
  let rounds = 0;
  const result: Partial<Record<PartyName, Out>> = {};
  while (out.P0 && out.P1) {
    rounds++;
    const inbox = { P0: transfer(out.P1, kind, o.params.d, wire, sent, o.observe), P1: transfer(out.P0, kind, o.params.d, wire, sent, o.observe) };
    const next: Record<PartyName, Message | undefined> = { P0: undefined, P1: undefined };
    for (const role of roles) {
      const r = step(st[role], inbox[role]);
      st[role] = r.state;
      next[role] = r.send;
      if (r.output) result[role] = r.output;
    }
    out = next;
  }
  if (out.P0 || out.P1 || !result.P0 || !result.P1) throw new Error(`simulate ${kind}: parties disagree on the number of rounds`);
  return { P0: result.P0, P1: result.P1, traffic: { rounds, sent } };
}

export function simulateVerify(o: SimulateVerifyOptions): { P0: VerifyOutput; P1: VerifyOutput; valid: 0 | 1; match: 0 | 1; traffic: Traffic } {
  const s = setup(o, "verify");
  const r = exchange<VerifyState, VerifyOutput>(
    o,
    "verify",
    (role) =>
      verifyStart({ role, session: s.session, params: o.params, probeShare: o.probe[role], templateShare: o.template[role], material: s.material(role), used: s.used(role) }),
    verifyStep,
  );
  return { ...r, valid: (r.P0.valid ^ r.P1.valid) as 0 | 1, match: (r.P0.match ^ r.P1.match) as 0 | 1 };
}

/**
 * Many verifications in lock step, round by round: each party evaluates the DCF keys of all sessions
 * in one batch (`verifyOnCompareMany`). Same results as calling `simulateVerify` on each.
 */
export function simulateVerifyMany(list: readonly SimulateVerifyOptions[]): ReturnType<typeof simulateVerify>[] {
  const roles = ["P0", "P1"] as const;
  const runs = list.map((o) => {
    const s = setup(o, "verify");
    const st = {} as Record<PartyName, VerifyState>;
    const out = {} as Record<PartyName, Message | undefined>;
    for (const role of roles) {
      const r = verifyStart({ role, session: s.session, params: o.params, probeShare: o.probe[role], templateShare: o.template[role], material: s.material(role), used: s.used(role) });
      st[role] = r.state;
      out[role] = r.send;
    }
    return { o, st, out, sent: { P0: 0, P1: 0 }, rounds: 0, result: {} as Partial<Record<PartyName, VerifyOutput>> };
  });
  while (runs.some((r) => r.out.P0 && r.out.P1)) {
    const inboxes = runs.map((r) => {
      r.rounds++;
      const wire = r.o.wire ?? true;
      return { P0: transfer(r.out.P1!, "verify", r.o.params.d, wire, r.sent, r.o.observe), P1: transfer(r.out.P0!, "verify", r.o.params.d, wire, r.sent, r.o.observe) };
    });
    for (const role of roles) {
      if (runs.every((r) => r.st[role].phase === "verify:compared")) {
        const res = verifyOnCompareMany(runs.map((r) => r.st[role] as VerifyCompared), inboxes.map((b) => b[role] as CompareMsg));
        res.forEach((x, i) => {
          runs[i].st[role] = x.state;
          runs[i].out[role] = x.send;
        });
        continue;
      }
      runs.forEach((r, i) => {
        const x = verifyStep(r.st[role], inboxes[i][role]);
        r.st[role] = x.state;
        r.out[role] = x.send;
        if (x.output) r.result[role] = x.output;
      });
    }
  }
  return runs.map((r) => {
    const { P0, P1 } = r.result;
    if (r.out.P0 || r.out.P1 || !P0 || !P1) throw new Error("simulateVerifyMany: parties disagree on the number of rounds");
    return { P0, P1, valid: (P0.valid ^ P1.valid) as 0 | 1, match: (P0.match ^ P1.match) as 0 | 1, traffic: { rounds: r.rounds, sent: r.sent } };
  });
}

export function simulateEnrol(o: SimulateEnrolOptions): { P0: EnrolOutput; P1: EnrolOutput; valid: 0 | 1; traffic: Traffic } {
  const s = setup(o, "enrol");
  const r = exchange<EnrolState, EnrolOutput>(
    o,
    "enrol",
    (role) => enrolStart({ role, session: s.session, params: o.params, share: o.share[role], material: s.material(role), used: s.used(role) }),
    enrolStep,
  );
  return { ...r, valid: (r.P0.valid ^ r.P1.valid) as 0 | 1 };
}

/** One entry point: `simulate("verify", opts)` or `simulate("enrol", opts)`. */
export function simulate(kind: "verify", o: SimulateVerifyOptions): ReturnType<typeof simulateVerify>;
export function simulate(kind: "enrol", o: SimulateEnrolOptions): ReturnType<typeof simulateEnrol>;
export function simulate(kind: Protocol, o: SimulateVerifyOptions | SimulateEnrolOptions): unknown {
  return kind === "verify" ? simulateVerify(o as SimulateVerifyOptions) : simulateEnrol(o as SimulateEnrolOptions);
}
