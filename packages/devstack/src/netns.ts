/**
 * The whole stack over a network (issue 16, `npm run test:wan`): the helper, P0, P1 and the gateway
 * each in a network namespace of its own, joined by veth pairs (iproute2; needs root), with a
 * user-space delay relay (delay-relay.ts, relay-main.ts) inside each namespace on every link it
 * dials: the kernels of this project's machines have no `sch_netem`, so `tc netem` cannot shape the
 * veths and the relays add the delay, jitter, "loss" and stream faults (see delay-relay.ts for what
 * that does and does not model).
 *
 * Every server still dials `https://127.0.0.1:<port of the other>` (its certificates name 127.0.0.1);
 * in its namespace that port is a relay that forwards over the veth to the other namespace, where the
 * server listens on 0.0.0.0. Links, one /30 each (addresses inside the namespaces, so parallel runs
 * cannot collide):
 *
 *   P0 ↔ P1 10.16.1.0/30 · gateway ↔ P0 10.16.2.0/30 · gateway ↔ P1 10.16.3.0/30 ·
 *   helper ↔ P0 10.16.4.0/30 · helper ↔ P1 10.16.5.0/30 · this process ↔ gateway 10.250.x.y/30
 *
 * The test process (root namespace) reaches the gateway, and through the gateway's namespace the
 * parties (health, pools), by relays of its own without delay. Names carry this process's id and a
 * random tag (`pfw-<pid>-<tag>-<server>`); they are removed on `close()`, at this process's exit, and
 * — a run killed before it could — by the next run, which deletes every `pfw-<pid>-…` namespace whose
 * process is gone.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startDelayRelay, type DelayRelay, type LinkShape } from "./delay-relay.ts";
import type { RelayRoute } from "./relay-main.ts";
import { freePorts, startStack, type ServerName, type Stack, type StackOptions } from "./stack.ts";

export type LinkName = "p0-p1" | "gateway-p0" | "gateway-p1" | "helper-p0" | "helper-p1";

/** the links between namespaces: subnet, and the server at .1 and at .2 */
const LINKS: Record<LinkName, { net: string; a: ServerName; b: ServerName }> = {
  "p0-p1": { net: "10.16.1", a: "p0", b: "p1" },
  "gateway-p0": { net: "10.16.2", a: "gateway", b: "p0" },
  "gateway-p1": { net: "10.16.3", a: "gateway", b: "p1" },
  "helper-p0": { net: "10.16.4", a: "helper", b: "p0" },
  "helper-p1": { net: "10.16.5", a: "helper", b: "p1" },
};
const SERVERS: ServerName[] = ["helper", "p0", "p1", "gateway"];

/** who dials whom (`https://127.0.0.1:<port>` in stackEnv), over which link */
const DIALS: { from: ServerName; to: ServerName; link: LinkName }[] = [
  { from: "gateway", to: "p0", link: "gateway-p0" },
  { from: "gateway", to: "p1", link: "gateway-p1" },
  { from: "p0", to: "p1", link: "p0-p1" },
  { from: "p1", to: "p0", link: "p0-p1" },
  { from: "p0", to: "helper", link: "helper-p0" },
  { from: "p1", to: "helper", link: "helper-p1" },
  { from: "helper", to: "p1", link: "helper-p1" },
];

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Why network namespaces cannot be used here (no iproute2, not root), or null when they can. */
export function netnsUnavailable(): string | null {
  const name = `pfw-${process.pid}-probe`;
  try {
    ip("netns", "add", name);
    ip("netns", "del", name);
    return null;
  } catch (e) {
    return `ip netns is unavailable (${((e as { stderr?: string }).stderr || (e as Error).message).trim()}); needs iproute2 and root`;
  }
}

/** Deletes the namespaces of runs whose process is gone (a run killed before it could clean up). */
function sweepStale(): void {
  for (const line of ip("netns", "list").split("\n")) {
    const m = /^(pfw-(\d+)-\S+)/.exec(line);
    if (!m) continue;
    try {
      process.kill(Number(m[2]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") ip("netns", "del", m[1]);
    }
  }
}

export interface NetnsStackOptions extends Omit<StackOptions, "ports" | "prefix" | "gateway"> {
  /** the shape of every link between namespaces (each way) */
  shape: LinkShape;
}

export interface NetnsStack {
  stack: Stack;
  /** namespace by server */
  ns: Record<ServerName, string>;
  /** `ip link set … down` / `up` on the link's veth (both ends) */
  linkDown(link: LinkName): void;
  linkUp(link: LinkName): void;
  /** resets the open connections the relay in `from`'s namespace holds towards `to` */
  cut(from: ServerName, to: ServerName): Promise<void>;
  /** the shape of `from`'s relay towards `to` (every relay when omitted) */
  reshape(shape: LinkShape, from?: ServerName, to?: ServerName): Promise<void>;
  close(): Promise<void>;
}

interface RelayProcess {
  proc: ChildProcess;
  send(cmd: object): Promise<void>;
}

/** Starts relay-main.ts in `ns` with `routes`; resolves once they listen. */
function startRelayProcess(ns: string, routes: Record<string, RelayRoute>): Promise<RelayProcess> {
  const main = fileURLToPath(new URL("./relay-main.ts", import.meta.url));
  const proc = spawn("ip", ["netns", "exec", ns, process.execPath, "--import", fileURLToPath(import.meta.resolve("tsx")), main, JSON.stringify(routes)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-2000)));
  const waiting: { res: () => void; rej: (e: Error) => void }[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL"); // not yet in the stack's list of relays: nothing else would stop it
      reject(new Error(`relay in ${ns}: not ready in 60 s: ${stderr}`));
    }, 60_000);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`relay in ${ns} exited (${code}): ${stderr}`));
      for (const w of waiting.splice(0)) w.rej(new Error(`relay in ${ns} exited`));
    });
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      const m = JSON.parse(line) as { ready?: string; ok?: number; error?: string };
      if (m.ready) {
        clearTimeout(timer);
        resolve({
          proc,
          send: (cmd) =>
            new Promise<void>((res, rej) => {
              waiting.push({ res, rej });
              proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
            }),
        });
      } else {
        const w = waiting.shift();
        if (m.error) w?.rej(new Error(m.error));
        else w?.res();
      }
    });
  });
}

export async function startNetnsStack(o: NetnsStackOptions): Promise<NetnsStack> {
  sweepStale();
  const tag = randomBytes(2).toString("hex");
  const ns = Object.fromEntries(SERVERS.map((s) => [s, `pfw-${process.pid}-${tag}-${s}`])) as Record<ServerName, string>;
  const hostDev = `pfw${tag}${process.pid.toString(36)}`;
  const relays: RelayProcess[] = [];
  const local: DelayRelay[] = [];
  let stack: Stack | undefined;
  let removed = false;
  const removeNamespaces = () => {
    if (removed) return;
    removed = true;
    for (const r of relays) r.proc.kill("SIGKILL");
    for (const n of Object.values(ns)) {
      try {
        ip("netns", "del", n);
      } catch {
        // not created
      }
    }
  };
  process.once("exit", removeNamespaces);
  const close = async () => {
    await stack?.stop();
    for (const r of local.splice(0)) await r.close();
    removeNamespaces();
    process.off("exit", removeNamespaces);
  };
  try {
    for (const n of Object.values(ns)) {
      ip("netns", "add", n);
      ip("-n", n, "link", "set", "lo", "up");
    }
    const addr: Partial<Record<ServerName, Partial<Record<ServerName, string>>>> = {}; // addr[a][b]: b's address on the link from a
    for (const { net, a, b } of Object.values(LINKS)) {
      // each end is named after the server at the other end
      ip("link", "add", "name", b, "netns", ns[a], "type", "veth", "peer", "name", a, "netns", ns[b]);
      ip("-n", ns[a], "addr", "add", `${net}.1/30`, "dev", b);
      ip("-n", ns[b], "addr", "add", `${net}.2/30`, "dev", a);
      ip("-n", ns[a], "link", "set", b, "up");
      ip("-n", ns[b], "link", "set", a, "up");
      (addr[a] ??= {})[b] = `${net}.2`;
      (addr[b] ??= {})[a] = `${net}.1`;
    }
    // this process ↔ the gateway's namespace: a /30 no address of this machine is in
    const used = ip("-4", "-o", "addr", "show");
    let net: string;
    do net = `10.250.${randomInt(256)}.${randomInt(64) * 4}`;
    while (used.includes(net.split(".").slice(0, 3).join(".") + "."));
    const [x, y, z, w] = net.split(".");
    const hostIp = `${x}.${y}.${z}.${Number(w) + 1}`;
    const gwIp = `${x}.${y}.${z}.${Number(w) + 2}`;
    ip("link", "add", "name", hostDev, "type", "veth", "peer", "name", "host", "netns", ns.gateway);
    ip("addr", "add", `${hostIp}/30`, "dev", hostDev);
    ip("-n", ns.gateway, "addr", "add", `${gwIp}/30`, "dev", "host");
    ip("link", "set", hostDev, "up");
    ip("-n", ns.gateway, "link", "set", "host", "up");

    const [helper, p0, p1, gateway] = await freePorts(4);
    const ports = { helper, p0, p1, gateway };
    const routes: Partial<Record<ServerName, Record<string, RelayRoute>>> = {};
    for (const d of DIALS) {
      // the gateway's relays listen on every address: this process reaches the parties through them
      (routes[d.from] ??= {})[d.to] = {
        listenHost: d.from === "gateway" ? "0.0.0.0" : "127.0.0.1",
        port: ports[d.to],
        targetHost: addr[d.from]![d.to]!,
        targetPort: ports[d.to],
        shape: o.shape,
      };
    }
    const byServer = new Map<ServerName, RelayProcess>();
    for (const s of SERVERS) {
      const r = await startRelayProcess(ns[s], routes[s]!);
      relays.push(r);
      byServer.set(s, r);
    }
    for (const p of [gateway, p0, p1]) local.push(await startDelayRelay(p, { delayMs: 0 }, { port: p, targetHost: gwIp }));

    const env: Record<string, string> = { ...o.env };
    for (const s of ["HELPER", "P0", "P1", "GATEWAY"]) env[`PRIVFACE_${s}_HOST`] = "0.0.0.0";
    const prefix = Object.fromEntries(SERVERS.map((s) => [s, ["ip", "netns", "exec", ns[s]]]));
    stack = await startStack({ ...o, env, ports, prefix, gateway: "process", console: o.console ?? false });
    const dev = (link: LinkName): [string, string][] => {
      const { a, b } = LINKS[link];
      return [[ns[a], b], [ns[b], a]];
    };
    return {
      stack,
      ns,
      linkDown: (link) => dev(link).forEach(([n, d]) => ip("-n", n, "link", "set", d, "down")),
      linkUp: (link) => dev(link).forEach(([n, d]) => ip("-n", n, "link", "set", d, "up")),
      cut: (from, to) => byServer.get(from)!.send({ cut: to }),
      async reshape(shape, from, to) {
        for (const d of DIALS) {
          if ((from === undefined || d.from === from) && (to === undefined || d.to === to)) await byServer.get(d.from)!.send({ shape: d.to, to: shape });
        }
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
