/**
 * The passive border cue and its fusion with the anti-spoofing net (`_pad.ts`), on generated frames:
 * a face-sized blob on a textured background, with and without the straight frame of a phone or
 * a printed photo around it. No model is loaded.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { borderCue, padScore, PAD_FUSION } from "../src/_pad.ts";
import type { Box } from "../src/_detect.ts";
import { MODEL } from "@privface/contracts";

const W = 640;
const H = 480;
const FACE: Box = { x1: 260, y1: 150, x2: 380, y2: 300, score: 0.99 };

/** A textured background (seeded noise on a gradient) with a skin-coloured ellipse where the face box is. */
function scene(seed = 7): Uint8Array {
  const d = new Uint8Array(W * H * 4);
  let x = seed;
  for (let j = 0; j < H; j++) {
    for (let i = 0; i < W; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const n = ((x >>> 0) % 25) - 12;
      const o = (j * W + i) * 4;
      const base = 150 + (i / W) * 40 + n;
      d[o] = base;
      d[o + 1] = base - 5;
      d[o + 2] = base - 10;
      d[o + 3] = 255;
    }
  }
  const cx = (FACE.x1 + FACE.x2) / 2;
  const cy = (FACE.y1 + FACE.y2) / 2;
  for (let j = FACE.y1 - 20; j < FACE.y2 + 20; j++) {
    for (let i = FACE.x1 - 10; i < FACE.x2 + 10; i++) {
      const u = (i - cx) / 70;
      const v = (j - cy) / 95;
      if (u * u + v * v > 1) continue;
      const o = (j * W + i) * 4;
      d[o] = 200;
      d[o + 1] = 160;
      d[o + 2] = 130;
    }
  }
  return d;
}

/** Paints a bezel (dark band `t` pixels wide) along the sides of the rectangle, rotated by `deg` around its centre. */
function bezel(d: Uint8Array, r: { x1: number; y1: number; x2: number; y2: number }, t: number, deg = 0, sides: ("left" | "right" | "top" | "bottom")[] = ["left", "right", "top", "bottom"]): void {
  const cx = (r.x1 + r.x2) / 2;
  const cy = (r.y1 + r.y2) / 2;
  const c = Math.cos((deg * Math.PI) / 180);
  const s = Math.sin((deg * Math.PI) / 180);
  for (let j = 0; j < H; j++) {
    for (let i = 0; i < W; i++) {
      // back-rotate into the rectangle's frame
      const u = c * (i - cx) + s * (j - cy) + cx;
      const v = -s * (i - cx) + c * (j - cy) + cy;
      const inY = v >= r.y1 - t && v <= r.y2 + t;
      const inX = u >= r.x1 - t && u <= r.x2 + t;
      const hit =
        (sides.includes("left") && inY && u >= r.x1 - t && u < r.x1) ||
        (sides.includes("right") && inY && u > r.x2 && u <= r.x2 + t) ||
        (sides.includes("top") && inX && v >= r.y1 - t && v < r.y1) ||
        (sides.includes("bottom") && inX && v > r.y2 && v <= r.y2 + t);
      if (!hit) continue;
      const o = (j * W + i) * 4;
      d[o] = d[o + 1] = d[o + 2] = 25;
    }
  }
}

const PHONE = { x1: 200, y1: 80, x2: 440, y2: 470 };

describe("border cue", () => {
  it("a face with nothing straight around it scores low", () => {
    const c = borderCue({ data: scene(), width: W, height: H }, FACE);
    assert.ok(c.score < 0.3, `cue ${c.score}`);
  });

  it("attack: the face inside a phone's bezel scores high", () => {
    const d = scene();
    bezel(d, PHONE, 12);
    const c = borderCue({ data: d, width: W, height: H }, FACE);
    assert.ok(c.score > 0.85, `cue ${c.score} ${JSON.stringify(c.sides)}`);
  });

  it("attack: a tilted phone (8°) still scores high", () => {
    const d = scene();
    bezel(d, PHONE, 12, 8);
    const c = borderCue({ data: d, width: W, height: H }, FACE);
    assert.ok(c.score > 0.7, `cue ${c.score} ${JSON.stringify(c.sides)}`);
  });

  it("attack: a printed photo whose bottom edge is hidden by the hand shows three sides and scores high", () => {
    const d = scene();
    bezel(d, PHONE, 6, 0, ["left", "right", "top"]);
    const c = borderCue({ data: d, width: W, height: H }, FACE);
    assert.ok(c.score > 0.85, `cue ${c.score}`);
  });

  it("one straight line behind a live person (a door frame) is not a frame: the cue is the second-strongest side", () => {
    const d = scene();
    bezel(d, PHONE, 12, 0, ["left"]);
    const c = borderCue({ data: d, width: W, height: H }, FACE);
    assert.ok(c.sides.left > 0.85, `left ${c.sides.left}`);
    assert.ok(c.score < 0.3, `cue ${c.score}`);
  });

  it("the frame's own edge is not a border", () => {
    // face near the left edge of the picture: the picture border must not count as a line
    const d = scene();
    const box: Box = { x1: 30, y1: 150, x2: 150, y2: 300, score: 0.9 };
    const c = borderCue({ data: d, width: W, height: H }, box);
    assert.ok(c.sides.left < 0.3, `left ${c.sides.left}`);
  });
});

describe("padScore (net + border fusion)", () => {
  it("is 0.5 exactly on the decision line, increasing in the net and decreasing in the border cue", () => {
    // z = log10(net + floor) − w·border + offset = 0  ⇔  score 0.5
    const border = 0.5;
    const net = 10 ** (PAD_FUSION.borderWeight * border - PAD_FUSION.offset) - PAD_FUSION.floor;
    assert.ok(Math.abs(padScore(net, border) - 0.5) < 1e-9);
    assert.ok(padScore(0.9, 0.4) > padScore(0.1, 0.4));
    assert.ok(padScore(0.9, 0.4) > padScore(0.9, 0.8));
  });

  it("at the model's threshold: a confident net without a frame passes, a frame needs a confident net, a low net fails", () => {
    const t = MODEL.livenessThreshold;
    assert.equal(t, 0.5);
    assert.ok(padScore(0.99, 0.36) >= t); // typical live frame (median cue on the live sets ≈ 0.36)
    assert.ok(padScore(0.02, 0.36) >= t); // live webcam frame the net alone under-scores
    assert.ok(padScore(1e-5, 0.85) < t); // replay on a phone: low net, clear border
    assert.ok(padScore(0.5, 0.95) < t); // a clear rectangle all round needs more than an unsure net
    assert.ok(padScore(1e-6, 0.36) < t); // no border, but the net is sure it is an attack
    assert.ok(padScore(0, 0) < t);
  });
});
