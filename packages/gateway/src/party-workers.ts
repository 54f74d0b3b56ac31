/**
 * Several worker processes per party (issue 16; the parties' side: @privface/party workers.ts): one
 * `PartyClient` per party that spreads the calls over that party's workers. An enrolment,
 * verification or dedup search goes to one worker of each party, the pair chosen per session (in
 * turn over the workers not marked down) and kept for the session's related calls; P0's body names
 * its peer worker (`peer`: a name of `PRIVFACE_GATEWAY_P1_WORKERS`, which P0 knows under the same
 * name in `PRIVFACE_P0_PEER_WORKERS`). Any other call goes to the next worker, and to the one after
 * it when a worker cannot be reached. A worker that could not be reached (or timed out) is passed
 * over until it answers a health probe (every `probeMs`).
 */
import { classifyPartyError, PARTIES, type PartyClient, type PartyName } from "@privface/contracts";

export interface WorkerClientsOptions {
  /** per party: worker name → its client */
  workers: Record<PartyName, Map<string, PartyClient>>;
  /** send P0 the name of its peer worker (P1 runs several workers) */
  namePeer: boolean;
  /** how often a worker that could not be reached is probed (its health) until it answers (default 1 s) */
  probeMs?: number;
}

const UNREACHED = new Set(["UNREACHABLE", "TIMEOUT"]);
/** How long a session's pair is kept: past the parties' default commit window (120 s), within which its dedup search comes. */
const PAIR_KEEP_MS = 300_000;

export function createWorkerClients(o: WorkerClientsOptions): Record<PartyName, PartyClient> {
  const now = Date.now;
  const names = { P0: [...o.workers.P0.keys()], P1: [...o.workers.P1.keys()] };
  // workers that could not be reached, each with its probe: passed over until the probe gets an answer
  const down = new Map<string, NodeJS.Timeout>();
  const isDown = (p: PartyName, w: string) => down.has(`${p}/${w}`);
  const markDown = (p: PartyName, w: string) => {
    const k = `${p}/${w}`;
    if (down.has(k)) return;
    const probe = setInterval(() => {
      o.workers[p].get(w)!.health().then(() => {
        clearInterval(probe);
        if (down.get(k) === probe) down.delete(k);
      }, () => undefined);
    }, o.probeMs ?? 1_000);
    probe.unref();
    down.set(k, probe);
  };
  const turn = { P0: 0, P1: 0 };
  /** The workers of `p` in the order to try: the next in turn first, those marked down last. */
  const order = (p: PartyName): string[] => {
    const n = names[p];
    const start = turn[p]++ % n.length;
    const rotated = [...n.slice(start), ...n.slice(0, start)];
    const up = rotated.filter((w) => !isDown(p, w));
    return [...up, ...rotated.filter((w) => !up.includes(w))];
  };
  const watch = <T>(p: PartyName, w: string, call: Promise<T>): Promise<T> =>
    call.catch((e) => {
      if (UNREACHED.has(classifyPartyError(e).code)) markDown(p, w);
      throw e;
    });

  // the pair serving each session, kept while its related calls may come (an enrolment's dedup search)
  const pairs = new Map<string, { P0: string; P1: string; at: number }>();
  let pairTurn = 0;
  const pairOf = (session: string) => {
    let pair = pairs.get(session);
    if (!pair) {
      const t = now();
      // oldest first (insertion order): forget pairs past the time a related call could still come
      for (const [k, v] of pairs) {
        if (t - v.at <= PAIR_KEEP_MS) break;
        pairs.delete(k);
      }
      // every pair in turn (P1 advances once P0 has gone round), the first worker not marked down otherwise
      const k = pairTurn++;
      const pick = (p: PartyName, i: number) => {
        const w = names[p][i % names[p].length];
        return isDown(p, w) ? order(p)[0] : w;
      };
      pair = { P0: pick("P0", k), P1: pick("P1", Math.floor(k / names.P0.length)), at: t };
      pairs.set(session, pair);
    }
    return pair;
  };
  const mpc = (p: PartyName, op: "enrol" | "verify" | "dedup") => (req: { session: string }) => {
    const pair = pairOf(req.session);
    const body = p === "P0" && o.namePeer ? { ...req, peer: pair.P1 } : req;
    return watch(p, pair[p], (o.workers[p].get(pair[p])![op] as (b: unknown) => Promise<never>)(body));
  };
  /** any worker; the next one when it cannot be reached */
  const any = (p: PartyName, call: (c: PartyClient) => Promise<unknown>) => async () => {
    let last: unknown;
    for (const w of order(p)) {
      try {
        return await watch(p, w, call(o.workers[p].get(w)!));
      } catch (e) {
        if (!UNREACHED.has(classifyPartyError(e).code)) throw e;
        last = e;
      }
    }
    throw last;
  };
  const client = (p: PartyName): PartyClient => ({
    enrol: mpc(p, "enrol"),
    verify: mpc(p, "verify"),
    dedup: mpc(p, "dedup"),
    commit: (b) => any(p, (c) => c.commit(b))() as never,
    abort: (b) => any(p, (c) => c.abort(b))() as never,
    delete: (b) => any(p, (c) => c.delete(b))() as never,
    health: () => any(p, (c) => c.health())() as never,
    keys: () => any(p, (c) => c.keys())() as never,
    nonces: (b) => any(p, (c) => c.nonces(b))() as never,
    registerDevice: (b) => any(p, (c) => c.registerDevice(b))() as never,
    metrics: () => any(p, (c) => c.metrics())() as never,
    anchor: (b) => any(p, (c) => c.anchor(b))() as never,
    auditRecords: (b) => any(p, (c) => c.auditRecords(b))() as never,
    close: () => {
      for (const [k, probe] of down) if (k.startsWith(`${p}/`)) (clearInterval(probe), down.delete(k));
      o.workers[p].forEach((c) => c.close());
    },
  });
  return { P0: client(PARTIES[0]), P1: client(PARTIES[1]) };
}
