/**
 * Boot time of the party's dedup gallery (src/gallery.ts): two party stores (SQLite files) holding N
 * active templates (random int8 faces, shared in Z_2^32, stored as enrolment stores them), then both
 * parties' `PartyGallery.build()` at once over the in-memory transport — read and decrypt every share,
 * derive the masks, open δ with the peer (one exchange per 256 templates), write the rows. Both
 * parties run in this one process, so the CPU figure is the two parties' together.
 * Prints one JSON line:
 *   {"suite":"party-gallery-boot","n":N,"dim":512,"boot_ms":..,"cpu_ms":..,"fill_ms":..,"rows_mib_per_party":..,"rss_mib":..,"exact":true,"load":..}
 * `exact`: every template's y_j = G_j^(0) + G_j^(1) equals the stored face (checked after the timing).
 * Usage: node --import tsx packages/party/bench/gallery.ts [--n 10000] [--dir DIR]
 *   --dir keeps the two databases there (filled once, reused by later runs with the same --n).
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { modelParams, MODEL, PARTIES, serverRoleOf, type PartyName } from "@privface/contracts";
import { closeDb, openDb, type Db } from "@privface/db";
import { createMemoryNetwork } from "@privface/transport";
import { PartyGallery } from "../src/gallery.ts";
import { packShare } from "../src/share-epoch.ts";
import { createPartyStore, type PartyStore } from "../src/store/index.ts";

const { values } = parseArgs({ options: { n: { type: "string", default: "10000" }, dir: { type: "string" } } });
const N = Number(values.n);
if (!Number.isInteger(N) || N < 1) throw new RangeError("--n: expected a positive integer");
const params = modelParams();
const d = params.d;
const MV = MODEL.version;
// bench-only fixed keys, so that a kept --dir can be reopened
const fixed = (label: string) => new Uint8Array(createHash("sha256").update(`privface bench gallery ${label}`).digest());
const seeds: Record<PartyName, Uint8Array> = { P0: fixed("seed P0"), P1: fixed("seed P1") };

/** Face j: deterministic int8 vector (so a kept database can be checked); small entries keep it valid-looking. */
function face(j: number): Int8Array {
  const b = createHash("shake256", { outputLength: d }).update(`face ${j}`).digest();
  return new Int8Array(b.buffer, b.byteOffset, d);
}

async function open(dir: string, p: PartyName): Promise<{ db: Db; store: PartyStore }> {
  const db = await openDb(join(dir, `${p}-${N}.sqlite`), { synchronous: "NORMAL" });
  const store = await createPartyStore(db, { role: p, dataKeys: { current: "k1", keys: new Map([["k1", fixed(`data ${p}`)]]) }, secureDelete: "fast" });
  return { db, store };
}

const dir = values.dir ?? mkdtempSync(join(tmpdir(), "privface-gallery-"));
const filled = existsSync(join(dir, `P0-${N}.sqlite`)) && existsSync(join(dir, `P1-${N}.sqlite`));
const parties = { P0: await open(dir, "P0"), P1: await open(dir, "P1") };
let fillMs = 0;
if (!filled || (await parties.P0.store.templateCounts()).active < N) {
  const t0 = performance.now();
  for (let j = 0; j < N; j++) {
    const y = face(j);
    const s0 = new Uint32Array(new Uint8Array(randomBytes(4 * d)).buffer);
    const s1 = new Uint32Array(d);
    for (let k = 0; k < d; k++) s1[k] = y[k] - s0[k];
    const tid = `t${createHash("sha256").update(`tid ${j}`).digest("base64url").slice(0, 21)}`;
    for (const [p, s] of [["P0", s0], ["P1", s1]] as const) {
      const session = `s${j.toString().padStart(16, "0")}`;
      await parties[p].store.prepare(session, tid, MV, packShare(s, 0));
      await parties[p].store.commit(session, { templateId: tid });
    }
  }
  fillMs = performance.now() - t0;
}

const net = createMemoryNetwork({ receiveTimeoutMs: 60_000 });
const epoch = Math.floor(Date.now() / 1000) >>> 0;
const galleries = {} as Record<PartyName, PartyGallery>;
for (const p of PARTIES) {
  galleries[p] = new PartyGallery({ party: p, params, modelVersion: MV, seed: seeds[p], epoch, store: parties[p].store, transport: net.endpoint(serverRoleOf(p)), timeoutMs: 60_000 });
}
global.gc?.();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const [b0] = await Promise.all(PARTIES.map((p) => galleries[p].build()));
const bootMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const rss = process.memoryUsage().rss;

// check: y_j = G0_j + G1_j is face(j) for every template (slots are in template-id order: map back by id)
const byId = new Map<string, number>();
for (let j = 0; j < N; j++) byId.set(`t${createHash("sha256").update(`tid ${j}`).digest("base64url").slice(0, 21)}`, j);
let exact = b0.count === N && galleries.P0.digest() === galleries.P1.digest();
for (let slot = 0; exact && slot < b0.count; slot++) {
  const y = face(byId.get(galleries.P0.templateAt(slot)!)!);
  const a = galleries.P0.rows.online.row(slot), b = galleries.P1.rows.online.row(slot);
  for (let k = 0; k < d; k++) if (((a[k] + b[k]) | 0) !== y[k]) exact = false;
}
// δ and G rows of the filled slots (the stores allocate whole shards of 65,536 rows; untouched pages cost no RAM)
const rowsBytes = 2 * b0.count * galleries.P0.rows.online.width * 4;
console.log(JSON.stringify({
  suite: "party-gallery-boot", n: N, dim: d,
  boot_ms: Math.round(bootMs), cpu_ms: Math.round((cpu.user + cpu.system) / 1000), fill_ms: Math.round(fillMs),
  rows_mib_per_party: Math.round(rowsBytes / 2 ** 20), rss_mib: Math.round(rss / 2 ** 20), exact, load: loadavg()[0],
}));
for (const p of PARTIES) await closeDb(parties[p].db);
if (!values.dir) rmSync(dir, { recursive: true, force: true });
