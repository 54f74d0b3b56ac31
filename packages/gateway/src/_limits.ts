/**
 * Rate limits per person, device and merchant (R24): fixed one-minute windows counted in the
 * gateway's shared state (shared-state.ts), so replicas on one Redis share each budget.
 * A request is counted against all three scopes at once and refused (RATE_LIMITED, with the scope
 * that ran out and the seconds until the window turns) if any of them is full; a refused request does
 * not consume budget. Lockout after consecutive failed verifications lives in the database (_store.ts).
 */
import { ApiError } from "./errors.ts";
import type { SharedState } from "./shared-state.ts";

export interface RateLimits {
  perPersonPerMinute: number;
  perDevicePerMinute: number;
  perMerchantPerMinute: number;
  /** device API requests per source address (issue 12 item 6): counted before any signature is checked */
  perSourcePerMinute: number;
}

const WINDOW_MS = 60_000;

export class RateLimiter {
  constructor(
    private readonly state: SharedState,
    readonly limits: RateLimits,
  ) {}

  /**
   * The cheap check that runs first on every device API request, before its body is parsed or any
   * signature verified: requests per source address per minute (RATE_LIMITED, scope `source`).
   */
  takeSource(source: string, now: number): Promise<void> {
    return this.takeAll([["source", "s:" + source, this.limits.perSourcePerMinute]], now);
  }

  take(scopes: { person: string; device: string; merchant: string }, now: number): Promise<void> {
    return this.takeAll(
      [
        ["person", "p:" + scopes.person, this.limits.perPersonPerMinute],
        ["device", "d:" + scopes.device, this.limits.perDevicePerMinute],
        ["merchant", "m:" + scopes.merchant, this.limits.perMerchantPerMinute],
      ],
      now,
    );
  }

  /** One atomic step at the shared state: all scopes count, or none does and the full one is named. */
  private async takeAll(scopes: [scope: string, key: string, limit: number][], now: number): Promise<void> {
    const w = Math.floor(now / WINDOW_MS);
    const full = await this.state.take(
      scopes.map(([, key, limit]) => ({ key: `rl:${w}:${key}`, limit })),
      2 * WINDOW_MS,
    );
    if (full >= 0) throw new ApiError("RATE_LIMITED", { scope: scopes[full][0], retryAfterS: Math.ceil(((w + 1) * WINDOW_MS - now) / 1000) });
  }
}
