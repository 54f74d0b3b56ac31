/** turnBatcher: what one task pushes leaves together ("task"), or what one event-loop turn pushes ("turn"); `max` splits. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { turnBatcher } from "../src/index.ts";

const turnEnd = () => new Promise((r) => setImmediate(r));

test('"task": the items of one task and its promise continuations leave together, before the next callback of the turn', async () => {
  const sent: number[][] = [];
  const push = turnBatcher<number>((items) => sent.push(items), Infinity, "task");
  await new Promise<void>((done) =>
    setImmediate(() => {
      push(1);
      void Promise.resolve().then(() => push(2)).then(() => push(3)); // continuations of this task
      setImmediate(() => {
        // a later callback: the first batch is already out
        assert.deepEqual(sent, [[1, 2, 3]]);
        push(4);
        done();
      });
    }),
  );
  await turnEnd();
  assert.deepEqual(sent, [[1, 2, 3], [4]]);
});

test('"turn": the items of every callback of one turn share a batch, sent at its end', async () => {
  const sent: number[][] = [];
  const push = turnBatcher<number>((items) => sent.push(items));
  setTimeout(() => push(1), 0);
  setTimeout(() => push(2), 0); // same timers phase, another callback
  await new Promise((r) => setTimeout(r, 5));
  await turnEnd();
  assert.deepEqual(sent, [[1, 2]]);
});

test("max: a batch leaves as soon as max items wait; the rest follow at the end of the task or turn", async () => {
  for (const at of ["task", "turn"] as const) {
    const sent: number[][] = [];
    const push = turnBatcher<number>((items) => sent.push(items), 2, at);
    for (let i = 1; i <= 5; i++) push(i);
    assert.deepEqual(sent, [[1, 2], [3, 4]], at);
    await turnEnd();
    assert.deepEqual(sent, [[1, 2], [3, 4], [5]], at);
  }
});
