/**
 * A TCP relay that delays every byte by a one-way latency (plus jitter), both ways, for the WAN
 * benchmark (`privface bench verify --wan`): the link between P0 and P1 and between the caller and
 * each party run through one. TLS passes through untouched (the relay sees only ciphertext).
 *
 * Why in user space: the kernel of this project's machines has no `sch_netem` (`tc qdisc add … netem`
 * answers "Specified qdisc kind is unknown"), so `tc netem` cannot shape a veth pair here. What this
 * models and what it does not: a fixed one-way delay with uniform jitter, in order (a chunk is never
 * delivered before the one sent before it, as TCP would); loss as TCP shows it to the application —
 * a lost segment is retransmitted after the retransmission timeout, so a chunk is late by `rtoMs`
 * (Linux's minimum, 200 ms) with probability `loss`, and the chunks behind it wait for it. Not modelled:
 * bandwidth, congestion windows, packet boundaries below the chunks Node reads.
 *
 * Faults (issue 16, `npm run test:wan`): a shape may also flip a byte of a chunk (`corrupt`), write a
 * chunk twice (`duplicate`) or swap it with the next one (`reorder`; sent alone if no next one comes
 * within twice the delay), each with a probability. Below
 * TCP these never reach the application — TCP's checksum drops a corrupted segment, its sequence
 * numbers drop a duplicate and put reordered segments back in order, so all three look like loss
 * (late data) to the servers. Applied to the byte stream above TCP, as here, they are what a faulty
 * or hostile middlebox does; TLS must detect every one (a bad record MAC) and the connection dies.
 * `cut()` destroys every open connection (a reset link), `setShape()` changes the shape of the
 * connections that follow and of those open.
 */
import { createServer, connect, type AddressInfo, type Socket } from "node:net";

export interface LinkShape {
  /** one-way delay, ms */
  delayMs: number;
  /** uniform extra delay in [0, jitterMs), ms */
  jitterMs?: number;
  /** probability that a chunk is late by `rtoMs` (a retransmitted segment), in [0, 1) */
  loss?: number;
  rtoMs?: number;
  /** probability that a chunk has one byte flipped on the way, in [0, 1) */
  corrupt?: number;
  /** probability that a chunk is written twice, in [0, 1) */
  duplicate?: number;
  /** probability that a chunk is held back and written after the next one, in [0, 1) */
  reorder?: number;
  /** uniform [0, 1) (tests) */
  random?: () => number;
}

export interface DelayRelay {
  port: number;
  /** destroys every open connection (both sides see a reset) */
  cut(): void;
  /** the shape from now on, for open connections too */
  setShape(shape: LinkShape): void;
  close(): Promise<void>;
}

export interface RelayAddress {
  /** where to listen (default 127.0.0.1) and on which port (default a free one) */
  listenHost?: string;
  port?: number;
  /** where to relay to (default 127.0.0.1) */
  targetHost?: string;
}

function checkShape(s: LinkShape): void {
  const ok = (v: number | undefined, max: number) => v === undefined || (Number.isFinite(v) && v >= 0 && v < max);
  const p = [s.loss, s.corrupt, s.duplicate, s.reorder];
  if (!ok(s.delayMs, 60_000) || !ok(s.jitterMs, 60_000) || !ok(s.rtoMs, 60_000) || !p.every((v) => ok(v, 1))) {
    throw new RangeError("link shape: delay, jitter and rto in ms (0 … 60 s), loss, corrupt, duplicate and reorder in [0, 1)");
  }
}

/** Forwards `src` → `dst` with the shape's delay (and faults), in order: one queue and one timer per direction. */
function delayed(src: Socket, dst: Socket, shape: () => LinkShape): void {
  const queue: { due: number; chunk: Buffer | null }[] = []; // chunk null: the end of the stream
  let last = 0;
  let timer: NodeJS.Timeout | null = null;
  const pump = (): void => {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && queue[0].due <= now) {
      const { chunk } = queue.shift()!;
      if (dst.destroyed) continue;
      if (chunk) dst.write(chunk);
      else dst.end();
    }
    if (queue.length > 0) timer = setTimeout(pump, Math.max(0, queue[0].due - now));
  };
  const push = (chunk: Buffer | null, due: number): void => {
    last = Math.max(due, last); // never overtake an earlier chunk
    queue.push({ due: last, chunk });
    timer ??= setTimeout(pump, Math.max(0, queue[0].due - performance.now()));
  };
  let held: Buffer | null = null; // a chunk reordered behind the next one
  src.on("data", (chunk: Buffer) => {
    const s = shape();
    const random = s.random ?? Math.random;
    let due = performance.now() + s.delayMs + (s.jitterMs ?? 0) * random();
    if (s.loss && random() < s.loss) due += s.rtoMs ?? 200;
    if (s.corrupt && random() < s.corrupt) {
      chunk = Buffer.from(chunk);
      chunk[Math.floor(random() * chunk.length)] ^= 0xff;
    }
    if (!held && s.reorder && random() < s.reorder) {
      // held behind the next chunk; sent on its own if none follows within another delay (a request's last chunk)
      const mine = (held = chunk);
      setTimeout(() => {
        if (held !== mine) return;
        held = null;
        push(mine, performance.now());
      }, s.delayMs * 2 + 1);
      return;
    }
    push(chunk, due);
    if (s.duplicate && random() < s.duplicate) push(chunk, due);
    if (held) push(held, due);
    held = null;
  });
  src.on("end", () => {
    if (held) push(held, performance.now());
    push(null, performance.now());
  });
}

/** Listens on 127.0.0.1 (a free port, or `at`) and relays each connection to `127.0.0.1:target` (or `at.targetHost`) through the shape. */
export async function startDelayRelay(target: number, shape: LinkShape, at: RelayAddress = {}): Promise<DelayRelay> {
  checkShape(shape);
  let current = shape;
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(target, at.targetHost ?? "127.0.0.1");
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("error", () => {
        inbound.destroy();
        outbound.destroy();
      });
      s.on("close", () => sockets.delete(s));
    }
    delayed(inbound, outbound, () => current);
    delayed(outbound, inbound, () => current);
  });
  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(at.port ?? 0, at.listenHost ?? "127.0.0.1", () => res());
  });
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      for (const s of sockets) s.destroy();
    },
    setShape(next) {
      checkShape(next);
      current = next;
    },
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}
