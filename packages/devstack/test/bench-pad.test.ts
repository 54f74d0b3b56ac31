/** `privface bench pad`'s rates, EER, DET plot and attack-type folders (pure parts; the engine run is in device's slow tests). */
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { attackType, listImages, padDetSvg, padEer, padRates } from "../src/bench/pad.ts";

describe("bench pad", () => {
  it("APCER counts accepted attacks, BPCER refused live frames; no-face frames (−1) are refused in both", () => {
    const live = [0.9, 0.8, 0.4, -1];
    const spoof = [0.1, 0.6, -1, 0.2];
    assert.deepEqual(padRates(live, spoof, 0.5), { apcer: 0.25, bpcer: 0.5 });
    assert.deepEqual(padRates(live, spoof, 0), { apcer: 0.75, bpcer: 0.25 });
    assert.throws(() => padRates([], spoof, 0.5), RangeError);
  });

  it("EER is where APCER and BPCER meet", () => {
    const e = padEer([0.9, 0.8, 0.7, 0.3], [0.1, 0.2, 0.35, 0.75]);
    assert.equal(e.eer, 0.25);
    assert.ok(e.threshold > 0.35 && e.threshold <= 0.7);
    assert.equal(padEer([0.9, 0.8], [0.1, 0.2]).eer, 0);
  });

  it("draws a DET curve with the operating point", () => {
    const svg = padDetSvg([0.9, 0.8, 0.3], [0.1, 0.6], 0.5, "a<b");
    assert.match(svg, /^<svg /);
    assert.match(svg, /<polyline [^>]*points="[0-9., ]+"/);
    assert.match(svg, /a&lt;b/);
  });

  it("finds images at any depth and names attack types by non-numeric first-level folders", () => {
    const d = mkdtempSync(join(tmpdir(), "pad-"));
    for (const sub of ["print", "replay", "0001"]) mkdirSync(join(d, sub));
    writeFileSync(join(d, "print", "a.jpg"), "x");
    writeFileSync(join(d, "replay", "b.PNG"), "x");
    writeFileSync(join(d, "0001", "c.jpeg"), "x");
    writeFileSync(join(d, "notes.txt"), "x");
    const files = listImages(d);
    assert.equal(files.length, 3);
    assert.deepEqual(files.map((f) => attackType(d, f)), [undefined, "print", "replay"]);
    assert.throws(() => listImages(join(d, "missing")), RangeError);
  });
});
