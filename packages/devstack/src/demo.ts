/**
 * `privface demo`: one merchant with a principal and two cashiers and a POS device; consent, enrol
 * each from a face image shipped with an npm package (@vladmandic/face-api's demo photos) through the
 * on-device engine, genuine and impostor verifications, a replayed request and a deregistration.
 * Returns one row per action (person, role, action, decision, reason, ms). If the face engine cannot
 * run, it falls back to precomputed embeddings and says so in `notes`.
 */
import { deploymentSuite } from "@privface/config";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { generateSigningKeyPair } from "@privface/crypto";
import type { DeviceTrust } from "@privface/device";
import { deregister, embedImage, faceOp, giveConsent, registerDevice, resend, syntheticFaces, type Outcome, type SimDevice } from "./device-sim.ts";
import type { GatewayClient } from "./gateway-client.ts";

export interface DemoRow {
  person: string;
  role: string;
  action: string;
  decision: string;
  reason: string;
  ms: number;
  expected: string;
}

export interface DemoResult {
  rows: DemoRow[];
  notes: string[];
  faces: "engine" | "precomputed";
  /** every row's outcome was the expected one */
  ok: boolean;
}

// Synthetic identities (placeholder names 王小明/李四/张三, test-range numbers): no real person's data.
const CAST = [
  { key: "wang", label: "Wang (principal)", role: "principal", name: "王小明", idNumber: "110101199003071234", phone: "13800138000", image: "sample1.jpg" },
  { key: "li", label: "Li (cashier)", role: "cashier", name: "李四", idNumber: "310104198805052345", phone: "13912345678", image: "sample3.jpg" },
  { key: "zhang", label: "Zhang (cashier)", role: "cashier", name: "张三", idNumber: "440303199212123456", phone: "13698765432", image: "sample4.jpg" },
] as const;
const STRANGER_IMAGE = "sample5.jpg";

/** Directory of the demo photos in the @vladmandic/face-api npm package, if installed. */
export function demoImageDir(): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    return join(dirname(req.resolve("@vladmandic/face-api/package.json")), "demo");
  } catch {
    return undefined;
  }
}

type Faces = { enrol: Float32Array; again: Float32Array };

async function engineFaces(notes: string[]): Promise<{ cast: Record<string, Faces>; stranger: Float32Array } | undefined> {
  const dir = demoImageDir();
  if (!dir) {
    notes.push("face images not found (@vladmandic/face-api not installed)");
    return undefined;
  }
  try {
    const { createFaceEngine } = await import("@privface/device");
    const engine = await createFaceEngine({ multipleFaces: "largest" });
    const cast: Record<string, Faces> = {};
    for (const p of CAST) {
      const a = await embedImage(engine, join(dir, p.image));
      const b = await embedImage(engine, join(dir, p.image), 1);
      cast[p.key] = { enrol: a.embedding, again: b.embedding };
    }
    const stranger = (await embedImage(engine, join(dir, STRANGER_IMAGE))).embedding;
    notes.push(`faces: on-device engine on ${CAST.map((p) => p.image).join(", ")} (impostor: ${STRANGER_IMAGE}) from @vladmandic/face-api/demo; a second capture = the same photo 6 % brighter`);
    return { cast, stranger };
  } catch (e) {
    notes.push(`face engine not available (${(e as Error).message.split("\n")[0]}); using precomputed embeddings instead`);
    return undefined;
  }
}

/** Deterministic stand-in embeddings: a random unit vector per person, a noisy copy for a new capture. */
export function precomputedFaces(d = 512): { cast: Record<string, Faces>; stranger: Float32Array } {
  const f = syntheticFaces(0x9e3779b9, d);
  const cast: Record<string, Faces> = {};
  for (const p of CAST) {
    const v = f.face();
    cast[p.key] = { enrol: v, again: f.recapture(v) };
  }
  return { cast, stranger: f.face() };
}

export async function runDemo(o: {
  admin: GatewayClient;
  approver: GatewayClient;
  device?: GatewayClient;
  useEngine?: boolean;
  log?: (line: string) => void;
  /** the deployment's party roots (default: the runtime home's) */
  trust?: DeviceTrust;
}): Promise<DemoResult> {
  const notes: string[] = [];
  const admin = o.admin;
  const c = o.device ?? o.admin;
  const say = o.log ?? (() => {});
  say("registering a merchant, a principal, two cashiers and a POS device …");
  const m = await admin.admin("POST", "/v1/admin/merchants", { name: "Demo Noodle Shop" });
  if (m.status !== 201) throw new Error(`merchant registration failed: ${m.status} ${m.body?.error?.code ?? ""}`);
  const merchantId = m.body.merchantId as string;
  const device: SimDevice = await registerDevice(admin, merchantId, await generateSigningKeyPair(deploymentSuite()), { label: "demo till", client: c, approver: o.approver, trust: o.trust });
  const ids: Record<string, string> = {};
  for (const p of CAST) {
    const r = await admin.admin("POST", `/v1/admin/merchants/${merchantId}/persons`, { role: p.role, name: p.name, idNumber: p.idNumber, phone: p.phone });
    if (r.status !== 201) throw new Error(`person registration failed: ${r.status} ${r.body?.error?.code ?? ""}`);
    ids[p.key] = r.body.personId;
  }
  say("embedding faces …");
  let faces = o.useEngine === false ? undefined : await engineFaces(notes);
  let source: DemoResult["faces"] = "engine";
  if (!faces) {
    if (o.useEngine === false) notes.push("faces: precomputed embeddings (--no-engine)");
    faces = precomputedFaces();
    source = "precomputed";
  }
  const rows: DemoRow[] = [];
  const row = (key: string, action: string, r: Outcome, expected: string) => {
    const p = CAST.find((x) => x.key === key)!;
    rows.push({ person: p.label, role: p.role, action, decision: r.decision, reason: r.reason, ms: Math.round(r.ms * 10) / 10, expected });
  };
  say("running the scenario …");
  for (const p of CAST) row(p.key, "consent", await giveConsent(device, ids[p.key]), "accept");
  for (const p of CAST) row(p.key, "enrol", await faceOp(device, ids[p.key], "enrol", faces.cast[p.key].enrol), "accept");
  let replayable: Outcome | undefined;
  for (const p of CAST) {
    const r = await faceOp(device, ids[p.key], "verify", faces.cast[p.key].again);
    if (p.key === "wang") replayable = r;
    row(p.key, "verify (genuine)", r, "accept");
  }
  row("li", "verify (impostor: another face)", await faceOp(device, ids.li, "verify", faces.stranger), "reject");
  row("zhang", "verify (impostor: Wang's face)", await faceOp(device, ids.zhang, "verify", faces.cast.wang.again), "reject");
  row("wang", "replay of the genuine request", await resend(c, "/v1/verifications", replayable!.sent), "refused");
  row("zhang", "verify (genuine, before deregistering)", await faceOp(device, ids.zhang, "verify", faces.cast.zhang.again), "accept");
  row("zhang", "deregister", await deregister(device, ids.zhang), "accept");
  row("zhang", "verify after deregistration", await faceOp(device, ids.zhang, "verify", faces.cast.zhang.again), "refused");
  const ok = rows.every((r) => r.decision === r.expected);
  return { rows, notes, faces: source, ok };
}

/** The rows as an aligned text table. */
export function formatTable(rows: DemoRow[]): string {
  const head = ["person", "role", "action", "decision", "reason", "ms"];
  const cells = rows.map((r) => [r.person, r.role, r.action, r.decision, r.reason, r.ms.toFixed(1)]);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === 5 ? x.padStart(width[i]) : x.padEnd(width[i]))).join("  ");
  return [line(head), width.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}
