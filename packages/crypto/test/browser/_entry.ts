// Bundled by esbuild for Chromium in crypto.test.ts: exposes the package (browser backend) on globalThis.
import * as pf from "../../src/index.ts";
import { sealWith } from "../../src/_seal.ts";
(globalThis as unknown as { pf: unknown }).pf = { ...pf, sealWith };
