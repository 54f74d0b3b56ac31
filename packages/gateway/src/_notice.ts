/**
 * The privacy notice the gateway publishes on first start (R9), kept as data: one JSON file per
 * version under `notice/` (`version`, `purposes`, and the bilingual text as `lines`, joined with "\n").
 * Its text is hashed into every consent receipt, so a published version's file never changes; a new
 * text is a new file and a new version.
 */
import doc from "../notice/2026-12-01.json" with { type: "json" };

export interface NoticeText {
  version: string;
  purposes: string[];
  text: string;
}

/** Checks a notice file's content and joins its lines. */
export function noticeOf(d: unknown, name: string): NoticeText {
  const o = d as { version?: unknown; purposes?: unknown; lines?: unknown };
  const strings = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === "string" && s.length > 0);
  if (typeof o?.version !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(o.version)) throw new TypeError(`${name}: version must be a short id`);
  if (!strings(o.purposes)) throw new TypeError(`${name}: purposes must be a non-empty array of strings`);
  if (!strings(o.lines) || (o.lines as string[]).some((l) => l.includes("\n"))) throw new TypeError(`${name}: lines must be a non-empty array of one-line strings`);
  return { version: o.version, purposes: [...(o.purposes as string[])], text: (o.lines as string[]).join("\n") };
}

export const DEFAULT_NOTICE: NoticeText = noticeOf(doc, "notice/2026-12-01.json");
