/**
 * The gateway's spread of calls over several worker processes per party (party-workers.ts): every
 * pair of workers in turn, P0 told its peer worker, a session's calls kept on its pair, an
 * unreachable worker passed over.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PartyError, type PartyClient, type PartyName } from "@privface/contracts";
import { createWorkerClients } from "../src/party-workers.ts";

function fakes(party: PartyName, names: string[], calls: { party: PartyName; worker: string; op: string; body: any }[], dead: Set<string>) {
  return new Map(
    names.map((w) => {
      const rec = (op: string) => async (body?: unknown) => {
        calls.push({ party, worker: w, op, body });
        if (dead.has(`${party}/${w}`)) throw new PartyError("UNREACHABLE", "gone");
        return { ok: true, worker: w } as never;
      };
      const c = Object.fromEntries(["enrol", "verify", "dedup", "commit", "abort", "delete", "health", "keys", "nonces", "registerDevice", "metrics", "anchor"].map((op) => [op, rec(op)]));
      return [w, { ...c, close() {} } as unknown as PartyClient];
    }),
  );
}

test("verifications go to every pair of workers in turn, P0 naming its peer worker", async () => {
  const calls: { party: PartyName; worker: string; op: string; body: any }[] = [];
  const dead = new Set<string>();
  const c = createWorkerClients({ workers: { P0: fakes("P0", ["a", "b"], calls, dead), P1: fakes("P1", ["a", "b"], calls, dead) }, namePeer: true });
  const pairs = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const req = { session: `session-${i}` } as never;
    await Promise.all([c.P0.verify(req), c.P1.verify(req)]);
    const p0 = calls.find((x) => x.party === "P0" && x.body.session === `session-${i}`)!;
    const p1 = calls.find((x) => x.party === "P1" && x.body.session === `session-${i}`)!;
    assert.equal(p0.body.peer, p1.worker, "P0 is told the P1 worker the session went to");
    assert.equal(p1.body.peer, undefined, "P1's body is unchanged");
    pairs.add(`${p0.worker}${p1.worker}`);
  }
  assert.deepEqual([...pairs].sort(), ["aa", "ab", "ba", "bb"]);
  // a session's later call (its dedup search) stays on its pair
  const first = calls.find((x) => x.party === "P0" && x.body.session === "session-3")!;
  await c.P0.dedup({ session: "session-3" } as never);
  assert.equal(calls.at(-1)!.worker, first.worker);
});

test("a worker that cannot be reached is passed over until it answers a probe; other calls go to the next worker", async () => {
  const calls: { party: PartyName; worker: string; op: string; body: any }[] = [];
  const dead = new Set<string>(["P0/b"]);
  const c = createWorkerClients({ workers: { P0: fakes("P0", ["a", "b"], calls, dead), P1: fakes("P1", ["a"], calls, dead) }, namePeer: false, probeMs: 20 });
  // commit: b fails to answer, a answers
  for (let i = 0; i < 4; i++) assert.equal(((await c.P0.commit({ session: `c-${i}` } as never)) as any).worker, "a");
  // verifications: once b was found unreachable it is not chosen again within downMs
  const workers: string[] = [];
  for (let i = 0; i < 6; i++) {
    const req = { session: `v-${i}` } as never;
    await c.P0.verify(req).catch(() => undefined);
    workers.push(calls.at(-1)!.worker);
  }
  assert.deepEqual(workers, ["a", "a", "a", "a", "a", "a"]);
  assert.equal(calls.filter((x) => x.op === "verify" && x.body.peer !== undefined).length, 0, "no peer named when P1 runs one worker");
  // b is back: once its health probe is answered it takes its turn again
  dead.clear();
  await new Promise((r) => setTimeout(r, 100));
  const back: string[] = [];
  for (let i = 0; i < 4; i++) {
    await c.P0.verify({ session: `w-${i}` } as never);
    back.push(calls.at(-1)!.worker);
  }
  assert.deepEqual([...new Set(back)].sort(), ["a", "b"]);
  c.P0.close();
  c.P1.close();
});
