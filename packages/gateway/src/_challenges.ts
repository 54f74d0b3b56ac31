/**
 * Challenges and replay protection (R21), held in memory.
 *
 * A challenge is 24 random bytes (base64url), valid for at most `ttlMs` (≤ 60 s), bound to one
 * device, one person and one purpose (and, for enrol/verify, to the template id and model version
 * handed out with it), and usable once. A restart forgets every outstanding challenge, which only
 * refuses requests (safe); it never lets one through twice because a new process issues new values.
 *
 * The replay cache remembers the digest of every accepted signed request until its challenge could
 * no longer be valid, so an identical resend is named REPLAYED_REQUEST rather than CHALLENGE_USED.
 */
import type { LivenessAction } from "@privface/contracts";
import { ApiError } from "./errors.ts";
import type { Purpose } from "./schemas.ts";

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
  used: boolean;
}

export class ChallengeStore {
  private readonly live = new Map<string, Challenge>();
  private readonly seen = new Map<string, number>();
  private lastSweep = 0;

  constructor(readonly ttlMs: number) {
    if (!Number.isInteger(ttlMs) || ttlMs <= 0 || ttlMs > 60_000) throw new RangeError("ChallengeStore: ttlMs must be in (0, 60000]");
  }

  issue(c: Omit<Challenge, "used" | "expiresAt">, now: number): Challenge {
    this.sweep(now);
    const ch: Challenge = { ...c, expiresAt: now + this.ttlMs, used: false };
    this.live.set(ch.value, ch);
    return ch;
  }

  /**
   * Looks a challenge up for a request and checks its binding, without consuming it. Throws
   * CHALLENGE_UNKNOWN / CHALLENGE_USED / CHALLENGE_EXPIRED / CHALLENGE_MISMATCH.
   */
  check(value: string, deviceId: string, personId: string, purpose: Purpose, now: number): Challenge {
    const ch = this.live.get(value);
    if (!ch) throw new ApiError("CHALLENGE_UNKNOWN");
    if (ch.used) throw new ApiError("CHALLENGE_USED");
    if (now > ch.expiresAt) throw new ApiError("CHALLENGE_EXPIRED");
    if (ch.deviceId !== deviceId || ch.personId !== personId || ch.purpose !== purpose) throw new ApiError("CHALLENGE_MISMATCH");
    return ch;
  }

  /** Marks the challenge used; false if someone else got there first. */
  consume(ch: Challenge): boolean {
    if (ch.used) return false;
    ch.used = true;
    return true;
  }

  isReplay(digest: string): boolean {
    return this.seen.has(digest);
  }

  remember(digest: string, now: number): void {
    this.seen.set(digest, now + 2 * this.ttlMs);
  }

  /** Drops expired challenges (kept as "used" until the replay window closes) and old digests. */
  sweep(now: number): void {
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    for (const [k, c] of this.live) if (now > c.expiresAt + this.ttlMs) this.live.delete(k);
    for (const [k, t] of this.seen) if (now > t) this.seen.delete(k);
  }

  get size(): number {
    return this.live.size;
  }
}
