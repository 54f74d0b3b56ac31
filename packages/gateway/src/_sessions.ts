/**
 * Operator console sessions (issue 14, R27): an operator signs in with their operator id and
 * credential (the token of the operators file, which itself expires) and gets a session instead of
 * sending the credential with every request.
 *
 * - The session id travels only in a cookie `privface_console`: HttpOnly (no script reads it), Secure,
 *   SameSite=Strict (no other site's page sends it), Path=/. Only its SHA-256 is kept.
 * - CSRF: every request authenticated by the cookie must also carry `x-privface-csrf` equal to the
 *   session's CSRF token, given once in the sign-in answer (the console keeps it in memory). A form or
 *   an image on another origin can send neither the header nor (SameSite) the cookie.
 * - Expiry: idle (default 15 min since the last request) and absolute (default 8 h since sign-in),
 *   and never after the operator credential's own expiry. An expired session is deleted at its next
 *   use (SESSION_EXPIRED), or leaves the store by itself one idle period after its end.
 * - At most MAX_SESSIONS_PER_OPERATOR live sessions per operator: a new sign-in closes their oldest
 *   (two sign-ins of one operator at two replicas at the same moment may leave one more).
 * - Held in the gateway's shared state (shared-state.ts): this process's memory by default (a restart
 *   signs everyone out), or the replicas' Redis, so that every replica knows every session.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ApiError } from "./errors.ts";
import type { Operator } from "./_context.ts";
import type { SharedState } from "./shared-state.ts";

export const SESSION_COOKIE = "privface_console";
export const CSRF_HEADER = "x-privface-csrf";
export const DEFAULT_SESSION_IDLE_MS = 15 * 60_000;
export const DEFAULT_SESSION_MAX_MS = 8 * 3_600_000;
export const MAX_SESSIONS_PER_OPERATOR = 5;

export interface SessionOptions {
  /** idle expiry (default 15 min) */
  idleMs?: number;
  /** absolute expiry (default 8 h) */
  maxMs?: number;
}

interface Session {
  operator: Operator;
  csrf: string;
  createdAt: number;
  /** absolute end: sign-in + maxMs, or the credential's expiry if sooner */
  endsAt: number;
}

export interface SignedIn {
  operatorId: string;
  role: Operator["role"];
  csrfToken: string;
  idleExpiresAt: number;
  expiresAt: number;
}

const sha = (s: string) => createHash("sha256").update(s).digest("base64url");

export class Sessions {
  readonly idleMs: number;
  readonly maxMs: number;

  constructor(
    private readonly now: () => number,
    /** where sessions live: this process (`memoryState`) or the replicas' Redis (`redisState`) */
    private readonly state: SharedState,
    o: SessionOptions = {},
  ) {
    this.idleMs = o.idleMs ?? DEFAULT_SESSION_IDLE_MS;
    this.maxMs = o.maxMs ?? DEFAULT_SESSION_MAX_MS;
    if (!(this.idleMs > 0 && this.maxMs >= this.idleMs)) throw new RangeError("sessions: idleMs must be > 0 and maxMs >= idleMs");
  }

  /** A new session for an authenticated operator; returns the cookie value and what the client may know. */
  async open(operator: Operator, credentialExpiresAt: number): Promise<{ sid: string; out: SignedIn }> {
    const t = this.now();
    // the operator's sessions still in the store, oldest first
    const listKey = `${OPERATOR_KEY}${operator.id}`;
    const live: string[] = [];
    for (const h of JSON.parse((await this.state.get(listKey)) ?? "[]") as string[]) if ((await this.state.get(SESSION_KEY + h)) !== undefined) live.push(h);
    for (const h of live.splice(0, Math.max(0, live.length - MAX_SESSIONS_PER_OPERATOR + 1))) await this.forget(h);
    const sid = randomBytes(32).toString("base64url");
    const h = sha(sid);
    const s: Session = { operator, csrf: randomBytes(24).toString("base64url"), createdAt: t, endsAt: Math.min(t + this.maxMs, credentialExpiresAt) };
    // kept one idle period past the session's end, so that a use then answers SESSION_EXPIRED
    await this.state.putIfAbsent(SESSION_KEY + h, JSON.stringify(s), s.endsAt - t + this.idleMs);
    await this.seen(h, t);
    await this.replace(listKey, JSON.stringify([...live, h]), this.maxMs + this.idleMs);
    return { sid, out: this.view(s, t) };
  }

  /**
   * The operator of a cookie-authenticated request: the session must exist and be live, and the
   * CSRF header must match. Touches the idle timer (at most once a second).
   */
  async authenticate(sid: string, csrf: string | undefined): Promise<Operator> {
    const h = sha(sid);
    const found = await this.load(h);
    if (!found) throw new ApiError("UNAUTHENTICATED");
    const { s, lastSeen } = found;
    const t = this.now();
    if (t >= s.endsAt || t >= lastSeen + this.idleMs) {
      await this.forget(h);
      throw new ApiError("SESSION_EXPIRED");
    }
    if (typeof csrf !== "string" || !safeEqual(csrf, s.csrf)) throw new ApiError("CSRF_FAILED");
    if (t - lastSeen >= 1000) await this.seen(h, t);
    return s.operator;
  }

  /** The live session's state (after `authenticate`). */
  async current(sid: string): Promise<SignedIn | undefined> {
    const found = await this.load(sha(sid));
    return found ? this.view(found.s, found.lastSeen) : undefined;
  }

  async close(sid: string): Promise<void> {
    await this.forget(sha(sid));
  }

  /** The session and its last use (no last use left: long idle, so expired). */
  private async load(h: string): Promise<{ s: Session; lastSeen: number } | undefined> {
    const v = await this.state.get(SESSION_KEY + h);
    if (v === undefined) return undefined;
    return { s: JSON.parse(v) as Session, lastSeen: Number((await this.state.get(SEEN_KEY + h)) ?? -Infinity) };
  }

  /**
   * The last use lives under a key of its own: touching it can never bring back a session that a
   * concurrent sign-out deleted (a last use without its session is ignored and expires).
   */
  private seen(h: string, t: number): Promise<void> {
    return this.replace(SEEN_KEY + h, String(t), 2 * this.idleMs);
  }

  private async forget(h: string): Promise<void> {
    await this.state.del(SESSION_KEY + h);
    await this.state.del(SEEN_KEY + h);
  }

  /** Writes `value` over `key` (the shared state has no plain SET: of two concurrent writers either may win). */
  private async replace(key: string, value: string, ttlMs: number): Promise<void> {
    await this.state.del(key);
    await this.state.putIfAbsent(key, value, ttlMs);
  }

  private view(s: Session, lastSeen: number): SignedIn {
    return { operatorId: s.operator.id, role: s.operator.role, csrfToken: s.csrf, idleExpiresAt: Math.min(lastSeen + this.idleMs, s.endsAt), expiresAt: s.endsAt };
  }
}

/** Only the SHA-256 of a session id is stored: the session, and its last use. */
const SESSION_KEY = "console:s:";
const SEEN_KEY = "console:seen:";
const OPERATOR_KEY = "console:op:";

/** The session cookie's value from a Cookie header, if any. */
export function sessionCookie(header: string | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) {
      const v = part.slice(i + 1).trim();
      return /^[A-Za-z0-9_-]{16,128}$/.test(v) ? v : undefined;
    }
  }
  return undefined;
}

/** The Set-Cookie value of a session (maxAgeS 0 clears it). */
export function cookieHeader(sid: string, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${sid}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(maxAgeS))}`;
}

/** Constant-time string equality (length leaks, which the random tokens' fixed length makes moot). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
