/** Known-answer vectors made by scripts/make-vectors.ts (independent node:crypto reference). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { expandSeedShare, encodeMessage, decodeMessage, type Message } from "../src/index.ts";
import { deriveKey, expand } from "../src/prg.ts";
import { encodeShareContext } from "../src/sharing.ts";
import { dcfGen, encodeDcfCw, dcfCwBytes } from "../src/dcf.ts";
import { dcfCipher, DCF_FIXED_KEY } from "../src/prg.ts";

const load = (f: string) => JSON.parse(readFileSync(new URL(`./vectors/${f}`, import.meta.url), "utf8"));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bytes = (h: string) => new Uint8Array(Buffer.from(h, "hex"));

test("KDF and AES-CTR expansion match the reference vectors", () => {
  const { prg } = load("prg.json");
  assert.ok(prg.length >= 4);
  for (const v of prg) {
    assert.equal(hex(deriveKey(bytes(v.seed), v.label, bytes(v.context))), v.key);
    assert.equal(hex(expand(bytes(v.seed), v.label, bytes(v.context), v.n)), v.stream);
  }
});

test("share context encoding and seed-share expansion match the reference vectors", () => {
  const { shares } = load("prg.json");
  for (const v of shares) {
    assert.equal(hex(encodeShareContext(v.ctx)), v.encodedContext);
    assert.equal(hex(expandSeedShare(bytes(v.seed0), v.ctx, v.d)), v.x0);
  }
});

test("DCF tree PRG (fixed-key MMO) and key generation match the reference vectors", () => {
  const { fixedKey, treePrg, dcf } = load("dcf.json");
  assert.equal(hex(DCF_FIXED_KEY), fixedKey);
  for (const v of treePrg) {
    const s = bytes(v.seed);
    for (const [j, want] of [[0, v.left], [1, v.right], [2, v.leaf]] as const) {
      const x = s.slice();
      x[0] = (x[0] & 0xfc) | j;
      const y = dcfCipher().encryptBlocks(x).slice();
      for (let i = 0; i < 16; i++) y[i] ^= x[i];
      assert.equal(hex(y), want);
    }
  }
  for (const v of dcf) {
    const [cw] = dcfGen(v.n, [v.alpha], bytes(v.root0), bytes(v.root1));
    const out = new Uint8Array(dcfCwBytes(v.n));
    assert.equal(encodeDcfCw(cw, out, 0), out.length);
    assert.equal(hex(out), v.cw, `n=${v.n} alpha=${v.alpha}`);
  }
});

test("wire encoding matches the reference vectors and decodes back", () => {
  const { wire } = load("wire.json");
  assert.ok(wire.length >= 5);
  const u32 = (h: string) => new Uint32Array(bytes(h).slice().buffer);
  for (const { msg, bytes: want } of wire) {
    const m = {
      v: 1, ...msg, ...(msg.m ? { m: bytes(msg.m) } : {}),
      ...(msg.eps0 ? { tau: bytes(msg.tau), eps0: u32(msg.eps0), eps1: u32(msg.eps1), delta: new Uint32Array(0) } : {}),
    } as Message;
    const enc = encodeMessage(m);
    assert.equal(hex(enc), want);
    const d = msg.m ? bytes(msg.m).length : msg.eps0 ? 2 : 8;
    const dec = decodeMessage(enc, { protocol: msg.protocol, session: msg.session, step: msg.step, seq: msg.seq, from: msg.from, d });
    assert.deepEqual(dec, m);
  }
});
