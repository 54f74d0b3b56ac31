/**
 * Canonical JSON: what gets signed and hashed. Object keys sorted by UTF-16 code units (as
 * Array.prototype.sort does), no whitespace, JSON.stringify's escaping for strings, numbers as
 * JSON.stringify prints them (finite only). Object properties whose value is `undefined` are
 * omitted (as JSON does); everything else that JSON cannot represent is refused with a TypeError:
 * undefined / functions / symbols / bigint as values, non-finite numbers, typed arrays (encode
 * bytes as base64url first), class instances other than plain objects and arrays, cycles.
 */
export function canonicalJson(value: unknown): string {
  return write(value, new Set(), []);
}

/** The path of the value being written, e.g. `$.a[2].b` (built only for an error message). */
function pathOf(keys: readonly (string | number)[]): string {
  return "$" + keys.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("");
}

function write(v: unknown, seen: Set<object>, keys: (string | number)[]): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: non-finite number at ${pathOf(keys)}`);
      return JSON.stringify(v);
    case "object":
      break;
    default:
      throw new TypeError(`canonicalJson: ${typeof v} is not JSON at ${pathOf(keys)}`);
  }
  const o = v as object;
  if (seen.has(o)) throw new TypeError(`canonicalJson: cycle at ${pathOf(keys)}`);
  seen.add(o);
  try {
    let out: string;
    if (Array.isArray(o)) {
      out = "[";
      for (let i = 0; i < o.length; i++) {
        keys.push(i);
        out += (i > 0 ? "," : "") + write(o[i], seen, keys);
        keys.pop();
      }
      return out + "]";
    }
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`canonicalJson: ${proto?.constructor?.name ?? "object"} is not a plain object at ${pathOf(keys)}`);
    }
    const rec = o as Record<string, unknown>;
    out = "{";
    for (const k of Object.keys(rec).sort()) {
      if (rec[k] === undefined) continue;
      keys.push(k);
      out += (out.length > 1 ? "," : "") + JSON.stringify(k) + ":" + write(rec[k], seen, keys);
      keys.pop();
    }
    return out + "}";
  } finally {
    seen.delete(o);
  }
}
