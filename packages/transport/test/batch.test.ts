/** turnBatcher: what the callbacks of one event-loop turn push leaves together, at the end of the turn; `max` splits. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { turnBatcher } from "../src/index.ts";

const turnEnd = () => new Promise((r) => setImmediate(r));

test("the items of every callback of one turn share a batch, sent at its end", async () => {
  const sent: number[][] = [];
  const push = turnBatcher<number>((items) => sent.push(items));
  setTimeout(() => push(1), 0);
  setTimeout(() => push(2), 0); // same timers phase, another callback
  await new Promise((r) => setTimeout(r, 5));
  await turnEnd();
  assert.deepEqual(sent, [[1, 2]]);
});

test("max: a batch leaves as soon as max items wait; the rest follow at the end of the turn", async () => {
  const sent: number[][] = [];
  const push = turnBatcher<number>((items) => sent.push(items), 2);
  for (let i = 1; i <= 5; i++) push(i);
  assert.deepEqual(sent, [[1, 2], [3, 4]]);
  await turnEnd();
  assert.deepEqual(sent, [[1, 2], [3, 4], [5]]);
});
