/**
 * Rate limits per person, device and merchant (R24): fixed one-minute windows counted in memory.
 * A request is counted against all three scopes at once and refused (RATE_LIMITED, with the scope
 * that ran out and the seconds until the window turns) if any of them is full; a refused request does
 * not consume budget. Lockout after consecutive failed verifications lives in the database (_store.ts).
 */
import { ApiError } from "./errors.ts";

export interface RateLimits {
  perPersonPerMinute: number;
  perDevicePerMinute: number;
  perMerchantPerMinute: number;
  /** device API requests per source address (issue 12 item 6): counted before any signature is checked */
  perSourcePerMinute: number;
}

const WINDOW_MS = 60_000;

export class RateLimiter {
  private window = -1;
  private counts = new Map<string, number>();

  constructor(readonly limits: RateLimits) {}

  /**
   * The cheap check that runs first on every device API request, before its body is parsed or any
   * signature verified: requests per source address per minute (RATE_LIMITED, scope `source`).
   */
  takeSource(source: string, now: number): void {
    const w = Math.floor(now / WINDOW_MS);
    if (w !== this.window) {
      this.window = w;
      this.counts = new Map();
    }
    const key = "s:" + source;
    const n = this.counts.get(key) ?? 0;
    if (n >= this.limits.perSourcePerMinute) throw new ApiError("RATE_LIMITED", { scope: "source", retryAfterS: Math.ceil(((w + 1) * WINDOW_MS - now) / 1000) });
    this.counts.set(key, n + 1);
  }

  take(scopes: { person: string; device: string; merchant: string }, now: number): void {
    const w = Math.floor(now / WINDOW_MS);
    if (w !== this.window) {
      this.window = w;
      this.counts = new Map();
    }
    const keys: [string, string, number][] = [
      ["person", "p:" + scopes.person, this.limits.perPersonPerMinute],
      ["device", "d:" + scopes.device, this.limits.perDevicePerMinute],
      ["merchant", "m:" + scopes.merchant, this.limits.perMerchantPerMinute],
    ];
    for (const [scope, key, limit] of keys) {
      if ((this.counts.get(key) ?? 0) >= limit) {
        throw new ApiError("RATE_LIMITED", { scope, retryAfterS: Math.ceil(((w + 1) * WINDOW_MS - now) / 1000) });
      }
    }
    for (const [, key] of keys) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}
