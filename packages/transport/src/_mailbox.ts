/**
 * Per-session mailboxes shared by every Transport implementation: frames that arrive before anyone
 * waits are buffered (bounded count, expire after `ttlMs`), receivers wait with a timeout, and a
 * peer's disconnect fails the receivers that wait for that peer.
 */
import { TransportError, type Frame, type ReceiveOptions } from "./_types.ts";
import type { ServerRole } from "@privface/contracts";

interface Waiter {
  opts: ReceiveOptions;
  resolve(f: Frame): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}
interface Box {
  frames: Frame[];
  waiters: Waiter[];
  at: number;
}

export interface MailboxOptions {
  receiveTimeoutMs: number;
  ttlMs?: number;
  maxSessions?: number;
  maxFramesPerSession?: number;
}

export class Mailbox {
  private boxes = new Map<string, Box>();
  private closedSessions = new Map<string, number>();
  private closed: TransportError | null = null;
  private sweeper: NodeJS.Timeout;
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly maxFrames: number;
  /** Frames dropped (expired, over limits, for forgotten sessions). */
  dropped = 0;

  constructor(private readonly opts: MailboxOptions) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.maxSessions = opts.maxSessions ?? 100_000;
    this.maxFrames = opts.maxFramesPerSession ?? 256;
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.ttlMs, 5_000));
    this.sweeper.unref();
  }

  deliver(frame: Frame): void {
    if (this.closed || this.closedSessions.has(frame.session)) {
      this.dropped++;
      return;
    }
    let box = this.boxes.get(frame.session);
    if (!box) {
      if (this.boxes.size >= this.maxSessions) {
        this.dropped++;
        return;
      }
      box = { frames: [], waiters: [], at: Date.now() };
      this.boxes.set(frame.session, box);
    }
    const w = box.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      this.settle(w, frame);
      this.gc(frame.session, box);
      return;
    }
    if (box.frames.length >= this.maxFrames) {
      this.dropped++;
      return;
    }
    box.at = Date.now();
    box.frames.push(frame);
  }

  receive(session: string, opts: ReceiveOptions): Promise<Frame> {
    if (this.closed) return Promise.reject(this.closed);
    if (this.closedSessions.has(session)) return Promise.reject(new TransportError("SESSION_CLOSED", `session ${session} was closed (already used)`));
    let box = this.boxes.get(session);
    const f = box?.frames.shift();
    if (box && f) {
      this.gc(session, box);
      return new Promise((resolve, reject) => this.settle({ opts, resolve, reject, timer: undefined as never }, f));
    }
    if (!box) {
      box = { frames: [], waiters: [], at: Date.now() };
      this.boxes.set(session, box);
    }
    const b = box;
    return new Promise<Frame>((resolve, reject) => {
      const w: Waiter = {
        opts,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = b.waiters.indexOf(w);
          if (i >= 0) b.waiters.splice(i, 1);
          this.gc(session, b);
          reject(new TransportError("TIMEOUT", `no frame for session ${session} from ${opts.from} within ${opts.timeoutMs ?? this.opts.receiveTimeoutMs} ms`));
        }, opts.timeoutMs ?? this.opts.receiveTimeoutMs),
      };
      b.waiters.push(w);
    });
  }

  private settle(w: Waiter, f: Frame): void {
    const o = w.opts;
    if (f.from !== o.from) {
      w.reject(new TransportError("UNEXPECTED_FRAME", `session ${f.session}: expected a frame from ${o.from}, got one from ${f.from}`));
    } else if ((o.step !== undefined && f.step !== o.step) || (o.seq !== undefined && f.seq !== o.seq)) {
      w.reject(new TransportError("UNEXPECTED_FRAME", `session ${f.session}: expected step ${o.step}/seq ${o.seq ?? "*"}, got step ${f.step}/seq ${f.seq}`));
    } else {
      w.resolve(f);
    }
  }

  private gc(session: string, box: Box): void {
    if (box.frames.length === 0 && box.waiters.length === 0) this.boxes.delete(session);
  }

  closeSession(session: string): void {
    const box = this.boxes.get(session);
    if (box) {
      this.dropped += box.frames.length;
      for (const w of box.waiters) {
        clearTimeout(w.timer);
        w.reject(new TransportError("CLOSED", `session ${session} closed`));
      }
      this.boxes.delete(session);
    }
    this.closedSessions.set(session, Date.now());
  }

  /** Rejects every receiver waiting for `role` (its link went down). */
  failPeer(role: ServerRole, err: TransportError): void {
    for (const [session, box] of this.boxes) {
      const keep: Waiter[] = [];
      for (const w of box.waiters) {
        if (w.opts.from === role) {
          clearTimeout(w.timer);
          w.reject(err);
        } else keep.push(w);
      }
      box.waiters = keep;
      this.gc(session, box);
    }
  }

  /** Rejects the receivers waiting for `role` on the sessions `which` selects (one of several links of that role went down). */
  failSessions(which: (session: string) => boolean, role: ServerRole, err: TransportError): void {
    for (const [session, box] of this.boxes) {
      if (!which(session)) continue;
      const keep = box.waiters.filter((w) => {
        if (w.opts.from !== role) return true;
        clearTimeout(w.timer);
        w.reject(err);
        return false;
      });
      box.waiters = keep;
      this.gc(session, box);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = new TransportError("CLOSED", "transport closed");
    clearInterval(this.sweeper);
    for (const box of this.boxes.values()) {
      for (const w of box.waiters) {
        clearTimeout(w.timer);
        w.reject(this.closed);
      }
    }
    this.boxes.clear();
  }

  private sweep(): void {
    const cutoff = Date.now() - this.ttlMs;
    for (const [s, box] of this.boxes) {
      if (box.waiters.length === 0 && box.at < cutoff) {
        this.dropped += box.frames.length;
        this.boxes.delete(s);
      }
    }
    for (const [s, at] of this.closedSessions) if (at < cutoff) this.closedSessions.delete(s);
  }
}
