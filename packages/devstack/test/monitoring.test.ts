/**
 * Monitoring: the alert rules pass their promtool unit tests (each alert fires on its failure and
 * stays quiet otherwise), and a real Prometheus (Debian's `prometheus` package) scrapes every server
 * of a running stack — the parties and the helper with the "monitor" client certificate, the gateway
 * with a "monitor" token — and loads the rules.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { readTlsKey } from "@privface/crypto/node";
import { ALERT_RULES, freePorts, prometheusConfig, startStack, type Stack } from "../src/index.ts";

const installed = (cmd: string) => spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;
const skip = installed("promtool") && installed("prometheus") ? false : "Prometheus is not installed (apt-get install prometheus; CI installs it)";

describe("monitoring", { skip, timeout: 300_000 }, () => {
  test("alert rules: promtool checks them and their unit tests pass", () => {
    const check = spawnSync("promtool", ["check", "rules", ALERT_RULES], { encoding: "utf8" });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const unit = spawnSync("promtool", ["test", "rules", "alerts.test.yml"], { cwd: dirname(ALERT_RULES), encoding: "utf8" });
    assert.equal(unit.status, 0, unit.stdout + unit.stderr);
    assert.match(unit.stdout, /SUCCESS/);
  });

  describe("a real Prometheus scraping a running stack", () => {
    let home: string;
    let stack: Stack;
    let prom: ChildProcess;
    let api: string;
    before(async () => {
      home = mkdtempSync(join(tmpdir(), "privface-monitoring-"));
      const env: Record<string, string> = {};
      for (const p of ["P0", "P1"]) Object.assign(env, { [`PRIVFACE_${p}_POOL_TARGET`]: "40", [`PRIVFACE_${p}_POOL_LOW`]: "10", [`PRIVFACE_${p}_POOL_BATCH`]: "20" });
      stack = await startStack({ home, gateway: "in-process", env, readyTimeoutMs: 120_000 });
      const monitor = stack.operators.find((o) => o.role === "monitor");
      assert.ok(monitor?.token, "the dev operators file holds a monitor token");
      const tokenFile = join(home, "monitor.token");
      writeFileSync(tokenFile, monitor.token, { mode: 0o600 });
      const config = join(home, "prometheus.yml");
      // Prometheus cannot read an encrypted key: it gets a decrypted copy outside the home (mode 0600)
      const monitorKeyFile = join(`${home}-prometheus`, "monitor-client.key");
      mkdirSync(dirname(monitorKeyFile), { mode: 0o700 });
      writeFileSync(monitorKeyFile, readTlsKey(join(home, "pki", "monitor-client.key")), { mode: 0o600 });
      writeFileSync(config, prometheusConfig({ home, ports: stack.ports, gatewayTokenFile: tokenFile, monitorKeyFile, scrapeIntervalS: 1 }));
      const [port] = await freePorts(1);
      api = `http://127.0.0.1:${port}/api/v1`;
      prom = spawn("prometheus", [`--config.file=${config}`, `--storage.tsdb.path=${join(home, "tsdb")}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: "ignore" });
    });
    after(async () => {
      prom?.kill("SIGTERM");
      await stack?.stop();
      if (home) for (const d of [home, `${home}-prometheus`]) rmSync(d, { recursive: true, force: true });
    });

    const get = async (path: string): Promise<any> => {
      const r = await fetch(api + path);
      assert.equal(r.status, 200, path);
      return ((await r.json()) as { data: unknown }).data;
    };
    const eventually = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> => {
      const end = Date.now() + ms;
      let last: unknown;
      for (;;) {
        try {
          const v = await probe();
          if (v !== undefined) return v;
          last = "not yet";
        } catch (e) {
          last = e;
        }
        if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms (${String(last ?? "")})`);
        await new Promise((r) => setTimeout(r, 500));
      }
    };

    test("every server's target is up, the parties report their links, the rules are loaded", async () => {
      const targets = await eventually("all four targets up", async () => {
        const t = (await get("/targets")).activeTargets as { labels: { job: string }; health: string; lastError: string }[];
        if (t.length === 4 && t.every((x) => x.health === "up")) return t;
        throw new Error(t.map((x) => `${x.labels.job} ${x.health} ${x.lastError}`).join("; "));
      });
      assert.deepEqual(targets.map((t) => t.labels.job).sort(), ["privface-gateway", "privface-helper", "privface-p0", "privface-p1"]);
      const links = await eventually("both parties' peer link up", async () => {
        const r = (await get(`/query?query=${encodeURIComponent('privface_party_link_up{link="peer"}')}`)).result as { metric: { party: string }; value: [number, string] }[];
        return r.length === 2 ? r : undefined;
      });
      assert.deepEqual(links.map((x) => [x.metric.party, x.value[1]]).sort(), [["P0", "1"], ["P1", "1"]]);
      // every server checks its own audit chain at each scrape (alert PrivfaceAuditChainBroken)
      const chains = await eventually("four audit chain checks", async () => {
        const r = (await get(`/query?query=${encodeURIComponent('{__name__=~"privface_(party|gateway|helper)_audit_chain_ok"}')}`)).result as { metric: { job: string }; value: [number, string] }[];
        return r.length === 4 ? r : undefined;
      });
      assert.deepEqual(chains.map((x) => [x.metric.job, x.value[1]]).sort(), [["privface-gateway", "1"], ["privface-helper", "1"], ["privface-p0", "1"], ["privface-p1", "1"]]);
      const rules = (await get("/rules")).groups as { name: string; rules: { name: string; health: string }[] }[];
      const names = rules.flatMap((g) => g.rules.map((r) => r.name));
      assert.ok(names.includes("PrivfacePeerLinkDown") && names.includes("PrivfaceHelperSpotCheckFailed"), names.join(","));
      for (const r of rules.flatMap((g) => g.rules)) assert.notEqual(r.health, "err", r.name);
      const firing = ((await get("/alerts")).alerts as { labels: { alertname: string }; state: string }[]).filter((a) => a.state === "firing");
      assert.deepEqual(firing.map((a) => a.labels.alertname), [], "a healthy stack fires no alert");
    });

    test("the operator console: the stack's gateway serves it; its audit view reads the real parties' metrics", async () => {
      const app = stack.gateway!.app;
      const page = await app.inject({ method: "GET", url: "/console/" });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /src="console\.js"/);
      assert.equal((await app.inject({ method: "GET", url: "/console/console.js" })).statusCode, 200);
      const auditor = stack.operators.find((o) => o.role === "auditor")!;
      const s = await app.inject({ method: "POST", url: "/v1/console/sessions", payload: { operatorId: auditor.id, token: auditor.token } });
      assert.equal(s.statusCode, 201, s.body);
      const headers = { cookie: String(s.headers["set-cookie"]).split(";")[0], "x-privface-csrf": JSON.parse(s.body).csrfToken };
      const audit = JSON.parse((await app.inject({ method: "GET", url: "/v1/admin/audit", headers })).body);
      assert.equal(audit.gateway.ok, true);
      for (const p of ["P0", "P1"]) {
        const v = audit.parties[p];
        assert.deepEqual([v.reachable, v.auditChainOk, v.linkUp, typeof v.poolLevel, typeof v.auditRecords], [true, true, true, "number", "number"], `${p}: ${JSON.stringify(v)}`);
      }
    });
  });
});
