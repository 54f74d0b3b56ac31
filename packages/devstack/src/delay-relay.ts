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
  /** uniform [0, 1) (tests) */
  random?: () => number;
}

export interface DelayRelay {
  port: number;
  close(): Promise<void>;
}

function checkShape(s: LinkShape): void {
  const ok = (v: number | undefined, max: number) => v === undefined || (Number.isFinite(v) && v >= 0 && v < max);
  if (!ok(s.delayMs, 60_000) || !ok(s.jitterMs, 60_000) || !ok(s.loss, 1) || !ok(s.rtoMs, 60_000)) throw new RangeError("link shape: delay, jitter and rto in ms (0 … 60 s), loss in [0, 1)");
}

/** Forwards `src` → `dst` with the shape's delay, in order: one queue and one timer per direction. */
function delayed(src: Socket, dst: Socket, s: LinkShape): void {
  const random = s.random ?? Math.random;
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
  src.on("data", (chunk: Buffer) => {
    let due = performance.now() + s.delayMs + (s.jitterMs ?? 0) * random();
    if (s.loss && random() < s.loss) due += s.rtoMs ?? 200;
    push(chunk, due);
  });
  src.on("end", () => push(null, performance.now()));
}

/** Listens on 127.0.0.1 (a free port) and relays each connection to `127.0.0.1:target` through the shape. */
export async function startDelayRelay(target: number, shape: LinkShape, port = 0): Promise<DelayRelay> {
  checkShape(shape);
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(target, "127.0.0.1");
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("error", () => {
        inbound.destroy();
        outbound.destroy();
      });
      s.on("close", () => sockets.delete(s));
    }
    delayed(inbound, outbound, shape);
    delayed(outbound, inbound, shape);
  });
  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(port, "127.0.0.1", () => res());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}
