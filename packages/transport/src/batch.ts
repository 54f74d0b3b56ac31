/**
 * `turnBatcher(send, max)`: items pushed during one event-loop turn are handed to `send` together, at
 * the end of that turn (setImmediate: no timer, no waiting beyond the turn), or as soon as `max` are
 * waiting. The link (frames → one WebSocket message), the RPC (calls / answers → one JSON array) and
 * the gateway's authorisation signer (payloads → one signature) batch this way.
 */
export function turnBatcher<T>(send: (items: T[]) => void, max = Infinity): (item: T) => void {
  let queue: T[] = [];
  const flush = (): void => {
    if (queue.length === 0) return; // already flushed at `max`
    const items = queue;
    queue = [];
    send(items);
  };
  return (item) => {
    queue.push(item);
    if (queue.length === 1) setImmediate(flush);
    if (queue.length >= max) flush();
  };
}
