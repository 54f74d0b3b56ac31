/**
 * `turnBatcher(send, max, at)`: items pushed together are handed to `send` as one batch — no timer,
 * no waiting beyond the current event-loop turn — or as soon as `max` are waiting. `at` says when a
 * batch closes:
 * - "task": when the current task ends — once the callback and every promise continuation it set
 *   off have run (a microtask schedules a process.nextTick, which Node runs only when the microtask
 *   queue is empty): what one incoming message or one group commit produced leaves at once, before
 *   the event loop polls for more input.
 * - "turn": at the end of the event-loop turn (setImmediate): items from every callback of the
 *   turn (e.g. requests read from many sockets) share one batch.
 * Per task: the link (frames → one WebSocket message) and the RPC server's answers (→ one JSON
 * array). Per turn: the RPC client's calls and the gateway's authorisation signer (payloads → one
 * signature), which gather the requests of many devices, each read in a callback of its own.
 */
export function turnBatcher<T>(send: (items: T[]) => void, max = Infinity, at: "task" | "turn" = "turn"): (item: T) => void {
  const schedule = at === "task" ? (f: () => void) => queueMicrotask(() => process.nextTick(f)) : setImmediate;
  let queue: T[] = [];
  const flush = (): void => {
    if (queue.length === 0) return; // already flushed at `max`
    const items = queue;
    queue = [];
    send(items);
  };
  return (item) => {
    queue.push(item);
    if (queue.length === 1) schedule(flush);
    if (queue.length >= max) flush();
  };
}
