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
 *   use (SESSION_EXPIRED) and by every sign-in's sweep.
 * - At most MAX_SESSIONS_PER_OPERATOR live sessions per operator: a new sign-in closes their oldest
 *   (two sign-ins of one operator at two replicas at the same moment may leave one more).
 * - Held in the gateway's shared state (shared-state.ts): this process's memory by default (a restart
 *   signs everyone out), or the replicas' Redis, so that every replica knows every session; each
 *   expires there with its idle or absolute end.
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
  lastSeen: number;
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
    // the operator's live sessions, oldest first (expired ones are gone from the store by their TTL)
    const listKey = `${OPERATOR_KEY}${operator.id}`;
    const live: string[] = [];
    for (const k of JSON.parse((await this.state.get(listKey)) ?? "[]") as string[]) if ((await this.state.get(k)) !== undefined) live.push(k);
    const drop = live.length - MAX_SESSIONS_PER_OPERATOR + 1;
    for (const k of live.splice(0, Math.max(0, drop))) await this.state.del(k);
    const sid = randomBytes(32).toString("base64url");
    const s: Session = { operator, csrf: randomBytes(24).toString("base64url"), createdAt: t, lastSeen: t, endsAt: Math.min(t + this.maxMs, credentialExpiresAt) };
    const key = keyOf(sid);
    await this.state.putIfAbsent(key, JSON.stringify(s), this.ttl(s, t));
    await this.replace(listKey, JSON.stringify([...live, key]), this.maxMs);
    return { sid, out: this.view(s) };
  }

  /**
   * The operator of a cookie-authenticated request: the session must exist and be live, and the
   * CSRF header must match. Touches the idle timer (at most once a second).
   */
  async authenticate(sid: string, csrf: string | undefined): Promise<Operator> {
    const key = keyOf(sid);
    const s = await this.load(key);
    if (!s) throw new ApiError("UNAUTHENTICATED");
    const t = this.now();
    if (this.expired(s, t)) {
      await this.state.del(key);
      throw new ApiError("SESSION_EXPIRED");
    }
    if (typeof csrf !== "string" || !safeEqual(csrf, s.csrf)) throw new ApiError("CSRF_FAILED");
    if (t - s.lastSeen >= 1000) await this.replace(key, JSON.stringify({ ...s, lastSeen: t }), this.ttl({ ...s, lastSeen: t }, t));
    return s.operator;
  }

  /** The live session's state (after `authenticate`). */
  async current(sid: string): Promise<SignedIn | undefined> {
    const s = await this.load(keyOf(sid));
    return s ? this.view(s) : undefined;
  }

  async close(sid: string): Promise<void> {
    await this.state.del(keyOf(sid));
  }

  private async load(key: string): Promise<Session | undefined> {
    const v = await this.state.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as Session);
  }

  /** Writes `value` over `key` (the shared state has no plain SET: a concurrent writer's value may win, either is current). */
  private async replace(key: string, value: string, ttlMs: number): Promise<void> {
    await this.state.del(key);
    await this.state.putIfAbsent(key, value, ttlMs);
  }

  /**
   * Kept one idle period past the session's end (idle or absolute, whichever first), so that a use
   * then answers SESSION_EXPIRED rather than an unknown session; gone from the store after that.
   */
  private ttl(s: Session, t: number): number {
    return Math.max(1, Math.min(s.endsAt, s.lastSeen + this.idleMs) + this.idleMs - t);
  }

  private expired(s: Session, t: number): boolean {
    return t >= s.endsAt || t >= s.lastSeen + this.idleMs;
  }

  private view(s: Session): SignedIn {
    return { operatorId: s.operator.id, role: s.operator.role, csrfToken: s.csrf, idleExpiresAt: Math.min(s.lastSeen + this.idleMs, s.endsAt), expiresAt: s.endsAt };
  }
}

const SESSION_KEY = "console:s:";
const OPERATOR_KEY = "console:op:";
/** Only the SHA-256 of a session id is stored. */
const keyOf = (sid: string) => `${SESSION_KEY}${sha(sid)}`;

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
