/**
 * Challenges and replay protection (R21), kept in the gateway's shared state (shared-state.ts: this
 * process by default, or one Redis for several replicas, issue 16).
 *
 * A challenge is 24 random bytes (base64url), valid for at most `ttlMs` (≤ 60 s), bound to one
 * device, one person and one purpose (and, for enrol/verify, to the template id and model version
 * handed out with it), and usable once: `consume` deletes its record in one atomic step, so of two
 * requests (on any replicas) with one challenge exactly one is admitted. Records are kept for twice
 * the lifetime, so a late request is named CHALLENGE_EXPIRED or CHALLENGE_USED rather than unknown.
 * Losing the state (a restart of a single gateway, an emptied or evicting Redis) only refuses
 * requests: what is lost is the challenge itself, so nothing is let through twice.
 *
 * The replay cache remembers the digest of every accepted signed request until its challenge could
 * no longer be valid, so an identical resend is named REPLAYED_REQUEST rather than CHALLENGE_USED.
 */
import type { LivenessAction } from "@privface/contracts";
import { ApiError } from "./errors.ts";
import type { Purpose } from "./schemas.ts";
import type { SharedState } from "./shared-state.ts";

export interface Challenge {
  value: string;
  deviceId: string;
  personId: string;
  purpose: Purpose;
  templateId: string | undefined;
  modelVersion: string | undefined;
  upgradeTo: string | undefined;
  /** enrol / verify with active liveness on: the actions the device must see performed, in order (issue 17) */
  actions?: LivenessAction[];
  expiresAt: number;
}

export class ChallengeStore {
  constructor(
    private readonly state: SharedState,
    readonly ttlMs: number,
  ) {
    if (!Number.isInteger(ttlMs) || ttlMs <= 0 || ttlMs > 60_000) throw new RangeError("ChallengeStore: ttlMs must be in (0, 60000]");
  }

  async issue(c: Omit<Challenge, "expiresAt">, now: number): Promise<Challenge> {
    const ch: Challenge = { ...c, expiresAt: now + this.ttlMs };
    if (!(await this.state.putIfAbsent("ch:" + ch.value, JSON.stringify(ch), 2 * this.ttlMs))) throw new ApiError("INTERNAL");
    return ch;
  }

  /**
   * Looks a challenge up for a request and checks its binding, without consuming it. Throws
   * CHALLENGE_UNKNOWN / CHALLENGE_USED / CHALLENGE_EXPIRED / CHALLENGE_MISMATCH.
   */
  async check(value: string, deviceId: string, personId: string, purpose: Purpose, now: number): Promise<Challenge> {
    const json = await this.state.get("ch:" + value);
    if (json === undefined) throw new ApiError((await this.state.get("used:" + value)) !== undefined ? "CHALLENGE_USED" : "CHALLENGE_UNKNOWN");
    const ch = JSON.parse(json) as Challenge;
    if (now > ch.expiresAt) throw new ApiError("CHALLENGE_EXPIRED");
    if (ch.deviceId !== deviceId || ch.personId !== personId || ch.purpose !== purpose) throw new ApiError("CHALLENGE_MISMATCH");
    return ch;
  }

  /**
   * Consumes the challenge: deletes its record, one atomic step, so of all requests (on any replica)
   * exactly one sees it and gets true. A "used" mark then names later attempts CHALLENGE_USED; it only
   * names them (a lost or evicted mark leaves them CHALLENGE_UNKNOWN, still refused).
   */
  async consume(ch: Challenge): Promise<boolean> {
    if (!(await this.state.del("ch:" + ch.value))) return false;
    await this.state.putIfAbsent("used:" + ch.value, "1", 2 * this.ttlMs);
    return true;
  }

  /** Remembers a signed request's digest; false if it was seen before (a replay). Atomic. */
  remember(digest: string): Promise<boolean> {
    return this.state.putIfAbsent("seen:" + digest, "1", 2 * this.ttlMs);
  }

  async isReplay(digest: string): Promise<boolean> {
    return (await this.state.get("seen:" + digest)) !== undefined;
  }
}
