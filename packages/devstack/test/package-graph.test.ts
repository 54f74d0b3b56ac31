/**
 * The package graph, read from every package's manifest and source imports: each import is declared,
 * each declared dependency is imported, no server imports another server, the device SDK or the
 * development stack, the runtime graph of @privface packages has no cycle, and the compute parties'
 * production closure holds no face model runtime. docs/architecture.md's dependency table says the same.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const pkgDir = join(root, "packages");

interface Pkg {
  dir: string;
  name: string;
  deps: Set<string>;
  devDeps: Set<string>;
  /** bare specifiers imported by src/ and bin/ (package names) */
  runtime: Set<string>;
  /** bare specifiers imported by test/, bench/, scripts/ */
  dev: Set<string>;
}

const NODE_BUILTIN = /^node:/;
function packageOf(spec: string): string | null {
  if (spec.startsWith(".") || spec.startsWith("/") || spec.startsWith("#") || NODE_BUILTIN.test(spec)) return null;
  const parts = spec.split("/");
  return spec.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (f === "node_modules") continue;
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|js|mjs)$/.test(f)) out.push(p);
  }
  return out;
}

const IMPORT_RES = [
  /\bfrom\s+"([^"]+)"/g,
  /\bimport\s+"([^"]+)"/g,
  /\bimport\(\s*"([^"]+)"\s*\)/g,
  /\bimport\.meta\.resolve\(\s*["`]([^"`$]+)/g,
  /\brequire(?:\.resolve)?\(\s*"([^"]+)"\s*\)/g,
];
function importsOf(dirs: string[]): Set<string> {
  const out = new Set<string>();
  for (const d of dirs)
    for (const f of files(d)) {
      const text = readFileSync(f, "utf8");
      for (const re of IMPORT_RES) for (const m of text.matchAll(re)) {
        const p = packageOf(m[1]);
        if (p) out.add(p);
      }
    }
  return out;
}

function load(): Map<string, Pkg> {
  const out = new Map<string, Pkg>();
  for (const d of readdirSync(pkgDir)) {
    const dir = join(pkgDir, d);
    if (!existsSync(join(dir, "package.json"))) continue;
    const m = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    out.set(m.name, {
      dir: d,
      name: m.name,
      deps: new Set(Object.keys(m.dependencies ?? {})),
      devDeps: new Set(Object.keys(m.devDependencies ?? {})),
      runtime: importsOf([join(dir, "src"), join(dir, "bin")]),
      dev: importsOf([join(dir, "test"), join(dir, "bench"), join(dir, "scripts")]),
    });
  }
  return out;
}

const pkgs = load();
const rootDev = new Set(Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies ?? {}));
const SERVERS = ["@privface/party", "@privface/helper", "@privface/gateway"];
/** what no server imports: the device SDK, the development stack, the CLI, a front end (the gateway serves the console's built files from a directory) */
const FORBIDDEN_FOR_SERVERS = ["@privface/device", "@privface/devstack", "@privface/cli", "@privface/console"];
/** Dependencies used without an import: type packages for `import type` from a package that ships none. */
const IMPLICIT = new Set(["@types/ws", "@types/pg", "@types/better-sqlite3", "@types/pngjs", "@types/node"]);

describe("package graph", () => {
  it("every import is declared: src/ and bin/ in dependencies, tests in either", () => {
    const problems: string[] = [];
    for (const p of pkgs.values()) {
      for (const i of p.runtime) if (i !== p.name && !p.deps.has(i)) problems.push(`${p.name}: src imports ${i}, not in dependencies`);
      for (const i of p.dev) if (i !== p.name && !p.deps.has(i) && !p.devDeps.has(i) && !rootDev.has(i)) problems.push(`${p.name}: tests import ${i}, declared nowhere`);
    }
    assert.deepEqual(problems, []);
  });

  it("every declared dependency is used", () => {
    const problems: string[] = [];
    for (const p of pkgs.values()) {
      for (const d of p.deps) if (!p.runtime.has(d) && !IMPLICIT.has(d)) problems.push(`${p.name}: dependency ${d} is not imported by src/ or bin/`);
      for (const d of p.devDeps) if (!p.dev.has(d) && !p.runtime.has(d) && !IMPLICIT.has(d)) problems.push(`${p.name}: devDependency ${d} is not imported by tests`);
    }
    assert.deepEqual(problems, []);
  });

  it("no server depends on another server, the device SDK, the development stack or a front end", () => {
    const problems: string[] = [];
    for (const s of SERVERS) {
      const p = pkgs.get(s)!;
      for (const d of [...p.deps, ...p.runtime]) {
        if ((SERVERS.includes(d) && d !== s) || FORBIDDEN_FOR_SERVERS.includes(d)) problems.push(`${s} → ${d}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it("the runtime dependency graph of @privface packages has no cycle", () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const cycles: string[] = [];
    const visit = (n: string, path: string[]) => {
      if (done.has(n)) return;
      if (visiting.has(n)) return void cycles.push([...path, n].join(" → "));
      visiting.add(n);
      for (const d of pkgs.get(n)?.deps ?? []) if (pkgs.has(d)) visit(d, [...path, n]);
      visiting.delete(n);
      done.add(n);
    };
    for (const n of pkgs.keys()) visit(n, []);
    assert.deepEqual(cycles, []);
  });

  it("the servers' production closure holds no face model runtime and no face model package", () => {
    const closure = (name: string, seen = new Set<string>()): Set<string> => {
      if (seen.has(name)) return seen;
      seen.add(name);
      const local = pkgs.get(name);
      const deps = local ? [...local.deps] : externalDeps(name);
      for (const d of deps) closure(d, seen);
      return seen;
    };
    for (const s of SERVERS) {
      const c = closure(s);
      for (const banned of ["onnxruntime-web", "onnxruntime-node", "faceplugin-face-recognition-js", "@vladmandic/face-api"]) assert.ok(!c.has(banned), `${s} pulls in ${banned}`);
    }
  });

  it("docs/architecture.md's package table lists each package's @privface dependencies as its manifest does", () => {
    const doc = readFileSync(join(root, "docs", "architecture.md"), "utf8");
    const problems: string[] = [];
    for (const p of pkgs.values()) {
      const short = p.name.replace("@privface/", "");
      const row = doc.split("\n").find((l) => l.startsWith(`| \`${short}\` |`));
      if (!row) {
        problems.push(`${short}: no row`);
        continue;
      }
      const cell = row.split("|")[3] ?? "";
      const listed = new Set([...cell.matchAll(/`([a-z]+)`/g)].map((m) => `@privface/${m[1]}`).filter((n) => pkgs.has(n)));
      const declared = new Set([...p.deps].filter((d) => d.startsWith("@privface/")));
      if ([...listed].sort().join() !== [...declared].sort().join()) problems.push(`${short}: docs say ${[...listed].sort().join(", ") || "–"}, manifest ${[...declared].sort().join(", ") || "–"}`);
    }
    assert.deepEqual(problems, []);
  });
});

function externalDeps(name: string): string[] {
  const f = join(root, "node_modules", name, "package.json");
  if (!existsSync(f)) return [];
  const m = JSON.parse(readFileSync(f, "utf8"));
  return [...Object.keys(m.dependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {})];
}
