/** The party store contract suite on SQLite: a file database and an in-memory one. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { closeDb, openDb } from "@privface/db";
import { storeContract } from "./_store-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "privface-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeContract("sqlite file", () => openDb(`sqlite:${join(dir, `s${n++}.sqlite`)}`), closeDb);
storeContract("sqlite memory", () => openDb(":memory:"), closeDb);
