/** Wire binding: every message is bound to (protocol, session, step, sequence, sender); replays are refused. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  deal, newItemId, openBundle, makeParams, encodeMessage, decodeMessage, verifyStart, verifyOnLift, verifyOnOpen, enrolStart, enrolOnLift,
  ProtocolError, type Message, type PartyName,
} from "../src/index.ts";
import { pair, shareProbe, shareTemplate, testSeeds } from "./_helpers.ts";
import { THRESHOLD } from "./_helpers.ts";

const { rng, seeds } = testSeeds("wire");
const params = makeParams({ threshold: THRESHOLD, d: 40 });
const code = (c: string) => (e: unknown) => e instanceof ProtocolError && e.code === c;

function startPair(session: string) {
  const { x, y } = pair(rng, 40, 1);
  const probe = shareProbe(x, rng), tpl = shareTemplate(y, rng);
  const b = deal(params, newItemId(rng), seeds, { rng });
  const go = (role: PartyName) =>
    verifyStart({ role, session, params, probeShare: probe[role], templateShare: tpl[role], material: openBundle(role, seeds[role], b[role]) });
  return { P0: go("P0"), P1: go("P1") };
}

test("a message replayed into another session is refused (step function and wire)", () => {
  const a = startPair("session-A");
  const b = startPair("session-B");
  assert.throws(() => verifyOnLift(b.P0.state, a.P1.send), code("WRONG_SESSION"));
  const bytes = encodeMessage(a.P1.send);
  assert.throws(() => decodeMessage(bytes, { protocol: "verify", session: "session-B", step: 1, seq: 0, from: "P1", d: 40 }), code("WRONG_SESSION"));
});

test("a message replayed into another step, from the wrong sender, or of the other protocol is refused", () => {
  const s = startPair("sess-1");
  const o0 = verifyOnLift(s.P0.state, s.P1.send);
  const o1 = verifyOnLift(s.P1.state, s.P0.send);
  // the peer's round-1 message offered again at round 2
  assert.throws(() => verifyOnOpen(o0.state, s.P1.send as never), code("WRONG_STEP"));
  // P0's own message reflected back to it
  assert.throws(() => verifyOnOpen(o0.state, o0.send), code("WRONG_SENDER"));
  // a tampered sequence number
  assert.throws(() => verifyOnOpen(o0.state, { ...o1.send, seq: 5 }), code("WRONG_SEQUENCE"));
  assert.throws(() => verifyOnOpen(o0.state, { ...o1.send, protocol: "enrol" }), code("WRONG_PROTOCOL"));
  const bytes = encodeMessage(o1.send);
  const exp = { protocol: "verify", session: "sess-1", step: 2, seq: 1, from: "P1", d: 40 } as const;
  assert.deepEqual(decodeMessage(bytes, exp), o1.send);
  assert.throws(() => decodeMessage(bytes, { ...exp, step: 3 }), code("WRONG_STEP"));
  assert.throws(() => decodeMessage(bytes, { ...exp, from: "P0" }), code("WRONG_SENDER"));
  assert.throws(() => decodeMessage(bytes, { ...exp, protocol: "enrol" }), code("WRONG_PROTOCOL"));
  assert.throws(() => decodeMessage(bytes, { ...exp, seq: 0 }), code("WRONG_SEQUENCE"));
  // an enrolment message cannot enter a verification
  const eb = deal(params, newItemId(rng), seeds, { rng, kind: "enrol" });
  const e1 = enrolStart({ role: "P1", session: "sess-1", params, share: new Uint8Array(40), material: openBundle("P1", seeds.P1, eb.P1) });
  assert.throws(() => verifyOnLift(startPair("sess-1").P0.state, e1.send), code("WRONG_PROTOCOL"));
  void enrolOnLift;
});

test("malformed bytes: truncated, extended, bad magic, bad version", () => {
  const s = startPair("sess-2");
  const o1 = verifyOnLift(s.P1.state, s.P0.send);
  const bytes = encodeMessage(o1.send);
  const exp = { protocol: "verify", session: "sess-2", step: 2, seq: 1, from: "P1", d: 40 } as const;
  assert.throws(() => decodeMessage(bytes.subarray(0, bytes.length - 1), exp), code("LENGTH_MISMATCH"));
  const longer = new Uint8Array(bytes.length + 4);
  longer.set(bytes);
  assert.throws(() => decodeMessage(longer, exp), code("LENGTH_MISMATCH"));
  assert.throws(() => decodeMessage(bytes, { ...exp, d: 41 }), code("LENGTH_MISMATCH"));
  assert.throws(() => decodeMessage(bytes.subarray(0, 5), exp), code("LENGTH_MISMATCH"));
  const bad = bytes.slice();
  bad[1] = 0;
  assert.throws(() => decodeMessage(bad, exp), code("BAD_MAGIC"));
  const v = bytes.slice();
  v[3] = 9;
  assert.throws(() => decodeMessage(v, exp), code("BAD_VERSION"));
});

test("message sizes are fixed: they depend on d and the session id only", () => {
  const sizes = new Set<string>();
  for (let t = 0; t < 5; t++) {
    const s = startPair("sess-3");
    const o0 = verifyOnLift(s.P0.state, s.P1.send);
    const o1 = verifyOnLift(s.P1.state, s.P0.send);
    const msgs: Message[] = [s.P0.send, s.P1.send, o0.send, o1.send];
    sizes.add(msgs.map((m) => encodeMessage(m).length).join(","));
  }
  assert.equal(sizes.size, 1);
});
