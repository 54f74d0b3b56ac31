/**
 * A plaintext twin of the two compute parties, in one process, for the gateway's unit tests (and
 * for demos when the real servers are not available). At the Party API it answers as P0 and P1 do —
 * test/_party-api-contract.ts holds it to the real parties, and where they differ the fake is wrong.
 * Each party keeps its own state, as the real ones do: template versions (pending, active, retired,
 * deleted ids), two-phase sessions (enrolment and upgrade: prepared, committed, aborted) and used
 * authorisation nonces. Each checks the gateway's signed authorisations (signature, op, party,
 * session, template, model version, digest, expiry, single use) and the body as the real one does,
 * opens its sealed share with its key and the request context as AAD (P0 expands its seed), and the
 * two meet per session: the "MPC" reconstructs the int8 vectors and decides with `verifyPlain` /
 * `validatePlain`, so the decisions equal those of the MPC (the dedup search: `verifyPlain` of the
 * prepared template against every active one of the gallery's model version). Results come back as random XOR shares.
 *
 * Like the real parties, it cannot know what it computed: it prepares an invalid enrolment and stages
 * an invalid or unmatched upgrade like any other (`upgradeValid` tells the gateway), and a commit
 * activates them. A party that refuses a request makes its peer answer the same code.
 *
 * It is NOT secure (it sees both shares); it exists so the gateway can be tested without servers.
 * `down` simulates an unreachable party (UNREACHABLE); its peer then answers PEER_UNAVAILABLE to the
 * calls that need the MPC (enrol, verify) and keeps answering commit, abort and delete.
 */
import { deploymentSuite } from "@privface/config";
import { randomBytes, randomInt } from "node:crypto";
import {
  challengeNonce,
  checkStatement,
  checkStatementMac,
  contextAad,
  dedupSessionOf,
  ID,
  MODEL,
  partyMacKey,
  sealingKeyId,
  signKeyList,
  modelParams,
  object,
  packMatchShare,
  PartyError,
  peerOf,
  shareRequest,
  str,
  upgradeRequest,
  type AuditRecordsResponse,
  type Bit,
  type DeviceRegistration,
  type DeviceStatement,
  type PartyClient,
  type PartyErrorCode,
  type PartyName,
  type ShareContext,
} from "@privface/contracts";
import { createAuthorisationChecker, shareDigest, type AuthExpectation } from "@privface/contracts/auth";
import { checkNonce, issueNonce } from "@privface/contracts/nonce";
import { AuditError, keepAnchor } from "@privface/audit";
import { openDb, type Db } from "@privface/db";
import { fromBase64url, generateSigningKeyPair, open, type KeyPair, type PublicKey, type SignedJson } from "@privface/crypto";
import { expandSeedShare, reconstructBytes, validatePlain, verifyPlain, type Params } from "@privface/mpc";

const fail = (code: PartyErrorCode, message?: string) => new PartyError(code, message);

interface Version {
  modelVersion: string;
  status: "pending" | "active" | "retired";
  y: Int8Array;
}
interface Txn {
  kind: "enrol" | "upgrade";
  state: "prepared" | "committed" | "aborted";
  templateId: string;
  modelVersion: string;
  createdAt: number;
}
/** One party's state: template versions by id (`deleted`: the id is spent), sessions, used nonces. */
interface PartyState {
  templates: Map<string, { deleted: boolean; versions: Version[] }>;
  sessions: Map<string, Txn>;
  nonces: Set<string>;
  /** when each template's verifications began (decision 010 §4 volume budgets) */
  uses: Map<string, number[]>;
  /** party nonces and envelope digests already used (decision 010 §3) */
  marks: Set<string>;
  /** the party's own device registry (decision 010 §2) */
  devices: Map<string, DeviceRegistration & { status: "pending" | "active" | "revoked" }>;
  /** enrolment sessions whose dedup search ran (one per enrolment) */
  searched: Set<string>;
}

/** What a party brings to a session's rendezvous: its opened share(s) and, for a verification, its template. */
interface Deposit {
  share: Uint8Array;
  upgrade?: Uint8Array;
  template?: Int8Array;
  /** a dedup search: the party's active templates of the gallery's model version, and their ids */
  gallery?: Int8Array[];
  ids?: string[];
}
interface Outcome {
  valid: Bit;
  match: Bit;
  upgradeValid?: Bit;
  /** the reconstructed upgrade vector, staged by both parties */
  upgradeY?: Int8Array;
  /** the vector an enrolment prepares */
  y?: Int8Array;
  duplicate?: Bit;
  /** a dedup search: each party's share of the per-slot match bits */
  slots?: Record<PartyName, Uint32Array>;
}
interface Slot {
  deposits: Partial<Record<PartyName, Deposit>>;
  broken?: PartyErrorCode;
  done: Promise<Outcome>;
  settle: (o: Outcome) => void;
  refuse: (code: PartyErrorCode) => void;
  /** P0's random masks: P0 answers them, P1 the outcome XOR them */
  r0: Record<"valid" | "match" | "upgradeValid" | "duplicate", Bit>;
}

export interface FakeTemplate {
  /** the parties holding a pending or active version */
  at: PartyName[];
  versions: { party: PartyName; modelVersion: string; status: Version["status"] }[];
}

export interface FakeParties {
  clients: Record<PartyName, PartyClient>;
  /** Parties currently "down". */
  down: Set<PartyName>;
  /** Every call that reached a party (op, party, templateId). */
  calls: { party: PartyName; op: string; templateId: string }[];
  /** A fresh nonce of `party`, issued as its `nonces` route does (for harnesses: works while the party is "down"). */
  issueNonce(party: PartyName): string;
  /** A party operator's approval of a pending device (policy `operator`). */
  approveDevice(party: PartyName, deviceId: string): void;
  /** Both parties' institution roots (public halves): what devices are provisioned with. */
  roots(): Promise<Record<PartyName, PublicKey>>;
  /** Templates with a pending or active version at either party (computed on each read). */
  readonly templates: ReadonlyMap<string, FakeTemplate>;
  /**
   * Each party's audit records of the face operations it carried out, as the real party records them
   * (op, session, outcome; `auditRecords` answers from here). Tests may edit them to stage a mismatch.
   */
  audit: Record<PartyName, AuditRecordsResponse["records"]>;
}

export function createFakeParties(o: {
  keys: Record<PartyName, KeyPair>;
  gatewayKey: PublicKey;
  /** each party's institution root, which signs its sealing-key list (default: generated) */
  roots?: Record<PartyName, KeyPair>;
  /** how registrations become active, as at the real parties (default `auto`) */
  devicePolicy?: "auto" | "operator";
  /** per-template verification budgets, as at the real parties (default 10 per minute, 200 per day) */
  volume?: { perMinute: number; perDay: number };
  params?: Params;
  now?: () => number;
  /** how long a prepared session may be committed (default 120 s, the parties' default) */
  commitWindowMs?: number;
  /** how long a party waits for its peer in a session (default 2 s) */
  mpcTimeoutMs?: number;
  /** the dedup gallery's model version (default the deployed model's); false: no gallery (dedup answers GALLERY_UNAVAILABLE) */
  gallery?: string | false;
}): FakeParties {
  const params = o.params ?? modelParams();
  const now = o.now ?? Date.now;
  const commitWindowMs = o.commitWindowMs ?? 120_000;
  const mpcTimeoutMs = o.mpcTimeoutMs ?? 2_000;
  const state: Record<PartyName, PartyState> = { P0: newState(), P1: newState() };
  const slots = new Map<string, Slot>();
  const down = new Set<PartyName>();
  const calls: FakeParties["calls"] = [];
  const audit: FakeParties["audit"] = { P0: [], P1: [] };
  let seq = 0;
  /** the newest 100,000 a party (a long soak run keeps its memory bounded) */
  const record = (party: PartyName, op: string, session: string, outcome: string) => {
    audit[party].push({ seq: ++seq, time: now(), op, session, outcome, code: null });
    if (audit[party].length > 100_000) audit[party].shift();
  };
  const checker = createAuthorisationChecker(o.gatewayKey);
  const roots: Promise<Record<PartyName, KeyPair>> = o.roots
    ? Promise.resolve(o.roots)
    : Promise.all([generateSigningKeyPair(deploymentSuite()), generateSigningKeyPair(deploymentSuite())]).then(([P0, P1]) => ({ P0, P1 }));
  roots.catch(() => {});
  const nonceKeys = { P0: new Uint8Array(randomBytes(32)), P1: new Uint8Array(randomBytes(32)) };
  /** The real party's freshness check: its own unexpired nonce in the challenge; returns the single-use marks (checked now, consumed with the authorisation). */
  function freshness(party: PartyName, s: DeviceStatement): string[] {
    const n = challengeNonce(s.challenge, party);
    if (n === null) throw fail("NONCE_INVALID", "the challenge carries no nonce of this party");
    const c = checkNonce(nonceKeys[party], party, n, now());
    if (!c.ok) throw fail(c.reason, c.reason);
    return [`n_${n}`, `e_${s.shares![party].digest}`, ...(s.upgrade ? [`e_${s.upgrade.shares[party].digest}`] : [])];
  }
  /** Refuses marks already used (where the real store consumes them: right after the authorisation's nonce). */
  function unusedMarks(party: PartyName, marks: string[]): void {
    for (const m of marks) if (state[party].marks.has(m)) throw fail(m.startsWith("n_") ? "NONCE_REUSED" : "ENVELOPE_REUSED", "already used");
  }
  const keyIds = Promise.all([sealingKeyId(o.keys.P0), sealingKeyId(o.keys.P1)]).then(([P0, P1]) => ({ P0, P1 }));
  const keyLists = new Map<PartyName, { signed: SignedJson; refreshAt: number }>();

  /** The real party's statement checks: registry, MAC, purpose, template, model, key, digests. Returns the contexts to open with. */
  async function admitStatement(party: PartyName, op: "enrol" | "verify", r: { templateId: string; modelVersion: string; sealed: Uint8Array; statement: DeviceStatement; mac: string; upgrade?: { modelVersion: string; sealed: Uint8Array } }) {
    const keyId = (await keyIds)[party];
    const checked = await checkStatement(r.statement, { party, op, templateId: r.templateId, modelVersion: r.modelVersion, sealed: r.sealed, upgrade: r.upgrade, keyIds: [keyId] });
    const d = state[party].devices.get(r.statement.deviceId);
    if (!d || d.status !== "active") throw fail("DEVICE_UNKNOWN", d ? `device is ${d.status} at ${party}` : `device is not registered at ${party}`);
    const key = await partyMacKey(o.keys[party], keyId, { suite: d.suite, kind: "seal", publicKey: fromBase64url(d.authKey) }, d.deviceId, party);
    if (!(await checkStatementMac(o.keys[party].suite, key, r.statement, r.mac))) throw fail("STATEMENT_INVALID", "statement: the MAC does not verify for this device and party");
    return checked;
  }

  function gate(party: PartyName, op: string, templateId: string): void {
    if (down.has(party)) throw fail("UNREACHABLE", `${party} is down`);
    calls.push({ party, op, templateId });
  }

  /**
   * The authorisation as the party checks it. Its nonce is single use: `consume` refuses a used one
   * (AUTH_REUSED) and marks it used, at the point of each operation where the real store does (in the
   * operation's transaction, so an operation refused for another reason leaves it unused).
   */
  async function authorised(party: PartyName, auth: unknown, expect: Omit<AuthExpectation, "party">) {
    const p = await checker(auth, { ...expect, party }, now());
    const nonces = state[party].nonces;
    const unused = () => {
      if (nonces.has(p.nonce)) throw fail("AUTH_REUSED", "authorisation was already used");
    };
    return {
      p,
      unused,
      consume() {
        unused();
        nonces.add(p.nonce);
      },
    };
  }

  async function openShare(party: PartyName, sealed: Uint8Array, ctx: ShareContext): Promise<Uint8Array> {
    let plain: Uint8Array;
    try {
      plain = await open(o.keys[party], sealed, contextAad({ ...ctx, party }));
    } catch {
      throw fail("INVALID_INPUT", "sealedShare: does not open for this party and context");
    }
    if (party === "P0") {
      if (plain.length !== 16) throw fail("INVALID_INPUT", "sealedShare: P0 expects a 16-byte seed");
      return expandSeedShare(plain, ctx, params.d);
    }
    if (plain.length !== params.d) throw fail("INVALID_INPUT", `sealedShare: P1 expects ${params.d} bytes`);
    return plain;
  }

  // ---- the rendezvous: both parties deposit, the second computes; a refusal breaks the session for the peer

  function slotOf(session: string): Slot {
    let s = slots.get(session);
    if (!s) {
      let settle!: Slot["settle"];
      let refuse!: Slot["refuse"];
      const done = new Promise<Outcome>((res, rej) => {
        settle = res;
        refuse = (code) => rej(fail(code, `the peer party refused the session (${code})`));
      });
      done.catch(() => {});
      s = { deposits: {}, done, settle, refuse, r0: { valid: randomInt(2) as Bit, match: randomInt(2) as Bit, upgradeValid: randomInt(2) as Bit, duplicate: randomInt(2) as Bit } };
      slots.set(session, s);
      setTimeout(() => slots.delete(session), 4 * mpcTimeoutMs).unref?.();
    }
    return s;
  }

  function breakSession(session: string, code: PartyErrorCode): void {
    const s = slotOf(session);
    if (s.broken || (s.deposits.P0 && s.deposits.P1)) return;
    s.broken = code;
    s.refuse(code);
  }

  /** Runs `admit` (the party's own checks); a refusal there is passed to the peer, as the real party's abort frame does. */
  async function admitted<T>(session: string, admit: () => Promise<T>): Promise<T> {
    try {
      return await admit();
    } catch (e) {
      breakSession(session, e instanceof PartyError ? e.code : "INTERNAL");
      throw e;
    }
  }

  async function meet(session: string, party: PartyName, deposit: Deposit, compute: (d: Record<PartyName, Deposit>) => Outcome): Promise<Outcome & { r0: Slot["r0"] }> {
    const s = slotOf(session);
    if (s.broken) throw fail(s.broken, `the peer party refused the session (${s.broken})`);
    if (down.has(peerOf(party))) throw fail("PEER_UNAVAILABLE", "peer: no link");
    s.deposits[party] = deposit;
    if (s.deposits.P0 && s.deposits.P1) s.settle(compute(s.deposits as Record<PartyName, Deposit>));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        breakSession(session, "PEER_UNAVAILABLE");
        reject(fail("PEER_UNAVAILABLE", "peer: no answer in time"));
      }, mpcTimeoutMs);
    });
    try {
      return { ...(await Promise.race([s.done, timeout])), r0: s.r0 };
    } finally {
      clearTimeout(timer);
    }
  }

  /** This party's XOR share of the outcome's bits. */
  function shareOf(party: PartyName, out: Outcome & { r0: Slot["r0"] }, withUpgrade: boolean) {
    const pick = (k: "valid" | "match" | "upgradeValid") => (party === "P0" ? out.r0[k] : (((out[k] ?? 0) ^ out.r0[k]) as Bit));
    return { valid: pick("valid"), match: pick("match"), ...(withUpgrade ? { upgradeValid: pick("upgradeValid") } : {}) };
  }

  // ---- per-party state

  const versionsOf = (party: PartyName, tid: string) => state[party].templates.get(tid);
  const active = (party: PartyName, tid: string) => versionsOf(party, tid)?.versions.find((v) => v.status === "active");
  const spent = (party: PartyName, tid: string) => {
    const t = versionsOf(party, tid);
    return !!t && (t.deleted || t.versions.length > 0);
  };
  function addPending(party: PartyName, tid: string, v: Omit<Version, "status">): void {
    const t = versionsOf(party, tid) ?? { deleted: false, versions: [] };
    t.versions.push({ ...v, status: "pending" });
    state[party].templates.set(tid, t);
  }
  function dropPending(party: PartyName, tid: string, mv: string): void {
    const t = versionsOf(party, tid);
    if (t) t.versions = t.versions.filter((v) => !(v.status === "pending" && v.modelVersion === mv));
  }

  /** The enrolment's two-phase start (the real store's `prepare`). */
  function prepare(party: PartyName, session: string, tid: string, mv: string, y: Int8Array): void {
    const sessions = state[party].sessions;
    const s = sessions.get(session);
    if (s && (s.kind !== "enrol" || s.templateId !== tid || s.modelVersion !== mv || s.state === "aborted")) throw fail("INVALID_INPUT", "session id already used");
    if (s) return;
    if (spent(party, tid)) throw fail("TEMPLATE_EXISTS", "a template with this id exists");
    addPending(party, tid, { modelVersion: mv, y });
    sessions.set(session, { kind: "enrol", state: "prepared", templateId: tid, modelVersion: mv, createdAt: now() });
  }

  /** A verification's upgrade, staged until the gateway commits or aborts it (the real store's `stageUpgrade`). */
  function stage(party: PartyName, session: string, tid: string, mv: string, y: Int8Array): void {
    const { sessions } = state[party];
    const current = active(party, tid);
    if (!current) throw fail("UNKNOWN_TEMPLATE", "no active template with this id");
    if (current.modelVersion === mv) throw fail("WRONG_MODEL_VERSION", "the template is already at this model version");
    const t = versionsOf(party, tid)!;
    // an older staged upgrade that was never promoted or discarded: this one supersedes it
    for (const s of sessions.values()) if (s.templateId === tid && s.kind === "upgrade" && s.state === "prepared") s.state = "aborted";
    t.versions = t.versions.filter((v) => v.status !== "pending" && !(v.status === "retired" && v.modelVersion === mv));
    addPending(party, tid, { modelVersion: mv, y });
    sessions.set(session, { kind: "upgrade", state: "prepared", templateId: tid, modelVersion: mv, createdAt: now() });
  }

  // ---- the Party API

  function client(party: PartyName): PartyClient {
    const peer = peerOf(party);
    const mine = state[party];
    return {
      async enrol(req) {
        gate(party, "enrol", String(req?.templateId));
        const b = object(req, "body", ["session", "templateId", "modelVersion", "sealedShare", "statement", "mac", "authorisation"]);
        const session = str(b.session, "session", ID.session, "a session id");
        const { templateId, modelVersion, share } = await admitted(session, async () => {
          const r = shareRequest(b);
          const { templateId, modelVersion, sealed } = r;
          const auth = await authorised(party, b.authorisation, { ops: ["enrol"], session, templateId, modelVersion, digest: shareDigest(o.gatewayKey.suite, sealed) });
          const { ctx } = await admitStatement(party, "enrol", r);
          const marks = freshness(party, r.statement);
          const share = await openShare(party, sealed, ctx);
          if (spent(party, templateId)) throw fail("TEMPLATE_EXISTS", "template id already used");
          auth.unused();
          unusedMarks(party, marks);
          auth.consume();
          for (const m of marks) mine.marks.add(m);
          return { templateId, modelVersion, share };
        });
        const out = await meet(session, party, { share }, (d) => {
          const y = reconstructBytes(d.P0.share, d.P1.share);
          return { valid: validatePlain(params, y).valid, match: 0, y };
        });
        prepare(party, session, templateId, modelVersion, out.y!);
        record(party, "enrol", session, "prepared");
        return { session, resultShare: { valid: shareOf(party, out, false).valid } };
      },

      async verify(req) {
        gate(party, "verify", String(req?.templateId));
        const b = object(req, "body", ["session", "templateId", "modelVersion", "sealedShare", "statement", "mac", "authorisation"], ["upgrade"]);
        const session = str(b.session, "session", ID.session, "a session id");
        const { templateId, up, deposit } = await admitted(session, async () => {
          const r = shareRequest(b);
          const { templateId, modelVersion, sealed } = r;
          const up = b.upgrade === undefined ? undefined : upgradeRequest(b.upgrade, modelVersion);
          const digest = up ? shareDigest(o.gatewayKey.suite, sealed, up.sealed) : shareDigest(o.gatewayKey.suite, sealed);
          const auth = await authorised(party, b.authorisation, { ops: ["verify"], session, templateId, modelVersion, digest });
          const { ctx, upCtx } = await admitStatement(party, "verify", { ...r, upgrade: up });
          const marks = freshness(party, r.statement);
          const share = await openShare(party, sealed, ctx);
          const upShare = up && upCtx ? await openShare(party, up.sealed, upCtx) : undefined;
          auth.unused();
          unusedMarks(party, marks);
          const t = active(party, templateId);
          if (!t) throw fail("UNKNOWN_TEMPLATE", "no active template with this id");
          if (t.modelVersion !== modelVersion) throw fail("WRONG_MODEL_VERSION", "the active template is under another model version");
          const volume = o.volume ?? { perMinute: 10, perDay: 200 };
          const tNow = now();
          const uses = (mine.uses.get(templateId) ?? []).filter((u) => u > tNow - 86_400_000);
          if (uses.filter((u) => u > tNow - 60_000).length >= volume.perMinute || uses.length >= volume.perDay) throw fail("VOLUME_EXCEEDED", "this template's verification budget is spent");
          uses.push(tNow);
          mine.uses.set(templateId, uses);
          auth.consume();
          for (const m of marks) mine.marks.add(m);
          return { templateId, up, deposit: { share, upgrade: upShare, template: t.y } };
        });
        const out = await meet(session, party, deposit, (d) => {
          const res = verifyPlain(params, reconstructBytes(d.P0.share, d.P1.share), d.P0.template!);
          if (!d.P0.upgrade || !d.P1.upgrade) return { valid: res.valid, match: res.match };
          const upgradeY = reconstructBytes(d.P0.upgrade, d.P1.upgrade);
          return { valid: res.valid, match: res.match, upgradeValid: validatePlain(params, upgradeY).valid, upgradeY };
        });
        // staged whatever it is: the party holds only shares of valid, match and upgradeValid
        if (up) stage(party, session, templateId, up.modelVersion, out.upgradeY!);
        record(party, "verify", session, up ? "computed-staged" : "computed");
        return { session, resultShare: shareOf(party, out, !!up) };
      },

      async dedup(req) {
        gate(party, "dedup", String(req?.templateId));
        const b = object(req, "body", ["session", "templateId", "authorisation"], ["matches"]);
        const session = str(b.session, "session", ID.session, "a session id");
        const templateId = str(b.templateId, "templateId", ID.template, "a template id");
        if (b.matches !== undefined && typeof b.matches !== "boolean") throw fail("INVALID_INPUT", "matches: a boolean");
        const galleryModel = o.gallery === undefined ? MODEL.version : o.gallery;
        const deposit = await admitted(dedupSessionOf(session), async () => {
          const auth = await authorised(party, b.authorisation, { ops: ["dedup"], session, templateId });
          if (galleryModel === false) throw fail("GALLERY_UNAVAILABLE", "no dedup gallery is ready at this party");
          const s = mine.sessions.get(session);
          if (!s || s.kind !== "enrol" || s.state !== "prepared" || mine.searched.has(session) || now() - s.createdAt > commitWindowMs) throw fail("SESSION_UNKNOWN", "no prepared enrolment with this session whose search is still to run");
          if (s.templateId !== templateId) throw fail("AUTH_INVALID", "session is for another template");
          if (s.modelVersion !== galleryModel) throw fail("GALLERY_UNAVAILABLE", "the gallery holds another model version");
          auth.consume();
          mine.searched.add(session);
          const probe = versionsOf(party, templateId)!.versions.find((v) => v.status === "pending" && v.modelVersion === s.modelVersion)!.y;
          const gallery: Int8Array[] = [];
          const ids: string[] = [];
          for (const [id, t] of mine.templates) for (const v of t.versions) if (v.status === "active" && v.modelVersion === galleryModel) (gallery.push(v.y), ids.push(id));
          return { share: new Uint8Array(0), template: probe, gallery, ids };
        });
        const out = await meet(dedupSessionOf(session), party, deposit, (d) => {
          const hits = d.P0.gallery!.map((y) => verifyPlain(params, d.P0.template!, y).match);
          // P0's share of the slot bits is random; P1's is the bits XOR it
          const r = new Uint32Array(new Uint8Array(randomBytes(4 * Math.ceil(hits.length / 32))).buffer);
          const bits = new Uint32Array(r.length);
          hits.forEach((h, j) => (bits[j >>> 5] |= h << (j & 31)));
          return { valid: 0, match: 0, duplicate: hits.includes(1) ? 1 : 0, slots: { P0: r, P1: bits.map((w, i) => w ^ r[i]) } };
        });
        const n = deposit.gallery!.length;
        const matches = b.matches === true ? { matches: { share: packMatchShare(out.slots![party], n), templates: deposit.ids! } } : {};
        return { session, resultShare: { duplicate: (party === "P0" ? out.r0.duplicate : out.duplicate! ^ out.r0.duplicate) as Bit }, gallery: n, ...matches };
      },

      async commit(req) {
        gate(party, "commit", String(req?.templateId));
        const b = object(req, "body", ["session", "templateId", "authorisation"]);
        const session = str(b.session, "session", ID.session, "a session id");
        const templateId = str(b.templateId, "templateId", ID.template, "a template id");
        const auth = await authorised(party, b.authorisation, { ops: ["commit", "upgrade"], session, templateId });
        const s = mine.sessions.get(session);
        if (!s) throw fail("SESSION_UNKNOWN", "no prepared session with this id");
        if (s.templateId !== templateId) throw fail("AUTH_INVALID", "session is for another template");
        if ((s.kind === "enrol") !== (auth.p.op === "commit")) throw fail("AUTH_INVALID", `session is an ${s.kind}; authorisation is for ${auth.p.op}`);
        if (auth.p.modelVersion !== "" && auth.p.modelVersion !== s.modelVersion) throw fail("AUTH_INVALID", "authorisation is for another model version");
        if (s.state === "prepared" && now() - s.createdAt > commitWindowMs) throw fail("SESSION_UNKNOWN", "the commit window of this session has passed");
        if (s.state === "aborted") throw fail("SESSION_UNKNOWN", "session was aborted");
        auth.consume();
        if (s.state === "prepared") {
          const t = versionsOf(party, templateId);
          const pending = t?.versions.find((v) => v.status === "pending" && v.modelVersion === s.modelVersion);
          if (!t || !pending) throw fail("INVALID_INPUT", "the prepared template version is gone");
          for (const v of t.versions) if (v.status === "active" && v.modelVersion !== s.modelVersion) v.status = "retired";
          pending.status = "active";
          s.state = "committed";
          record(party, s.kind === "enrol" ? "commit" : "upgrade", session, "active");
        }
        return { templateId, status: "active" };
      },

      async abort(req) {
        gate(party, "abort", String(req?.templateId));
        const b = object(req, "body", ["session", "templateId", "authorisation"]);
        const session = str(b.session, "session", ID.session, "a session id");
        const templateId = str(b.templateId, "templateId", ID.template, "a template id");
        const auth = await authorised(party, b.authorisation, { ops: ["abort"], session, templateId });
        const s = mine.sessions.get(session);
        if (s && s.templateId !== templateId) throw fail("AUTH_INVALID", "session is for another template");
        if (s && s.state === "committed") throw fail("TEMPLATE_EXISTS", "session already committed: delete the template instead");
        auth.consume();
        // presumed abort: remembered, so an enrolment for this session that arrives late is refused
        if (!s) mine.sessions.set(session, { kind: "enrol", state: "aborted", templateId, modelVersion: "", createdAt: now() });
        else if (s.state === "prepared") {
          dropPending(party, templateId, s.modelVersion);
          s.state = "aborted";
        }
        record(party, "abort", session, "aborted");
        return { templateId, status: "aborted" };
      },

      async delete(req) {
        gate(party, "delete", String(req?.templateId));
        const b = object(req, "body", ["templateId", "authorisation"]);
        const templateId = str(b.templateId, "templateId", ID.template, "a template id");
        const auth = await authorised(party, b.authorisation, { ops: ["delete"], templateId });
        auth.consume();
        const t = versionsOf(party, templateId);
        const existed = !!t && !t.deleted && t.versions.length > 0;
        if (!t?.deleted) {
          for (const s of mine.sessions.values()) if (s.templateId === templateId && s.state === "prepared") s.state = "aborted";
          mine.templates.set(templateId, { deleted: true, versions: [] });
        }
        const session = auth.p.session;
        if (session) record(party, "delete", session, existed ? "erased" : "absent");
        return { templateId, deleted: true, existed };
      },

      async health() {
        if (down.has(party)) throw fail("UNREACHABLE", `${party} is down`);
        return { role: party === "P0" ? "p0" : "p1", peer: down.has(peer) ? "down" : "up", helper: "up", pool: { level: 1000, target: 1000 } };
      },
      async nonces(req) {
        if (down.has(party)) throw fail("UNREACHABLE", `${party} is down`);
        const b = object(req, "body", ["count"], ["items"]);
        if (!Number.isSafeInteger(b.count) || (b.count as number) < 1 || (b.count as number) > 256) throw fail("INVALID_INPUT", "count: expected 1..256");
        const expiresAt = now() + 300_000;
        // items (decision 012): P0's item nonces name an item id (the fake has no pool: a random one)
        const item = () => (b.items === true && party === "P0" ? randomBytes(16).toString("hex") : undefined);
        return { nonces: Array.from({ length: b.count as number }, () => issueNonce(nonceKeys[party], party, expiresAt, undefined, item())), expiresAt };
      },
      async keys() {
        if (down.has(party)) throw fail("UNREACHABLE", `${party} is down`);
        const t = now();
        // signed once and kept until half its lifetime, as the real party does (service.ts keys):
        // several gateway replicas then relay the same version
        let k = keyLists.get(party);
        if (!k || t >= k.refreshAt) {
          const signed = await signKeyList((await roots)[party], {
            party,
            version: Math.floor(t / 1000),
            issuedAt: t,
            expiresAt: t + 7 * 86_400_000,
            keys: [{ id: (await keyIds)[party], suite: o.keys[party].suite, publicKey: Buffer.from(o.keys[party].publicKey).toString("base64url") }],
          });
          k = { signed, refreshAt: t + 86_400_000 };
          keyLists.set(party, k);
        }
        return { keyList: k.signed };
      },
      async registerDevice(req) {
        gate(party, "devices", "");
        const b = object(req, "body", ["deviceId"], ["suite", "signingKey", "authKey", "revoke"]);
        const deviceId = str(b.deviceId, "deviceId", ID.entity, "a device id");
        const known = mine.devices.get(deviceId);
        if (b.revoke !== undefined) {
          if (b.revoke !== true) throw fail("INVALID_INPUT", "revoke: expected true");
          if (!known) throw fail("DEVICE_UNKNOWN", "no registered device with this id");
          known.status = "revoked";
          return { deviceId, status: "revoked" };
        }
        if (b.suite !== "INTL" && b.suite !== "GM") throw fail("INVALID_INPUT", "suite: expected INTL | GM");
        const reg: DeviceRegistration = {
          deviceId,
          suite: b.suite,
          signingKey: str(b.signingKey, "signingKey", /^[A-Za-z0-9_-]{16,256}$/, "a public key"),
          authKey: str(b.authKey, "authKey", /^[A-Za-z0-9_-]{16,256}$/, "a public key"),
        };
        if (known) {
          if (known.suite !== reg.suite || known.signingKey !== reg.signingKey || known.authKey !== reg.authKey) throw fail("INVALID_INPUT", "a device with this id is registered with other keys");
          return { deviceId, status: known.status };
        }
        const status = (o.devicePolicy ?? "auto") === "auto" ? "active" : "pending";
        mine.devices.set(deviceId, { ...reg, status });
        return { deviceId, status };
      },
      async metrics() {
        if (down.has(party)) throw fail("UNREACHABLE", `${party} is down`);
        return "";
      },
      async auditRecords(req) {
        if (down.has(party)) throw fail("UNREACHABLE", `${party} is down`);
        const b = object(req, "body", ["from", "to", "limit"]);
        const [from, to, limit] = [b.from, b.to, b.limit] as number[];
        if (![from, to, limit].every(Number.isSafeInteger) || from < 0 || limit < 1 || limit > 1000 || to < from) throw fail("INVALID_INPUT", "from, to: epoch ms; limit: 1..1000");
        const inRange = audit[party].filter((r) => r.time >= from && r.time <= to);
        return { records: inRange.slice(0, limit), truncated: inRange.length > limit };
      },
      async anchor(req) {
        // housekeeping, not an operation: not in `calls` (tests count the operations that reach a party)
        if (down.has(party)) throw fail("UNREACHABLE", `${party} is down`);
        // the gateway's heads, kept as the real party keeps them (@privface/audit, an in-memory database)
        anchorDbs[party] ??= openDb("sqlite::memory:");
        try {
          return await keepAnchor(await anchorDbs[party]!, "gateway", req?.record, { at: req?.at, now: now() });
        } catch (e) {
          if (e instanceof AuditError) throw fail("INVALID_INPUT", e.message);
          throw e;
        }
      },
      close() {},
    };
  }
  const anchorDbs: Partial<Record<PartyName, Promise<Db>>> = {};

  return {
    clients: { P0: client("P0"), P1: client("P1") },
    down,
    calls,
    audit,
    issueNonce: (party) => issueNonce(nonceKeys[party], party, now() + 300_000),
    approveDevice(party, deviceId) {
      const d = state[party].devices.get(deviceId);
      if (!d) throw fail("DEVICE_UNKNOWN", "no registered device with this id");
      if (d.status === "pending") d.status = "active";
    },
    async roots() {
      const r = await roots;
      return { P0: { suite: r.P0.suite, kind: "sign", publicKey: r.P0.publicKey }, P1: { suite: r.P1.suite, kind: "sign", publicKey: r.P1.publicKey } };
    },
    get templates() {
      const out = new Map<string, FakeTemplate>();
      for (const party of ["P0", "P1"] as const) {
        for (const [tid, t] of state[party].templates) {
          const held = t.versions.filter((v) => v.status !== "retired");
          if (held.length === 0) continue;
          const e = out.get(tid) ?? { at: [], versions: [] };
          e.at.push(party);
          e.versions.push(...t.versions.map((v) => ({ party, modelVersion: v.modelVersion, status: v.status })));
          out.set(tid, e);
        }
      }
      return out;
    },
  };
}

function newState(): PartyState {
  return { templates: new Map(), sessions: new Map(), nonces: new Set(), marks: new Set(), devices: new Map(), uses: new Map(), searched: new Set() };
}
