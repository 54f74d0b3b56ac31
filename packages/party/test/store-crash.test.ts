/** The party store's crash suite (_store-crash.ts) on SQLite files. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { storeCrashSuite } from "./_store-crash.ts";

const dir = mkdtempSync(join(tmpdir(), "privface-store-crash-"));
after(() => rmSync(dir, { recursive: true, force: true }));

storeCrashSuite("sqlite", async (label) => ({ url: `sqlite:${join(dir, `${label}.sqlite`)}` }));
