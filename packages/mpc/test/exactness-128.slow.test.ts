import { test } from "node:test";
import { exactness } from "./_exactness.ts";

test("exactness d = 128: 10,000 random pairs (genuine, impostor, at/around the threshold and the norm bounds) equal verifyPlain", () => {
  exactness(128, Number(process.env.PRIVFACE_EXACTNESS_COUNT ?? 10_000));
});
