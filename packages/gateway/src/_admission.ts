/**
 * Admission of device requests. Every signed device operation goes through `admit()` in one fixed
 * order, so each refusal has one code and nothing is stored or sent to a party before all checks pass:
 *   device signature over canonicalJson(body without signature) (an unknown device is a signature
 *   that does not verify) → device active / not locked → person known → same merchant → not a
 *   replay → challenge known / unused / unexpired / bound to this device, person and purpose → purpose checks (consent, lockout, enrolment state,
 *   model version, liveness: the `require*` checks below) → the person is not busy → the challenge
 *   is consumed.
 * A challenge request passes the same first checks through `authenticDevice` and `personOf`.
 */
import { sameActions } from "@privface/contracts";
import { canonicalJson, fromBase64url, utf8, verify as verifySig } from "@privface/crypto";
import type { Challenge } from "./_challenges.ts";
import type { GatewayContext } from "./_context.ts";
import { sha256b64u } from "./_crypto.ts";
import type { ConsentState, DeviceRow, PersonRow } from "./_store.ts";
import { ApiError } from "./errors.ts";
import type { FaceRequest, Purpose } from "./schemas.ts";

export type SignedDeviceBody = { deviceId: string; personId: string; challenge: string; signature: string };

/** A person's consent as admission sees it: "outdated" = given, but for a notice whose purposes differ from the current notice's. */
export type Consent = ConsentState | "outdated";

/**
 * Persons with a device operation in flight are marked `busy:<person>` in the shared state: `admit`
 * sets the mark, the flow deletes it in `finally` (`release`). The mark expires after BUSY_TTL_MS, so a
 * replica that dies mid-operation does not block the person for ever.
 */
const BUSY = "busy:";
const BUSY_TTL_MS = 120_000;

/** Marks the person busy (atomically, at the shared state); false when an operation already has them. */
export function markBusy(c: GatewayContext, personId: string): Promise<boolean> {
  return c.shared.putIfAbsent(BUSY + personId, "1", BUSY_TTL_MS);
}

/** Ends what `markBusy` began. Never throws: a mark that could not be deleted expires after BUSY_TTL_MS. */
export async function clearBusy(c: GatewayContext, personId: string): Promise<void> {
  try {
    await c.shared.del(BUSY + personId);
  } catch {
    c.log?.warn({ event: "busy-release-failed", personId }, "person's busy mark not released: it expires by itself");
  }
}

/** How long the current notice is cached (a notice published by another gateway process is seen within this). */
const NOTICE_CACHE_MS = 5_000;

export class Admission {
  private readonly devicePub = new Map<string, { suite: "INTL" | "GM"; publicKey: Uint8Array; kind: "sign" }>();
  private current: { version: string; purposes: string; at: number } | undefined;
  private readonly noticePurposes = new Map<string, string>();

  constructor(private readonly c: GatewayContext) {}

  /**
   * A challenge request's sender (issue 12 item 6): a registered device that signed
   * `canonicalJson(body without signature)` with `at` within the challenge lifetime of the gateway's
   * clock, not seen before. Every failure before that is proven — unknown device, bad signature, stale
   * or replayed request — is the same DEVICE_UNAUTHENTICATED, so an unauthenticated caller learns
   * nothing, and nothing about a person is read before it passes. The device's own state (pending,
   * revoked, locked) is told only to the holder of its key.
   */
  async authenticDevice(body: { deviceId: string; at: number; nonce: string; signature: string }): Promise<DeviceRow> {
    const no = () => new ApiError("DEVICE_UNAUTHENTICATED");
    const now = this.c.now();
    if (!Number.isSafeInteger(body.at) || Math.abs(now - body.at) > this.c.challenges.ttlMs) throw no();
    const device = await this.c.store.getDevice(body.deviceId);
    if (!device) throw no();
    const message = await this.signedMessage(device, body);
    if (message === undefined) throw no();
    // a replay within the window (the cache keeps digests for twice the challenge lifetime); one atomic step
    if (!(await this.c.challenges.remember(sha256b64u(message)))) throw no();
    return active(device);
  }

  /** The person (of the device's merchant) and their consent state, read together. */
  async personOf(device: DeviceRow, personId: string): Promise<{ person: PersonRow; consent: Consent }> {
    const r = await this.c.store.getPersonWithConsent(personId);
    if (!r) throw new ApiError("PERSON_UNKNOWN");
    if (r.person.merchant_id !== device.merchant_id) throw new ApiError("DEVICE_MERCHANT_MISMATCH");
    const consent: Consent = r.consent === "given" && !(await this.noticeCovers(r.consentNotice)) ? "outdated" : r.consent;
    return { person: r.person, consent };
  }

  /**
   * Whether a consent given for notice `version` still counts (issue 12 item 10): it does for the
   * current notice, and for an earlier one with exactly the current notice's purposes; once a notice
   * with other purposes is published, only a consent to it counts.
   */
  async noticeCovers(version: string | null): Promise<boolean> {
    if (version === null) return false;
    const now = this.c.now();
    if (!this.current || now - this.current.at > NOTICE_CACHE_MS || now < this.current.at) {
      const n = await this.c.store.latestNotice();
      if (!n) return false;
      this.current = { version: n.version, purposes: purposesKey(n.purposes), at: now };
    }
    if (version === this.current.version) return true;
    let p = this.noticePurposes.get(version);
    if (p === undefined) {
      const n = await this.c.store.getNotice(version);
      p = n ? purposesKey(n.purposes) : "";
      this.noticePurposes.set(version, p); // a published notice never changes
    }
    return p === this.current.purposes;
  }

  /** A notice was published (by this process): the next admission reads the current notice again. */
  noticeChanged(): void {
    this.current = undefined;
  }

  /**
   * The common admission path of every signed device request (see the module comment for the
   * order). On success the challenge is consumed, the request digest remembered, and the person
   * marked busy (the caller calls `release` in `finally`).
   */
  async admit<B extends SignedDeviceBody>(
    body: B,
    purpose: Purpose,
    checks: (person: PersonRow, ch: Challenge, consent: Consent) => Promise<void> | void,
  ): Promise<{ device: DeviceRow; person: PersonRow; ch: Challenge }> {
    // nothing about the device, the person or their state is told before the device's key signed the
    // body: an unknown device is a signature that does not verify (issue 12 item 6)
    const known = await this.c.store.getDevice(body.deviceId);
    const message = known && (await this.signedMessage(known, body));
    if (!message) throw new ApiError("SIGNATURE_INVALID");
    const device = active(known);
    const { person, consent } = await this.personOf(device, body.personId);
    const digest = sha256b64u(message);
    const { challenges, shared } = this.c;
    if (await challenges.isReplay(digest)) throw new ApiError("REPLAYED_REQUEST");
    const ch = await challenges.check(body.challenge, device.id, person.id, purpose, this.c.now());
    await checks(person, ch, consent);
    // each step below is one atomic operation at the shared state (all replicas see it)
    if (!(await markBusy(this.c, person.id))) throw new ApiError("PERSON_BUSY");
    try {
      if (!(await challenges.consume(ch))) throw new ApiError("CHALLENGE_USED");
      await challenges.remember(digest);
    } catch (e) {
      await this.release(person.id);
      throw e;
    }
    return { device, person, ch };
  }

  /**
   * Ends the operation `admit` began for this person. Never throws: the operation's answer stands; a
   * mark that could not be deleted (shared state unreachable) expires after BUSY_TTL_MS.
   */
  release(personId: string): Promise<void> {
    return clearBusy(this.c, personId);
  }

  /** Drops a device's cached public key (on revocation). */
  forgetDevice(deviceId: string): void {
    this.devicePub.delete(deviceId);
  }

  /** The signed message (`canonicalJson` of the body without its signature) when the device's key signed it. */
  private async signedMessage(device: DeviceRow, body: { signature: string }): Promise<string | undefined> {
    const { signature, ...unsigned } = body;
    const message = canonicalJson(unsigned);
    let sig: Uint8Array;
    try {
      sig = fromBase64url(signature);
    } catch {
      return undefined;
    }
    return (await verifySig(this.devicePublicKey(device), utf8(message), sig)) ? message : undefined;
  }

  private devicePublicKey(device: DeviceRow) {
    let k = this.devicePub.get(device.id);
    if (!k) {
      k = { suite: device.suite, publicKey: fromBase64url(device.public_key), kind: "sign" };
      this.devicePub.set(device.id, k);
    }
    return k;
  }

  requireConsent(consent: Consent, opts: { outdatedCounts?: boolean } = {}): void {
    if (consent === "none") throw new ApiError("CONSENT_REQUIRED");
    if (consent === "withdrawn") throw new ApiError("CONSENT_WITHDRAWN");
    if (consent === "outdated" && !opts.outdatedCounts) throw new ApiError("CONSENT_OUTDATED");
  }

  /** not locked, and not an enrolment held for review (ENROL_DEDUP=hold): its template is not used */
  requireUnlocked(person: PersonRow): void {
    if (person.locked_at !== null) throw new ApiError("PERSON_LOCKED");
    if (person.held_at) throw new ApiError("ENROLMENT_HELD");
  }

  /**
   * The device-reported passive score, and (issue 17) the active step: the signed request must report
   * exactly the challenge's actions, in order, with one evidence step per action naming the same
   * action (a challenge without actions accepts none). The gateway cannot see frames: it checks what
   * the device signed, not that the person moved (SECURITY.md).
   */
  requireLiveness(body: FaceRequest, ch: Challenge): void {
    if (body.liveness.score < this.c.o.livenessThreshold) throw new ApiError("LIVENESS_FAILED");
    const want = ch.actions;
    const got = body.liveness.actions;
    const steps = body.liveness.steps;
    if (want === undefined) {
      if (got !== undefined || steps !== undefined) throw new ApiError("LIVENESS_ACTIONS_MISMATCH");
      return;
    }
    if (!sameActions(got, want) || !steps || steps.length !== want.length || steps.some((s, i) => s.action !== want[i])) throw new ApiError("LIVENESS_ACTIONS_MISMATCH");
  }
}

/** The device's own state, told only after its key signed the request (pending, revoked, locked). */
function active(device: DeviceRow): DeviceRow {
  if (device.status === "pending") throw new ApiError("DEVICE_PENDING");
  if (device.status !== "active") throw new ApiError("DEVICE_REVOKED");
  if (device.locked_at !== null) throw new ApiError("DEVICE_LOCKED");
  return device;
}

/** A notice's purposes as a comparable key (order and repeats do not matter). */
function purposesKey(json: string): string {
  return JSON.stringify([...new Set(JSON.parse(json) as string[])].sort());
}
