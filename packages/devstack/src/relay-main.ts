/**
 * A process of delay relays (delay-relay.ts), for `npm run test:wan` (netns.ts): started inside a
 * network namespace with `ip netns exec`, it relays each route's listening address to its target
 * through the route's link shape. A Node process cannot enter a namespace itself, hence a process.
 *
 * argv[2]: JSON `{ name: { listenHost, port, targetHost, targetPort, shape } }`. Prints
 * `{"ready":"relay"}` on stdout once every route listens. Reads commands on stdin, one JSON a line,
 * and answers each with `{"ok":n}` (n: its line number, from 1) or `{"error":…}`:
 * `{"cut":"route"}` resets the route's open connections; `{"shape":"route","to":{…LinkShape}}`
 * changes its shape.
 */
import { createInterface } from "node:readline";
import { startDelayRelay, type DelayRelay, type LinkShape } from "./delay-relay.ts";

export interface RelayRoute {
  listenHost: string;
  port: number;
  targetHost: string;
  targetPort: number;
  shape: LinkShape;
}

const routes = JSON.parse(process.argv[2]) as Record<string, RelayRoute>;
const relays = new Map<string, DelayRelay>();
for (const [name, r] of Object.entries(routes)) {
  relays.set(name, await startDelayRelay(r.targetPort, r.shape, { listenHost: r.listenHost, port: r.port, targetHost: r.targetHost }));
}
process.stdout.write(`${JSON.stringify({ ready: "relay" })}\n`);

let n = 0;
createInterface({ input: process.stdin }).on("line", (line) => {
  n++;
  try {
    const c = JSON.parse(line) as { cut?: string; shape?: string; to?: LinkShape };
    const relay = relays.get(c.cut ?? c.shape ?? "");
    if (!relay) throw new Error(`unknown route in ${line}`);
    if (c.cut) relay.cut();
    else relay.setShape(c.to!);
    process.stdout.write(`${JSON.stringify({ ok: n })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ error: (e as Error).message, line: n })}\n`);
  }
});
// the test that started this process is gone: so is every route
process.stdin.on("end", () => process.exit(0));
