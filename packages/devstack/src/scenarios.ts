/**
 * The end-to-end scenario catalogue: one typed list (`SCENARIOS`) of what a POS terminal does and what
 * the gateway must answer at each step — decision and reason code — and which decisions the person's
 * history then holds. The gateway's fast tests run it on the fake parties (in memory), the integration
 * test on the real helper, P0 and P1 (loopback); both through `runScenario`, which acts as a device
 * with the SDK's request builders (@privface/device) against any `ScenarioGateway`.
 *
 * Each scenario runs for a new person of one merchant, under the gateway's deployed model; a step
 * `deploy-next-model` makes the gateway deploy a newer version (R5) until the scenario ends.
 */
import { deploymentSuite } from "@privface/config";
import { MODEL, type PartyName } from "@privface/contracts";
import { generateSealKeyPair, generateSigningKeyPair, toBase64url, type KeyPair, type PublicKey } from "@privface/crypto";
import { buildChallengeRequest, buildConsentRequest, buildFaceRequest, buildSignedPersonRequest, type ChallengeResponse, type DeviceTrust } from "@privface/device";
import { syntheticFaces } from "./device-sim.ts";

/**
 * The face a step shows: another capture of the person's own face (under the model the gateway asks
 * for), someone else's face, or a malicious vector (every coordinate at the int8 maximum: far outside
 * the valid norm, a would-be wildcard).
 */
export type Face = "genuine" | "impostor" | "malicious";

export type Action =
  | { do: "consent" }
  | { do: "enrol"; face: Face }
  /** `upgrade`: the same capture under the newer deployed model, which the challenge asks for (R5) */
  | { do: "verify"; face: Face; upgrade?: Face }
  /** the previous request sent again, byte for byte */
  | { do: "replay" }
  | { do: "deregister" }
  | { do: "withdraw" }
  /** a challenge alone (what the device learns before it captures) */
  | { do: "challenge"; purpose: "enrol" | "verify" | "deregister" };

/** What the gateway answers: a decision with its reason code, or a refusal with its error code. */
export interface Expect {
  decision: "accept" | "reject" | "refused";
  reason: string;
  /** verifications only */
  upgraded?: boolean;
}

export type Step = (Action & { expect: Expect }) | { do: "deploy-next-model" };

export interface Scenario {
  name: string;
  steps: readonly Step[];
  /** the person's decision history afterwards, oldest first, as `op:reason` */
  history: readonly string[];
}

const accept = (reason: string): Expect => ({ decision: "accept", reason });
const reject = (reason: string): Expect => ({ decision: "reject", reason });
const refused = (code: string): Expect => ({ decision: "refused", reason: code });
/** a verification's answers: they always say whether the template was upgraded */
const matched = (upgraded = false): Expect => ({ decision: "accept", reason: "MATCH", upgraded });
const notMatched = (reason: "NO_MATCH" | "INVALID_PROBE"): Expect => ({ decision: "reject", reason, upgraded: false });

const consent: Step = { do: "consent", expect: accept("CONSENT_GIVEN") };
const enrolled: Step = { do: "enrol", face: "genuine", expect: accept("ENROLLED") };
const genuine: Step = { do: "verify", face: "genuine", expect: matched() };

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "genuine: consent first, then enrol and verify the same face → MATCH",
    steps: [{ do: "challenge", purpose: "enrol", expect: refused("CONSENT_REQUIRED") }, consent, enrolled, genuine, genuine],
    history: ["enrol:ENROLLED", "verify:MATCH", "verify:MATCH"],
  },
  {
    name: "impostor: another face is NO_MATCH; the genuine person still verifies",
    steps: [consent, enrolled, { do: "verify", face: "impostor", expect: notMatched("NO_MATCH") }, genuine],
    history: ["enrol:ENROLLED", "verify:NO_MATCH", "verify:MATCH"],
  },
  {
    name: "malicious probe: an out-of-range vector is INVALID_PROBE, never a match",
    steps: [consent, enrolled, { do: "verify", face: "malicious", expect: notMatched("INVALID_PROBE") }],
    history: ["enrol:ENROLLED", "verify:INVALID_PROBE"],
  },
  {
    name: "malicious template: an out-of-range vector is refused at enrolment (INVALID_TEMPLATE) and leaves nothing behind",
    steps: [
      consent,
      { do: "enrol", face: "malicious", expect: reject("INVALID_TEMPLATE") },
      { do: "challenge", purpose: "verify", expect: refused("NOT_ENROLLED") },
      enrolled,
      genuine,
    ],
    history: ["enrol:INVALID_TEMPLATE", "enrol:ENROLLED", "verify:MATCH"],
  },
  {
    name: "replay: a verification sent again is REPLAYED_REQUEST",
    steps: [consent, enrolled, genuine, { do: "replay", expect: refused("REPLAYED_REQUEST") }],
    history: ["enrol:ENROLLED", "verify:MATCH"],
  },
  {
    name: "model upgrade: a matching verification carries the new model's template, which is promoted and used from then on",
    steps: [
      consent,
      enrolled,
      { do: "deploy-next-model" },
      { do: "verify", face: "genuine", upgrade: "genuine", expect: matched(true) },
      genuine,
      { do: "verify", face: "impostor", expect: notMatched("NO_MATCH") },
    ],
    history: ["enrol:ENROLLED", "verify.upgrade:MATCH", "verify:MATCH", "verify:NO_MATCH"],
  },
  {
    name: "invalid upgrade: a malicious vector as the new model's template is not promoted (the verification itself matches); a genuine upgrade later is",
    steps: [
      consent,
      enrolled,
      { do: "deploy-next-model" },
      // issue 12 item 3: promoted only when valid ∧ match ∧ upgradeValid at both parties
      { do: "verify", face: "genuine", upgrade: "malicious", expect: matched(false) },
      { do: "verify", face: "genuine", upgrade: "genuine", expect: matched(true) },
    ],
    history: ["enrol:ENROLLED", "verify:MATCH", "verify.upgrade:MATCH"],
  },
  {
    name: "deregister: only after a fresh successful verification; deletes the template; one verification allows one deregistration",
    steps: [
      consent,
      enrolled,
      { do: "deregister", expect: refused("REVERIFY_REQUIRED") },
      genuine,
      { do: "deregister", expect: accept("DELETED") },
      { do: "challenge", purpose: "verify", expect: refused("NOT_ENROLLED") },
      enrolled,
      { do: "deregister", expect: refused("REVERIFY_REQUIRED") },
    ],
    history: ["enrol:ENROLLED", "verify:MATCH", "deregister:DELETED", "enrol:ENROLLED"],
  },
  {
    name: "withdraw after a fresh verification on the same device: use stops and the template is deleted at once; consent and enrol again",
    steps: [
      consent,
      enrolled,
      genuine,
      { do: "withdraw", expect: accept("DELETED") },
      { do: "challenge", purpose: "verify", expect: refused("CONSENT_WITHDRAWN") },
      { do: "challenge", purpose: "enrol", expect: refused("CONSENT_WITHDRAWN") },
      consent,
      enrolled,
      genuine,
    ],
    history: ["enrol:ENROLLED", "verify:MATCH", "withdraw:DELETED", "enrol:ENROLLED", "verify:MATCH"],
  },
  {
    name: "withdraw without proof of the person: use stops at once, the template is disabled, not deleted — consenting again does not clear the way for another face",
    steps: [
      consent,
      enrolled,
      { do: "withdraw", expect: accept("DISABLED") },
      { do: "challenge", purpose: "verify", expect: refused("CONSENT_WITHDRAWN") },
      consent,
      // issue 12 item 4: the face takeover (withdraw → consent → enrol another face) is refused
      { do: "challenge", purpose: "enrol", expect: refused("ALREADY_ENROLLED") },
      { do: "verify", face: "impostor", expect: notMatched("NO_MATCH") },
      genuine,
    ],
    history: ["enrol:ENROLLED", "withdraw:DISABLED", "verify:NO_MATCH", "verify:MATCH"],
  },
];

// ---- running a scenario -------------------------------------------------------------------------

type Answer = { status: number; body: any };

/** What a scenario needs of a gateway: a device's calls, an operator's, and the deployed model version. */
export interface ScenarioGateway {
  /** a device's call (no credentials) */
  call(method: "GET" | "POST", path: string, body?: unknown): Promise<Answer>;
  /** an admin's call (registry) */
  admin(method: "GET" | "POST", path: string, body?: unknown): Promise<Answer>;
  /** another operator's call (role operator): the second approver of dual control (R27) */
  approver(method: "GET" | "POST", path: string, body?: unknown): Promise<Answer>;
  /** an operator's read, with its reason (R26) */
  operator(path: string, reason: string): Promise<Answer>;
  /** the deployed model version */
  modelVersion(): string;
  /** makes the gateway deploy another model version (R5) */
  deployModel(version: string): void;
  /** the parties' institution roots the scenario device is provisioned with (never from the gateway, decision 010 §1) */
  roots: Record<PartyName, PublicKey>;
}

/** One merchant with one registered device: the scenarios' persons are registered with it. */
export interface ScenarioWorld {
  gateway: ScenarioGateway;
  merchantId: string;
  deviceId: string;
  deviceKey: KeyPair;
  /** the device's key-agreement key (statement MACs) and its trust in the parties' roots */
  authKey: KeyPair;
  trust: DeviceTrust;
  /** the synthetic identities registered so far (for log and database scans) */
  identities: { name: string; idNumber: string; phone: string }[];
  /** A new person of the merchant, acting through the device. */
  person(): Promise<ScenarioPerson>;
}

/** One step's observed answer: as `Expect`, plus the step, the HTTP status and the body. */
export interface Observed extends Expect {
  step: string;
  status: number;
  body: any;
}

let serial = 0;

export async function scenarioWorld(gateway: ScenarioGateway, seed = 1): Promise<ScenarioWorld> {
  const m = await gateway.admin("POST", "/v1/admin/merchants", { name: "Scenario Shop" });
  if (m.status !== 201) throw new Error(`merchant: ${m.status} ${JSON.stringify(m.body)}`);
  const suite = deploymentSuite();
  const deviceKey = await generateSigningKeyPair(suite);
  const authKey = await generateSealKeyPair(suite);
  const d = await gateway.admin("POST", `/v1/admin/merchants/${m.body.merchantId}/devices`, { suite, publicKey: toBase64url(deviceKey.publicKey), authKey: toBase64url(authKey.publicKey), label: "scenario till", stillImage: true });
  if (d.status !== 201) throw new Error(`device: ${d.status} ${JSON.stringify(d.body)}`);
  const a = await gateway.approver("POST", `/v1/admin/devices/${d.body.deviceId}/approve`);
  if (a.status !== 200) throw new Error(`device approval: ${a.status} ${JSON.stringify(a.body)}`);
  const faces = syntheticFaces(seed);
  const world: ScenarioWorld = {
    gateway,
    merchantId: m.body.merchantId,
    deviceId: d.body.deviceId,
    deviceKey,
    authKey,
    trust: { roots: gateway.roots, seen: {} },
    identities: [],
    async person() {
      const n = ++serial;
      // synthetic identities of the test ranges: an ID-card number and a phone number nobody holds
      const id = { name: `测试${n}`, idNumber: `110101199001${String(n).padStart(6, "0")}`, phone: `139${String(n).padStart(8, "0")}` };
      const p = await gateway.admin("POST", `/v1/admin/merchants/${world.merchantId}/persons`, { role: "cashier", ...id });
      if (p.status !== 201) throw new Error(`person: ${p.status} ${JSON.stringify(p.body)}`);
      world.identities.push(id);
      return new ScenarioPerson(world, p.body.personId, faces);
    },
  };
  return world;
}

/** A person acting through the world's device: one method per scenario step. */
export class ScenarioPerson {
  /** the person's face under each model version (a new model embeds the same face differently) */
  private readonly own = new Map<string, Float32Array>();
  private last: { path: string; body: unknown } | undefined;

  constructor(
    readonly world: ScenarioWorld,
    readonly personId: string,
    private readonly faces: ReturnType<typeof syntheticFaces>,
  ) {}

  /** Performs one step and says what the gateway answered. */
  async step(a: Action): Promise<Observed> {
    const label = describeAction(a);
    const g = this.world.gateway;
    switch (a.do) {
      case "consent": {
        const notice = await g.call("GET", "/v1/notices/current");
        if (notice.status !== 200) return observe(label, notice);
        return this.signed(label, "consent", "/v1/consents", (ch) =>
          buildConsentRequest({ deviceId: this.world.deviceId, personId: this.personId, challenge: ch, notice: notice.body, signingKey: this.world.deviceKey }),
        );
      }
      case "enrol":
      case "verify":
        return this.signed(label, a.do, a.do === "enrol" ? "/v1/enrolments" : "/v1/verifications", (ch) => {
          const modelVersion = ch.modelVersion!;
          const upgrade = a.do === "verify" && a.upgrade ? { modelVersion: need(ch.upgradeTo, "the challenge asks for no upgrade"), embedding: this.face(a.upgrade, ch.upgradeTo!) } : undefined;
          return buildFaceRequest({
            deviceId: this.world.deviceId,
            personId: this.personId,
            purpose: a.do,
            challenge: ch,
            embedding: this.face(a.face, modelVersion),
            liveness: 0.97,
            modelVersion,
            ...(upgrade ? { upgrade } : {}),
            signingKey: this.world.deviceKey,
            authKey: this.world.authKey,
            trust: this.world.trust,
          });
        });
      case "deregister":
      case "withdraw":
        return this.signed(label, a.do, a.do === "deregister" ? "/v1/deregistrations" : "/v1/consents/withdrawals", (ch) =>
          buildSignedPersonRequest({ deviceId: this.world.deviceId, personId: this.personId, challenge: ch, signingKey: this.world.deviceKey }),
        );
      case "replay": {
        const last = need(this.last, "nothing to replay yet");
        return observe(label, await g.call("POST", last.path, last.body), last.path);
      }
      case "challenge":
        return observe(label, await g.call("POST", "/v1/challenges", await this.challengeBody(a.purpose)), "/v1/challenges");
    }
  }

  /** From now on shows `other`'s face as "genuine" (a duplicate enrolment: another person's face, issue 15). */
  lookLike(other: ScenarioPerson): void {
    for (const [version, face] of other.own) this.own.set(version, face);
  }

  /** The person's decisions, oldest first, as `op:reason` (an operator's read: one of the daily quota). */
  async history(): Promise<string[]> {
    const h = await this.world.gateway.operator(`/v1/admin/persons/${this.personId}/decisions?limit=100`, "scenario check");
    if (h.status !== 200) throw new Error(`history: ${h.status} ${JSON.stringify(h.body)}`);
    return (h.body.decisions as { op: string; reason: string }[]).map((d) => `${d.op}:${d.reason}`).reverse();
  }

  /** challenge → signed body → POST; a refused challenge is the step's answer. */
  /** A challenge request signed by the world's device (issue 12 item 6). */
  private challengeBody(purpose: string) {
    return buildChallengeRequest({ deviceId: this.world.deviceId, personId: this.personId, purpose: purpose as "verify", signingKey: this.world.deviceKey });
  }

  private async signed(label: string, purpose: string, path: string, build: (ch: ChallengeResponse) => Promise<unknown>): Promise<Observed> {
    const ch = await this.world.gateway.call("POST", "/v1/challenges", await this.challengeBody(purpose));
    if (ch.status !== 201) return observe(label, ch, path);
    const body = await build(ch.body);
    this.last = { path, body };
    return observe(label, await this.world.gateway.call("POST", path, body), path);
  }

  private face(f: Face, modelVersion: string): Float32Array | Int8Array {
    if (f === "malicious") return new Int8Array(MODEL.dim).fill(127);
    if (f === "impostor") return this.faces.face();
    let own = this.own.get(modelVersion);
    if (!own) this.own.set(modelVersion, (own = this.faces.face()));
    return this.faces.recapture(own);
  }
}

/** Runs a scenario for a new person: every step's answer and the history afterwards. The deployed model is restored at the end. */
export async function runScenario(s: Scenario, world: ScenarioWorld): Promise<{ personId: string; steps: Observed[]; history: string[] }> {
  const g = world.gateway;
  const deployed = g.modelVersion();
  const person = await world.person();
  const steps: Observed[] = [];
  try {
    for (const step of s.steps) {
      if (step.do === "deploy-next-model") g.deployModel(`${deployed}-next`);
      else steps.push(await person.step(step));
    }
  } finally {
    g.deployModel(deployed);
  }
  return { personId: person.personId, steps, history: await person.history() };
}

/** A scenario's expectations in the shape `runScenario` observes (without status and body). */
export function expectationsOf(s: Scenario): { steps: (Expect & { step: string })[]; history: string[] } {
  const steps = s.steps.filter((x): x is Action & { expect: Expect } => x.do !== "deploy-next-model");
  return { steps: steps.map((x) => ({ step: describeAction(x), ...x.expect })), history: [...s.history] };
}

/** What `runScenario` observed, in the shape of `expectationsOf`. */
export function observedOf(r: { steps: Observed[]; history: string[] }): { steps: (Expect & { step: string })[]; history: string[] } {
  return { steps: r.steps.map(({ status: _s, body: _b, ...o }) => o), history: r.history };
}

function describeAction(a: Action): string {
  switch (a.do) {
    case "enrol":
      return `enrol ${a.face}`;
    case "verify":
      return `verify ${a.face}${a.upgrade ? ` + upgrade ${a.upgrade}` : ""}`;
    case "challenge":
      return `challenge ${a.purpose}`;
    default:
      return a.do;
  }
}

/** The gateway's answer as a decision: an error is a refusal with its code; success bodies by kind. */
function observe(step: string, r: Answer, path = ""): Observed {
  const b = r.body ?? {};
  if (r.status >= 400 || b.error) return { step, decision: "refused", reason: String(b.error?.code ?? `HTTP_${r.status}`), status: r.status, body: b };
  const base = { step, status: r.status, body: b };
  if (path === "/v1/consents") return { ...base, decision: "accept", reason: "CONSENT_GIVEN" };
  if (path === "/v1/deregistrations" || path === "/v1/consents/withdrawals") return { ...base, decision: "accept", reason: b.status === "deleted" ? "DELETED" : b.status === "disabled" ? "DISABLED" : "DELETION_PENDING" };
  if (path === "/v1/challenges") return { ...base, decision: "accept", reason: "CHALLENGE_ISSUED" };
  return { ...base, decision: b.decision, reason: b.reason, ...(path === "/v1/verifications" ? { upgraded: b.upgraded } : {}) };
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`scenario: ${what}`);
  return v;
}
