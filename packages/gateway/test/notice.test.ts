/**
 * The privacy notice is a data file (notice/<version>.json): what the gateway publishes on its first
 * start is that file's text, byte for byte — consent receipts name its hash, so a published
 * version's text must never change.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { DEFAULT_NOTICE } from "../src/index.ts";
import { noticeOf } from "../src/_notice.ts";
import { setup } from "./_setup.ts";

/** The hash of the 2026-12-01 text as it was published (before it moved out of service.ts). */
const PUBLISHED_HASH = "NraKUNygaj4n6qAeGLQ2M9H8xgTZORvEZQ_Kq3jyYjw";

describe("privacy notice (data file)", () => {
  it("the 2026-12-01 notice keeps its text: bilingual, and the hash consent receipts name", () => {
    assert.equal(DEFAULT_NOTICE.version, "2026-12-01");
    assert.deepEqual(DEFAULT_NOTICE.purposes, ["face-verification"]);
    assert.match(DEFAULT_NOTICE.text, /^人脸识别身份核验隐私告知 \/ Privacy notice for face verification\.\n/);
    assert.equal(createHash("sha256").update(DEFAULT_NOTICE.text, "utf8").digest("base64url"), PUBLISHED_HASH);
  });

  it("a fresh gateway publishes it as the current notice", async () => {
    const f = await setup("notice");
    try {
      const n = await f.inject("GET", "/v1/notices/current");
      assert.equal(n.status, 200);
      assert.deepEqual(n.body, { version: DEFAULT_NOTICE.version, hash: PUBLISHED_HASH, text: DEFAULT_NOTICE.text, purposes: DEFAULT_NOTICE.purposes });
    } finally {
      await f.close();
    }
  });

  it("a malformed notice file is refused with the file and the field named", () => {
    const ok = { version: "v1", purposes: ["face-verification"], lines: ["a", "b"] };
    assert.deepEqual(noticeOf(ok, "x.json"), { version: "v1", purposes: ["face-verification"], text: "a\nb" });
    assert.throws(() => noticeOf({ ...ok, version: "no spaces allowed" }, "x.json"), /x\.json: version/);
    assert.throws(() => noticeOf({ ...ok, purposes: [] }, "x.json"), /x\.json: purposes/);
    assert.throws(() => noticeOf({ ...ok, lines: ["two\nlines"] }, "x.json"), /x\.json: lines/);
    assert.throws(() => noticeOf(null, "x.json"), TypeError);
  });
});
