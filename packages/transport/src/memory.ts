/**
 * In-memory transport: every endpoint of one network lives in the same process. Frames are
 * copied (as on a wire) and delivered on a later tick. `disconnect(role)` simulates a peer going
 * down (its links fail) until `reconnect(role)`.
 */
import { Mailbox } from "./_mailbox.ts";
import { checkOutFrame } from "./_frame.ts";
import { TransportError, type Frame, type OutFrame, type ReceiveOptions, type Transport } from "./_types.ts";
import type { ServerRole } from "@privface/contracts";

export interface MemoryNetwork {
  endpoint(role: ServerRole): Transport;
  disconnect(role: ServerRole): void;
  reconnect(role: ServerRole): void;
}

export function createMemoryNetwork(opts: { receiveTimeoutMs?: number } = {}): MemoryNetwork {
  const boxes = new Map<ServerRole, Mailbox>();
  const down = new Set<ServerRole>();
  const closed = new Set<ServerRole>();
  const endpoints = new Map<ServerRole, Transport>();

  function endpoint(role: ServerRole): Transport {
    const existing = endpoints.get(role);
    if (existing) return existing;
    const box = new Mailbox({ receiveTimeoutMs: opts.receiveTimeoutMs ?? 5_000 });
    boxes.set(role, box);
    const up = (r: ServerRole) => boxes.has(r) && !down.has(r) && !closed.has(r);
    const t: Transport = {
      role,
      async send(to: ServerRole, frame: OutFrame): Promise<void> {
        if (closed.has(role)) throw new TransportError("CLOSED", "transport closed");
        checkOutFrame(frame);
        if (!up(to) || down.has(role)) throw new TransportError("PEER_UNAVAILABLE", `no link from ${role} to ${to}`);
        const copy: Frame = { session: frame.session, step: frame.step, seq: frame.seq, from: role, payload: frame.payload.slice() };
        const target = boxes.get(to)!;
        setImmediate(() => {
          if (!down.has(role) && !down.has(to)) target.deliver(copy);
        });
      },
      receive(session: string, o: ReceiveOptions): Promise<Frame> {
        return box.receive(session, o);
      },
      closeSession(session: string): void {
        box.closeSession(session);
      },
      isUp(r: ServerRole): boolean {
        return up(r) && up(role);
      },
      async close(): Promise<void> {
        closed.add(role);
        box.close();
        for (const [r, b] of boxes) if (r !== role) b.failPeer(role, new TransportError("PEER_UNAVAILABLE", `${role} closed`));
      },
    };
    endpoints.set(role, t);
    return t;
  }

  return {
    endpoint,
    disconnect(role: ServerRole): void {
      down.add(role);
      for (const [r, b] of boxes) {
        if (r === role) for (const other of boxes.keys()) b.failPeer(other, new TransportError("PEER_UNAVAILABLE", `${role} disconnected`));
        else b.failPeer(role, new TransportError("PEER_UNAVAILABLE", `${role} disconnected`));
      }
    },
    reconnect(role: ServerRole): void {
      down.delete(role);
    },
  };
}
