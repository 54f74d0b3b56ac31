/**
 * Builds the operator console into a directory the gateway serves under /console/
 * (a web mount: `PRIVFACE_GATEWAY_WEB=/console/=DIR`, or the gateway option `web`): index.html, console.css and
 * console.js (the page bundled by esbuild, no runtime dependency). The gateway never imports this
 * package; the development stack and the tests call `buildConsole` and pass the directory.
 *
 * @example await buildConsole("/tmp/console"); // then startGateway({ ..., web: [{ prefix: "/console/", dir: "/tmp/console" }] })
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const page = fileURLToPath(new URL("./page/", import.meta.url));

/** Writes the console's files into `outDir` (created if missing); resolves to `outDir`. */
export async function buildConsole(outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(page, "main.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outfile: join(outDir, "console.js"),
    minify: true,
    legalComments: "none",
    logLevel: "error",
  });
  copyFileSync(join(page, "index.html"), join(outDir, "index.html"));
  copyFileSync(join(page, "console.css"), join(outDir, "console.css"));
  return outDir;
}
