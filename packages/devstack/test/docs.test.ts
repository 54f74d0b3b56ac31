/**
 * The docs against what they can be checked with: every requirement id the code, the tests and the
 * docs cite (R1–R35, MPC-nn, PFI-nn) is defined in docs/requirements.md; every relative link between
 * the docs reaches a file and, with `#anchor`, one of its headings; every `docs/….md` and every
 * source file a doc or a comment names exists; docs/contracts.md's tables say what the manifests,
 * `ID` and `PARTY_ERRORS` say; docs/operations.md's configuration tables list exactly the variables
 * each server's configuration loader reads. (`R0` is a mask in the protocol, not a requirement.)
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ID, PARTY_ERRORS } from "@privface/contracts";
import { loadGatewayConfig } from "@privface/gateway";
import { loadHelperConfig } from "@privface/helper";
import { loadPartyConfig } from "@privface/party";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const read = (rel: string) => readFileSync(join(root, rel), "utf8");
const packages = readdirSync(join(root, "packages")).filter((p) => existsSync(join(root, "packages", p, "package.json")));

/** Repository-relative paths of the files under `dir` whose names end in one of `exts`. */
function tree(dir: string, exts: string[]): string[] {
  if (!existsSync(join(root, dir))) return [];
  return (readdirSync(join(root, dir), { recursive: true }) as string[])
    .filter((f) => !f.split("/").includes("node_modules") && exts.some((e) => f.endsWith(e)))
    .map((f) => join(dir, f));
}

const topDocs = ["README.md", "SECURITY.md", "CONTRIBUTING.md"];
const allDocs = [...topDocs, ...tree("docs", [".md"]), ...packages.map((p) => `packages/${p}/README.md`).filter((f) => existsSync(join(root, f))), ...packages.flatMap((p) => tree(`packages/${p}/src`, [".md"]))];
const sources = packages.flatMap((p) => [...tree(`packages/${p}/src`, [".ts"]), ...tree(`packages/${p}/test`, [".ts"])]);

/** The rows of the first table after the heading that starts with `heading`, as arrays of cells. */
function tableAfter(doc: string, heading: string): string[][] {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.startsWith(heading));
  assert.ok(start >= 0, `no heading "${heading}"`);
  const rows: string[][] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith("#")) break;
    if (l.startsWith("|")) rows.push(l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
    else if (rows.length > 0) break;
  }
  return rows.slice(2); // header and separator
}
const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

/** GitHub's heading anchors: lower case, punctuation dropped, each space a hyphen, repeats numbered. */
function anchors(doc: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const l of doc.split("\n")) {
    if (l.startsWith("```")) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*)$/.exec(l);
    if (!m) continue;
    const slug = m[1].trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    let s = slug;
    for (let i = 1; out.has(s); i++) s = `${slug}-${i}`;
    out.add(s);
  }
  return out;
}

describe("docs", () => {
  it("every requirement id cited in code, tests and docs is defined in docs/requirements.md, which defines R1–R35, MPC-01…17, PFI-01…13", () => {
    const req = read("docs/requirements.md");
    const defined = [...req.matchAll(/^- \*\*(R\d+) /gm), ...req.matchAll(/^\| ((?:MPC|PFI)-\d\d) \|/gm)].map((m) => m[1]);
    const range = (prefix: string, n: number, pad: number) => Array.from({ length: n }, (_, i) => prefix + String(i + 1).padStart(pad, "0"));
    assert.deepEqual(defined, [...range("R", 35, 1), ...range("MPC-", 17, 2), ...range("PFI-", 13, 2)]);
    const cited = new Map<string, string>();
    for (const f of [...allDocs, ...sources]) for (const m of read(f).matchAll(/\b(R[1-9]\d?|MPC-\d+|PFI-\d+)\b/g)) cited.set(m[1], f);
    assert.ok(cited.size >= 30, `only ${cited.size} distinct ids cited: is the scan looking in the right places?`);
    const undefinedIds = [...cited].filter(([id]) => !defined.includes(id)).map(([id, f]) => `${id} (${f})`);
    assert.deepEqual(undefinedIds, []);
  });

  it("every relative link in the docs reaches a file, and an anchor reaches a heading of it", () => {
    const problems: string[] = [];
    let checked = 0;
    for (const f of allDocs) {
      const text = read(f).replace(/```[\s\S]*?```/g, "");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(m[1])) continue;
        const [path, anchor] = m[1].split("#");
        const target = path ? join(dirname(f), path) : f;
        checked++;
        if (!existsSync(join(root, target))) problems.push(`${f}: ${m[1]} (no file ${target})`);
        else if (anchor !== undefined && target.endsWith(".md") && !anchors(read(target)).has(anchor)) problems.push(`${f}: ${m[1]} (no heading #${anchor})`);
      }
    }
    assert.ok(checked > 20, `only ${checked} links found`);
    assert.deepEqual(problems, []);
  });

  it("every docs/….md named in code or docs, and every source file a current doc names, exists", () => {
    const problems: string[] = [];
    for (const f of [...allDocs, ...sources]) {
      for (const m of read(f).matchAll(/\bdocs\/[\w./-]+?\.md\b/g)) if (!existsSync(join(root, m[0]))) problems.push(`${f}: ${m[0]}`);
    }
    // decisions and the benchmark history are records of their day: they may name files since moved
    const current = allDocs.filter((f) => !f.startsWith("docs/decisions/") && f !== "docs/benchmarks-history.md");
    const pkgs = packages.join("|");
    for (const f of current) {
      const text = read(f);
      for (const m of text.matchAll(new RegExp(`\\b(?:packages/)?(?:${pkgs})/(?:src|test|bench|scripts)/[\\w./-]+\\.(?:ts|mjs|json)\\b`, "g"))) {
        const p = m[0].startsWith("packages/") ? m[0] : `packages/${m[0]}`;
        if (!existsSync(join(root, p))) problems.push(`${f}: ${m[0]}`);
      }
      if (/^packages\/[^/]+\/README\.md$/.test(f)) {
        for (const m of text.matchAll(/`((?:src|test|bench|scripts)\/[\w./-]+\.(?:ts|mjs|json))`/g)) if (!existsSync(join(root, dirname(f), m[1]))) problems.push(`${f}: ${m[1]}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it("SECURITY.md's threat model names, for every attacker, tests that exist (file and test name)", () => {
    const rows = tableAfter(read("SECURITY.md"), "## Threat model");
    const attackers = rows.map((r) => r[0]);
    for (const a of ["malicious terminal", "compromised gateway", "curious party", "malicious helper", "network attacker", "insider operator"]) {
      assert.ok(attackers.some((c) => c.toLowerCase().includes(a)), `no row for the ${a}`);
    }
    const problems: string[] = [];
    for (const r of rows) {
      const refs = ticked(r[r.length - 1]);
      if (refs.length === 0) problems.push(`${r[0]}: names no test`);
      for (const ref of refs) {
        const [file, name] = ref.split(" › ");
        const path = `packages/${file}`;
        if (!/\.test\.ts$/.test(file) || !existsSync(join(root, path))) problems.push(`${r[0]}: ${file} is not a test file`);
        else if (name !== undefined && !read(path).includes(name)) problems.push(`${r[0]}: no test "${name}" in ${file}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it("docs/contracts.md lists each package's @privface dependencies as its manifest does", () => {
    const rows = tableAfter(read("docs/contracts.md"), "## Packages and who depends on whom");
    const listed = new Map(rows.map((r) => [ticked(r[0])[0], ticked(r[2]).sort().join(", ") || "–"]));
    const manifests = new Map(
      packages.map((p) => {
        const m = JSON.parse(read(`packages/${p}/package.json`));
        const deps = Object.keys(m.dependencies ?? {}).filter((d) => d.startsWith("@privface/")).map((d) => d.slice("@privface/".length));
        return [p, deps.sort().join(", ") || "–"] as const;
      }),
    );
    assert.deepEqual(Object.fromEntries([...listed].sort()), Object.fromEntries([...manifests].sort()));
  });

  it("docs/contracts.md's id formats are @privface/contracts `ID`", () => {
    const rows = tableAfter(read("docs/contracts.md"), "**Id formats**");
    const documented = Object.fromEntries(rows.map((r) => [ticked(r[0])[0], ticked(r[1])[0]]));
    assert.deepEqual(documented, Object.fromEntries(Object.entries(ID).map(([k, re]) => [k, re.source])));
  });

  it("docs/contracts.md's Party API error table is `PARTY_ERRORS` (code, status, kind)", () => {
    const doc = read("docs/contracts.md");
    const rows = tableAfter(doc.slice(doc.indexOf("## Party API")), "Errors: HTTP status");
    const documented: Record<string, { status: number; kind: string }> = {};
    for (const [codes, status, kind] of rows) for (const c of ticked(codes)) documented[c] = { status: Number(status), kind };
    assert.deepEqual(documented, Object.fromEntries(Object.entries(PARTY_ERRORS).map(([c, e]) => [c, { status: e.status, kind: e.kind }])));
  });

  it("docs/operations.md's configuration tables list exactly the variables each server reads", () => {
    /** the variables (without the prefix) a loader reads from an environment that has none set */
    const readBy = (prefix: string, load: (env: NodeJS.ProcessEnv) => unknown): string[] => {
      const seen = new Set<string>();
      const env = new Proxy({} as NodeJS.ProcessEnv, {
        get: (_t, k) => {
          if (typeof k === "string" && k.startsWith(prefix)) seen.add(k.slice(prefix.length));
          return undefined;
        },
      });
      try {
        load(env);
      } catch {
        // missing files: the loader still read every variable before it reported them
      }
      assert.ok(seen.size > 5, `${prefix}: only ${[...seen]} read`);
      return [...seen].sort();
    };
    const doc = read("docs/operations.md");
    const documented = (heading: string) => [...new Set(tableAfter(doc, heading).flatMap((r) => ticked(r[0])))].sort();
    assert.deepEqual(documented("### Party"), readBy("PRIVFACE_P0_", (env) => loadPartyConfig("P0", env)));
    assert.deepEqual(documented("### Party"), readBy("PRIVFACE_P1_", (env) => loadPartyConfig("P1", env)));
    assert.deepEqual(documented("### Helper"), readBy("PRIVFACE_HELPER_", loadHelperConfig));
    assert.deepEqual(documented("### Gateway"), readBy("PRIVFACE_GATEWAY_", loadGatewayConfig));
  });
});
