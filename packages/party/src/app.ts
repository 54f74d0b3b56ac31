/**
 * The party as an app (request → response; no sockets here): the gateway API of docs/contracts.md
 * (enrol, commit, abort, verify[+upgrade], delete, health, metrics), the helper's pool delivery
 * (P1) and the peer's session-status query used by recovery. Each handler checks the caller's role
 * (certificate), the body (unknown fields refused), the gateway's signed authorisation, opens the
 * sealed share with the party's sealing key, runs the MPC with the peer (session.ts), changes the
 * store in single transactions, and appends an audit record — an operation whose audit append fails
 * fails. P0 leads every session: it takes the pool item and names it to P1.
 */
import { open, type KeyPair, type PublicKey } from "@privface/crypto";
import { bad, contextAad, ID, isPartyErrorCode, object, PartyError, serverRoleOf, peerOf, shareRequest, str, unpackItems, upgradeRequest, upgradeSessionOf, type PartyErrorCode, type ServerRole, type ShareContext } from "@privface/contracts";
import { createAuthorisationChecker, shareDigest, type AuthPayload, type Op } from "@privface/contracts/auth";
import { decodeBundle, expandSeedShare, openBundle, type EnrolOutput, type Material, type Params, type VerifyOutput } from "@privface/mpc";
import type { App, AppRequest, AppResponse, Transport } from "@privface/transport";
import type { PartyMetrics } from "./metrics.ts";
import { runMpc, sendAbort } from "./session.ts";
import { StoreError, type PartyStore, type TxnSession } from "./store/index.ts";

const AUDITED = new Set(["enrol", "commit", "abort", "verify", "delete"]);

export interface AuditRecord {
  op: string;
  session: string | null;
  templateId: string | null;
  requester: string;
  purpose: string | null;
  outcome: string;
  modelVersion?: string | null;
  /** Error code of a refused operation. */
  code?: string | null;
}
export interface AuditSink {
  append(rec: AuditRecord): Promise<void>;
}

export interface PeerSessionStatus {
  session: string;
  state: "prepared" | "committed" | "aborted" | "unknown";
  committable: boolean;
}

export interface PartyDeps {
  party: "P0" | "P1";
  params: Params;
  sealKey: KeyPair;
  poolSeed: Uint8Array;
  gatewayKey: PublicKey;
  store: PartyStore;
  audit: AuditSink;
  transport: Transport;
  metrics: PartyMetrics;
  /** P0: one fresh "enrol" bundle (P0's half, encoded) from the helper, P1's half already delivered. */
  enrolBundle?: () => Promise<Uint8Array>;
  helperUp: () => boolean;
  poolTarget: number;
  commitWindowMs: number;
  mpcTimeoutMs: number;
  /** Called after a verification took a pool item (P0 refills in the background). */
  onPoolUse?: () => void;
  log?: (e: Record<string, unknown>) => void;
  now?: () => number;
}

const STORE_TO_API: Record<string, PartyErrorCode> = {
  SESSION_EXISTS: "INVALID_INPUT",
  SESSION_STATE: "INVALID_INPUT",
  ITEM_UNKNOWN: "INVALID_INPUT",
  ITEM_REUSED: "INVALID_INPUT",
  KEY_UNKNOWN: "INTERNAL",
  INTEGRITY: "INTERNAL",
  UNSUPPORTED: "INTERNAL",
};

function toApi(e: unknown): PartyError {
  if (e instanceof PartyError) return e;
  if (e instanceof StoreError) {
    const code = isPartyErrorCode(e.code) ? e.code : (STORE_TO_API[e.code] ?? "INTERNAL");
    return new PartyError(code, code === "INTERNAL" ? "storage error" : e.message);
  }
  return new PartyError("INTERNAL", "internal error");
}

const u32 = (b: Uint8Array): Uint32Array => {
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return new Uint32Array(copy.buffer);
};
const u8 = (a: Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export interface PartyApp {
  app: App;
  /** One recovery pass over pending sessions older than the commit window. */
  recover(peerStatus: (sessions: string[]) => Promise<PeerSessionStatus[]>): Promise<{ committed: number; aborted: number; waiting: number }>;
  sessionStatus(sessions: string[]): Promise<PeerSessionStatus[]>;
}

export function createPartyApp(deps: PartyDeps): PartyApp {
  const { party, params, store, transport, metrics } = deps;
  const role = serverRoleOf(party);
  const peer = serverRoleOf(peerOf(party));
  const now = deps.now ?? Date.now;
  const log = deps.log ?? (() => {});
  const checkAuthorisation = createAuthorisationChecker(deps.gatewayKey);

  async function audit(rec: AuditRecord): Promise<void> {
    try {
      await deps.audit.append(rec);
    } catch (e) {
      log({ event: "audit_failed", op: rec.op, reason: (e as Error).message });
      throw new PartyError("INTERNAL", "audit log unavailable: operation refused");
    }
  }

  /** Opens this party's sealed share and returns its d byte shares (P0 expands its 16-byte seed). */
  async function openShare(sealed: Uint8Array, ctx: ShareContext): Promise<Uint8Array> {
    let plain: Uint8Array;
    try {
      plain = await open(deps.sealKey, sealed, contextAad({ ...ctx, party }));
    } catch {
      throw new PartyError("INVALID_INPUT", "sealedShare: does not open for this party and context");
    }
    if (party === "P0") {
      if (plain.length !== 16) throw new PartyError("INVALID_INPUT", "sealedShare: P0 expects a 16-byte seed");
      const x = expandSeedShare(plain, ctx, params.d);
      plain.fill(0);
      return x;
    }
    if (plain.length !== params.d) throw new PartyError("INVALID_INPUT", `sealedShare: P1 expects ${params.d} bytes`);
    return plain;
  }

  function material(bundle: Uint8Array, kind: "verify" | "enrol"): Material {
    const b = decodeBundle(bundle);
    if (b.kind !== kind) throw new PartyError("INTERNAL", `pool item is a ${b.kind} bundle, ${kind} needed`);
    return openBundle(party, deps.poolSeed, b);
  }

  /** P0's or P1's material for an enrolment-validation run. */
  async function enrolMaterial(session: string): Promise<Material | ((id: string) => Promise<Material>)> {
    if (party === "P0") {
      if (!deps.enrolBundle) throw new PartyError("INTERNAL", "no helper configured");
      let bytes: Uint8Array;
      try {
        bytes = await deps.enrolBundle();
      } catch {
        throw new PartyError("PEER_UNAVAILABLE", "the helper did not deal an enrolment bundle");
      }
      return material(bytes, "enrol");
    }
    return async (id: string) => {
      const item = await store.markUsed(id, session).catch((e) => {
        throw toApi(e);
      });
      // the material may view the item's bytes: they are wiped by the protocol when the run ends
      return material(item.bytes, "enrol");
    };
  }

  function authFields(p: AuthPayload) {
    return { nonce: p.nonce, expires: p.expires };
  }

  // ---------------------------------------------------------------- enrol
  async function enrol(body: unknown): Promise<AppResponse> {
    const b = object(body, "body", ["session", "templateId", "modelVersion", "sealedShare", "context", "authorisation"]);
    const session = str(b.session, "session", ID.session, "a session id [A-Za-z0-9_-]{8,120}");
    let started = false;
    try {
      const { templateId, modelVersion, sealed, ctx } = shareRequest(b);
      const auth = await checkAuthorisation(b.authorisation, { ops: ["enrol"], party, session, templateId, modelVersion, digest: shareDigest(sealed) }, now());
      const share = await openShare(sealed, ctx);
      const existing = await store.templateVersions(templateId);
      if (existing.length > 0) throw new PartyError("TEMPLATE_EXISTS", "template id already used");
      await store.consumeAuthorisation(auth.nonce, auth.expires);
      const mat = await enrolMaterial(session);
      started = true;
      const out = await runMpc({ kind: "enrol", transport, role: party, session, params, timeoutMs: deps.mpcTimeoutMs, share, material: mat });
      share.fill(0);
      metrics.mpcRuns.inc({ kind: "enrol", outcome: "ok" });
      await store.prepare(session, templateId, modelVersion, u8(out.templateShare));
      out.templateShare.fill(0);
      await audit({ op: "enrol", session, templateId, requester: "gateway", purpose: ctx.purpose, outcome: "prepared", modelVersion });
      return { status: 200, body: { session, resultShare: { valid: out.valid } } };
    } catch (e) {
      const err = toApi(e);
      if (!started) await sendAbort(transport, party, session, err.code);
      throw err;
    }
  }

  // ---------------------------------------------------------------- commit / abort
  async function finish(body: unknown, which: "commit" | "abort"): Promise<AppResponse> {
    const b = object(body, "body", ["session", "templateId", "authorisation"]);
    const session = str(b.session, "session", ID.session, "a session id");
    const templateId = str(b.templateId, "templateId", ID.template, "a template id");
    const ops: Op[] = which === "commit" ? ["commit", "upgrade"] : ["abort"];
    const auth = await checkAuthorisation(b.authorisation, { ops, party, session, templateId }, now());
    const s = await store.getSession(session);
    if (which === "commit") {
      if (!s) throw new PartyError("SESSION_UNKNOWN", "no prepared session with this id");
      if (s.templateId !== templateId) throw new PartyError("AUTH_INVALID", "session is for another template");
      if ((s.kind === "enrol") !== (auth.op === "commit")) throw new PartyError("AUTH_INVALID", `session is an ${s.kind}; authorisation is for ${auth.op}`);
      if (auth.modelVersion !== "" && auth.modelVersion !== s.modelVersion) throw new PartyError("AUTH_INVALID", "authorisation is for another model version");
      if (s.state === "prepared" && now() - s.createdAt > deps.commitWindowMs) throw new PartyError("SESSION_UNKNOWN", "the commit window of this session has passed");
      if (s.state === "aborted") throw new PartyError("SESSION_UNKNOWN", "session was aborted");
      await store.commit(session, { templateId, auth: authFields(auth) });
      await audit({ op: s.kind === "enrol" ? "commit" : "upgrade", session, templateId, requester: "gateway", purpose: null, outcome: "active", modelVersion: s.modelVersion });
      return { status: 200, body: { templateId, status: "active" } };
    }
    if (s && s.templateId !== templateId) throw new PartyError("AUTH_INVALID", "session is for another template");
    if (s && s.state === "committed") throw new PartyError("TEMPLATE_EXISTS", "session already committed: delete the template instead");
    await store.abort(session, { templateId, auth: authFields(auth) });
    await audit({ op: "abort", session, templateId, requester: "gateway", purpose: null, outcome: "aborted", modelVersion: s?.modelVersion ?? null });
    return { status: 200, body: { templateId, status: "aborted" } };
  }

  // ---------------------------------------------------------------- verify
  async function verify(body: unknown): Promise<AppResponse> {
    const b = object(body, "body", ["session", "templateId", "modelVersion", "sealedShare", "context", "authorisation"], ["upgrade"]);
    const session = str(b.session, "session", ID.session, "a session id [A-Za-z0-9_-]{8,120}");
    const upSession = upgradeSessionOf(session);
    let started = false;
    try {
      const { templateId, modelVersion, sealed, ctx } = shareRequest(b);
      const up = b.upgrade === undefined ? null : upgradeRequest(b.upgrade, templateId, modelVersion);
      const digest = up ? shareDigest(sealed, up.sealed) : shareDigest(sealed);
      const auth = await checkAuthorisation(b.authorisation, { ops: ["verify"], party, session, templateId, modelVersion, digest }, now());
      const probe = await openShare(sealed, ctx);
      const upShare = up ? await openShare(up.sealed, up.ctx) : null;
      const begin = { session, templateId, modelVersion, nonce: auth.nonce, expires: auth.expires };
      let template: Uint32Array | null = null;
      const itemBytes: Uint8Array[] = []; // pool items in use: zeroed when the runs end
      let mat: Material | ((id: string) => Promise<Material>);
      if (party === "P0") {
        const r = await store.beginVerify(begin);
        deps.onPoolUse?.();
        template = u32(r.share);
        r.share.fill(0);
        itemBytes.push(r.item.bytes);
        mat = material(r.item.bytes, "verify");
      } else {
        mat = async (itemId: string) => {
          const r = await store.beginVerify({ ...begin, itemId }).catch((e) => {
            throw toApi(e);
          });
          template = u32(r.share);
          r.share.fill(0);
          itemBytes.push(r.item.bytes);
          return material(r.item.bytes, "verify");
        };
      }
      // The upgrade needs an enrolment bundle from the helper (P0 fetches it). Without one the
      // verification still runs and the upgrade is skipped at both parties (P1 learns it from the abort).
      let upMat: Material | ((id: string) => Promise<Material>) | null = null;
      if (up) {
        try {
          upMat = await enrolMaterial(upSession);
        } catch (e) {
          log({ event: "upgrade_skipped", reason: toApi(e).code });
          await sendAbort(transport, party, upSession, "HELPER_UNAVAILABLE");
        }
      }
      started = true;
      const runs: [VerifyOutput, EnrolOutput | null] = await Promise.all([
        runMpc({ kind: "verify", transport, role: party, session, params, timeoutMs: deps.mpcTimeoutMs, share: probe, templateShare: () => template!, material: mat }),
        up && upShare && upMat
          ? runMpc({ kind: "enrol", transport, role: party, session: upSession, params, timeoutMs: deps.mpcTimeoutMs, share: upShare, material: upMat }).catch((e) => {
              log({ event: "upgrade_skipped", reason: toApi(e).code });
              return null;
            })
          : Promise.resolve(null),
      ]).finally(() => {
        probe.fill(0);
        upShare?.fill(0);
        for (const b of itemBytes) b.fill(0);
        (template as Uint32Array | null)?.fill(0);
      });
      const [v, u] = runs;
      metrics.mpcRuns.inc({ kind: "verify", outcome: "ok" });
      const resultShare: Record<string, 0 | 1> = { valid: v.valid, match: v.match };
      if (u && up) {
        await store.stageUpgrade(session, templateId, up.modelVersion, u8(u.templateShare));
        u.templateShare.fill(0);
        resultShare.upgradeValid = u.valid;
      }
      await audit({ op: "verify", session, templateId, requester: "gateway", purpose: ctx.purpose, outcome: up ? "computed-staged" : "computed", modelVersion });
      return { status: 200, body: { session, resultShare } };
    } catch (e) {
      const err = toApi(e);
      if (!started) {
        await sendAbort(transport, party, session, err.code);
        if (b.upgrade !== undefined) await sendAbort(transport, party, upSession, err.code);
      }
      throw err;
    }
  }

  // ---------------------------------------------------------------- delete
  async function del(body: unknown): Promise<AppResponse> {
    const b = object(body, "body", ["templateId", "authorisation"]);
    const templateId = str(b.templateId, "templateId", ID.template, "a template id");
    const auth = await checkAuthorisation(b.authorisation, { ops: ["delete"], party, templateId }, now());
    const { existed } = await store.erase(templateId, { auth: authFields(auth) });
    await audit({ op: "delete", session: auth.session || null, templateId, requester: "gateway", purpose: null, outcome: existed ? "erased" : "absent" });
    return { status: 200, body: { templateId, deleted: true, existed } };
  }

  // ---------------------------------------------------------------- peer & helper
  async function sessionStatus(sessions: string[]): Promise<PeerSessionStatus[]> {
    const out: PeerSessionStatus[] = [];
    for (const session of sessions) {
      const s = await store.getSession(session);
      const state = s ? s.state : "unknown";
      out.push({ session, state, committable: !!s && s.state === "prepared" && now() - s.createdAt <= deps.commitWindowMs });
    }
    return out;
  }

  async function peerSessions(body: unknown): Promise<AppResponse> {
    const b = object(body, "body", ["sessions"]);
    if (!Array.isArray(b.sessions) || b.sessions.length > 1000) bad("sessions", "an array of at most 1000 session ids");
    const ids = (b.sessions as unknown[]).map((s, i) => str(s, `sessions[${i}]`, ID.session, "a session id"));
    return { status: 200, body: { sessions: await sessionStatus(ids) } };
  }

  async function poolItems(raw: Buffer): Promise<AppResponse> {
    let items: Uint8Array[];
    try {
      items = unpackItems(raw, { maxItems: 100_000, copy: true });
    } catch (e) {
      throw new PartyError("INVALID_INPUT", `batch: ${(e as Error).message}`);
    }
    const decoded = items.map((bytes) => {
      let b;
      try {
        b = decodeBundle(bytes);
      } catch (e) {
        throw new PartyError("INVALID_INPUT", "batch: an item is not a bundle");
      }
      if (b.role !== party) throw new PartyError("INVALID_INPUT", `batch: an item is for ${b.role}`);
      return { id: b.id, bytes };
    });
    const { added } = await store.addItems(decoded);
    return { status: 200, body: { added } };
  }

  async function recover(peerStatus: (sessions: string[]) => Promise<PeerSessionStatus[]>) {
    const res = { committed: 0, aborted: 0, waiting: 0 };
    const pending: TxnSession[] = await store.pendingOlderThan(deps.commitWindowMs + Math.min(5_000, deps.commitWindowMs / 2));
    if (pending.length === 0) return res;
    const statuses = new Map((await peerStatus(pending.map((p) => p.session))).map((s) => [s.session, s]));
    for (const p of pending) {
      const st = statuses.get(p.session);
      if (!st) continue;
      if (st.state === "committed") {
        await store.commit(p.session, { templateId: p.templateId });
        await audit({ op: p.kind === "enrol" ? "commit" : "upgrade", session: p.session, templateId: p.templateId, requester: "recovery", purpose: null, outcome: "active", modelVersion: p.modelVersion });
        metrics.recovery.inc({ action: "commit" });
        res.committed++;
      } else if (st.state === "prepared" && st.committable) {
        res.waiting++;
      } else {
        await store.abort(p.session, { templateId: p.templateId });
        await audit({ op: "abort", session: p.session, templateId: p.templateId, requester: "recovery", purpose: null, outcome: "aborted", modelVersion: p.modelVersion });
        metrics.recovery.inc({ action: "abort" });
        res.aborted++;
      }
    }
    return res;
  }

  const routes: Record<string, { roles: ServerRole[]; route: string; run: (r: AppRequest) => Promise<AppResponse> }> = {
    "POST /v1/enrol": { roles: ["gateway"], route: "enrol", run: (r) => enrol(r.body) },
    "POST /v1/commit": { roles: ["gateway"], route: "commit", run: (r) => finish(r.body, "commit") },
    "POST /v1/abort": { roles: ["gateway"], route: "abort", run: (r) => finish(r.body, "abort") },
    "POST /v1/verify": { roles: ["gateway"], route: "verify", run: (r) => verify(r.body) },
    "POST /v1/delete": { roles: ["gateway"], route: "delete", run: (r) => del(r.body) },
    "POST /v1/peer/sessions": { roles: [peer], route: "peer_sessions", run: (r) => peerSessions(r.body) },
    "GET /v1/health": {
      roles: ["gateway", "helper", "p0", "p1"],
      route: "health",
      run: async () => ({
        status: 200,
        body: { role, peer: transport.isUp(peer) ? "up" : "down", helper: deps.helperUp() ? "up" : "down", pool: { level: await store.poolLevel(), target: deps.poolTarget } },
      }),
    },
    "GET /metrics": {
      roles: ["gateway", "helper", "p0", "p1"],
      route: "metrics",
      run: async () => ({ status: 200, body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }),
    },
  };
  if (party === "P1") routes["POST /v1/pool/items"] = { roles: ["helper"], route: "pool_items", run: (r) => poolItems(r.raw) };

  const app: App = async (req) => {
    const t0 = performance.now();
    const r = routes[`${req.method} ${req.path}`];
    let res: AppResponse;
    let route = "unknown";
    try {
      if (!r) throw new PartyError("NOT_FOUND", `no route ${req.method} ${req.path}`);
      route = r.route;
      if (!req.role || !r.roles.includes(req.role)) throw new PartyError("FORBIDDEN_ROLE", `role ${req.role ?? "none"} may not call ${req.path}`);
      res = await r.run(req);
    } catch (e) {
      const err = toApi(e);
      if (err.code === "INTERNAL") log({ event: "internal_error", route, name: (e as Error)?.name, code: (e as { code?: string })?.code });
      metrics.errors.inc({ code: err.code });
      if (AUDITED.has(route)) {
        const b = (req.body ?? {}) as Record<string, unknown>;
        const pick = (v: unknown, re: RegExp) => (typeof v === "string" && re.test(v) ? v : null);
        await deps.audit
          .append({ op: route, session: pick(b.session, ID.session), templateId: pick(b.templateId, ID.template), requester: req.role ?? "unauthenticated", purpose: null, outcome: "refused", code: err.code })
          .catch(() => log({ event: "audit_failed", op: route }));
      }
      res = { status: err.status, body: { error: { code: err.code, message: err.message } } };
    }
    metrics.duration.observe({ route, status: String(res.status) }, (performance.now() - t0) / 1000);
    return res;
  };

  return { app, recover, sessionStatus };
}
