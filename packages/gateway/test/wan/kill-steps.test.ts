/**
 * Process kills at every named step of enrol, verify, upgrade and delete (issue 16), for P0, P1, the
 * helper and the gateway: the whole stack as processes on loopback (SQLite), every server started
 * with `PRIVFACE_KILL_AT_FILE`; per case one server is armed by writing `<its pid> <step>` to the file
 * (@privface/config `killAt`: it SIGKILLs itself when it reaches the step), a device request is driven
 * into the step, the server is restarted, and then, once the parties' recovery passes and the
 * gateway's re-check job have run:
 *
 * - the answer the device got (if any) was the right decision or a typed refusal, never a wrong
 *   acceptance;
 * - the parties hold exactly the templates the gateway counts as enrolled, each active at both with
 *   the gateway's model version: none at one party only, none the gateway does not know (an
 *   enrolment committed at both parties by a gateway that died before recording it is deleted by the
 *   re-check job: its intent is written ahead);
 * - a deregistration the device retried until it was answered is done at both parties (no deletion
 *   is lost);
 * - no pool item (correlated randomness) was used twice: each party's verifications used distinct
 *   items, and an item used at both parties was used by the same session at both.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runtimeLayout } from "@privface/config";
import { MODEL } from "@privface/contracts";
import { closeDb, openDb } from "@privface/db";
import { runtimeTrust, scenarioWorld, startStack, type GatewayClient, type Observed, type ScenarioPerson, type ScenarioWorld, type ServerName, type Stack } from "@privface/devstack";

const NEXT = `${MODEL.version}-next`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A refusal with one of the gateway's error codes (not a bare HTTP status, not INTERNAL: a bug). */
const typed = (o: Observed) => o.decision === "refused" && /^[A-Z][A-Z_]+$/.test(o.reason) && !o.reason.startsWith("HTTP_") && o.reason !== "INTERNAL";

async function waitFor<T>(what: string, f: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < ms) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(300);
  }
  throw new Error(`not within ${ms} ms: ${what}${last ? ` (${(last as Error).message})` : ""}`);
}

type Op = "enrol" | "verify" | "upgrade" | "delete" | "refill";
interface Case {
  op: Op;
  server: ServerName;
  step: string;
}

const PARTY_STEPS: Record<Exclude<Op, "refill">, string[]> = {
  enrol: ["party:enrol:material", "party:enrol:round1", "party:enrol:round2", "party:enrol:computed", "party:enrol:prepared", "party:commit:checked", "party:commit:stored"],
  // round k: the party sent its round-k message and waits for the peer's (session.ts; the previous verification's failure-budget run rides in rounds 1–3)
  verify: ["party:verify:begun", "party:verify:round1", "party:verify:round2", "party:verify:computed", "party:verify:answering"],
  upgrade: ["party:upgrade:staged", "party:upgrade:checked", "party:upgrade:stored"],
  delete: ["party:delete:authorised", "party:delete:erased"],
};
const GATEWAY_STEPS: Record<Exclude<Op, "refill">, string[]> = {
  enrol: ["gateway:enrol:validated", "gateway:enrol:committed"],
  verify: ["gateway:verify:computed"],
  upgrade: ["gateway:upgrade:promoted"],
  delete: ["gateway:deregister:proof-used", "gateway:deregister:deleted"],
};
const CASES: Case[] = [];
for (const op of ["enrol", "verify", "delete", "upgrade"] as const) {
  for (const step of PARTY_STEPS[op]) for (const server of ["p0", "p1"] as const) CASES.push({ op, server, step });
  for (const step of GATEWAY_STEPS[op]) CASES.push({ op, server: "gateway", step });
}
CASES.splice(CASES.findIndex((c) => c.op === "upgrade"), 0, { op: "refill", server: "helper", step: "helper:deal:delivered" });

describe("a server killed at each step of enrol, verify, upgrade and delete", { timeout: 900_000 }, () => {
  let home: string;
  let killFile: string;
  let stack: Stack;
  let c: GatewayClient;
  let op: GatewayClient;
  let w: ScenarioWorld;
  let model = MODEL.version;
  /** persons enrolled under the first model, for the upgrade cases */
  const upgradable: ScenarioPerson[] = [];
  /** the gateway's model version as an environment, once it moved on */
  const gatewayEnv = (): Record<string, string> => (model === MODEL.version ? {} : { PRIVFACE_GATEWAY_MODEL_VERSION: model });

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "privface-kill-steps-"));
    killFile = join(home, "kill-at");
    const env: Record<string, string> = {
      PRIVFACE_KILL_AT_FILE: killFile,
      PRIVFACE_GATEWAY_PARTY_TIMEOUT_MS: "4000",
      PRIVFACE_GATEWAY_RECHECK_INTERVAL_S: "1",
      PRIVFACE_GATEWAY_LIMIT_PERSON_PER_MIN: "100000",
      PRIVFACE_GATEWAY_LIMIT_DEVICE_PER_MIN: "100000",
    };
    for (const p of ["P0", "P1"]) {
      Object.assign(env, {
        [`PRIVFACE_${p}_POOL_TARGET`]: "40",
        [`PRIVFACE_${p}_POOL_LOW`]: "30",
        [`PRIVFACE_${p}_POOL_BATCH`]: "10",
        [`PRIVFACE_${p}_MPC_TIMEOUT_MS`]: "3000",
        [`PRIVFACE_${p}_COMMIT_WINDOW_S`]: "2",
        [`PRIVFACE_${p}_RECOVERY_INTERVAL_S`]: "1",
        [`PRIVFACE_${p}_VERIFY_PER_MIN`]: "100000",
      });
    }
    stack = await startStack({ home, gateway: "process", console: false, env, readyTimeoutMs: 120_000 });
    c = stack.client("admin");
    op = stack.client("operator");
    w = await scenarioWorld({
      call: (method, path, body) => c.call(method, path, body),
      admin: (method, path, body) => c.admin(method, path, body),
      approver: (method, path, body) => op.admin(method, path, body),
      operator: (path, reason) => op.admin("GET", path, undefined, reason),
      modelVersion: () => model,
      deployModel: () => {
        throw new Error("not here");
      },
      roots: runtimeTrust(stack.home).roots,
    });
  });

  after(async () => {
    await stack?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  async function enrolled(): Promise<ScenarioPerson> {
    const p = await w.person();
    assert.equal((await p.step({ do: "consent" })).reason, "CONSENT_GIVEN");
    assert.equal((await p.step({ do: "enrol", face: "genuine" })).reason, "ENROLLED");
    return p;
  }

  /** One step; a request whose gateway died answers `undefined`. */
  const attempt = (p: ScenarioPerson, a: Parameters<ScenarioPerson["step"]>[0]) => p.step(a).catch(() => undefined);

  /** The answer was the expected one, or a typed refusal, or none (the gateway died); never a wrong acceptance. */
  function judge(r: Observed | undefined, ...want: string[]): void {
    if (!r) return;
    if (want.includes(r.reason)) return;
    assert.notEqual(r.decision, "accept", `accepted with ${r.reason} where ${want} was due`);
    assert.ok(typed(r), `neither ${want} nor a typed refusal: ${r.status} ${JSON.stringify(r.body)}`);
  }

  async function healthy(): Promise<void> {
    await waitFor("the stack is healthy", async () => (await c.call("GET", "/v1/health")).body.status === "ok");
    await stack.waitPool(1, 60_000);
  }

  /** Every party's active templates (id → model version) and the items it used (id → session). */
  async function partyState() {
    const L = runtimeLayout(home);
    const out = {} as Record<"p0" | "p1", { active: Map<string, string>; items: Map<string, string>; verifyItems: string[] }>;
    for (const p of ["p0", "p1"] as const) {
      const db = await openDb(`sqlite:${L.sqlite(p)}`);
      try {
        const t = (await db.kysely.selectFrom("party_templates").select(["template_id", "model_version"]).where("status", "=", "active").execute()) as { template_id: string; model_version: string }[];
        const u = (await db.kysely.selectFrom("party_pool").select(["id", "session"]).where("used_at", "is not", null).execute()) as { id: string; session: string | null }[];
        const v = (await db.kysely.selectFrom("party_verifications").select(["item_id"]).execute()) as { item_id: string }[];
        out[p] = { active: new Map(t.map((r) => [r.template_id, r.model_version])), items: new Map(u.map((r) => [r.id, r.session ?? ""])), verifyItems: v.map((r) => r.item_id) };
      } finally {
        await closeDb(db);
      }
    }
    return out;
  }

  /** The gateway's templates (id → model version), or the one of `personId`. */
  async function gatewayTemplates(personId?: string): Promise<Map<string, string>> {
    const db = await openDb(`sqlite:${runtimeLayout(home).sqlite("gateway")}`);
    try {
      let q = db.kysely.selectFrom("persons").select(["template_id", "model_version"]).where("template_id", "is not", null);
      if (personId) q = q.where("id", "=", personId);
      const rows = (await q.execute()) as { template_id: string; model_version: string }[];
      return new Map(rows.map((r) => [r.template_id, r.model_version]));
    } finally {
      await closeDb(db);
    }
  }

  /**
   * After recovery: the parties hold exactly the templates the gateway counts as enrolled, each at
   * both with the gateway's model version (none at one party only, none the gateway does not know);
   * no pool item used twice.
   */
  async function invariants(): Promise<void> {
    let last = "";
    const s = await waitFor("the parties hold exactly the gateway's templates", async () => {
      const s = await partyState();
      const gw = await gatewayTemplates();
      const ids = [...new Set([...s.p0.active.keys(), ...s.p1.active.keys(), ...gw.keys()])];
      const off = ids.filter((t) => !(s.p0.active.get(t) === gw.get(t) && s.p1.active.get(t) === gw.get(t)));
      last = off.map((t) => `${t}: gateway ${gw.get(t)}, P0 ${s.p0.active.get(t)}, P1 ${s.p1.active.get(t)}`).join("; ");
      return off.length === 0 ? s : false;
    }).catch((e: Error) => {
      throw new Error(`${e.message}: ${last}`);
    });
    for (const p of ["p0", "p1"] as const) assert.equal(new Set(s[p].verifyItems).size, s[p].verifyItems.length, `${p} used a pool item for two verifications`);
    for (const [id, session] of s.p0.items) {
      const other = s.p1.items.get(id);
      if (other !== undefined) assert.equal(other, session, `pool item ${id} used by session ${session} at P0 and ${other} at P1`);
    }
  }

  for (const k of CASES) {
    it(`${k.op}: ${k.server} killed at ${k.step}`, async () => {
      // the person the operation is for, made before the server is armed
      let p: ScenarioPerson | undefined;
      if (k.op === "enrol") {
        p = await w.person();
        assert.equal((await p.step({ do: "consent" })).reason, "CONSENT_GIVEN");
      } else if (k.op === "verify") p = await enrolled();
      else if (k.op === "delete") {
        p = await enrolled();
        assert.equal((await p.step({ do: "verify", face: "genuine" })).reason, "MATCH");
      } else if (k.op === "upgrade") {
        if (model === MODEL.version) {
          // the upgrade cases' persons, enrolled under the first model; then the gateway deploys the next
          for (let i = 0; i < PARTY_STEPS.upgrade.length * 2 + GATEWAY_STEPS.upgrade.length; i++) upgradable.push(await enrolled());
          model = NEXT;
          await stack.servers.gateway!.stop();
          await stack.restart("gateway", gatewayEnv());
          await healthy();
        }
        p = upgradable.shift()!;
      }
      const deleting = k.op === "delete" ? (await gatewayTemplates(p!.personId)).keys().next().value : undefined;
      writeFileSync(killFile, `${stack.servers[k.server]!.proc.pid} ${k.step}\n`);
      const killed = stack.servers[k.server]!.exited;
      let answer: Observed | undefined;
      try {
        if (k.op === "enrol") judge((answer = await attempt(p!, { do: "enrol", face: "genuine" })), "ENROLLED");
        else if (k.op === "verify") judge((answer = await attempt(p!, { do: "verify", face: "genuine" })), "MATCH");
        else if (k.op === "upgrade") judge((answer = await attempt(p!, { do: "verify", face: "genuine", upgrade: "genuine" })), "MATCH");
        else if (k.op === "delete") judge((answer = await attempt(p!, { do: "deregister" })), "DELETED", "DELETION_PENDING");
        else {
          // the helper deals when P0's pool falls below its low-water mark: verify until it does
          const q = await enrolled();
          for (let i = 0; i < 60 && stack.servers.helper!.proc.exitCode === null && stack.servers.helper!.proc.signalCode === null; i++) {
            judge(await attempt(q, { do: "verify", face: "genuine" }), "MATCH");
          }
        }
        assert.equal(await Promise.race([killed, sleep(30_000).then(() => "still running")]), "SIGKILL", `${k.server} did not reach ${k.step}`);
      } finally {
        // unarmed again, whatever happened
        writeFileSync(killFile, "");
        await stack.servers[k.server]!.stop();
        await stack.restart(k.server, k.server === "gateway" ? gatewayEnv() : {});
      }
      await healthy();
      if (k.op === "delete" && answer?.decision !== "accept") {
        // the device got no deletion: it retries (verifying again first, if the proof was used) until one is answered
        await waitFor("a retried deregistration is answered", async () => {
          const d = await attempt(p!, { do: "deregister" });
          if (d?.decision === "accept") return true;
          if (d?.reason === "NOT_ENROLLED") return true;
          await attempt(p!, { do: "verify", face: "genuine" });
          return false;
        });
      }
      await invariants();
      if (k.op === "delete") {
        await waitFor("the deleted template is gone at both parties", async () => {
          const s = await partyState();
          return !s.p0.active.has(deleting!) && !s.p1.active.has(deleting!);
        });
      }
      // the person still works: a genuine verification matches (enrolling first if the enrolment was lost)
      if (p && k.op !== "delete") {
        await waitFor("the person verifies again", async () => {
          const r = await attempt(p!, { do: "verify", face: "genuine" });
          if (r?.reason === "NOT_ENROLLED") await attempt(p!, { do: "enrol", face: "genuine" });
          return r?.reason === "MATCH";
        });
      }
    });
  }
});
