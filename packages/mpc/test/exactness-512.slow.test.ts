import { test } from "node:test";
import { exactness } from "./_exactness.ts";

test("exactness d = 512: 10,000 random pairs (genuine, impostor, at/around the threshold and the norm bounds) equal verifyPlain", () => {
  exactness(512, Number(process.env.PRIVFACE_EXACTNESS_COUNT ?? 10_000));
});
