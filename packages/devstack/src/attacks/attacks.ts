/**
 * The attacks of issue 12, each run against a REAL stack (`startAttackStack`): real helper, P0 and P1
 * processes with the full MPC, the real gateway. Each function ATTEMPTS the attack and reports what
 * the attacker got; nothing is assumed from configuration. The attacker's position is named in each.
 */
import { deploymentSuite } from "@privface/config";
import { contextAad, MODEL, PARTIES, sealingKeyId, signKeyList, type PartyName } from "@privface/contracts";
import { generateSealKeyPair, generateSigningKeyPair, open, toBase64url, fromBase64url, type KeyPair } from "@privface/crypto";
import { buildChallengeRequest, buildFaceRequest, DeviceError, TrustError } from "@privface/device";
import { expandSeedShare, quantise, reconstructBytes } from "@privface/mpc";
import { faceOp, giveConsent, simDevice, syntheticFaces, withdraw, type SimDevice } from "../device-sim.ts";
import type { GatewayClient } from "../gateway-client.ts";
import { authoriseBody, newId, randomFace } from "../gateway-sim.ts";
import type { AttackStack, Tapped } from "./harness.ts";

/** A synthetic face (float embedding) and a second capture of it. */
export function face(seed: number): { enrol: Float32Array; again: Float32Array } {
  const g = syntheticFaces((seed * 2654435761) >>> 0, MODEL.dim);
  const enrol = g.face();
  return { enrol, again: g.recapture(enrol) };
}

const asFloat = (x: Int8Array) => Float32Array.from(x);

async function enrolled(h: AttackStack, device: SimDevice, personId: string, f: Float32Array): Promise<void> {
  const r = await faceOp(device, personId, "enrol", f);
  if (!(r.ok && r.decision === "accept")) throw new Error(`enrolment failed: ${r.status} ${r.reason}`);
}

// ------------------------------------------------------------------ item 1: key substitution

/**
 * A gateway (or anyone between device and gateway) hands the device its OWN sealing keys in the
 * challenge response, keeps the device's request, and opens both shares. Blocked when the device
 * refuses to seal to keys it cannot authenticate, or the attacker cannot open what it sealed.
 * Returns whether the attacker rebuilt the template (exactly the device's int8 vector).
 */
export async function keySubstitution(h: AttackStack, w: { device: SimDevice; personId: string }): Promise<{ blocked: boolean; detail: string }> {
  const suite = deploymentSuite();
  const evil: Record<PartyName, KeyPair> = { P0: await generateSealKeyPair(suite), P1: await generateSealKeyPair(suite) };
  // decision 010 §1: the keys travel in signed key lists; the attacker signs its own under its own root
  const evilRoot = await generateSigningKeyPair(suite);
  const t = Date.now();
  const evilLists: Record<string, unknown> = {};
  for (const p of PARTIES)
    evilLists[p] = await signKeyList(evilRoot, { party: p, version: 2 ** 40, issuedAt: t, expiresAt: t + 86_400_000, keys: [{ id: await sealingKeyId(evil[p]), suite, publicKey: toBase64url(evil[p].publicKey) }] });
  let captured: any;
  let handedOut: any;
  const fetchFn = async (url: string, init: { method: string; headers?: Record<string, string>; body?: string }) => {
    const path = new URL(url).pathname;
    if (init.method === "POST" && (path === "/v1/verifications" || path === "/v1/enrolments")) {
      captured = JSON.parse(init.body!);
      return { ok: false, status: 503, text: async () => JSON.stringify({ error: { code: "MPC_UNAVAILABLE", message: "try later" } }) };
    }
    const r = await h.client.fetch(url, init);
    const raw = await r.text();
    let body: any;
    try {
      body = JSON.parse(raw);
    } catch {
      return { ok: r.ok, status: r.status, text: async () => raw };
    }
    if (init.method === "POST" && path === "/v1/challenges" && r.status === 201) handedOut = structuredClone(body);
    // substitute every party key any answer names (challenges, key lists)
    const sub = (o: any): any => {
      if (!o || typeof o !== "object") return o;
      if (typeof o.publicKey === "string" && (o.party === "P0" || o.party === "P1")) o.publicKey = toBase64url(evil[o.party as PartyName].publicKey);
      for (const p of PARTIES) if (o[p] && typeof o[p] === "object" && typeof o[p].publicKey === "string") o[p] = { ...o[p], publicKey: toBase64url(evil[p].publicKey) };
      if (o.keyLists) o.keyLists = structuredClone(evilLists);
      for (const k of Object.keys(o)) if (typeof o[k] === "object") sub(o[k]);
      return o;
    };
    const text = JSON.stringify(sub(body));
    return { ok: r.ok, status: r.status, text: async () => text };
  };
  // the device as configured everywhere else (device-sim), talking through the attacker's fetch
  const d = simDevice({ ...h.client, fetch: fetchFn as GatewayClient["fetch"] }, w.device.deviceId, w.device.key, w.device.authKey, { roots: w.device.trust.roots, seen: {} });
  const probe = face(9_001).again;
  try {
    await d.sdk.submit("verify", w.personId, { embedding: probe, liveness: 0.99 });
  } catch (e) {
    if (!(e instanceof DeviceError || e instanceof TrustError)) throw e;
    if (!captured) return { blocked: true, detail: `device refused: ${e.code}` };
  }
  if (!captured) return { blocked: true, detail: "device sent nothing" };
  try {
    // the share context: the challenge the attacker handed out names the template and model
    const c = { purpose: "verify", challenge: handedOut.challenge, templateId: handedOut.templateId, modelVersion: handedOut.modelVersion };
    const seed0 = await open(evil.P0, fromBase64url(captured.shares.P0), contextAad({ ...c, party: "P0" }));
    const share1 = await open(evil.P1, fromBase64url(captured.shares.P1), contextAad({ ...c, party: "P1" }));
    const x = reconstructBytes(expandSeedShare(seed0, c, MODEL.dim), share1);
    const exact = quantise(Array.from(probe)).every((v, i) => v === x[i]);
    return { blocked: !exact, detail: exact ? "attacker opened both shares and rebuilt the exact int8 probe" : "opened, but not the probe" };
  } catch (e) {
    return { blocked: true, detail: `attacker could not open: ${(e as Error).message}` };
  }
}

// ------------------------------------------------------------------ item 2: the parties as an oracle

/** Both parties called in parallel; "answered" when both gave a result. */
async function atBoth(h: AttackStack, op: "verify" | "enrol", bodies: Record<PartyName, any>): Promise<{ answered: boolean; codes: string[] }> {
  const r = await Promise.allSettled(PARTIES.map((p) => (op === "verify" ? h.party(p).verify(bodies[p]) : h.party(p).enrol(bodies[p]))));
  const codes = r.map((x) => (x.status === "fulfilled" ? "ok" : String((x.reason as { code?: string })?.code ?? (x.reason as Error)?.message)));
  // a party that answered alone cannot finish the MPC: any single answer counts as answered
  return { answered: r.some((x) => x.status === "fulfilled"), codes };
}

const keysOf = (h: AttackStack) => ({ gateway: h.gatewayKey, P0: h.partyKeys.P0, P1: h.partyKeys.P1 }) as any;

/** Re-authorises a captured party body under a new session, as a malicious gateway holding the signing key can. */
async function reauthorised(h: AttackStack, op: "verify" | "enrol", t: Record<PartyName, any>, edit: (b: any) => void = () => {}): Promise<Record<PartyName, any>> {
  const session = newId();
  const out = {} as Record<PartyName, any>;
  await Promise.all(
    PARTIES.map(async (p) => {
      const b = structuredClone(t[p]);
      delete b.authorisation;
      b.session = session;
      edit(b);
      out[p] = { ...b, authorisation: await authoriseBody(keysOf(h), op, p, b) };
    }),
  );
  return out;
}

function lastPair(taps: Tapped[], op: string, templateId?: string): Record<PartyName, any> | undefined {
  for (let i = taps.length - 1; i >= 0; i--) {
    const t = taps[i];
    if (t.op !== op || t.party !== "P1" || (templateId && t.body.templateId !== templateId)) continue;
    const p0 = taps.find((x) => x.op === op && x.party === "P0" && x.body.session === t.body.session);
    if (p0) return { P0: p0.body, P1: t.body };
  }
  return undefined;
}

/**
 * A compromised gateway replays a genuine verification's party requests: as they were, and
 * re-authorised under a fresh session with the gateway's key. Refused when no party answers either.
 */
export async function replayAtParty(h: AttackStack, w: { device: SimDevice; personId: string; face: Float32Array }): Promise<{ refused: boolean; detail: string }> {
  const before = h.taps.length;
  const r = await faceOp(w.device, w.personId, "verify", w.face);
  if (!(r.ok && r.decision === "accept")) throw new Error(`genuine verification failed: ${r.reason}`);
  const pair = lastPair(h.taps.slice(before), "verify");
  if (!pair) throw new Error("no verification captured");
  const same = await atBoth(h, "verify", pair);
  const fresh = await atBoth(h, "verify", await reauthorised(h, "verify", pair));
  return { refused: !same.answered && !fresh.answered, detail: `as sent: ${same.codes.join("/")}; re-authorised: ${fresh.codes.join("/")}` };
}

/**
 * A compromised gateway presents an enrolment's envelopes (the template itself) as a verification
 * probe of the same template, re-authorised with the gateway's key: as enrolled, and with the purpose
 * it names rewritten. Refused when no party answers any variant.
 */
export async function repurposedEnvelope(h: AttackStack, w: { device: SimDevice; personId: string; face: Float32Array }): Promise<{ refused: boolean; detail: string }> {
  const before = h.taps.length;
  await enrolled(h, w.device, w.personId, w.face);
  const pair = lastPair(h.taps.slice(before), "enrol");
  if (!pair) throw new Error("no enrolment captured");
  const asIs = await atBoth(h, "verify", await reauthorised(h, "verify", pair));
  const relabelled = await atBoth(
    h,
    "verify",
    await reauthorised(h, "verify", pair, (b) => {
      if (b.context?.purpose) b.context.purpose = "verify";
      if (b.statement?.purpose) b.statement.purpose = "verify";
    }),
  );
  return { refused: !asIs.answered && !relabelled.answered, detail: `as enrolled: ${asIs.codes.join("/")}; relabelled: ${relabelled.codes.join("/")}` };
}

/**
 * The decision oracle: a malicious gateway (restarted with none of its own limits) with a device
 * sends chosen probes (random faces) for one template until the parties stop answering or `max`
 * probes were sent. Returns the number of answers (decisions) for that template today.
 */
export async function oracleAnswers(h: AttackStack, w: { device: SimDevice; personId: string }, max: number): Promise<{ answers: number; detail: string }> {
  let answers = 0;
  let last = "";
  for (let i = 0; i < max; i++) {
    const r = await faceOp(w.device, w.personId, "verify", asFloat(randomFace(MODEL.dim)));
    if (r.ok && (r.decision === "accept" || r.decision === "reject")) answers++;
    else {
      last = r.reason;
      if (r.status !== 503 && r.status !== 429) break;
      if (r.status === 429 && r.reason === "RATE_LIMITED") break;
    }
  }
  return { answers, detail: last ? `stopped by ${last}` : `never refused in ${max} probes` };
}

// ------------------------------------------------------------------ item 3: wildcard upgrade

/**
 * A probe with no face in it: a valid-norm vector along the all-ones direction (what maximises the
 * score against an all-127 template); 356 × 11² + 156 × 12² = 65,540 ≈ Q², inside the norm window.
 */
export function craftedProbe(): Int8Array {
  const v = new Int8Array(MODEL.dim).fill(11);
  for (let i = 0; i < 156; i++) v[i] = 12;
  return v;
}

/**
 * A malicious terminal, on a genuine verification after the gateway deployed a new model version,
 * sends an all-127 upgrade template; then a crafted no-face probe. Blocked when the wildcard is not
 * promoted and the crafted probe is not accepted. Expects the gateway to run `next` already.
 */
export async function wildcardUpgrade(h: AttackStack, w: { device: SimDevice; personId: string; face: Float32Array }, next: string): Promise<{ blocked: boolean; detail: string }> {
  const ch = await h.client.call("POST", "/v1/challenges", await buildChallengeRequest({ deviceId: w.device.deviceId, personId: w.personId, purpose: "verify", signingKey: w.device.key }));
  if (ch.status !== 201 || ch.body.upgradeTo !== next) throw new Error(`challenge: ${ch.status} ${JSON.stringify(ch.body)}`);
  const body = await buildFaceRequest({
    deviceId: w.device.deviceId,
    personId: w.personId,
    purpose: "verify",
    challenge: ch.body,
    embedding: w.face,
    liveness: 0.99,
    modelVersion: ch.body.modelVersion,
    upgrade: { modelVersion: next, embedding: new Float32Array(MODEL.dim).fill(127) },
    signingKey: w.device.key,
    authKey: w.device.authKey,
    trust: w.device.trust,
  } as any);
  const r = await h.client.call("POST", "/v1/verifications", body);
  const upgraded = r.status === 200 && r.body.upgraded === true;
  const crafted = await faceOp(w.device, w.personId, "verify", asFloat(craftedProbe()));
  const cracked = crafted.ok && crafted.decision === "accept";
  return { blocked: !upgraded && !cracked, detail: `upgrade: ${r.status} upgraded=${r.body?.upgraded}; crafted probe: ${crafted.decision}/${crafted.reason}` };
}

// ------------------------------------------------------------------ item 4: withdraw takeover

/**
 * A terminal withdraws an enrolled person's consent (a device-signed request, no verification),
 * gives consent again and enrols the attacker's face. Blocked when the attacker does not then verify
 * as the victim.
 */
export async function withdrawTakeover(h: AttackStack, w: { device: SimDevice; personId: string; face: Float32Array; attacker: { enrol: Float32Array; again: Float32Array } }): Promise<{ blocked: boolean; detail: string }> {
  await enrolled(h, w.device, w.personId, w.face);
  const wd = await withdraw(w.device, w.personId);
  const c = await giveConsent(w.device, w.personId);
  const e = await faceOp(w.device, w.personId, "enrol", w.attacker.enrol);
  const v = await faceOp(w.device, w.personId, "verify", w.attacker.again);
  const taken = v.ok && v.decision === "accept";
  return { blocked: !taken, detail: `withdraw: ${wd.reason}; consent: ${c.reason}; attacker enrol: ${e.decision}/${e.reason}; attacker verify: ${v.decision}/${v.reason}` };
}

// ------------------------------------------------------------------ item 5: lockouts that reset

/**
 * A terminal guesses against one person, 4 failures then 1 genuine success per round (up to 80
 * attempts), and from one device across `persons` (2 failures then 1 success each, up to 32
 * failures). Blocked when the gateway locks the person (PERSON_LOCKED) and the device (DEVICE_LOCKED).
 */
export async function lockoutReset(
  h: AttackStack,
  w: { device: SimDevice; person: { id: string; face: { again: Float32Array } }; persons: { id: string; face: { again: Float32Array } }[] },
): Promise<{ blocked: boolean; detail: string }> {
  let fails = 0;
  let personLocked = "";
  for (let i = 0; i < 80 && !personLocked; i++) {
    const r = await faceOp(w.device, w.person.id, "verify", i % 5 === 4 ? w.person.face.again : asFloat(randomFace(MODEL.dim, seeded(70_000 + i))));
    if (r.ok) fails += r.decision === "reject" ? 1 : 0;
    else personLocked = r.reason;
  }
  const personBlocked = personLocked === "PERSON_LOCKED";
  const personDetail = `person: ${personLocked || "never stopped"} after ${fails} failures`;
  // the device: failures spread over persons (each below its own budget), successes in between
  let dfails = 0;
  let deviceLocked = "";
  for (let i = 0; i < 64 && !deviceLocked && dfails < 32; i++) {
    const p = w.persons[i % w.persons.length];
    const genuine = Math.floor(i / w.persons.length) % 3 === 2;
    const r = await faceOp(w.device, p.id, "verify", genuine ? p.face.again : asFloat(randomFace(MODEL.dim, seeded(80_000 + i))));
    if (r.ok) dfails += r.decision === "reject" ? 1 : 0;
    else if (r.reason === "DEVICE_LOCKED") deviceLocked = r.reason;
    else if (r.reason !== "PERSON_LOCKED") deviceLocked = r.reason;
  }
  const deviceBlocked = deviceLocked === "DEVICE_LOCKED";
  return { blocked: personBlocked && deviceBlocked, detail: `${personDetail}; device: ${deviceLocked || "never stopped"} after ${dfails} failures` };
}

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 2 ** 32;
  };
}

// ------------------------------------------------------------------ item 6: unauthenticated challenges

/**
 * Anyone on the network (no device key) asks for challenges naming a registered device: for an
 * enrolled person, an unknown person id, and a consented but not enrolled person. Refused when no
 * challenge is issued and the answers do not tell the persons' states apart.
 */
export async function unauthChallenge(h: AttackStack, w: { deviceId: string; enrolled: string; notEnrolled: string }): Promise<{ refused: boolean; detail: string }> {
  const ask = (personId: string) => h.client.call("POST", "/v1/challenges", { deviceId: w.deviceId, personId, purpose: "verify" });
  const a = await ask(w.enrolled);
  const b = await ask("per_" + newId(12));
  const c = await ask(w.notEnrolled);
  const codes = [a, b, c].map((r) => `${r.status}:${r.body?.error?.code ?? (r.body?.templateId ? "templateId" : "ok")}`);
  const issued = [a, b, c].some((r) => r.status === 201);
  const distinguishable = new Set(codes).size > 1;
  return { refused: !issued && !distinguishable, detail: codes.join(" ") };
}

// ------------------------------------------------------------------ item 7: key separation

/**
 * Loads the gateway's configuration from the stack's runtime home, as the gateway does, and looks for
 * either party's private sealing key in what it was opened with (every key, buffer and string) and in
 * every file its configuration names.
 */
export async function gatewayHoldsPartyPrivateKey(h: AttackStack): Promise<{ holds: boolean; detail: string }> {
  const { readKeyPairFile } = await import("@privface/crypto/node");
  const { readFileSync, statSync } = await import("node:fs");
  const { loadGatewayConfig } = await import("@privface/gateway");
  const { stackEnv } = await import("../stack.ts");
  const secrets: { name: string; bytes: Uint8Array }[] = [];
  for (const p of ["p0", "p1"] as const) {
    const kp = await readKeyPairFile(h.layout.sealKey(p));
    secrets.push({ name: `${p} sealing private key`, bytes: kp.privateKey as Uint8Array });
  }
  const found = new Set<string>();
  const encodings = (b: Uint8Array) => [Buffer.from(b).toString("base64url"), Buffer.from(b).toString("base64"), Buffer.from(b).toString("hex")];
  const seen = new WeakSet<object>();
  const scan = (v: unknown, depth: number): void => {
    if (depth > 8 || v === null || v === undefined) return;
    if (typeof v === "string") {
      for (const s of secrets) if (encodings(s.bytes).some((e) => v.includes(e))) found.add(s.name);
      return;
    }
    if (v instanceof Uint8Array) {
      for (const s of secrets) if (Buffer.from(v).includes(Buffer.from(s.bytes))) found.add(s.name);
      return;
    }
    if (typeof v !== "object" || seen.has(v as object)) return;
    seen.add(v as object);
    for (const k of Object.keys(v as object)) {
      try {
        scan((v as Record<string, unknown>)[k], depth + 1);
      } catch {
        /* getters that throw */
      }
    }
  };
  scan(h.gatewayOptions, 0);
  const cfg = loadGatewayConfig({ ...process.env, ...stackEnv(h.layout.home, h.stack.ports), PRIVFACE_GATEWAY_TLS: "on" });
  const files: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === "string" && v.startsWith(h.layout.home)) files.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === "object") Object.values(v).forEach(collect);
  };
  collect(cfg);
  for (const f of files) {
    try {
      if (!statSync(f).isFile()) continue;
      scan(readFileSync(f, "utf8"), 0);
      scan(new Uint8Array(readFileSync(f)), 0);
    } catch {
      /* not there (yet) */
    }
  }
  return { holds: found.size > 0, detail: found.size ? [...found].join(", ") : `none in the opened options or the ${files.length} files its configuration names` };
}
