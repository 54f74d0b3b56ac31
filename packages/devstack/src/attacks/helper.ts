/**
 * The malicious helper (issue 12 item 8), measured with the parties' own spot-check (@privface/mpc):
 * a cheating twin of the helper — the real helper's `deal` with the real helper's seeds (read from a
 * runtime home: `keys/helper/`), then one correlation of some items tampered with
 * (@privface/mpc/evil-dealer, default "match_everything", review M4: every probe matches) — deals
 * batches of the parties' batch size; P0 and P1 each draw a coin, sample ⌈fraction·n⌉ items, open them
 * and check them exactly as the parties do (`spotCheckSample`, `openItem`, `checkOpenedPair`). Only
 * sampled items are dealt in full (the others are never looked at by the check), so big runs stay cheap.
 */
import { MODEL, modelParams } from "@privface/contracts";
import { readPoolSeedFile } from "@privface/crypto/node";
import {
  checkOpenedPair, deal, decodeOpening, encodeOpening, newItemId, openItem, spotCheckCoin, spotCheckCount, spotCheckMissProbability, spotCheckSample,
  DEFAULT_SPOTCHECK_FRACTION, type Params, type Seeds,
} from "@privface/mpc";
import { evilDeal, helperRebuild, type Cheat } from "@privface/mpc/evil-dealer";
import type { RuntimeLayout } from "@privface/config";
import { randomBytes } from "node:crypto";

export interface HelperCheatOptions {
  /** the helper's seeds (default: read from `layout`) */
  seeds?: Seeds;
  layout?: RuntimeLayout;
  params?: Params;
  /** items per dealt batch (the parties' PRIVFACE_P0_POOL_BATCH; default 256) */
  batch?: number;
  /** bad items per batch (default ⌈batch/16⌉) */
  bad?: number;
  cheat?: Cheat;
  batches?: number;
  fraction?: number;
}

export function helperSeeds(L: RuntimeLayout): Seeds {
  return { P0: readPoolSeedFile(L.helperPoolSeed("p0"), "P0"), P1: readPoolSeedFile(L.helperPoolSeed("p1"), "P1") };
}

/** Detected batches / batches for a helper that cheats on `bad` items of every batch; with the formula's figure. */
export function helperCheatDetection(o: HelperCheatOptions): { rate: number; expected: number; batches: number; batch: number; bad: number; sampled: number } {
  const seeds = o.seeds ?? helperSeeds(o.layout!);
  const params = o.params ?? modelParams(MODEL);
  const n = o.batch ?? 256;
  const m = o.bad ?? Math.ceil(n / 16);
  const fraction = o.fraction ?? DEFAULT_SPOTCHECK_FRACTION;
  const batches = o.batches ?? 100;
  const cheat = o.cheat ?? "match_everything";
  const rng = (k: number) => new Uint8Array(randomBytes(k));
  let detected = 0;
  for (let b = 0; b < batches; b++) {
    const ids = Array.from({ length: n }, () => newItemId());
    const bad = new Set<number>();
    while (bad.size < m) bad.add(randomBytes(4).readUInt32LE() % n);
    const sample = spotCheckSample(ids, spotCheckCoin(), spotCheckCoin(), fraction);
    const caught = sample.some((i) => {
      const d = bad.has(i) ? evilDeal(params, ids[i], seeds, cheat, rng, "verify") : deal(params, ids[i], seeds, { rng, kind: "verify" });
      // each party opens its half; P0 checks its material against P1's opening (as on the wire)
      return !checkOpenedPair(openItem("P0", seeds.P0, d.P0), decodeOpening(encodeOpening(openItem("P1", seeds.P1, d.P1)))).ok;
    });
    if (caught) detected++;
  }
  const k = spotCheckCount(n, fraction);
  return { rate: detected / batches, expected: 1 - spotCheckMissProbability(n, m, k), batches, batch: n, bad: m, sampled: k };
}

/**
 * The helper colluding with P0's database (review M4): P0's SQLite database, copied from the runtime
 * home, opened with P0's data key (the "one party" is all of P0's storage); the helper's seeds
 * (`keys/helper/`); and the ids it dealt (the helper keeps no list, but it could: here they are read
 * from P1's pool table, to which it delivered P1's halves — ids only, no P1 material). For every
 * active template at P0, tries each id as the enrolment bundle (`helperRebuild`). Returns how many
 * templates were rebuilt; `known` (the int8 vectors enrolled) confirms them exactly.
 */
export async function rebuildFromHelperAndP0(L: RuntimeLayout, known: Int8Array[] = []): Promise<{ templates: number; rebuilt: number; confirmed: number }> {
  const { copyFileSync, existsSync, mkdtempSync, rmSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const { openDb, closeDb } = await import("@privface/db");
  const { createPartyStore, openTemplateKeys } = await import("@privface/party");
  const { readDataKeyFile } = await import("@privface/crypto/node");
  const dir = mkdtempSync(join(tmpdir(), "privface-p0-copy-"));
  try {
    const copyDb = (server: "p0" | "p1") => {
      const src = L.sqlite(server);
      const copy = join(dir, `${server}.sqlite`);
      for (const ext of ["", "-wal", "-shm"]) if (existsSync(src + ext)) copyFileSync(src + ext, copy + ext);
      return openDb(`sqlite:${copy}`);
    };
    const dk = readDataKeyFile(L.dataKey("p0"));
    const p1db = await copyDb("p1");
    let ids: string[];
    try {
      ids = (await p1db.kysely.selectFrom("party_pool").select("id").execute()).map((r: { id: string }) => r.id);
    } finally {
      await closeDb(p1db);
    }
    const db = await copyDb("p0");
    // P0's template-key register, read in place (the attacker holds all of P0's storage)
    const templateKeys = await openTemplateKeys(L.templateKeys("p0"));
    try {
      const store = await createPartyStore(db, { role: "P0", dataKeys: { current: dk.id, keys: new Map([[dk.id, dk.key]]) }, templateKeys });
      const params = modelParams(MODEL);
      const seeds = helperSeeds(L);
      const templates = (await db.kysely.selectFrom("party_templates").select("template_id").where("status", "=", "active").execute()).map((r: { template_id: string }) => r.template_id);
      let rebuilt = 0;
      let confirmed = 0;
      for (const t of templates) {
        const { share } = await store.loadActive(t);
        const y0 = new Uint32Array(share.buffer.slice(share.byteOffset, share.byteOffset + 4 * params.d));
        for (const id of ids) {
          const x = helperRebuild(params, seeds, id, y0);
          if (!x) continue;
          rebuilt++;
          if (known.some((want) => want.every((v, i) => v === x[i]))) confirmed++;
          break;
        }
      }
      return { templates: templates.length, rebuilt, confirmed };
    } finally {
      await closeDb(db);
      await templateKeys.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
