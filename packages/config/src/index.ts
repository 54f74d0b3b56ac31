/**
 * Server start-up, shared by every server: configuration (here), the logger (log.ts), the process
 * bootstrap `runServer` (run.ts) and the runtime home's file names (layout.ts).
 *
 * A server's configuration comes from environment variables with one prefix per server
 * (`PRIVFACE_P0_`, `PRIVFACE_HELPER_`, …). `envReader(prefix, env)` reads typed values with defaults
 * and collects every problem instead of stopping at the first, so a bad configuration stops the
 * process at start-up with one message that lists them all (`done()` throws a `ConfigError`).
 * An empty variable counts as unset.
 *
 * @example
 *   const r = envReader("PRIVFACE_HELPER_");
 *   const cfg = { port: r.int("PORT", 7440, 0, 65535), ca: r.file("CA", r.layout.ca) };
 *   r.done(); // throws ConfigError listing every problem
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "./errors.ts";
import { homeFromEnv, keyFolderOf, runtimeLayout, type RuntimeLayout, type ServerName } from "./layout.ts";

export { ConfigError } from "./errors.ts";
export { runtimeLayout, homeFromEnv, keyFolderOf, legacyKeyFiles, SERVER_NAMES, type RuntimeLayout, type ServerName } from "./layout.ts";
export { createLogger, REDACT_PATHS, silentLog, type Log, type Logger, type LoggerOptions, type DestinationStream } from "./log.ts";
export { killAt } from "./kill-at.ts";
export { runServer, type RunningServer, type RunServerOptions } from "./run.ts";

/**
 * The development key secret: what the development stack (`privface start`, @privface/devstack, the
 * tests) encrypts a development home's key files under when the environment names no secret. It is
 * public (it is written here), so a home encrypted under it is protected no better than plaintext:
 * a real deployment sets PRIVFACE_KEY_SECRET or PRIVFACE_KEY_SECRET_FILE (docs/operations.md).
 */
export const DEV_KEY_SECRET = "privface-development-key-secret--not-for-production";

/** Sets PRIVFACE_KEY_SECRET to the development secret unless a secret is given; true when it did. */
export function useDevKeySecret(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.PRIVFACE_KEY_SECRET || env.PRIVFACE_KEY_SECRET_FILE) return false;
  env.PRIVFACE_KEY_SECRET = DEV_KEY_SECRET;
  return true;
}

/** The cipher suite of a deployment: INTL (X25519/Ed25519/AES-256-GCM/SHA-256) or GM (SM2/SM3/SM4). */
export type DeploymentSuite = "INTL" | "GM";

/**
 * `PRIVFACE_SUITE`: `intl` (the default) or `gm`, chosen once for the whole deployment; every server
 * reads the same variable (docs/operations.md "The cipher suite"). A bad value is added to `problems`
 * (or thrown as a ConfigError when none are given) and INTL is returned.
 */
export function deploymentSuite(env: NodeJS.ProcessEnv = process.env, problems?: string[]): DeploymentSuite {
  const raw = env.PRIVFACE_SUITE;
  if (raw === undefined || raw === "" || raw.toLowerCase() === "intl") return "INTL";
  if (raw.toLowerCase() === "gm") return "GM";
  const msg = `PRIVFACE_SUITE: expected intl or gm, got ${JSON.stringify(raw)}`;
  if (!problems) throw new ConfigError([msg]);
  problems.push(msg);
  return "INTL";
}

/**
 * The suite a key file is for, read from its clear fields without decrypting it: a public key file's
 * `suite`, an encrypted key file's header `suite` (key pairs and data keys; seeds carry no suite).
 * Undefined when the file is missing, not JSON, or suite-neutral.
 */
function keyFileSuite(path: string): DeploymentSuite | undefined {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof j !== "object" || j === null) return undefined;
  const keyish = j.format === "privface-keyfile" ? j.kind === "key-pair" || j.kind === "data-key" : ["seal", "sign", "data"].includes(j.kind as string);
  return keyish && (j.suite === "INTL" || j.suite === "GM") ? j.suite : undefined;
}

/**
 * The problem of a key of the wrong suite (undefined when it fits): `what` names where it came from
 * (the variable and the file), `suite` is the key's. `envReader` checks every key file named through it.
 */
function suiteProblem(deployment: DeploymentSuite, what: string, suite: string | undefined): string | undefined {
  if (suite === undefined || suite === deployment) return undefined;
  return `${what} holds ${suite === "INTL" ? "an" : "a"} ${suite} key, but the deployment's suite is ${deployment} (PRIVFACE_SUITE=${deployment.toLowerCase()}): every key of a deployment is of its suite (privface keys generate --suite ${deployment})`;
}

export interface EnvReader {
  /** the deployment's cipher suite (`PRIVFACE_SUITE`); every key file named through this reader must be of it */
  readonly suite: DeploymentSuite;
  /** `<prefix>HOME`, else `PRIVFACE_HOME`, else `./.privface`, resolved to an absolute path */
  readonly home: string;
  /** the files of the runtime home (the defaults of every path setting) */
  readonly layout: RuntimeLayout;
  /** problems found so far (callers may add their own) */
  readonly problems: string[];
  /** the variable, or `fallback` when unset or empty */
  get(key: string, fallback: string): string;
  /** the variable, or undefined when unset or empty */
  optional(key: string): string | undefined;
  /** a path that must exist (unless `required` is false) */
  file(key: string, fallback: string, required?: boolean): string;
  /**
   * A key file of `owner` itself (a private key, data key, seed…): refused when it lies in another
   * server's key folder (`keys/<server>/`, any runtime home). Must exist unless `required` is false.
   */
  ownKey(key: string, fallback: string, owner: ServerName, required?: boolean): string;
  /** A comma-separated list of `owner`'s key files (at least one), each checked as `ownKey`. */
  ownKeyList(key: string, fallback: string, owner: ServerName, required?: boolean): string[];
  /**
   * Another server's PUBLIC key: must exist and hold no private material (no `privateKey`, `key`
   * or `seed` field) and must not lie in a server's private key folder.
   */
  publicKey(key: string, fallback: string): string;
  /** a comma-separated list of such public keys (at least one; rotation: the newest first) */
  publicKeyList(key: string, fallback: string): string[];
  /** an integer in [lo, hi] */
  int(key: string, fallback: number, lo: number, hi: number): number;
  /** an https:// URL, without trailing slashes */
  url(key: string, fallback: string): string;
  /** a database URL: `sqlite:PATH` or `postgres://…` */
  dbUrl(key: string, fallback: string): string;
  /**
   * Named worker processes of a party (issue 16): `name=https://host:port,…` → name → URL (names
   * [a-z0-9_-]{1,32}, unique, at least one); undefined when unset.
   */
  workers(key: string): Map<string, string> | undefined;
  /** one of `choices` */
  oneOf<T extends string>(key: string, fallback: T, choices: readonly T[]): T;
  /** throws a ConfigError when any problem was found */
  done(): void;
}

export function envReader(prefix: string, env: NodeJS.ProcessEnv = process.env): EnvReader {
  const problems: string[] = [];
  const optional = (k: string) => {
    const v = env[prefix + k];
    return v === undefined || v === "" ? undefined : v;
  };
  const get = (k: string, d: string) => optional(k) ?? d;
  const bad = (k: string, expected: string, got: unknown) => problems.push(`${prefix}${k}: expected ${expected}, got ${JSON.stringify(got)}`);
  /** Another server's PUBLIC key file: not in a private key folder, present, no private field. */
  const suite = deploymentSuite(env, problems);
  /** a key file of another suite than the deployment's (read from its clear fields) */
  const checkSuiteOf = (k: string, v: string) => {
    const p = suiteProblem(suite, `${prefix}${k} (${v})`, keyFileSuite(v));
    if (p) problems.push(p);
  };
  const checkPublic = (k: string, v: string): string => {
    const folder = keyFolderOf(v);
    if (folder !== null && folder !== "public") {
      problems.push(`${prefix}${k}: ${v} lies in the private key folder of ${folder}; give the public key file (keys/public/…)`);
      return v;
    }
    if (!existsSync(v)) {
      problems.push(`${prefix}${k}: file ${v} does not exist`);
      return v;
    }
    const secret = secretFieldOf(v);
    if (secret === undefined) problems.push(`${prefix}${k}: ${v} is not a key JSON object`);
    else if (secret) problems.push(`${prefix}${k}: ${v} holds private key material ("${secret}"); a server receives only the public half of another server's key`);
    else checkSuiteOf(k, v);
    return v;
  };
  const checkOwn = (k: string, v: string, owner: ServerName, required: boolean) => {
    const folder = keyFolderOf(v);
    if (folder !== null && folder !== "public" && folder !== owner) {
      problems.push(`${prefix}${k}: ${v} lies in the key folder of ${folder}; ${owner} is never handed another server's key file`);
    } else if (required && !existsSync(v)) problems.push(`${prefix}${k}: file ${v} does not exist`);
    else checkSuiteOf(k, v);
    return v;
  };
  const home = optional("HOME") !== undefined ? resolve(optional("HOME")!) : homeFromEnv(env);
  return {
    suite,
    home,
    layout: runtimeLayout(home),
    problems,
    get,
    optional,
    file(k, d, required = true) {
      const v = get(k, d);
      if (required && !existsSync(v)) problems.push(`${prefix}${k}: file ${v} does not exist`);
      return v;
    },
    ownKey(k, d, owner, required = true) {
      return checkOwn(k, get(k, d), owner, required);
    },
    ownKeyList(k, d, owner, required = true) {
      const files = get(k, d)
        .split(",")
        .map((f) => f.trim())
        .filter(Boolean);
      if (files.length === 0) problems.push(`${prefix}${k}: expected at least one key file`);
      for (const f of files) checkOwn(k, f, owner, required);
      return files;
    },
    publicKey: (k, d) => checkPublic(k, get(k, d)),
    publicKeyList(k, d) {
      const files = get(k, d).split(",").map((f) => f.trim()).filter(Boolean);
      if (files.length === 0) problems.push(`${prefix}${k}: expected at least one public key file`);
      return files.map((f) => checkPublic(k, f));
    },
    int(k, d, lo, hi) {
      const raw = optional(k);
      const v = raw === undefined ? d : Number(raw);
      if (!Number.isInteger(v) || v < lo || v > hi) bad(k, `an integer in ${lo}..${hi}`, raw);
      return v;
    },
    url(k, d) {
      const v = get(k, d).replace(/\/+$/, "");
      let ok = false;
      try {
        ok = new URL(v).protocol === "https:";
      } catch {
        ok = false;
      }
      if (!ok) bad(k, "an https:// URL", v);
      return v;
    },
    workers(k) {
      const raw = optional(k);
      if (raw === undefined) return undefined;
      const out = new Map<string, string>();
      for (const part of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
        const m = /^([a-z0-9_-]{1,32})=(https:\/\/\S+)$/.exec(part);
        if (!m) bad(k, "name=https://host:port entries separated by commas", part);
        else if (out.has(m[1])) bad(k, "distinct names", m[1]);
        else out.set(m[1], m[2].replace(/\/+$/, ""));
      }
      if (out.size === 0) bad(k, "at least one name=https://host:port entry", raw);
      return out;
    },
    dbUrl(k, d) {
      const v = get(k, d);
      if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(v)) bad(k, "sqlite:PATH or postgres://…", v);
      return v;
    },
    oneOf(k, d, choices) {
      const v = get(k, d);
      if (!(choices as readonly string[]).includes(v)) bad(k, `one of ${choices.join(", ")}`, v);
      return v as (typeof choices)[number];
    },
    done() {
      if (problems.length) throw new ConfigError(problems, prefix);
    },
  };
}

/** The first secret field of a key JSON file ("" when none), or undefined when it is not a JSON object. */
function secretFieldOf(path: string): string | undefined {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
  if (typeof j !== "object" || j === null || Array.isArray(j)) return undefined;
  return ["privateKey", "key", "seed", "secret", "ciphertext"].find((f) => f in j) ?? "";
}
