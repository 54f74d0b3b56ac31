/**
 * A plaintext twin of the two compute parties, in one process, for the gateway's unit tests (and
 * for demos when the real servers are not available). It behaves like P0 and P1 at the Party API:
 * it checks the gateway's signed authorisations (signature, op, party, template, digest, expiry,
 * single use), opens each sealed share with that party's key and the request context as AAD, expands
 * P0's seed, reconstructs the int8 vector and decides with `verifyPlain` / `validatePlain` — so the
 * decisions equal those of the MPC. Results come back as random XOR-shares, like the real parties.
 *
 * It is NOT secure (it sees both shares); it exists so the gateway can be tested without servers.
 * `down` simulates an unreachable party (UNREACHABLE) and, for its peer, PEER_UNAVAILABLE.
 */
import { randomInt } from "node:crypto";
import { contextAad, modelParams, PartyError, type Bit, type PartyClient, type PartyErrorCode, type PartyName, type ShareContext } from "@privface/contracts";
import { createAuthorisationChecker, shareDigest, type AuthPayload } from "@privface/contracts/auth";
import { fromBase64url, open, type KeyPair, type PublicKey } from "@privface/crypto";
import { expandSeedShare, reconstructBytes, validatePlain, verifyPlain, type Params } from "@privface/mpc";

const fail = (code: PartyErrorCode) => new PartyError(code);

interface Template {
  status: "pending" | "active";
  modelVersion: string;
  y: Int8Array;
}

interface Slot {
  shares: Partial<Record<PartyName, Uint8Array>>;
  upgrade: Partial<Record<PartyName, Uint8Array>>;
  waiters: ((e?: Error) => void)[];
  result?: { valid: Bit; match: Bit; r0: { valid: Bit; match: Bit } };
}

export interface FakeParties {
  clients: Record<PartyName, PartyClient>;
  /** Parties currently "down". */
  down: Set<PartyName>;
  /** Every call that reached a party (op, party, templateId). */
  calls: { party: PartyName; op: string; templateId: string }[];
  templates: Map<string, Template>;
  /** Pending upgrade vectors by template id. */
  pendingUpgrades: Map<string, { modelVersion: string; y: Int8Array }>;
}

export function createFakeParties(o: { keys: Record<PartyName, KeyPair>; gatewayKey: PublicKey; params?: Params; now?: () => number }): FakeParties {
  const params = o.params ?? modelParams();
  const now = o.now ?? Date.now;
  const templates = new Map<string, Template>();
  const pendingUpgrades = new Map<string, { modelVersion: string; y: Int8Array }>();
  const usedNonces = new Set<string>();
  const slots = new Map<string, Slot>();
  const down = new Set<PartyName>();
  const calls: FakeParties["calls"] = [];
  // session → what a commit/abort refers to
  const sessions = new Map<string, { kind: "enrol" | "upgrade"; templateId: string; modelVersion: string }>();

  function gate(party: PartyName, op: string, templateId: string): void {
    if (down.has(party)) throw fail("UNREACHABLE");
    const peer: PartyName = party === "P0" ? "P1" : "P0";
    if (down.has(peer) && op !== "delete") throw fail("PEER_UNAVAILABLE");
    calls.push({ party, op, templateId });
  }

  const checker = createAuthorisationChecker(o.gatewayKey);
  async function checkAuth(
    party: PartyName,
    auth: unknown,
    ops: AuthPayload["op"][],
    templateId: string,
    session: string | undefined,
    digest: string | undefined,
  ): Promise<AuthPayload> {
    let p: AuthPayload;
    try {
      p = await checker(auth, { ops, party, templateId, session, digest }, now());
    } catch (e) {
      throw e instanceof PartyError ? e : fail("AUTH_INVALID");
    }
    if (usedNonces.has(p.nonce)) throw fail("AUTH_REUSED");
    usedNonces.add(p.nonce);
    return p;
  }

  async function openShare(party: PartyName, sealed: string, ctx: ShareContext, session: string): Promise<Uint8Array> {
    try {
      return await open(o.keys[party], fromBase64url(sealed), contextAad({ ...ctx, party }));
    } catch {
      // the peer waiting in this session learns that it broke off
      for (const w of slots.get(session)?.waiters ?? []) w(fail("SESSION_UNKNOWN"));
      slots.delete(session);
      throw fail("INVALID_INPUT");
    }
  }

  function toVector(s: Slot, which: "shares" | "upgrade", ctx: ShareContext): Int8Array {
    const seed = s[which].P0!;
    const x1 = s[which].P1!;
    if (seed.length !== 16 || x1.length !== params.d) return new Int8Array(params.d).fill(127);
    return reconstructBytes(expandSeedShare(seed, ctx, params.d), x1);
  }

  /** Both parties deposit their opened share; the second one computes. */
  async function rendezvous(session: string, party: PartyName, share: Uint8Array, up: Uint8Array | undefined, compute: (s: Slot) => { valid: Bit; match: Bit }) {
    let s = slots.get(session);
    if (!s) {
      s = { shares: {}, upgrade: {}, waiters: [] };
      slots.set(session, s);
    }
    s.shares[party] = share;
    if (up) s.upgrade[party] = up;
    if (s.shares.P0 && s.shares.P1) {
      const r = compute(s);
      const r0 = { valid: randomInt(2) as Bit, match: randomInt(2) as Bit };
      s.result = { ...r, r0 };
      for (const w of s.waiters) w();
    } else {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(fail("PEER_UNAVAILABLE")), 2000);
        s!.waiters.push((e) => {
          clearTimeout(t);
          if (e) reject(e);
          else resolve();
        });
      });
    }
    const { valid, match, r0 } = s.result!;
    setTimeout(() => slots.delete(session), 1000).unref?.();
    return party === "P0" ? r0 : { valid: (valid ^ r0.valid) as Bit, match: (match ^ r0.match) as Bit };
  }

  function client(party: PartyName): PartyClient {
    return {
      async enrol(req) {
        gate(party, "enrol", req.templateId);
        await checkAuth(party, req.authorisation, ["enrol"], req.templateId, req.session, shareDigest(fromBase64url(req.sealedShare)));
        if (templates.has(req.templateId) && templates.get(req.templateId)!.status === "active") throw fail("TEMPLATE_EXISTS");
        const share = await openShare(party, req.sealedShare, req.context, req.session);
        const r = await rendezvous(req.session, party, share, undefined, (s) => {
          const y = toVector(s, "shares", req.context);
          const { valid } = validatePlain(params, y);
          if (valid) templates.set(req.templateId, { status: "pending", modelVersion: req.modelVersion, y });
          sessions.set(req.session, { kind: "enrol", templateId: req.templateId, modelVersion: req.modelVersion });
          return { valid, match: 0 };
        });
        return { session: req.session, resultShare: { valid: r.valid } };
      },
      async commit(req) {
        gate(party, "commit", req.templateId);
        const s = sessions.get(req.session);
        await checkAuth(party, req.authorisation, s?.kind === "upgrade" ? ["upgrade"] : ["commit"], req.templateId, req.session, undefined);
        if (s?.kind === "upgrade") {
          const up = pendingUpgrades.get(req.templateId);
          if (up) templates.set(req.templateId, { status: "active", modelVersion: up.modelVersion, y: up.y });
          if (party === "P1") pendingUpgrades.delete(req.templateId);
        } else {
          const t = templates.get(req.templateId);
          if (!t) throw fail("UNKNOWN_TEMPLATE");
          t.status = "active";
        }
        return { templateId: req.templateId, status: "active" };
      },
      async abort(req) {
        gate(party, "abort", req.templateId);
        await checkAuth(party, req.authorisation, ["abort"], req.templateId, req.session, undefined);
        const s = sessions.get(req.session);
        if (s?.kind === "upgrade") pendingUpgrades.delete(req.templateId);
        else if (templates.get(req.templateId)?.status === "pending") templates.delete(req.templateId);
        return { templateId: req.templateId, status: "aborted" };
      },
      async verify(req) {
        gate(party, "verify", req.templateId);
        const digest = req.upgrade ? shareDigest(fromBase64url(req.sealedShare), fromBase64url(req.upgrade.sealedShare)) : shareDigest(fromBase64url(req.sealedShare));
        await checkAuth(party, req.authorisation, ["verify"], req.templateId, req.session, digest);
        const t = templates.get(req.templateId);
        if (!t || t.status !== "active") throw fail("UNKNOWN_TEMPLATE");
        if (t.modelVersion !== req.modelVersion) throw fail("WRONG_MODEL_VERSION");
        const share = await openShare(party, req.sealedShare, req.context, req.session);
        const up = req.upgrade ? await openShare(party, req.upgrade.sealedShare, req.upgrade.context, req.session) : undefined;
        const r = await rendezvous(req.session, party, share, up, (s) => {
          const x = toVector(s, "shares", req.context);
          const res = verifyPlain(params, x, t.y);
          if (req.upgrade) {
            const u = toVector(s, "upgrade", req.upgrade.context);
            if (validatePlain(params, u).valid) {
              pendingUpgrades.set(req.templateId, { modelVersion: req.upgrade.modelVersion, y: u });
              sessions.set(req.session, { kind: "upgrade", templateId: req.templateId, modelVersion: req.upgrade.modelVersion });
            }
          }
          return { valid: res.valid, match: res.match };
        });
        return { session: req.session, resultShare: r };
      },
      async delete(req) {
        gate(party, "delete", req.templateId);
        await checkAuth(party, req.authorisation, ["delete"], req.templateId, undefined, "");
        const existed = templates.has(req.templateId);
        if (party === "P1") templates.delete(req.templateId);
        return { templateId: req.templateId, deleted: true, existed };
      },
      async health() {
        if (down.has(party)) throw fail("UNREACHABLE");
        const peer: PartyName = party === "P0" ? "P1" : "P0";
        return { role: party === "P0" ? "p0" : "p1", peer: down.has(peer) ? "down" : "up", helper: "up", pool: { level: 1000, target: 1000 } };
      },
      async metrics() {
        return "";
      },
      close() {},
    };
  }

  return { clients: { P0: client("P0"), P1: client("P1") }, down, calls, templates, pendingUpgrades };
}
