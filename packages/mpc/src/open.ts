/**
 * Party side of a bundle: `openBundle` expands a decoded bundle with the party's long-term seed into the
 * material one protocol run consumes (bundle.ts has the derivation); `checkBundleParams` is what the
 * start steps check of it. Opening takes ownership of the bundle's bytes: P1's corrections are used in
 * place when aligned and, like all material, zeroed by the protocol after the last step.
 */
import { ProtocolError } from "./errors.ts";
import type { PartyName } from "./messages.ts";
import { sameParams, type Params } from "./params.ts";
import { aligned, checkId, checkSeed, correctionBytes, Cursor, keyCount, p0Material, p1Own, type Bundle, type BundleKind, type Material } from "./bundle.ts";

function p1Material(seed: Uint8Array, bundle: Bundle): Material {
  const { kind, id, params, cws } = bundle;
  const d = params.d;
  const v = kind === "verify";
  const own = p1Own(seed, kind, id, params);
  const corr = bundle.corrections;
  if (!corr || corr.length !== correctionBytes(kind, d)) throw new ProtocolError("BAD_BUNDLE", "P1 bundle without valid corrections");
  const buf = corr.byteOffset % 4 === 0 ? corr : aligned(corr.length);
  if (buf !== corr) buf.set(corr);
  const c = new Cursor(buf);
  const r = c.i32(d), rho = c.i32(d), q0 = c.i32(d), q1 = c.i32(d);
  const z0 = c.i32(v ? d : 0), z1 = c.i32(v ? d : 0);
  const rOut = c.i32(2);
  const table = c.bytes(32 * d);
  const wrap = c.byte() & 3;
  const cBit = c.byte() & 1;
  return {
    kind, role: "P1", id, params, r, rho, table, a0: own.a0, a1: own.a1, q0, q1, b: own.b, z0, z1, rOut,
    roots: own.roots, wrap, and: v ? own.and | (cBit << 2) : 0, cws, budgetStream: own.budgetStream,
  };
}

/**
 * Expands `bundle` with the party's long-term seed into its material for one run.
 * @throws ProtocolError WRONG_ROLE if the bundle is for the other party, BAD_BUNDLE if malformed.
 * @example const mat = openBundle("P1", seedP1, decodeBundle(poolItemBytes));
 */
export function openBundle(role: PartyName, seed: Uint8Array, bundle: Bundle): Material {
  checkSeed("seed", seed);
  if (bundle.role !== role) throw new ProtocolError("WRONG_ROLE", `bundle for ${bundle.role}, opened by ${role}`);
  checkId(bundle.id);
  if (bundle.cws.length !== keyCount(bundle.kind)) throw new ProtocolError("BAD_BUNDLE", `expected ${keyCount(bundle.kind)} DCF keys`);
  return role === "P0" ? p0Material(seed, bundle.kind, bundle.id, bundle.params, bundle.cws) : p1Material(seed, bundle);
}

/** The material is for this protocol, this party and these parameters (BUNDLE_MISMATCH, WRONG_ROLE, PARAMS_MISMATCH). */
export function checkBundleParams(m: Material, params: Params, kind: BundleKind, role: PartyName): void {
  if (m.kind !== kind) throw new ProtocolError("BUNDLE_MISMATCH", `bundle for ${m.kind}, used for ${kind}`);
  if (m.role !== role) throw new ProtocolError("WRONG_ROLE", `material for ${m.role}, used by ${role}`);
  if (!sameParams(m.params, params)) throw new ProtocolError("PARAMS_MISMATCH", "bundle was dealt for other parameters");
}
