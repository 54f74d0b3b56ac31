/**
 * Canonical JSON: what gets signed and hashed. Object keys sorted by UTF-16 code units (as
 * Array.prototype.sort does), no whitespace, JSON.stringify's escaping for strings, numbers as
 * JSON.stringify prints them (finite only). Object properties whose value is `undefined` are
 * omitted (as JSON does); everything else that JSON cannot represent is refused with a TypeError:
 * undefined / functions / symbols / bigint as values, non-finite numbers, typed arrays (encode
 * bytes as base64url first), class instances other than plain objects and arrays, cycles.
 */
export function canonicalJson(value: unknown): string {
  return write(value, new Set(), "$");
}

function write(v: unknown, seen: Set<object>, path: string): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: non-finite number at ${path}`);
      return JSON.stringify(v);
    case "object":
      break;
    default:
      throw new TypeError(`canonicalJson: ${typeof v} is not JSON at ${path}`);
  }
  const o = v as object;
  if (seen.has(o)) throw new TypeError(`canonicalJson: cycle at ${path}`);
  seen.add(o);
  try {
    if (Array.isArray(o)) {
      return "[" + o.map((x, i) => write(x, seen, `${path}[${i}]`)).join(",") + "]";
    }
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`canonicalJson: ${proto?.constructor?.name ?? "object"} is not a plain object at ${path}`);
    }
    const rec = o as Record<string, unknown>;
    const keys = Object.keys(rec).filter((k) => rec[k] !== undefined).sort();
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + write(rec[k], seen, `${path}.${k}`)).join(",") + "}";
  } finally {
    seen.delete(o);
  }
}
