/**
 * Coordination of the two compute parties: gateway-signed, single-use authorisations (R16; the ones
 * asked for in one event-loop turn share one signature), calls to both parties in parallel, abort,
 * deletion at both, the mapping of a failed call to the device's answer (a refusal, or
 * MPC_UNAVAILABLE with a re-check: never an approval, R35), the parties' health, and the re-check
 * run that finishes what degraded mode left behind.
 */
import { fromBase64url } from "@privface/crypto";
import { truncateWal } from "@privface/db/checkpointer";
import { classifyPartyError, PARTIES, PartyError, type DeviceRegistration, type KeyListResponse, type PartyClient, type PartyName } from "@privface/contracts";
import type { SignedJson } from "@privface/crypto";
import { shareDigest, type AuthPayload } from "@privface/contracts/auth";
import { createAuthorisationSigner } from "./authorise.ts";
import { recordDecision, recordRecheck, type GatewayContext } from "./_context.ts";
import { randomToken } from "./_crypto.ts";
import type { DeviceRow, PersonRow, RecheckRow } from "./_store.ts";
import { clearBusy, markBusy } from "./_admission.ts";
import { ApiError } from "./errors.ts";

/**
 * Forwards a device registration (or revocation) to both parties' registries (decision 010 §2): each
 * activates it by its own policy. A party that cannot be reached is logged; until it has the device
 * it refuses that device's requests (DEVICE_UNKNOWN), so nothing is approved by the gateway alone.
 */
export async function forwardDevice(c: GatewayContext, req: DeviceRegistration | { deviceId: string; revoke: true }): Promise<void> {
  await Promise.all(
    PARTIES.map(async (p) => {
      try {
        const r = await c.o.parties[p].registerDevice(req);
        c.log?.info({ event: "device-forwarded", party: p, deviceId: req.deviceId, status: r.status }, "device registration forwarded");
      } catch (e) {
        c.log?.warn({ event: "device-forward-failed", party: p, deviceId: req.deviceId, code: classifyPartyError(e).code }, "device registration not forwarded");
      }
    }),
  );
}

/** Nonces asked of a party at once, the level that triggers the next batch, and the validity a nonce must still have when handed out. */
const NONCE_BATCH = 128;
const NONCE_LOW = 32;
const NONCE_MARGIN_MS = 90_000;
/**
 * P0's item nonces (decision 012) reserve a pool item each until they expire, and an item whose nonce
 * expires unused is wasted (at P1 until its age bound): the batch follows use — twice the item nonces
 * handed out since the last batch was asked for, ITEM_NONCE_MIN…ITEM_NONCE_BATCH — and the next is
 * asked for when a quarter of the last is left. An idle gateway reserves a few items per nonce
 * lifetime, a busy one doubles up to 64 within a few batches.
 */
const ITEM_NONCE_BATCH = 64;
const ITEM_NONCE_MIN = 4;
export function itemNonceBatch(handedSinceLastBatch: number): number {
  return Math.min(ITEM_NONCE_BATCH, Math.max(ITEM_NONCE_MIN, 2 * handedSinceLastBatch));
}
/** The nonce sources: each party's nonces, and P0's item nonces for verification challenges. */
type NonceSource = PartyName | "P0items";
/** How one party answered the promotion of a staged upgrade: done, definitively not (nothing staged / aborted / refused), or no answer. */
export type PromoteOutcome = "ok" | "gone" | "unavailable";

/** A split upgrade (promoted at one party, gone at the other) is deleted only after this long: the parties' own recovery may still finish it. */
export const UPGRADE_SPLIT_GRACE_MS = 5 * 60_000;

export type Settled<T> = { ok: true; value: Record<PartyName, T> } | { ok: false; error: unknown };

export class Parties {
  /** Authorisations asked for in one event-loop turn share one signature (decision 006). */
  private readonly signAuthorisation: ReturnType<typeof createAuthorisationSigner>;

  /** Each source's prefetched nonces (decision 010 §3), oldest first (a batch is appended), none handed out with less than NONCE_MARGIN_MS left. */
  private readonly noncePool: Record<NonceSource, { nonces: { value: string; expiresAt: number }[]; refill: Promise<void> | null }> = {
    P0: { nonces: [], refill: null },
    P1: { nonces: [], refill: null },
    P0items: { nonces: [], refill: null },
  };
  /** P0's item nonces handed out since the last batch was asked for, and that batch's size (itemNonceBatch) */
  private items = { handed: 0, batch: ITEM_NONCE_MIN };

  /** The parties' signed key lists, relayed to devices unchanged; fetched again every 10 minutes. */
  private lists: { value: Promise<Record<PartyName, SignedJson>>; until: number } | null = null;

  constructor(private readonly c: GatewayContext) {
    this.signAuthorisation = createAuthorisationSigner(c.o.signer);
  }

  /**
   * One fresh nonce of each party for a face challenge (decision 010 §3); for a verification P0's is
   * an item nonce (decision 012: it names the pool item, so P1 starts its first round at once). Nonces
   * are fetched in batches ahead of need, so a challenge normally costs no round trip to the parties;
   * a party that cannot be reached → MPC_UNAVAILABLE (a challenge without its nonce would be refused).
   */
  async partyNonces(verify = false): Promise<Record<PartyName, string>> {
    // no item nonce to be had (P0 unreachable now): a plain one of the prefetched batch, so the challenge
    // is still issued and the verification itself meets degraded mode (recorded for re-check, R35)
    const p0 = verify ? this.nonceOf("P0items").catch(() => this.nonceOf("P0")) : this.nonceOf("P0");
    const [P0, P1] = await Promise.all([p0, this.nonceOf("P1")]);
    return { P0, P1 };
  }

  private async nonceOf(src: NonceSource): Promise<string> {
    const pool = this.noncePool[src];
    const fresh = () => {
      while (pool.nonces.length > 0 && pool.nonces[0].expiresAt - this.c.now() <= NONCE_MARGIN_MS) pool.nonces.shift();
      return pool.nonces.length > 0;
    };
    if (!fresh()) {
      await this.refillNonces(src);
      if (!fresh()) throw new ApiError("MPC_UNAVAILABLE", { retryAfterS: 5 });
    } else if (pool.nonces.length <= (src === "P0items" ? this.items.batch / 4 : NONCE_LOW)) void this.refillNonces(src).catch(() => {});
    if (src === "P0items") this.items.handed++;
    return pool.nonces.shift()!.value;
  }

  private refillNonces(src: NonceSource): Promise<void> {
    const pool = this.noncePool[src];
    const p: PartyName = src === "P1" ? "P1" : "P0";
    if (pool.refill) return pool.refill;
    if (src === "P0items") this.items = { handed: 0, batch: itemNonceBatch(this.items.handed) };
    pool.refill = this.c.o.parties[p]
      .nonces(src === "P0items" ? { count: this.items.batch, items: true } : { count: NONCE_BATCH })
      .then(
        (b) => {
          // appended: a batch expires after the ones before it, which are used first (an item nonce left unused wastes its item)
          for (const value of b.nonces) pool.nonces.push({ value, expiresAt: b.expiresAt });
        },
        (e) => {
          this.c.log?.warn({ event: "nonces-unavailable", party: p, code: classifyPartyError(e).code }, "party nonces unavailable");
        },
      )
      .finally(() => {
        pool.refill = null;
      });
    return pool.refill;
  }

  /** Both parties' signed sealing-key lists (decision 010 §1), or MPC_UNAVAILABLE. The gateway cannot change them: devices check each under its party's root. */
  async keyLists(): Promise<Record<PartyName, SignedJson>> {
    const now = this.c.now();
    if (!this.lists || now >= this.lists.until) {
      const value = Promise.all(PARTIES.map((p) => this.c.o.parties[p].keys())).then(([a, b]: KeyListResponse[]) => ({ P0: a.keyList, P1: b.keyList }));
      this.lists = { value, until: now + 600_000 };
      value.catch(() => {
        if (this.lists?.value === value) this.lists = null;
      });
    }
    try {
      return await this.lists.value;
    } catch (e) {
      this.c.log?.warn({ event: "key-lists-unavailable", code: classifyPartyError(e).code }, "party key lists unavailable");
      throw new ApiError("MPC_UNAVAILABLE", { retryAfterS: 5 });
    }
  }

  /** A gateway-signed, single-use authorisation for one party and one operation (R16); signed in a batch with those of the same turn. */
  async authorise(
    op: AuthPayload["op"],
    party: PartyName,
    session: string,
    templateId: string,
    modelVersion: string,
    sealedShare: string | undefined,
    upgradeShare?: string,
  ) {
    const digest =
      sealedShare === undefined ? "" : shareDigest(this.c.o.signer.suite, fromBase64url(sealedShare), ...(upgradeShare === undefined ? [] : [fromBase64url(upgradeShare)]));
    const payload: AuthPayload = {
      v: 1,
      op,
      party,
      session,
      templateId,
      modelVersion,
      digest,
      expires: this.c.now() + this.c.o.authorisationTtlMs,
      nonce: randomToken(12),
    };
    return this.signAuthorisation(payload);
  }

  /** Calls both parties in parallel; ok only if both answered. */
  async all<T>(fn: (p: PartyName, client: PartyClient) => Promise<T>): Promise<Settled<T>> {
    const settled = await Promise.allSettled(PARTIES.map((p) => fn(p, this.c.o.parties[p])));
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed.length > 0) {
      // A party's refusal of the request explains its peer's failure (the peer's session broke off).
      const refusal = failed.find((f) => classifyPartyError(f.reason).kind === "refused");
      return { ok: false, error: (refusal ?? failed[0]).reason };
    }
    const [a, b] = settled as PromiseFulfilledResult<T>[];
    return { ok: true, value: { P0: a.value, P1: b.value } };
  }

  async abortAll(session: string, templateId: string, modelVersion: string): Promise<void> {
    const r = await this.all(async (p, client) =>
      client.abort({ session, templateId, authorisation: await this.authorise("abort", p, session, templateId, modelVersion, undefined) }),
    );
    if (!r.ok) this.c.log?.warn({ event: "abort-failed", code: classifyPartyError(r.error).code }, "abort at a party failed");
  }

  /**
   * Promotes a staged upgrade (verification session `session`) at both parties. A party whose call
   * failed for want of an answer is asked again, up to `tries` calls in all (the commit is idempotent
   * at the party, so asking again never promotes twice).
   */
  async promote(session: string, templateId: string, modelVersion: string, tries = 2): Promise<Record<PartyName, PromoteOutcome>> {
    const one = async (p: PartyName): Promise<PromoteOutcome> => {
      let last: PromoteOutcome = "unavailable";
      for (let i = 0; i < tries; i++) {
        try {
          await this.c.o.parties[p].commit({ session, templateId, authorisation: await this.authorise("upgrade", p, session, templateId, modelVersion, undefined) });
          return "ok";
        } catch (e) {
          const { kind, code } = classifyPartyError(e);
          // SESSION_UNKNOWN: the party holds no promotable upgrade of this session (never staged, aborted, or its commit window passed)
          last = kind === "refused" || code === "SESSION_UNKNOWN" ? "gone" : "unavailable";
          if (last === "gone") break;
        }
      }
      return last;
    };
    const [a, b] = await Promise.all(PARTIES.map(one));
    return { P0: a, P1: b };
  }

  /**
   * Finishes an upgrade that a verification left unpromoted at one or both parties (a re-check):
   * promoted at both → the person's template is recorded under the new model; gone at both → nothing
   * changed anywhere (resolved); promoted at one party and gone at the other (a split: every later
   * verification would fail) → after UPGRADE_SPLIT_GRACE_MS (the parties' own recovery may still
   * finish it) the template is deleted at both and the person must enrol again; no answer → stays open.
   */
  async finishUpgrade(r: { person_id: string; template_id: string | null; session?: string | null; model_version?: string | null; at: number }): Promise<boolean> {
    if (!r.template_id || !r.session || !r.model_version) return (await this.health()).status === "ok";
    const person = await this.c.store.getPerson(r.person_id);
    if (!person || person.template_id !== r.template_id) return true; // deleted or replaced since
    if (person.model_version === r.model_version) return true;
    const out = await this.promote(r.session, r.template_id, r.model_version);
    const oks = PARTIES.filter((p) => out[p] === "ok").length;
    const gone = PARTIES.filter((p) => out[p] === "gone").length;
    if (oks === 2) {
      await this.c.store.setModelVersion(person.id, r.model_version);
      this.c.log?.info({ event: "upgrade-repaired", personId: person.id }, "staged upgrade promoted at both parties by the re-check");
      await this.c.audit?.append({ actor: "system", action: "upgrade.repair", subject: person.id, templateId: r.template_id, outcome: "ok", code: "PROMOTED" });
      return true;
    }
    if (gone === 2) return true;
    if (oks === 1 && gone === 1) {
      if (this.c.now() - r.at < UPGRADE_SPLIT_GRACE_MS) return false;
      const status = await this.deleteTemplate(person, "upgrade split");
      this.c.log?.warn({ event: "upgrade-split-deleted", personId: person.id, status }, "upgrade promoted at one party only: template deleted, the person must enrol again");
      await this.c.audit?.append({ actor: "system", action: "upgrade.repair", subject: person.id, templateId: r.template_id, outcome: "ok", code: "DELETED" });
      return true;
    }
    return false;
  }

  /** Deletes a template at both parties (`session` names the deletion: a decision's request id, or a fresh one). */
  delete(templateId: string, modelVersion: string, session = randomToken(16)): Promise<Settled<unknown>> {
    return this.all(async (p, client) =>
      client.delete({ templateId, authorisation: await this.authorise("delete", p, session, templateId, modelVersion, undefined) }),
    );
  }

  /**
   * Deletes the person's template at both parties; on failure records a re-check (R35). A deregistration
   * is recorded here too, before the intent is resolved, so that no crash leaves a deregistered person
   * without `deregistered_at` (whose identity would then never be erased).
   */
  async deleteTemplate(person: PersonRow, why: "deregister" | "withdraw" | "upgrade split" | "hold rejected", written?: string, session?: string): Promise<"deleted" | "pending"> {
    const templateId = person.template_id!;
    // Written ahead (here, or by the caller: `written`): should this process die before the outcome is
    // recorded below, the re-check job finishes the deletion (no deletion is lost, issue 16).
    const intent = written ?? (await recordRecheck(this.c, "delete", person.id, templateId, `intent: ${why}`));
    const del = await this.delete(templateId, person.model_version ?? "", session);
    await this.c.store.setTemplate(person.id, null, null);
    if (why === "deregister") await this.c.store.markDeregistered(person.id, this.c.now());
    if (!del.ok) await recordRecheck(this.c, "delete", person.id, templateId, `${why}: ${classifyPartyError(del.error).code}`);
    await this.c.store.resolveRecheck(intent, this.c.now());
    return del.ok ? "deleted" : "pending";
  }

  /**
   * A party call failed. Unavailability → record a re-check and answer MPC_UNAVAILABLE (never an
   * approval, R35); a party's refusal of the share → SHARE_REJECTED or MODEL_VERSION_MISMATCH.
   */
  async failure(
    error: unknown,
    f: { op: string; requestId: string; person: PersonRow; device: DeviceRow; templateId: string; modelVersion: string; t0: number },
    /**
     * a re-check already written ahead for this operation (kept open instead of a second one); unless
     * `committing` (a party may have committed), a refusal settles it with the decision row
     */
    intent?: { id: string; committing: boolean },
  ): Promise<never> {
    const { kind, code } = classifyPartyError(error);
    this.c.log?.warn({ event: "party-error", op: f.op, requestId: f.requestId, kind, code }, "party call failed");
    const decision = { requestId: f.requestId, person: f.person, device: f.device, op: f.op, modelVersion: f.modelVersion, t0: f.t0 };
    const settled = () => (intent && !intent.committing ? [this.c.store.resolveRecheck(intent.id, this.c.now())] : []);
    if (code === "VOLUME_EXCEEDED") {
      // a party's own per-template budget (decision 010 §4): nothing was computed
      await recordDecision(this.c, { ...decision, decision: "reject", reason: "RATE_LIMITED" }, settled());
      throw new ApiError("RATE_LIMITED", { scope: "template", retryAfterS: 60 });
    }
    if (kind === "refused" && code !== "UNKNOWN_TEMPLATE") {
      const reason = code === "WRONG_MODEL_VERSION" ? "MODEL_VERSION_MISMATCH" : "SHARE_REJECTED";
      await recordDecision(this.c, { ...decision, decision: "reject", reason }, settled());
      throw new ApiError(reason);
    }
    if (!intent) await recordRecheck(this.c, f.op, f.person.id, f.templateId, `${kind}: ${code}`);
    await recordDecision(this.c, { ...decision, decision: "error", reason: "MPC_UNAVAILABLE" });
    throw new ApiError("MPC_UNAVAILABLE", { retryAfterS: 5 });
  }

  async health(timeoutMs = 2000): Promise<{ status: "ok" | "degraded"; parties: Record<string, string> }> {
    const parties: Record<string, string> = {};
    await Promise.all(
      PARTIES.map(async (p) => {
        try {
          const h = await withTimeout(this.c.o.parties[p].health(), timeoutMs);
          parties[p] = h.peer === "up" ? "up" : "peer-down";
        } catch {
          parties[p] = "down";
        }
      }),
    );
    return { status: PARTIES.every((p) => parties[p] === "up") ? "ok" : "degraded", parties };
  }

  /**
   * Retries what degraded mode left behind: pending deletions (deregister, withdraw, failed enrol
   * commits) are deleted at both parties; an upgrade left unpromoted at one or both parties is
   * finished (`finishUpgrade`); failed verifications are marked resolved once the parties answer
   * again (they were never approved; the person simply verifies again). One run at a time.
   */
  async runRechecks(): Promise<{ resolved: number; open: number }> {
    if (this.recheckRunning) return this.recheckRunning;
    this.recheckRunning = this.rechecksOnce().finally(() => {
      this.recheckRunning = undefined;
    });
    return this.recheckRunning;
  }
  private recheckRunning: Promise<{ resolved: number; open: number }> | undefined;

  private async rechecksOnce(): Promise<{ resolved: number; open: number }> {
    await eraseExpired(this.c);
    const rows = await this.c.store.openRechecks(100);
    let resolved = 0;
    for (const r of rows) {
      // a template's re-check never runs beside a device operation of the same person (an enrolment
      // whose intent is open may still be committing); the others only ask the parties' health
      const exclusive = r.op === "enrol" || r.op === "delete" || r.op === "upgrade";
      if (exclusive && !(await markBusy(this.c, r.person_id))) continue;
      try {
        if (!(await this.recheck(r))) continue;
      } finally {
        if (exclusive) await clearBusy(this.c, r.person_id);
      }
      await this.c.store.resolveRecheck(r.id, this.c.now());
      resolved++;
    }
    return { resolved, open: rows.length - resolved };
  }

  /** One re-check; true when it is settled. */
  private async recheck(r: RecheckRow): Promise<boolean> {
    if (r.template_id && r.op === "enrol") {
      // an enrolment recorded after all (its intent outlived the process that recorded it): nothing to undo
      if ((await this.c.store.getPerson(r.person_id))?.template_id === r.template_id) return true;
      return (await this.delete(r.template_id, "")).ok;
    }
    if (r.template_id && r.op === "delete") {
      if (!(await this.delete(r.template_id, "")).ok) return false;
      // the intent of a deletion whose process died before it recorded it: record it now
      if ((await this.c.store.getPerson(r.person_id))?.template_id === r.template_id) {
        await this.c.store.setTemplate(r.person_id, null, null);
        if (r.reason === "intent: deregister") await this.c.store.markDeregistered(r.person_id, this.c.now());
      }
      return true;
    }
    if (r.op === "upgrade") return this.finishUpgrade(r);
    return (await this.health()).status === "ok";
  }
}

const walOwed = new WeakSet<GatewayContext>();

/** Erases (at most 100 per run) the identity attributes of persons deregistered longer than the retention (issue 13). */
async function eraseExpired(c: GatewayContext): Promise<number> {
  const t = c.now();
  let n = 0;
  for (const id of await c.store.erasablePersons(t - c.o.identityRetentionMs, 100)) {
    if (!(await c.store.eraseIdentity(id, t))) continue;
    n++;
    await c.audit?.append({ actor: "system:retention", action: "person.erase", subject: id, outcome: "ok" });
  }
  // the overwritten pages leave the WAL too (a reader holding it: the next run tries again)
  if (n > 0 || walOwed.has(c)) {
    if (await truncateWal(c.store.db)) walOwed.delete(c);
    else (walOwed.add(c), c.log?.warn({ event: "erase_checkpoint_owed" }));
  }
  return n;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new PartyError("TIMEOUT", "no answer in time")), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
