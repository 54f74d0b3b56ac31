/**
 * Independent reference for the known-answer vectors in test/vectors/*.json. Uses only node:crypto
 * (no code from src/), written from the specs in the module headers of src/prg.ts, src/sharing.ts,
 * src/dcf.ts and src/wire.ts. Run: node --import tsx packages/mpc/scripts/make-vectors.ts
 */
import { createCipheriv } from "node:crypto";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const outDir = fileURLToPath(new URL("../test/vectors/", import.meta.url));

// ---- KDF: CBC-MAC_seed(u64be(|M|) ‖ 0^64 ‖ M ‖ 0-pad), M = u32be|label| ‖ label ‖ u32be|ctx| ‖ ctx
function kdf(seed: Buffer, label: string, ctx: Buffer): Buffer {
  const l = Buffer.from(label, "utf8");
  const M = Buffer.concat([u32be(l.length), l, u32be(ctx.length), ctx]);
  const head = Buffer.alloc(16);
  head.writeBigUInt64BE(BigInt(M.length), 0);
  const padded = Buffer.concat([head, M, Buffer.alloc((16 - (M.length % 16)) % 16)]);
  // CBC-MAC by hand: X_i = AES(X_{i-1} ⊕ B_i)
  const alg = seed.length === 32 ? "aes-256-ecb" : "aes-128-ecb";
  let x = Buffer.alloc(16);
  for (let i = 0; i < padded.length; i += 16) {
    const blk = Buffer.alloc(16);
    for (let j = 0; j < 16; j++) blk[j] = x[j] ^ padded[i + j];
    const c = createCipheriv(alg, seed, null);
    c.setAutoPadding(false);
    x = c.update(blk);
  }
  return x;
}
function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
function ctrStream(key: Buffer, n: number): Buffer {
  // AES-CTR by hand: E_K(counter_i), counter = i as 128-bit big-endian
  const out = Buffer.alloc(n);
  const c = createCipheriv("aes-128-ecb", key, null);
  c.setAutoPadding(false);
  for (let i = 0; i * 16 < n; i++) {
    const ctr = Buffer.alloc(16);
    ctr.writeUInt32BE(i, 12);
    c.update(ctr).copy(out, i * 16, 0, Math.min(16, n - i * 16));
  }
  return out;
}
function shareContext(ctx: Record<string, string>): Buffer {
  const parts = ["privface/share-context/v1", ctx.purpose, ctx.challenge, ctx.templateId, ctx.modelVersion].map((s) => Buffer.from(s, "utf8"));
  return Buffer.concat(parts.flatMap((p) => [Buffer.from([p.length >> 8, p.length & 255]), p]));
}

// deterministic "random" bytes for the vectors: SHA-free, from AES-CTR under a fixed key
const src = ctrStream(Buffer.from("vectors-source!!"), 4096);
let srcPos = 0;
const take = (n: number) => Buffer.from(src.subarray(srcPos, (srcPos += n)));

const prg = [];
for (const [seedLen, label, ctxLen, n] of [[16, "privface/test", 0, 16], [16, "privface/test", 5, 40], [32, "privface/mpc/bundle/v1", 34, 100], [32, "a", 70, 33]] as const) {
  const seed = take(seedLen), ctx = take(ctxLen);
  const key = kdf(seed, label, ctx);
  prg.push({ seed: hex(seed), label, context: hex(ctx), n, key: hex(key), stream: hex(ctrStream(key, n)) });
}
const shares = [];
for (const [d, ctx] of [[8, { purpose: "verify", challenge: "c-1", templateId: "t-1", modelVersion: "m1" }], [33, { purpose: "enrol", challenge: "ÄÖ-ü", templateId: "", modelVersion: "arcface-512@2" }]] as const) {
  const seed0 = take(16);
  const c = Buffer.concat([shareContext(ctx), u32be(d)]);
  shares.push({ seed0: hex(seed0), ctx, d, encodedContext: hex(shareContext(ctx)), x0: hex(ctrStream(kdf(seed0, "privface/mpc/input-share/v1/P0", c), d)) });
}

// ---- DCF: MMO tree PRG with the fixed key, Gen^< with Z_2 outputs and 7-bit leaves
const FIXED = Buffer.from("privface/dcf/v1!", "ascii");
const fixedEcb = createCipheriv("aes-128-ecb", FIXED, null);
fixedEcb.setAutoPadding(false);
function G(s: Buffer, j: number): Buffer {
  const x = Buffer.from(s);
  x[0] = (x[0] & 0xfc) | j;
  const y = fixedEcb.update(x);
  for (let i = 0; i < 16; i++) y[i] ^= x[i];
  return y;
}
const clear = (b: Buffer) => { const c = Buffer.from(b); c[0] &= 0xfc; return c; };
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((v, i) => v ^ b[i]));
const prgVectors = [];
for (let i = 0; i < 3; i++) {
  const s = clear(take(16));
  prgVectors.push({ seed: hex(s), left: hex(G(s, 0)), right: hex(G(s, 1)), leaf: hex(G(s, 2)) });
}
function dcfGenRef(n: number, alpha: number, root0: Buffer, root1: Buffer): Buffer {
  const nu = n - 7;
  let s = [clear(root0), clear(root1)];
  let t = [0, 1];
  let va = 0;
  const scws: Buffer[] = [];
  const bits: number[] = [];
  for (let i = 0; i < nu; i++) {
    const a = Math.floor(alpha / 2 ** (n - 1 - i)) % 2;
    const ch = s.map((sb) => [G(sb, 0), G(sb, 1)]); // ch[b][dir]
    const T = (blk: Buffer) => blk[0] & 1, V = (blk: Buffer) => (blk[0] >> 1) & 1;
    const keep = a, lose = 1 - a;
    const scw = clear(xor(ch[0][lose], ch[1][lose]));
    const vcw = V(ch[0][lose]) ^ V(ch[1][lose]) ^ va ^ a;
    va = va ^ V(ch[0][keep]) ^ V(ch[1][keep]) ^ vcw;
    const tl = T(ch[0][0]) ^ T(ch[1][0]) ^ a ^ 1;
    const tr = T(ch[0][1]) ^ T(ch[1][1]) ^ a;
    scws.push(scw);
    bits.push(vcw, tl, tr);
    const tk = keep ? tr : tl;
    const ns = [0, 1].map((b) => (t[b] ? xor(clear(ch[b][keep]), scw) : clear(ch[b][keep])));
    t = [0, 1].map((b) => T(ch[b][keep]) ^ (t[b] & tk));
    s = ns;
  }
  const lo = alpha % 128;
  const L = Buffer.alloc(16);
  for (let j = 0; j < lo; j++) L[j >> 3] |= 1 << (j & 7);
  const leaf = xor(xor(G(s[0], 2), G(s[1], 2)), L);
  if (va) for (let j = 0; j < 16; j++) leaf[j] ^= 0xff;
  const packed = Buffer.alloc(Math.ceil(bits.length / 8));
  bits.forEach((b, k) => { if (b) packed[k >> 3] |= 1 << (k & 7); });
  return Buffer.concat([...scws, packed, leaf]);
}
const dcf = [];
for (const [n, alpha] of [[8, 0], [8, 200], [10, 513], [26, 40_000_000], [26, 2 ** 26 - 1]] as const) {
  const r0 = take(16), r1 = take(16);
  dcf.push({ n, alpha, root0: hex(r0), root1: hex(r1), cw: hex(dcfGenRef(n, alpha, r0, r1)) });
}

// ---- wire: header "PFM" v proto step from sl seq(u32be) session 0-pad(to 4) body
function header(proto: number, step: number, from: number, seq: number, session: string): Buffer {
  const h = Buffer.concat([Buffer.from([0x50, 0x46, 0x4d, 1, proto, step, from, session.length]), u32be(seq), Buffer.from(session, "ascii")]);
  return Buffer.concat([h, Buffer.alloc((4 - (h.length % 4)) % 4)]);
}
const lift = { protocol: "verify", session: "sess-1", step: 1, seq: 0, from: "P1", bundleId: hex(take(16)), m: hex(take(8)) };
const cmp = { protocol: "verify", session: "sess-1", step: 3, seq: 2, from: "P0", zScore: 0x2abcdef, zNorm: 12345 };
const and = { protocol: "verify", session: "s:2", step: 4, seq: 3, from: "P1", bits: 2 };
const eps = Buffer.from(take(16));
const open = { protocol: "enrol", session: "open-1x", step: 2, seq: 1, from: "P0", tau: "05", eps0: hex(eps.subarray(0, 8)), eps1: hex(eps.subarray(8, 16)) };
const cmpE = { protocol: "enrol", session: "enrol.9", step: 3, seq: 2, from: "P0", zScore: 0, zNorm: 777 };
const wire = [
  { msg: lift, bytes: hex(Buffer.concat([header(1, 1, 1, 0, "sess-1"), Buffer.from(lift.bundleId, "hex"), Buffer.from(lift.m, "hex")])) },
  { msg: cmp, bytes: hex(Buffer.concat([header(1, 3, 0, 2, "sess-1"), u32be(cmp.zScore), u32be(cmp.zNorm)])) },
  { msg: and, bytes: hex(Buffer.concat([header(1, 4, 1, 3, "s:2"), Buffer.from([2])])) },
  { msg: cmpE, bytes: hex(Buffer.concat([header(2, 3, 0, 2, "enrol.9"), u32be(777)])) },
  { msg: open, bytes: hex(Buffer.concat([header(2, 2, 0, 1, "open-1x"), eps, Buffer.from([5])])) },
];

writeFileSync(outDir + "prg.json", JSON.stringify({ note: "made by scripts/make-vectors.ts", prg, shares }, null, 1) + "\n");
writeFileSync(outDir + "dcf.json", JSON.stringify({ note: "made by scripts/make-vectors.ts", fixedKey: hex(FIXED), treePrg: prgVectors, dcf }, null, 1) + "\n");
writeFileSync(outDir + "wire.json", JSON.stringify({ note: "made by scripts/make-vectors.ts", wire }, null, 1) + "\n");
console.log("wrote prg.json, dcf.json, wire.json");
